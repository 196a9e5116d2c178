package shred_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cryptoshred/cryptoshred/internal/shredtest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
	"github.com/cryptoshred/cryptoshred/shred/storage"
	"github.com/cryptoshred/cryptoshred/shred/storage/s3"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// An admin registers, with plain Vault calls, a backup of their own whose
// location is another held backup's S3 object version (a key, a
// registration and a status record, all their policy allows). Compliance
// holds it in a second case and closes that case: neither may touch the
// legal hold of an object that is not that backup's ciphertext (its age
// header names another key), or the admin could then delete a held
// backup's only copy with their own S3 credentials.
func TestAttackForgedRegistrationCannotLiftAnotherBackupsS3Hold(t *testing.T) {
	env := newS3Env(t)
	ctx := context.Background()
	held := heldOnS3(t, env, "KEEP", []byte("still under investigation"))

	forged := forgeRegistrationOf(t, asRole(t, env.vault, vault.PolicyAdmin), held, "bk-forged")
	openCase(t, env.compliance, "ODD")
	_, err := env.compliance.PlaceHolds(ctx, compliance, "ODD", shred.HoldSelector{IDs: []string{forged}})
	if err == nil || !strings.Contains(err.Error(), "no storage hold placed: not this backup's ciphertext") {
		t.Errorf("holding the forged backup: %v", err)
	}
	// Even with a hold record that says a storage hold was placed (a
	// compliance officer's write, or a hold placed by an older version),
	// releasing the forged backup lifts nothing.
	comp := asRole(t, env.vault, vault.PolicyCompliance)
	rec := comp.read("holds/ODD/" + forged)
	rec["storageHeldAt"] = catalog.Now().Format(time.RFC3339Nano)
	comp.mustWrite("holds/ODD/"+forged, rec)
	if _, err := env.compliance.ReleaseHolds(ctx, compliance, "ODD", []string{forged}, "not ours"); err == nil || !strings.Contains(err.Error(), "storage hold was left in place") {
		t.Errorf("releasing the forged backup early: %v", err)
	}
	closeCase(t, env.compliance, "ODD")

	bucket, key, version := splitLoc(t, held.Ciphertext.Path)
	lh, err := env.complyS3.GetObjectLegalHold(ctx, &awss3.GetObjectLegalHoldInput{Bucket: &bucket, Key: &key, VersionId: &version})
	if err != nil || lh.LegalHold == nil || lh.LegalHold.Status != types.ObjectLockLegalHoldStatusOn {
		t.Fatalf("the held backup's legal hold after the forged backup's close: %v %v", legalHold(lh), err)
	}
	_, err = env.adminS3.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &bucket, Key: &key, VersionId: &version})
	if !s3.IsAccessDenied(err) {
		t.Fatalf("the admin deleted the held backup's ciphertext: %v", err)
	}
}

// heldOnS3 protects data into the S3 bucket and holds it for a new case
// caseID.
func heldOnS3(t *testing.T, env s3Env, caseID string, data []byte) *catalog.Backup {
	t.Helper()
	b, _ := protectTo(t, env.admin, "s3://backups/casework", data)
	openCase(t, env.compliance, caseID)
	hold(t, env.compliance, caseID, b.ID)
	return b
}

// forgeRegistrationOf creates, through the admin's own token, a Transit
// key named id and a registration and status record of backup id that
// describe of's ciphertext (location, size, digest), each edit applied to
// the registration first, and returns id.
func forgeRegistrationOf(t *testing.T, in insider, of *catalog.Backup, id string, edits ...func(reg map[string]any)) string {
	t.Helper()
	if _, err := in.l.Write("cryptoshred-transit/keys/"+id, map[string]any{"type": "aes256-gcm96"}); err != nil {
		t.Fatalf("create key %s: %v", id, err)
	}
	reg := in.read("registrations/" + of.ID)
	reg["id"], reg["key"] = id, id
	for _, edit := range edits {
		edit(reg)
	}
	in.mustWrite("registrations/"+id, reg)
	status := in.read("backups/" + of.ID)
	status["id"], status["key"], status["state"], status["heldBy"] = id, id, "protected", nil
	in.mustWrite("backups/"+id, status)
	return id
}

