package shred_test

import (
	"context"
	"strings"
	"testing"
	"time"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cryptoshred/cryptoshred/internal/shredtest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/storage"
	"github.com/cryptoshred/cryptoshred/shred/storage/local"
	"github.com/cryptoshred/cryptoshred/shred/storage/s3"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// secondOfficer is a second compliance officer's service on env, with its
// own token: its records go through wrap (if set) and its S3 calls
// through be (if set; else the compliance officer's S3 back end).
func secondOfficer(t *testing.T, env s3Env, wrap func(catalog.Store) catalog.Store, be storage.Backend) *shred.Service {
	t.Helper()
	v := vault.New(env.vault.Client(t, env.vault.TokenWithPolicies(t, "officer2", vault.PolicyCompliance)), vault.DefaultMounts)
	var rec catalog.Store = v
	if wrap != nil {
		rec = wrap(v)
	}
	if be == nil {
		be = s3.NewFromConfig(env.gw.Config(env.complyKey, env.complySec), true)
	}
	return shred.New(shred.Config{Records: rec, Keys: v, Guard: v, Signer: v,
		Storage: &storage.Router{Local: local.New(), NewS3: func() (storage.Backend, error) { return be, nil }}})
}

// legalHoldOf reads the S3 legal hold of b's ciphertext version.
func legalHoldOf(t *testing.T, env s3Env, b *catalog.Backup) types.ObjectLockLegalHoldStatus {
	t.Helper()
	bucket, key, version := splitLoc(t, b.Ciphertext.Path)
	out, err := env.complyS3.GetObjectLegalHold(context.Background(), &awss3.GetObjectLegalHoldInput{Bucket: &bucket, Key: &key, VersionId: &version})
	if err != nil {
		t.Fatal(err)
	}
	return legalHold(out)
}

// placeAgainAsAdvised checks that release's error reports case ONE's hold
// on b placed while its storage hold was lifted, with the advice to place
// it again; follows the advice and checks the legal hold is back on. It
// returns when the hold was placed again.
func placeAgainAsAdvised(t *testing.T, env s3Env, b *catalog.Backup, release error) time.Time {
	t.Helper()
	if release == nil || !strings.Contains(release.Error(), "case(s) ONE placed a hold on it while its storage hold was lifted") ||
		!strings.Contains(release.Error(), "place that case's hold again") {
		t.Fatalf("a hold release whose lift undid its case's hold placed meanwhile reported %v", release)
	}
	if got := legalHoldOf(t, env, b); got != types.ObjectLockLegalHoldStatusOff {
		t.Fatalf("legal hold after the release: %q", got)
	}
	at := catalog.Now()
	hold(t, env.compliance, "ONE", b.ID)
	if got := legalHoldOf(t, env, b); got != types.ObjectLockLegalHoldStatusOn {
		t.Fatalf("legal hold after ONE's hold was placed again: %q", got)
	}
	return at
}

// spanFromPlacedAgain closes case ONE, runs its shred, and fails unless
// the attestation states b's storage hold from when ONE's hold was placed
// again (heldAgain), not across the time its legal hold was off.
func spanFromPlacedAgain(t *testing.T, env s3Env, heldAgain time.Time) {
	t.Helper()
	closeCase(t, env.compliance, "ONE")
	res, err := env.admin.RunShred(context.Background(), admin, "ONE", runOpts(t))
	if err != nil || res.Attestation == nil || len(res.Destroyed) != 1 {
		t.Fatalf("shred run: %+v %v", res, err)
	}
	spanFromThree(t, attestedStatement(t, res.Attestation).Predicate.Backups[0].Ciphertext.StorageHold, heldAgain)
}

// Officer 1 releases case ONE's hold on b early; officer 2 places ONE's
// hold on b again, to completion, between the release's write of the hold
// record and its lift. The lift then undoes the hold just placed: the
// release reports it, the advised hold place sets the legal hold again,
// and the attestation states the storage hold from that placement on.
func TestS3HoldPlacedAgainDuringItsEarlyReleaseIsReported(t *testing.T) {
	env := newS3Env(t)
	b := heldOnS3(t, env, "ONE", []byte("released and placed at once"))
	var placeErr error
	releaser := secondOfficer(t, env, func(s catalog.Store) catalog.Store {
		return &shredtest.BeforeWrite{Store: s, Prefix: "backups/" + b.ID, Before: func() {
			_, placeErr = env.compliance.PlaceHolds(context.Background(), compliance, "ONE", shred.HoldSelector{IDs: []string{b.ID}})
		}}
	}, nil)
	_, err := releaser.ReleaseHolds(context.Background(), compliance, "ONE", []string{b.ID}, "placed by mistake")
	if placeErr != nil {
		t.Fatalf("hold place during the release: %v", placeErr)
	}
	spanFromPlacedAgain(t, env, placeAgainAsAdvised(t, env, b, err))
}

// The same, with the hold place's ledger entry written after the
// release's: the place found the legal hold still on, so its entry does
// not restart the span, and the ledger alone would state a storage hold
// from it while the legal hold was off. The release reports it, and the
// advised hold place finds the legal hold off and restarts the span.
func TestS3HoldPlacedAgainDuringItsEarlyReleaseAndRecordedAfterIt(t *testing.T) {
	env := newS3Env(t)
	b := heldOnS3(t, env, "ONE", []byte("released and placed at once"))
	atLedger, releaseDone, placeDone := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	placer := secondOfficer(t, env, func(s catalog.Store) catalog.Store {
		return &shredtest.BeforeWrite{Store: s, Prefix: "ledger/0", Before: func() { close(atLedger); <-releaseDone }}
	}, nil)
	releaser := secondOfficer(t, env, func(s catalog.Store) catalog.Store {
		return &shredtest.BeforeWrite{Store: s, Prefix: "backups/" + b.ID, Before: func() {
			go func() {
				_, err := placer.PlaceHolds(context.Background(), compliance, "ONE", shred.HoldSelector{IDs: []string{b.ID}})
				placeDone <- err
			}()
			<-atLedger
		}}
	}, nil)
	_, err := releaser.ReleaseHolds(context.Background(), compliance, "ONE", []string{b.ID}, "placed by mistake")
	close(releaseDone)
	if err := <-placeDone; err != nil {
		t.Fatalf("hold place during the release: %v", err)
	}
	spanFromPlacedAgain(t, env, placeAgainAsAdvised(t, env, b, err))
}
