package shred_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/storage/s3"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// noteFails is a compliance officer's store whose updates of hold records
// fail: a hold place whose Vault write noting the legal hold fails once
// the storage took it (its ledger entry is written).
type noteFails struct{ catalog.Store }

func (n noteFails) Put(ctx context.Context, path string, data map[string]any, cas int) (int, error) {
	if strings.HasPrefix(path, "holds/") && cas != 0 {
		return 0, errors.New("vault is sealed")
	}
	return n.Store.Put(ctx, path, data, cas)
}

// A hold place whose Vault write noting the S3 legal hold fails, after
// the storage took it, leaves the hold record marked ahead
// (storageHoldAhead): case close lifts the legal hold, shred run deletes
// the ciphertext and exits 0, and the attestation states no storage hold,
// whose start the hold record does not note (the lift is untimed).
func TestS3HoldPlaceWhoseNoteFailsIsLiftedByClose(t *testing.T) {
	env := newS3Env(t)
	noting := secondOfficer(t, env, func(s catalog.Store) catalog.Store { return noteFails{s} }, nil, nil)
	cutHoldPlace(context.Background(), t, env, noting)
	closeCase(t, env.compliance, "ONE")
	res, err := shredDeletes(t, env, "ONE")
	if err != nil || res.Attestation == nil {
		t.Fatalf("shred run: %+v %v", res, err)
	}
	for _, ab := range attestedStatement(t, res.Attestation).Predicate.Backups {
		if ab.Ciphertext.StorageHold != nil {
			t.Errorf("%s: storage hold stated %+v, though its hold record never noted it", ab.BackupID, ab.Ciphertext.StorageHold)
		}
	}
}