func legalHold(out *awss3.GetObjectLegalHoldOutput) types.ObjectLockLegalHoldStatus {
	if out == nil || out.LegalHold == nil {
		return ""
	}
	return out.LegalHold.Status
}

// An admin writes a held backup's status record to say shredded, with a
// destruction, and deletes its local ciphertext: backup verify must still
// find it missing, since Vault still has the key.
func TestAttackShreddedStatusCannotHideAMissingCiphertext(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	b := protectHeld(t, adminV, complianceV, "GONE", []byte("held, then its file removed"))
	writeShreddedRecord(asRole(t, srv, vault.PolicyAdmin), b.ID, "plain API call")
	if err := os.Remove(b.Ciphertext.Path); err != nil {
		t.Fatal(err)
	}
	res, err := adminV.VerifyBackups(context.Background(), nil, "GONE")
	if err != nil || len(res) != 1 || res[0].OK || !strings.Contains(res[0].Problem, "missing") {
		t.Fatalf("backup verify of a held backup whose file was removed under a shredded status: %+v %v", res, err)
	}
}

// Once a case released an S3 backup, an admin deletes its version on
// record and puts a copy of the same ciphertext back as a new version. The
// run deletes that copy too (its header names the key), but must not
// attest the ciphertext as deleted: the one on record was gone before.
func TestAttackS3CopyPutBackIsNotTheDeletedCiphertext(t *testing.T) {
	env := newS3Env(t)
	ctx := context.Background()
	b := heldOnS3(t, env, "SWAP", []byte("released, then swapped"))
	closeCase(t, env.compliance, "SWAP")

	bucket, key, version := splitLoc(t, b.Ciphertext.Path)
	obj, err := env.adminS3.GetObject(ctx, &awss3.GetObjectInput{Bucket: &bucket, Key: &key, VersionId: &version})
	if err != nil {
		t.Fatal(err)
	}
	copyOf, err := io.ReadAll(obj.Body)
	obj.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.adminS3.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &bucket, Key: &key, VersionId: &version}); err != nil {
		t.Fatalf("delete the released version: %v", err)
	}
	if _, err := env.adminS3.PutObject(ctx, &awss3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(copyOf)}); err != nil {
		t.Fatalf("put the copy back: %v", err)
	}

	res, err := env.admin.RunShred(ctx, admin, "SWAP", runOpts(t))
	if err != nil || len(res.Destroyed) != 1 {
		t.Fatalf("shred run: %+v %v", res, err)
	}
	d := res.Destroyed[0].Destruction
	if d.CiphertextDeleted || !d.CiphertextAbsent || len(d.CiphertextRemoved) != 1 || !strings.Contains(d.CiphertextNote, "on record was gone before shred") {
		t.Fatalf("destruction recorded: %+v", d)
	}
	ct := attestedStatement(t, res.Attestation).Predicate.Backups[0].Ciphertext
	if ct.Deleted || !ct.AbsentBeforeShred {
		t.Fatalf("attested ciphertext: %+v", ct)
	}
}

// An admin keeps a copy of a released S3 ciphertext (their own GET of the
// version on record) and, once a run deleted it and attested, puts the
// same bytes back under the key as a new version. The run of the case
// again issues the attestation anew: it names the key without a version,
// where a plain GET returns the ciphertext, so it must not state it
// deleted. Before, only the version on record was checked at signing.
func TestAttackS3CiphertextPutBackAfterShredIsNotAttestedDeleted(t *testing.T) {
	env := newS3Env(t)
	ctx := context.Background()
	b := heldOnS3(t, env, "BACK", []byte("deleted, then put back"))
	closeCase(t, env.compliance, "BACK")
	kept := getVersion(t, env, b.Ciphertext.Path)
	res, err := env.admin.RunShred(ctx, admin, "BACK", runOpts(t))
	if err != nil || len(res.Destroyed) != 1 {
		t.Fatalf("shred run: %+v %v", res, err)
	}
	if ct := attestedStatement(t, res.Attestation).Predicate.Backups[0].Ciphertext; !ct.Deleted {
		t.Fatalf("attested after the deletion: %+v", ct)
	}

	putUnder(t, env, b.Ciphertext.Path, kept)
	again, err := env.admin.RunShred(ctx, admin, "BACK", runOpts(t))
	if err != nil || again.Attestation == nil {
		t.Fatalf("shred run again: %+v %v", again, err)
	}
	got := attestedStatement(t, again.Attestation).Predicate.Backups
	if len(got) != 1 || got[0].Ciphertext.Deleted || got[0].Ciphertext.AbsentBeforeShred || len(got[0].Ciphertext.Removed) != 0 {
		t.Fatalf("attested with the ciphertext put back at %v: %+v", got[0].Ciphertext.Locations, got)
	}
}

