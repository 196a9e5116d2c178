package shred_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/storage"
	"github.com/cryptoshred/cryptoshred/shred/storage/local"
	"github.com/cryptoshred/cryptoshred/shred/storage/s3"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// liftCancels is the compliance officer's S3 back end whose lift of a
// legal hold cancels the command right after the storage took it: a hold
// release interrupted (Ctrl-C, a kill, a Vault error) after lifting the
// storage hold and before its ledger entry.
type liftCancels struct {
	*s3.Backend
	cancel context.CancelFunc
}

func (l liftCancels) SetHold(ctx context.Context, loc string, on bool) error {
	err := l.Backend.SetHold(ctx, loc, on)
	if !on {
		l.cancel()
	}
	return err
}

// interruptedRelease holds a new S3 backup for case ONE, then releases
// the hold with a hold release interrupted right after it lifted the
// storage hold, and returns the backup.
func interruptedRelease(t *testing.T, env s3Env) *catalog.Backup {
	t.Helper()
	b := heldOnS3(t, env, "ONE", []byte("released by mistake"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cut := roleServiceOn(t, env.vault, vault.PolicyCompliance,
		liftCancels{Backend: s3.NewFromConfig(env.gw.Config(env.complyKey, env.complySec), true), cancel: cancel})
	if _, err := cut.ReleaseHolds(ctx, compliance, "ONE", []string{b.ID}, "placed by mistake"); err == nil {
		t.Fatal("a hold release cancelled after its lift returned no error")
	}
	bucket, key, version := splitLoc(t, b.Ciphertext.Path)
	out, err := env.complyS3.GetObjectLegalHold(context.Background(), &awss3.GetObjectLegalHoldInput{Bucket: &bucket, Key: &key, VersionId: &version})
	if err != nil || legalHold(out) != types.ObjectLockLegalHoldStatusOff {
		t.Fatalf("legal hold after the interrupted release: %v %v", legalHold(out), err)
	}
	return b
}

// shredThree closes case THREE, which holds b, runs its shred and returns
// the storage-hold span the attestation states for b.
// holdByThree opens case THREE and holds b for it, and returns when.
func holdByThree(t *testing.T, env s3Env, b *catalog.Backup) time.Time {
	t.Helper()
	openCase(t, env.compliance, "THREE")
	at := catalog.Now()
	hold(t, env.compliance, "THREE", b.ID)
	return at
}

// spanFromThree fails unless span is a storage hold that began no earlier
// than THREE's hold (at heldAgain) and has ended.
func spanFromThree(t *testing.T, span *attest.Span, heldAgain time.Time) {
	t.Helper()
	if span == nil || span.From.Before(heldAgain) || span.To.IsZero() || span.To.After(catalog.Now()) {
		t.Fatalf("attested storage hold %+v, want one from THREE's hold (%s) on", span, heldAgain.Format(time.RFC3339Nano))
	}
}

func shredThree(t *testing.T, env s3Env, b *catalog.Backup) *attest.Span {
	t.Helper()
	closeCase(t, env.compliance, "THREE")
	res, err := env.admin.RunShred(context.Background(), admin, "THREE", runOpts(t))
	if err != nil || res.Attestation == nil || len(res.Destroyed) != 1 {
		t.Fatalf("shred run: %+v %v", res, err)
	}
	return attestedStatement(t, res.Attestation).Predicate.Backups[0].Ciphertext.StorageHold
}

// A hold release interrupted after it lifted the S3 legal hold, before
// its ledger entry, is finished by running it again: the re-run records
// the release, with the lift. Case THREE then holds the backup again
// (legal hold on) and closes (lifted), and the shred's attestation states
// the storage hold from THREE's hold, not from ONE's: nothing held the
// version between the interrupted lift and THREE's hold.
func TestS3InterruptedHoldReleaseIsFinishedByItsRerun(t *testing.T) {
	env := newS3Env(t)
	b := interruptedRelease(t, env)
	released, err := env.compliance.ReleaseHolds(context.Background(), compliance, "ONE", []string{b.ID}, "placed by mistake")
	if err != nil || len(released) != 1 {
		t.Errorf("re-run of the interrupted hold release: %v %v", released, err)
	}
	if _, err := env.compliance.ReleaseHolds(context.Background(), compliance, "ONE", []string{b.ID}, "placed by mistake"); err == nil ||
		!strings.Contains(err.Error(), "already released") {
		t.Errorf("a release the ledger records, run again: %v", err)
	}
	heldAgain := holdByThree(t, env, b)
	spanFromThree(t, shredThree(t, env, b), heldAgain)
}

// The same, with the re-run after case THREE held the backup again: the
// re-run does not lift THREE's storage hold, and the ledger cannot say
// when the interrupted run lifted ONE's, so the attestation states no
// span starting before THREE's hold.
func TestS3InterruptedHoldReleaseFinishedWhileAnotherCaseHolds(t *testing.T) {
	env := newS3Env(t)
	b := interruptedRelease(t, env)
	heldAgain := holdByThree(t, env, b)
	if _, err := env.compliance.ReleaseHolds(context.Background(), compliance, "ONE", []string{b.ID}, "placed by mistake"); err != nil {
		t.Errorf("re-run of the interrupted hold release: %v", err)
	}
	bucket, key, version := splitLoc(t, b.Ciphertext.Path)
	out, err := env.complyS3.GetObjectLegalHold(context.Background(), &awss3.GetObjectLegalHoldInput{Bucket: &bucket, Key: &key, VersionId: &version})
	if err != nil || legalHold(out) != types.ObjectLockLegalHoldStatusOn {
		t.Fatalf("THREE's legal hold after ONE's re-run: %v %v", legalHold(out), err)
	}
	if span := shredThree(t, env, b); span != nil && span.From.Before(heldAgain) {
		t.Fatalf("attested storage hold %+v, from before THREE's hold (%s)", span, heldAgain.Format(time.RFC3339Nano))
	}
}

// The reviewer's sequence, with no re-run of the interrupted release: case
// ONE's hold release is killed after it lifted the S3 legal hold, so the
// ledger records no lift; case THREE then holds the backup and closes.
// THREE's hold place finds the legal hold off and marks its placement
// afresh, so the attestation states the storage hold from THREE's hold,
// not from ONE's: nothing held the version in between.
func TestS3HoldPlacedAfterAnUnrecordedLiftStatesFromThatHold(t *testing.T) {
	env := newS3Env(t)
	b := interruptedRelease(t, env)
	heldAgain := holdByThree(t, env, b)
	spanFromThree(t, shredThree(t, env, b), heldAgain)
}

// The compliance officer lifts case ONE's S3 legal hold with a plain S3
// call of their own; case THREE then holds the backup, ONE closes (THREE
// still holds, so nothing is lifted) and THREE closes. The attestation
// states the storage hold from THREE's hold, not from ONE's.
func TestS3HoldPlacedAfterALiftByHandStatesFromThatHold(t *testing.T) {
	env := newS3Env(t)
	ctx := context.Background()
	b := heldOnS3(t, env, "ONE", []byte("lifted by hand"))
	bucket, key, version := splitLoc(t, b.Ciphertext.Path)
	if _, err := env.complyS3.PutObjectLegalHold(ctx, &awss3.PutObjectLegalHoldInput{Bucket: &bucket, Key: &key, VersionId: &version,
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOff}}); err != nil {
		t.Fatal(err)
	}
	heldAgain := holdByThree(t, env, b)
	closeCase(t, env.compliance, "ONE")
	spanFromThree(t, shredThree(t, env, b), heldAgain)
}

// Two cases hold the backup at once: case TWO's hold place finds the legal
// hold ONE set still on, which restarts nothing, so the attestation states
// the storage hold from ONE's hold to TWO's close.
func TestS3SecondCaseHoldKeepsTheSpanFromTheFirst(t *testing.T) {
	env := newS3Env(t)
	heldFrom := catalog.Now()
	b := heldOnS3(t, env, "ONE", []byte("held twice"))
	heldAgain := holdByThree(t, env, b)
	closeCase(t, env.compliance, "ONE")
	span := shredThree(t, env, b)
	if span == nil || span.From.Before(heldFrom) || !span.From.Before(heldAgain) || span.To.IsZero() {
		t.Fatalf("attested storage hold %+v, want one from ONE's hold (%s to %s)", span,
			heldFrom.Format(time.RFC3339Nano), heldAgain.Format(time.RFC3339Nano))
	}
}

// A hold release of case ONE interrupted after its lift is finished by a
// re-run some seconds later (in practice possibly days). The ledger does
// not know when the interrupted run released the hold, so case THREE's
// attestation states no span of ONE's hold, rather than one ending at the
// re-run, which would state that ONE held the backup until then.
func TestS3InterruptedHoldReleaseRerunStatesNoHoldUntilTheRerun(t *testing.T) {
	env := newS3Env(t)
	b := interruptedRelease(t, env)
	time.Sleep(2 * time.Second)
	rerunAt := catalog.Now()
	if _, err := env.compliance.ReleaseHolds(context.Background(), compliance, "ONE", []string{b.ID}, "placed by mistake"); err != nil {
		t.Fatalf("re-run of the interrupted hold release: %v", err)
	}
	holdByThree(t, env, b)
	closeCase(t, env.compliance, "THREE")
	res, err := env.admin.RunShred(context.Background(), admin, "THREE", runOpts(t))
	if err != nil || res.Attestation == nil || len(res.Destroyed) != 1 {
		t.Fatalf("shred run: %+v %v", res, err)
	}
	for _, h := range attestedStatement(t, res.Attestation).Predicate.Backups[0].Holds {
		if h.Case == "ONE" && !h.ReleasedAt.Before(rerunAt) {
			t.Fatalf("attested hold %+v: ONE's hold stated until the re-run (%s)", h, rerunAt.Format(time.RFC3339Nano))
		}
	}
}

// A hold release of case ONE interrupted after its hold record and its
// lift (before its ledger entry), then ONE's hold placed again instead of
// the release being run again: hold place re-activates the record and
// marks its placement afresh (holdPlacedAfresh), so ONE's attestation
// states ONE's hold from the new placement, not one continuous hold from
// the first placement across the time its record was released.
func TestS3HoldPlacedAgainAfterAnInterruptedReleaseStatesNoHoldAcrossTheGap(t *testing.T) {
	env := newS3Env(t)
	b := interruptedRelease(t, env)
	time.Sleep(1100 * time.Millisecond)
	placedAgain := catalog.Now()
	hold(t, env.compliance, "ONE", b.ID)
	closeCase(t, env.compliance, "ONE")
	res, err := env.admin.RunShred(context.Background(), admin, "ONE", runOpts(t))
	if err != nil || res.Attestation == nil || len(res.Destroyed) != 1 {
		t.Fatalf("shred run: %+v %v", res, err)
	}
	var ones []attest.Hold
	for _, h := range attestedStatement(t, res.Attestation).Predicate.Backups[0].Holds {
		if h.Case == "ONE" {
			ones = append(ones, h)
		}
	}
	if len(ones) != 1 || ones[0].PlacedAt.Before(placedAgain) {
		t.Fatalf("attested holds of ONE %+v: want one, from the placement again at %s", ones, placedAgain.Format(time.RFC3339Nano))
	}
}

// holdCancels cancels its hold place once the storage hold is on: the
// hold record is written, the ledger entry not yet.
type holdCancels struct {
	*s3.Backend
	cancel context.CancelFunc
}

func (h holdCancels) SetHold(ctx context.Context, loc string, on bool) error {
	err := h.Backend.SetHold(ctx, loc, on)
	if on {
		h.cancel()
	}
	return err
}

// TestS3HoldPlaceStoppedAfterReactivatingStatesNoHoldAcrossTheGap: a hold
// place re-activates the record an interrupted hold release left
// released and is stopped before its hold.placed entry; its re-run finds
// the record active, and must still mark its entry afresh, or the
// attestation states ONE's hold from the first placement across the time
// it was released.
func TestS3HoldPlaceStoppedAfterReactivatingStatesNoHoldAcrossTheGap(t *testing.T) {
	env := newS3Env(t)
	b := interruptedRelease(t, env)
	time.Sleep(1100 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cut := roleServiceOn(t, env.vault, vault.PolicyCompliance,
		holdCancels{Backend: s3.NewFromConfig(env.gw.Config(env.complyKey, env.complySec), true), cancel: cancel})
	if _, err := cut.PlaceHolds(ctx, compliance, "ONE", shred.HoldSelector{IDs: []string{b.ID}}); err == nil {
		t.Fatal("a hold place cancelled before its ledger entry returned no error")
	}
	time.Sleep(1100 * time.Millisecond)
	placedAgain := catalog.Now()
	hold(t, env.compliance, "ONE", b.ID)
	closeCase(t, env.compliance, "ONE")
	res, err := env.admin.RunShred(context.Background(), admin, "ONE", runOpts(t))
	if err != nil || res.Attestation == nil || len(res.Destroyed) != 1 {
		t.Fatalf("shred run: %+v %v", res, err)
	}
	var ones []attest.Hold
	for _, h := range attestedStatement(t, res.Attestation).Predicate.Backups[0].Holds {
		if h.Case == "ONE" {
			ones = append(ones, h)
		}
	}
	if len(ones) != 1 || ones[0].PlacedAt.Before(placedAgain) {
		t.Fatalf("attested holds of ONE %+v: want one, from the re-run's placement at %s", ones, placedAgain.Format(time.RFC3339Nano))
	}
}

// stoppedReactivation releases ONE's hold on a new S3 backup with an
// interrupted hold release, then re-activates the record with a hold
// place stopped after its storage hold, before its hold.placed entry,
// and returns the backup and a time between the two.
func stoppedReactivation(t *testing.T, env s3Env) (*catalog.Backup, time.Time) {
	t.Helper()
	b := interruptedRelease(t, env)
	time.Sleep(1100 * time.Millisecond)
	reactivated := catalog.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cut := roleServiceOn(t, env.vault, vault.PolicyCompliance,
		holdCancels{Backend: s3.NewFromConfig(env.gw.Config(env.complyKey, env.complySec), true), cancel: cancel})
	if _, err := cut.PlaceHolds(ctx, compliance, "ONE", shred.HoldSelector{IDs: []string{b.ID}}); err == nil {
		t.Fatal("a hold place cancelled before its ledger entry returned no error")
	}
	time.Sleep(1100 * time.Millisecond)
	return b, reactivated
}

// noHoldOfOneBefore fails unless the attestation of res states no hold
// of case ONE placed before at.
func noHoldOfOneBefore(t *testing.T, res *shred.RunResult, err error, at time.Time) {
	t.Helper()
	if res == nil || res.Attestation == nil {
		t.Fatalf("shred run: %+v %v", res, err)
	}
	for _, h := range attestedStatement(t, res.Attestation).Predicate.Backups[0].Holds {
		if h.Case == "ONE" && h.PlacedAt.Before(at) {
			t.Errorf("attested hold of ONE %+v, from before the hold place that re-activated it (%s): across the time it was released",
				h, at.Format(time.RFC3339Nano))
		}
	}
}

// TestS3CaseCloseAfterAStoppedReactivationStatesNoHoldAcrossTheGap: a
// hold place that re-activated the record an interrupted hold release
// left released was stopped before its entry and never run again; the
// case's close must end the hold the ledger shows open from the first
// placement unstated, or the attestation states it across the gap.
func TestS3CaseCloseAfterAStoppedReactivationStatesNoHoldAcrossTheGap(t *testing.T) {
	env := newS3Env(t)
	_, reactivated := stoppedReactivation(t, env)
	closeCase(t, env.compliance, "ONE")
	res, err := env.admin.RunShred(context.Background(), admin, "ONE", runOpts(t))
	noHoldOfOneBefore(t, res, err, reactivated)
}

// TestS3HoldReleaseAfterAStoppedReactivationStatesNoHoldAcrossTheGap: as
// above, but the re-activated hold is released with hold release, and
// the backup shredded by another case's close.
func TestS3HoldReleaseAfterAStoppedReactivationStatesNoHoldAcrossTheGap(t *testing.T) {
	env := newS3Env(t)
	b, reactivated := stoppedReactivation(t, env)
	if _, err := env.compliance.ReleaseHolds(context.Background(), compliance, "ONE", []string{b.ID}, "placed by mistake again"); err != nil {
		t.Fatal(err)
	}
	openCase(t, env.compliance, "TWO")
	hold(t, env.compliance, "TWO", b.ID)
	closeCase(t, env.compliance, "TWO")
	res, err := env.admin.RunShred(context.Background(), admin, "TWO", runOpts(t))
	noHoldOfOneBefore(t, res, err, reactivated)
}

// unreadableLedger fails every read of the ledger's first entry, so a
// walk of the ledger fails as for a ledger that cannot be read, while an
// append, which reads only from its head on, still succeeds.
type unreadableLedger struct{ *vault.Client }

func (u unreadableLedger) Get(ctx context.Context, path string) (*catalog.Record, error) {
	if path == "ledger/000000000001" {
		return nil, errors.New("ledger entry unreadable")
	}
	return u.Client.Get(ctx, path)
}

// TestS3HoldPlacedAgainOnceItsAfreshMarkIsRecordedKeepsTheHoldStated: a
// hold place re-activates the record an interrupted hold release left
// released while the ledger cannot be read, so it writes the largest
// placedAfreshFrom there is, and its entry marks the placement afresh. A
// later hold place of the same backup must not mark its own afresh
// again: the attestation states ONE's hold from the re-activation. Before,
// the record kept the largest value, which no entry reaches, so every
// later hold place of the case dropped the hold stated so far.
func TestS3HoldPlacedAgainOnceItsAfreshMarkIsRecordedKeepsTheHoldStated(t *testing.T) {
	env := newS3Env(t)
	b := interruptedRelease(t, env)
	time.Sleep(1100 * time.Millisecond)
	reactivated := catalog.Now()
	v := vault.New(env.vault.Client(t, env.vault.TokenWithPolicies(t, vault.PolicyCompliance, vault.PolicyCompliance)), vault.DefaultMounts)
	blind := shred.New(shred.Config{Records: unreadableLedger{v}, Keys: v, Guard: v, Signer: v, Storage: &storage.Router{Local: local.New(),
		NewS3: func() (storage.Backend, error) {
			return s3.NewFromConfig(env.gw.Config(env.complyKey, env.complySec), true), nil
		}}})
	if _, err := blind.PlaceHolds(context.Background(), compliance, "ONE", shred.HoldSelector{IDs: []string{b.ID}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	placedAgain := catalog.Now()
	hold(t, env.compliance, "ONE", b.ID)
	closeCase(t, env.compliance, "ONE")
	res, err := env.admin.RunShred(context.Background(), admin, "ONE", runOpts(t))
	if res == nil || res.Attestation == nil {
		t.Fatalf("shred run: %+v %v", res, err)
	}
	var ones []attest.Hold
	for _, h := range attestedStatement(t, res.Attestation).Predicate.Backups[0].Holds {
		if h.Case == "ONE" {
			ones = append(ones, h)
		}
	}
	if len(ones) != 1 || ones[0].PlacedAt.Before(reactivated) || !ones[0].PlacedAt.Before(placedAgain) {
		t.Fatalf("attested holds of ONE %+v: want one, from the re-activation (%s), not the placement again (%s)",
			ones, reactivated.Format(time.RFC3339Nano), placedAgain.Format(time.RFC3339Nano))
	}
}
