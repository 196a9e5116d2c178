package shred_test

import (
	"context"
	"errors"
	"slices"
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
// own token: its records go through wrap (if set), its key calls through
// keys (if set) and its S3 calls through be (if set; else the compliance
// officer's S3 back end).
func secondOfficer(t *testing.T, env s3Env, wrap func(catalog.Store) catalog.Store, keys func(shred.Keys) shred.Keys, be storage.Backend) *shred.Service {
	t.Helper()
	v := vault.New(env.vault.Client(t, env.vault.TokenWithPolicies(t, "officer2", vault.PolicyCompliance)), vault.DefaultMounts)
	var rec catalog.Store = v
	var k shred.Keys = v
	if wrap != nil {
		rec = wrap(v)
	}
	if keys != nil {
		k = keys(v)
	}
	if be == nil {
		be = s3.NewFromConfig(env.gw.Config(env.complyKey, env.complySec), true)
	}
	return shred.New(shred.Config{Records: rec, Keys: k, Guard: v, Signer: v,
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

// placeAgainAsAdvised checks that reported, a command's error, says
// report about case caseID's hold on b, whose legal hold is off, with the
// advice to place it again; follows the advice and checks the legal hold
// is back on. It returns when the hold was placed again.
func placeAgainAsAdvised(t *testing.T, env s3Env, b *catalog.Backup, caseID string, reported error, report string) time.Time {
	t.Helper()
	if reported == nil || !strings.Contains(reported.Error(), report) || !strings.Contains(reported.Error(), "place that case's hold again") {
		t.Fatalf("a lift that undid a hold placed meanwhile reported %v; want %q", reported, report)
	}
	if got := legalHoldOf(t, env, b); got != types.ObjectLockLegalHoldStatusOff {
		t.Fatalf("legal hold after the lift: %q", got)
	}
	at := catalog.Now()
	hold(t, env.compliance, caseID, b.ID)
	if got := legalHoldOf(t, env, b); got != types.ObjectLockLegalHoldStatusOn {
		t.Fatalf("legal hold after ONE's hold was placed again: %q", got)
	}
	return at
}

// spanFromPlacedAgain closes case caseID, runs its shred, and fails
// unless the attestation states b's storage hold from when caseID's hold
// was placed again (heldAgain), not across the time its legal hold was off.
func spanFromPlacedAgain(t *testing.T, env s3Env, caseID string, heldAgain time.Time) {
	t.Helper()
	closeCase(t, env.compliance, caseID)
	res, err := env.admin.RunShred(context.Background(), admin, caseID, runOpts(t))
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
	}, nil, nil)
	_, err := releaser.ReleaseHolds(context.Background(), compliance, "ONE", []string{b.ID}, "placed by mistake")
	if placeErr != nil {
		t.Fatalf("hold place during the release: %v", placeErr)
	}
	spanFromPlacedAgain(t, env, "ONE", placeAgainAsAdvised(t, env, b, "ONE", err, "case(s) ONE placed a hold on it while its storage hold was lifted"))
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
	}, nil, nil)
	releaser := secondOfficer(t, env, func(s catalog.Store) catalog.Store {
		return &shredtest.BeforeWrite{Store: s, Prefix: "backups/" + b.ID, Before: func() {
			go func() {
				_, err := placer.PlaceHolds(context.Background(), compliance, "ONE", shred.HoldSelector{IDs: []string{b.ID}})
				placeDone <- err
			}()
			<-atLedger
		}}
	}, nil, nil)
	_, err := releaser.ReleaseHolds(context.Background(), compliance, "ONE", []string{b.ID}, "placed by mistake")
	close(releaseDone)
	if err := <-placeDone; err != nil {
		t.Fatalf("hold place during the release: %v", err)
	}
	spanFromPlacedAgain(t, env, "ONE", placeAgainAsAdvised(t, env, b, "ONE", err, "case(s) ONE placed a hold on it while its storage hold was lifted"))
}

// liftHook is an S3 back end that runs before (once) just ahead of its
// first lift of a legal hold, and after just behind each.
type liftHook struct {
	*s3.Backend
	before func()
	after  func()
}

func (l *liftHook) SetHold(ctx context.Context, loc string, on bool) error {
	if !on && l.before != nil {
		f := l.before
		l.before = nil
		f()
	}
	err := l.Backend.SetHold(ctx, loc, on)
	if !on && l.after != nil {
		l.after()
	}
	return err
}

// placeBBeforeLift returns the compliance officer's S3 back end with case
// B's hold placed on b whole just before the first lift, and after (if
// set) run behind each lift.
func placeBBeforeLift(t *testing.T, env s3Env, b *catalog.Backup, after func()) *liftHook {
	return &liftHook{Backend: s3.NewFromConfig(env.gw.Config(env.complyKey, env.complySec), true), after: after,
		before: func() {
			if _, err := env.compliance.PlaceHolds(context.Background(), compliance, "B", shred.HoldSelector{IDs: []string{b.ID}}); err != nil {
				t.Errorf("case B's hold place just before the lift: %v", err)
			}
		}}
}

// Case A's close lifts b's legal hold just after case B's hold was placed
// on b, and is killed before it opens the latch. Its re-run finds B's
// hold and lifts nothing, but reads the legal hold A placed: off, so it
// reports it and stays closing. B's hold placed again as advised sets the
// legal hold, A's close finishes, and B's attestation states the storage
// hold from that placement, not across the time it was off.
func TestS3CloseRerunReportsAStorageHoldItsKilledRunLifted(t *testing.T) {
	env := newS3Env(t)
	b := heldOnS3(t, env, "A", []byte("two cases"))
	err := rerunCloseKilledAfterItsLift(t, env, b, "A")
	heldAgain := placeAgainAsAdvised(t, env, b, "B", err, "its storage hold is off (lifted by an earlier run of this close)")
	closeCase(t, env.compliance, "A")
	spanFromPlacedAgain(t, env, "B", heldAgain)
}