// Another backup's ciphertext put under a shredded backup's key (its
// header names the other backup's key) is not this backup's: the
// attestation issued again still states its ciphertext deleted.
func TestS3OtherBackupPutUnderTheKeyLeavesItDeleted(t *testing.T) {
	env := newS3Env(t)
	ctx := context.Background()
	b := heldOnS3(t, env, "OTHER", []byte("deleted for good"))
	other, _ := protectTo(t, env.admin, "s3://backups/elsewhere", []byte("another backup"))
	closeCase(t, env.compliance, "OTHER")
	if res, err := env.admin.RunShred(ctx, admin, "OTHER", runOpts(t)); err != nil || len(res.Destroyed) != 1 {
		t.Fatalf("shred run: %+v %v", res, err)
	}

	putUnder(t, env, b.Ciphertext.Path, getVersion(t, env, other.Ciphertext.Path))
	a, err := env.admin.Attest(ctx, admin, "OTHER", runOpts(t).Attest)
	if err != nil {
		t.Fatalf("attest: %v", err)
	}
	if got := attestedStatement(t, a).Predicate.Backups; len(got) != 1 || !got[0].Ciphertext.Deleted {
		t.Fatalf("attested with another backup's ciphertext under the key: %+v", got)
	}
}

// Within one run: a copy put back after the run's deletion (and its
// listing that confirmed nothing was left) and before the attestation is
// signed is found at signing, and the ciphertext is not stated deleted.
func TestAttackS3CiphertextPutBackBeforeSigningIsNotAttestedDeleted(t *testing.T) {
	env := newS3Env(t)
	ctx := context.Background()
	b := heldOnS3(t, env, "RACE", []byte("put back mid-run"))
	closeCase(t, env.compliance, "RACE")
	kept := getVersion(t, env, b.Ciphertext.Path)
	st := &putBackAfterDelete{Backend: s3.NewFromConfig(env.gw.Config(env.adminKey, env.adminSec), true), put: func() { putUnder(t, env, b.Ciphertext.Path, kept) }}
	res, err := roleServiceOn(t, env.vault, vault.PolicyAdmin, st).RunShred(ctx, admin, "RACE", runOpts(t))
	if err != nil || len(res.Destroyed) != 1 {
		t.Fatalf("shred run: %+v %v", res, err)
	}
	if got := attestedStatement(t, res.Attestation).Predicate.Backups; len(got) != 1 || got[0].Ciphertext.Deleted {
		t.Fatalf("attested with the ciphertext put back before signing: %+v", got)
	}
}

// putBackAfterDelete is an S3 back end that calls put once its Delete is
// done.
type putBackAfterDelete struct {
	storage.Backend
	put func()
}

func (p *putBackAfterDelete) Delete(ctx context.Context, objs []storage.Object) []storage.Result {
	defer p.put()
	return p.Backend.Delete(ctx, objs)
}