// The same with the hold place killed right after the storage took the
// legal hold, before its note and its ledger entry: case close lifts the
// legal hold and shred run deletes the ciphertext. (The ledger has no
// hold.placed entry of the case, so the attestation leaves the backup
// out, stating nothing of it.)
func TestS3HoldPlaceKilledBeforeNotingItsLegalHoldIsLiftedByClose(t *testing.T) {
	env := newS3Env(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	killed := roleServiceOn(t, env.vault, vault.PolicyCompliance, holdCancels{complianceBackend(env), cancel})
	cutHoldPlace(ctx, t, env, killed)
	closeCase(t, env.compliance, "ONE")
	shredDeletes(t, env, "ONE")
}

// cutHoldPlace protects a backup to S3, opens case ONE and holds the
// backup with officer, whose hold place must fail after it set the legal
// hold; it returns the backup.
func cutHoldPlace(ctx context.Context, t *testing.T, env s3Env, officer *shred.Service) *catalog.Backup {
	t.Helper()
	b, _ := protectTo(t, env.admin, "s3://backups/casework", []byte("held, then cut"))
	openCase(t, env.compliance, "ONE")
	_, err := officer.PlaceHolds(ctx, compliance, "ONE", shred.HoldSelector{IDs: []string{b.ID}})
	if err == nil {
		t.Fatal("a hold place cut before noting its legal hold returned no error")
	}
	if got := legalHoldOf(t, env, b); got != types.ObjectLockLegalHoldStatusOn {
		t.Fatalf("legal hold after the cut hold place (%v): %q", err, got)
	}
	return b
}

// complianceBackend is the compliance officer's own S3 back end on env.
func complianceBackend(env s3Env) *s3.Backend {
	return s3.NewFromConfig(env.gw.Config(env.complyKey, env.complySec), true)
}

// shredDeletes runs caseID's shred, which must destroy its one backup
// and delete its ciphertext, and returns its result and error.
func shredDeletes(t *testing.T, env s3Env, caseID string) (*shred.RunResult, error) {
	t.Helper()
	res, err := env.admin.RunShred(context.Background(), admin, caseID, runOpts(t))
	if res == nil || len(res.Destroyed) != 1 || len(res.Failed) != 0 {
		t.Fatalf("shred run: %+v %v", res, err)
	}
	if n := versionsLeft(t, env.adminS3, "casework/"); n != 0 {
		t.Fatalf("%d versions or delete markers left after shred (%v)", n, err)
	}
	return res, err
}

// A legal hold set with a plain S3 call on a held backup whose hold
// record neither notes a storage hold nor announces one (an earlier
// version's record) is not this tool's to lift: case close leaves it in
// place, and shred run's failure for that ciphertext names the object and
// says the compliance officer lifts it, not only to run again.
func TestS3LegalHoldNoHoldRecordNotesStaysAfterClose(t *testing.T) {
	env := newS3Env(t)
	b := heldOnS3(t, env, "ONE", []byte("held by hand"))
	unnoteStorageHold(t, env, "ONE", b)
	setLegalHold(t, env, b, types.ObjectLockLegalHoldStatusOff)
	setLegalHold(t, env, b, types.ObjectLockLegalHoldStatusOn)
	closeCase(t, env.compliance, "ONE")
	if got := legalHoldOf(t, env, b); got != types.ObjectLockLegalHoldStatusOn {
		t.Fatalf("case close lifted a legal hold no hold record notes: %q", got)
	}
	_, err := env.admin.RunShred(context.Background(), admin, "ONE", runOpts(t))
	_, key, version := splitLoc(t, b.Ciphertext.Path)
	if err == nil || !strings.Contains(err.Error(), "compliance officer lifts it") || !strings.Contains(err.Error(), "--key '"+key+"' --version-id '"+version+"'") {
		t.Fatalf("shred run of a ciphertext under a legal hold: %v", err)
	}
}

// setLegalHold sets b's legal hold to status with the compliance
// officer's own S3 credentials, as a plain S3 call.
func setLegalHold(t *testing.T, env s3Env, b *catalog.Backup, status types.ObjectLockLegalHoldStatus) {
	t.Helper()
	bucket, key, version := splitLoc(t, b.Ciphertext.Path)
	_, err := env.complyS3.PutObjectLegalHold(context.Background(), &awss3.PutObjectLegalHoldInput{Bucket: &bucket, Key: &key, VersionId: &version,
		LegalHold: &types.ObjectLockLegalHold{Status: status}})
	if err != nil {
		t.Fatal(err)
	}
}

// A close killed after lifting the legal hold of a record marked only
// ahead (its hold place's note failed), with case B's hold placed just
// before that lift, left B's backup without its legal hold: the re-run,
// which lifts nothing since B holds the backup, must read the legal hold
// and report it off, as it does for a record that notes its hold.
func TestS3CloseRerunReportsALegalHoldItsKilledRunLiftedFromAnAheadRecord(t *testing.T) {
	env := newS3Env(t)
	noting := secondOfficer(t, env, func(s catalog.Store) catalog.Store { return noteFails{s} }, nil, nil)
	b := cutHoldPlace(context.Background(), t, env, noting)
	err := rerunCloseKilledAfterItsLift(t, env, b, "ONE")
	if legalHoldOf(t, env, b) == types.ObjectLockLegalHoldStatusOff && err == nil {
		t.Fatalf("case B holds %s, its legal hold is off, and the close re-run reported nothing", b.ID)
	}
}

// unnoteStorageHold rewrites caseID's hold record on b, with the
// compliance officer's own token, as one that neither notes nor announces
// a storage hold (an earlier version's, or one edited by hand).
func unnoteStorageHold(t *testing.T, env s3Env, caseID string, b *catalog.Backup) {
	t.Helper()
	comp := asRole(t, env.vault, vault.PolicyCompliance)
	rec := comp.read("holds/" + caseID + "/" + b.ID)
	delete(rec, "storageHeldAt")
	delete(rec, "storageHoldAhead")
	comp.mustWrite("holds/"+caseID+"/"+b.ID, rec)
}