// refusingUnlatch is a key client whose AllowDeletion Vault never sees.
type refusingUnlatch struct{ shred.Keys }

func (refusingUnlatch) AllowDeletion(context.Context, string) error {
	return errors.New("permission denied")
}

// Case A's close lifts b's legal hold just after case B's hold was placed
// on b, and Vault refuses to open the latch: the close released nothing,
// but its re-check of the hold records after the lift still reports B's
// hold without its storage hold.
func TestS3CloseReportsAHoldPlacedAsItLiftsWhenTheLatchStaysClosed(t *testing.T) {
	env := newS3Env(t)
	b := heldOnS3(t, env, "A", []byte("two cases"))
	openCase(t, env.compliance, "B")
	closer := secondOfficer(t, env, nil, func(k shred.Keys) shred.Keys { return refusingUnlatch{k} }, placeBBeforeLift(t, env, b, nil))
	_, err := closer.CloseCase(context.Background(), compliance, closeRequest("A"))
	heldAgain := placeAgainAsAdvised(t, env, b, "B", err, "case(s) B placed a hold on it while this close lifted its storage hold")
	closeCase(t, env.compliance, "A")
	spanFromPlacedAgain(t, env, "B", heldAgain)
}

// Case A's close is killed right after it lifts b's legal hold, with case
// B's hold placed just before the lift; case B closes before anyone runs
// A's close again. B's close finds no other case holding and the legal
// hold already off: its lift is untimed (storageHoldLiftedUntimed), so
// B's attestation states no storage hold across the time it was off,
// rather than one from the placement until B's close.
func TestS3OtherCaseCloseFindingTheLegalHoldOffStatesNoSpanAcrossIt(t *testing.T) {
	env := newS3Env(t)
	b := heldOnS3(t, env, "A", []byte("two cases"))
	openCase(t, env.compliance, "B")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	closer := secondOfficer(t, env, nil, nil, placeBBeforeLift(t, env, b, cancel))
	if _, err := closer.CloseCase(ctx, compliance, closeRequest("A")); err == nil {
		t.Fatal("a close killed after its lift returned no error")
	}
	if got := legalHoldOf(t, env, b); got != types.ObjectLockLegalHoldStatusOff {
		t.Fatalf("legal hold after A's killed close: %q", got)
	}
	noSpanAfterTheLift(t, env, "B")
}

// A close killed right after it lifts b's legal hold, with no other case
// holding, is finished by its re-run, which finds the legal hold off: the
// ledger marks the lift untimed, and A's attestation states no storage
// hold ending at the re-run's time, later than the lift.
func TestS3CloseRerunAfterItsKilledLiftStatesNoSpanUntilTheRerun(t *testing.T) {
	env := newS3Env(t)
	heldOnS3(t, env, "A", []byte("one case"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	killed := &liftHook{Backend: s3.NewFromConfig(env.gw.Config(env.complyKey, env.complySec), true), after: cancel}
	if _, err := secondOfficer(t, env, nil, nil, killed).CloseCase(ctx, compliance, closeRequest("A")); err == nil {
		t.Fatal("a close killed after its lift returned no error")
	}
	noSpanAfterTheLift(t, env, "A")
}

// noSpanAfterTheLift waits, closes caseID (finishing a close that is
// closing) after the legal hold was lifted, shreds it and checks that the
// attestation states no storage hold: the ledger does not know when it
// ended, and the close's time is later than the lift.
func noSpanAfterTheLift(t *testing.T, env s3Env, caseID string) {
	t.Helper()
	liftedBy := catalog.Now()
	time.Sleep(1100 * time.Millisecond)
	closeCase(t, env.compliance, caseID)
	res, err := env.admin.RunShred(context.Background(), admin, caseID, runOpts(t))
	if err != nil || res.Attestation == nil || len(res.Destroyed) != 1 {
		t.Fatalf("shred run: %+v %v", res, err)
	}
	if span := attestedStatement(t, res.Attestation).Predicate.Backups[0].Ciphertext.StorageHold; span != nil {
		t.Errorf("storage hold stated %s to %s, though the legal hold was off since before %s",
			span.From.Format(time.RFC3339Nano), span.To.Format(time.RFC3339Nano), liftedBy.Format(time.RFC3339Nano))
	}
}

// rerunCloseKilledAfterItsLift opens case B, has caseID's close killed
// just after it lifted b's legal hold, with B's hold placed on b just
// before that lift, and runs the close again, which must find b still
// held; it returns the re-run's error.
func rerunCloseKilledAfterItsLift(t *testing.T, env s3Env, b *catalog.Backup, caseID string) error {
	t.Helper()
	openCase(t, env.compliance, "B")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	closer := secondOfficer(t, env, nil, nil, placeBBeforeLift(t, env, b, cancel))
	if _, err := closer.CloseCase(ctx, compliance, closeRequest(caseID)); err == nil {
		t.Fatal("a close killed after its lift returned no error")
	}
	res, err := env.compliance.CloseCase(context.Background(), compliance, closeRequest(caseID))
	if res == nil || !slices.Equal(res.StillHeld, []string{b.ID}) {
		t.Fatalf("re-run of the close: %+v %v; want %s still held", res, err, b.ID)
	}
	return err
}