// A version under the key whose header cannot be read at signing (the
// connection broke off) may be the ciphertext put back: the backup is
// left out as unchecked, not attested as deleted.
func TestS3UnreadableVersionAtSigningIsUnchecked(t *testing.T) {
	env := newS3Env(t)
	ctx := context.Background()
	b := heldOnS3(t, env, "UNREAD", []byte("put back, then unreadable"))
	closeCase(t, env.compliance, "UNREAD")
	kept := getVersion(t, env, b.Ciphertext.Path)
	if res, err := env.admin.RunShred(ctx, admin, "UNREAD", runOpts(t)); err != nil || len(res.Destroyed) != 1 {
		t.Fatalf("shred run: %+v %v", res, err)
	}
	putUnder(t, env, b.Ciphertext.Path, kept)
	ranged := func(r *http.Request) bool { return r.Header.Get("Range") != "" }
	via := roleServiceOn(t, env.vault, vault.PolicyAdmin, cuttingBackend(t, env, env.adminKey, env.adminSec, ranged))
	_, err := via.Attest(ctx, admin, "UNREAD", runOpts(t).Attest)
	if err == nil || !strings.Contains(err.Error(), "could not be checked") || !strings.Contains(err.Error(), b.ID) {
		t.Fatalf("attest with the put-back version unreadable: %v", err)
	}
}

// getVersion reads the object version loc names with the admin's own S3
// credentials.
func getVersion(t *testing.T, env s3Env, loc string) []byte {
	t.Helper()
	bucket, key, version := splitLoc(t, loc)
	obj, err := env.adminS3.GetObject(context.Background(), &awss3.GetObjectInput{Bucket: &bucket, Key: &key, VersionId: &version})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	data, err := io.ReadAll(obj.Body)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// putUnder writes data as a new version of loc's key with a plain
// PutObject of the admin's own S3 client.
func putUnder(t *testing.T, env s3Env, loc string, data []byte) {
	t.Helper()
	bucket, key, _ := splitLoc(t, loc)
	if _, err := env.adminS3.PutObject(context.Background(), &awss3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(data)}); err != nil {
		t.Fatalf("put back under %s: %v", key, err)
	}
}

// A compliance officer writes a storage hold into a local backup's hold
// record with a plain API call: a local file has no storage hold of its
// own, so the attestation states none.
func TestAttackStorageHoldOnALocalFileIsNotAttested(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	b := protectHeld(t, adminV, complianceV, "LOCAL", []byte("local file"))
	comp := asRole(t, srv, vault.PolicyCompliance)
	rec := comp.read("holds/LOCAL/" + b.ID)
	rec["storageHeldAt"] = catalog.Now().Format(time.RFC3339Nano)
	comp.mustWrite("holds/LOCAL/"+b.ID, rec)
	closeCase(t, complianceV, "LOCAL")
	res, err := adminV.RunShred(context.Background(), admin0, "LOCAL", runOpts(t))
	if err != nil || res.Attestation == nil {
		t.Fatalf("shred run: %v", err)
	}
	if ct := attestedStatement(t, res.Attestation).Predicate.Backups[0].Ciphertext; ct.StorageHold != nil {
		t.Fatalf("attested a storage hold of a local file: %+v", ct.StorageHold)
	}
}

// A compliance officer rewrites the storage hold's span in the case's
// hold record with plain API calls: its start back to 2020 after the hold
// is placed, its end forward to 2099 after the close. The attestation
// states the span the signed ledger entries of the hold and the close
// recorded, which no rewrite of the record reaches.
func TestAttackRewrittenStorageHoldSpanIsNotAttested(t *testing.T) {
	env := newS3Env(t)
	b, _ := protectTo(t, env.admin, "s3://backups/casework", []byte("held in storage"))
	openCase(t, env.compliance, "SPAN")
	heldFrom := catalog.Now()
	hold(t, env.compliance, "SPAN", b.ID)
	comp := asRole(t, env.vault, vault.PolicyCompliance)
	rewriteHold := func(field string, at time.Time) {
		rec := comp.read("holds/SPAN/" + b.ID)
		rec[field] = at.Format(time.RFC3339Nano)
		comp.mustWrite("holds/SPAN/"+b.ID, rec)
	}
	rewriteHold("storageHeldAt", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	closeCase(t, env.compliance, "SPAN")
	liftedBy := catalog.Now()
	rewriteHold("storageReleasedAt", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC))
	res, err := env.admin.RunShred(context.Background(), admin, "SPAN", runOpts(t))
	if err != nil || res.Attestation == nil {
		t.Fatalf("shred run: %v", err)
	}
	span := attestedStatement(t, res.Attestation).Predicate.Backups[0].Ciphertext.StorageHold
	if span == nil || span.From.Before(heldFrom) || span.To.IsZero() || span.To.After(liftedBy) || span.To.Before(span.From) {
		t.Fatalf("attested storage hold %+v, want one within [%s, %s]", span, heldFrom, liftedBy)
	}
}

// A compliance officer appends, with their token's own Transit sign and
// KV create calls, signed hold.placed entries dated 2020 that mark
// ciphertexts as held by the storage: one for a backup the storage did
// hold, while the case is open and again after it closed, and one for a
// backup in a bucket without Object Lock, which the storage never held
// (with a hold.released entry that marks it lifted). The attestation
// states, for the first, the span between Vault's times
// of the real hold's and lift's entries, and none for the other; a
// release planted after the destruction does not stop the attestation.
func TestAttackPlantedStorageHoldMarksStateNothingFalse(t *testing.T) {
	env := newS3Env(t)
	ctx := context.Background()
	locked, _ := protectTo(t, env.admin, "s3://backups/casework", []byte("held in storage"))
	unlockedBucket(t, env)
	unheld, err := env.admin.Protect(ctx, admin, shred.ProtectRequest{Source: writeFile(t, t.TempDir(), "u.tar", []byte("no lock")),
		OutDir: "s3://unlocked/p", NoStorageHold: true})
	if err != nil {
		t.Fatal(err)
	}
	openCase(t, env.compliance, "PLANT")
	heldFrom := catalog.Now()
	hold(t, env.compliance, "PLANT", locked.ID)
	if _, err := env.compliance.PlaceHolds(ctx, compliance, "PLANT", shred.HoldSelector{IDs: []string{unheld.ID}}); err == nil {
		t.Fatal("a hold on a ciphertext the storage cannot hold was not reported")
	}
	comp := vault.New(env.vault.Client(t, env.vault.TokenWithPolicies(t, "insider", vault.PolicyCompliance)), vault.DefaultMounts)
	plant := func(ids ...string) {
		shredtest.AppendDated(t, comp, comp, ledger.RoleCompliance, "insider", ledger.Event{Kind: ledger.KindHoldPlaced, Case: "PLANT",
			Backups: ids, Details: map[string]string{"storageHeld": strings.Join(ids, " ")}}, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	}
	plant(locked.ID, unheld.ID)
	shredtest.AppendDated(t, comp, comp, ledger.RoleCompliance, "insider", ledger.Event{Kind: ledger.KindHoldReleased, Case: "PLANT",
		Backups: []string{unheld.ID}, Details: map[string]string{"storageHoldLifted": unheld.ID}}, time.Date(2020, 2, 1, 0, 0, 0, 0, time.UTC))
	closeCase(t, env.compliance, "PLANT")
	liftedBy := catalog.Now()
	plant(locked.ID)
	res, err := env.admin.RunShred(ctx, admin, "PLANT", runOpts(t))
	if err != nil || res.Attestation == nil || len(res.Destroyed) != 2 {
		t.Fatalf("shred run: %+v %v", res, err)
	}
	for _, b := range attestedStatement(t, res.Attestation).Predicate.Backups {
		span := b.Ciphertext.StorageHold
		switch {
		case b.BackupID == unheld.ID && span != nil:
			t.Errorf("attested a storage hold of a bucket without Object Lock: %+v", span)
		case b.BackupID == locked.ID && (span == nil || span.From.Before(heldFrom) || span.To.IsZero() || span.To.After(liftedBy)):
			t.Errorf("attested storage hold %+v, want one within [%s, %s]", span, heldFrom, liftedBy)
		}
	}
	// A release planted after the destruction, dated 2099, would make
	// every later statement invalid (a hold released after its key was
	// destroyed): the attestation is issued again all the same.
	shredtest.AppendDated(t, comp, comp, ledger.RoleCompliance, "insider", ledger.Event{Kind: ledger.KindHoldReleased, Case: "PLANT",
		Backups: []string{locked.ID}, Details: map[string]string{"storageHoldLifted": locked.ID}}, time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC))
	if _, err := env.admin.Attest(ctx, admin, "PLANT", runOpts(t).Attest); err != nil {
		t.Fatalf("attest after a release planted after the destruction: %v", err)
	}
}

// A compliance officer keeps a case's close from lifting a ciphertext's
// storage hold (the hold record rewritten to say none was placed, nor
// about to be), so the run leaves the ciphertext behind, then lifts the
// legal hold with a plain S3 call, and the next run deletes it. No lift is in the ledger:
// the first attestation states the hold as still in place, which it was;
// the second, for a ciphertext deleted, states none rather than a hold
// without an end.
func TestStorageHoldLiftedOutsideTheToolIsNotStatedOpen(t *testing.T) {
	env := newS3Env(t)
	ctx := context.Background()
	b := heldOnS3(t, env, "BYHAND", []byte("lifted by hand"))
	unnoteStorageHold(t, env, "BYHAND", b)
	closeCase(t, env.compliance, "BYHAND")
	first, err := env.admin.RunShred(ctx, admin, "BYHAND", runOpts(t))
	if first == nil || first.Attestation == nil {
		t.Fatalf("first run, its ciphertext held in storage: %v", err)
	}
	if ct := attestedStatement(t, first.Attestation).Predicate.Backups[0].Ciphertext; ct.Deleted || ct.StorageHold == nil || !ct.StorageHold.To.IsZero() {
		t.Fatalf("first attestation, ciphertext still held: %+v", ct)
	}
	bucket, key, version := splitLoc(t, b.Ciphertext.Path)
	if _, err := env.complyS3.PutObjectLegalHold(ctx, &awss3.PutObjectLegalHoldInput{Bucket: &bucket, Key: &key, VersionId: &version,
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOff}}); err != nil {
		t.Fatal(err)
	}
	second, err := env.admin.RunShred(ctx, admin, "BYHAND", runOpts(t))
	if err != nil || second.Attestation == nil {
		t.Fatalf("second run: %v", err)
	}
	if ct := attestedStatement(t, second.Attestation).Predicate.Backups[0].Ciphertext; !ct.Deleted || ct.StorageHold != nil {
		t.Fatalf("second attestation, ciphertext deleted: %+v", ct)
	}
}

// The same with the hold record marked only storageHoldAhead (written by
// the compliance officer's own token, or left by a hold place cut before
// noting its legal hold): the mark lets a close lift a legal hold only
// from the backup's own ciphertext, so the forged backup's close leaves
// the held backup's legal hold on and says so, and the admin's deletion
// is refused.
func TestAttackAheadMarkCannotLiftAnotherBackupsS3Hold(t *testing.T) {
	env := newS3Env(t)
	ctx := context.Background()
	held := heldOnS3(t, env, "KEEP", []byte("still under investigation"))
	forged := forgeRegistrationOf(t, asRole(t, env.vault, vault.PolicyAdmin), held, "bk-forged")
	openCase(t, env.compliance, "ODD")
	_, _ = env.compliance.PlaceHolds(ctx, compliance, "ODD", shred.HoldSelector{IDs: []string{forged}})
	comp := asRole(t, env.vault, vault.PolicyCompliance)
	rec := comp.read("holds/ODD/" + forged)
	delete(rec, "storageHeldAt")
	rec["storageHoldAhead"] = true
	comp.mustWrite("holds/ODD/"+forged, rec)
	if _, err := env.compliance.CloseCase(ctx, compliance, closeRequest("ODD")); err == nil || !strings.Contains(err.Error(), "storage hold was left in place") {
		t.Errorf("closing the forged backup's case: %v", err)
	}
	if got := legalHoldOf(t, env, held); got != types.ObjectLockLegalHoldStatusOn {
		t.Fatalf("the held backup's legal hold after the forged backup's close: %q", got)
	}
	bucket, key, version := splitLoc(t, held.Ciphertext.Path)
	_, err := env.adminS3.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &bucket, Key: &key, VersionId: &version})
	if !s3.IsAccessDenied(err) {
		t.Fatalf("the admin deleted the held backup's ciphertext: %v", err)
	}
}
