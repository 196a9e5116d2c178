package attest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/cryptoshred/cryptoshred/attest/tsa"
)

// TestLateBackupsAreNamedThenCounted: the first few backups that report a
// time after the trusted time are named, the rest stated in one line, so
// a large attestation's certificate does not open with one line for each.
func TestLateBackupsAreNamedThenCounted(t *testing.T) {
	st := manySubjects(10)
	trusted := st.Predicate.Backups[0].DestroyedAt.Add(-time.Hour)
	run := &verifyRun{stmt: st, tolerance: time.Minute}
	got := run.lateBackups(tsa.Verified{Time: trusted})
	if len(got) != lateWarningsEach+1 || !strings.Contains(got[lateWarningsEach], "and 7 more backups report times after the trusted time") {
		t.Fatalf("warnings for 10 late backups: %q", got)
	}
	if got := run.lateBackups(tsa.Verified{Time: trusted.Add(2 * time.Hour)}); len(got) != 0 {
		t.Fatalf("warnings for backups before the trusted time: %q", got)
	}
}

// TestRequiredTrustedTimeFailsOnDisagreement: with RequireTrustedTime, a
// trusted time that the statement's times disagree with is a failed check,
// and one they agree with a passed one; without an authority to prove the
// time the requirement is refused.
func TestRequiredTrustedTimeFailsOnDisagreement(t *testing.T) {
	st := manySubjects(2)
	at := st.Predicate.IssuedAt
	agree := &verifyRun{stmt: st, tolerance: time.Minute, report: &Report{TrustedTimes: []tsa.Verified{{Time: at}}}}
	if err := agree.checkTimes(); err != nil || !agree.report.Checks[0].Passed {
		t.Fatalf("times that agree: %v %+v", err, agree.report.Checks)
	}
	late := &verifyRun{stmt: st, tolerance: time.Minute, report: &Report{TrustedTimes: []tsa.Verified{{Time: at.Add(time.Hour)}}}}
	var ve *VerificationError
	if err := late.checkTimes(); !errors.As(err, &ve) || ve.Check != CheckTimes || !strings.Contains(err.Error(), "differ by 1h0m0s") {
		t.Fatalf("times an hour apart: %v", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	v, err := signature.LoadECDSAVerifier(&key.PublicKey, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(context.Background(), nil, v, VerifyOptions{RequireTrustedTime: true}); err == nil || errors.Is(err, ErrVerification) {
		t.Fatalf("required trusted time without an authority: %v", err)
	}
}

// TestEveryReportedTimeIsComparedWithTheTrustedTime: a statement whose
// case closed, whose decision was recorded or whose hold was released,
// storage hold lifted, copy disposed or audit log read a month after a
// trusted time fails a verifier that requires trusted time, naming the
// time; before, only issuedAt, destroyedAt and verification.at were
// compared. Until when snapshots hold the keys lies ahead by design.
func TestEveryReportedTimeIsComparedWithTheTrustedTime(t *testing.T) {
	later := func(at time.Time) time.Time { return at.Add(30 * 24 * time.Hour) }
	for name, edit := range map[string]func(d *Deletion){
		"case.closedAt":            func(d *Deletion) { d.Case.ClosedAt = later(d.IssuedAt) },
		"case.decision.recordedAt": func(d *Deletion) { d.Case.Decision.RecordedAt = later(d.IssuedAt) },
		"holds[].releasedAt":       func(d *Deletion) { d.Backups[1].Holds[0].ReleasedAt = later(d.IssuedAt) },
		"keyUnwraps.audit.logTo": func(d *Deletion) {
			d.Backups[0].KeyUnwraps.Audit = &AuditUnwraps{LogFrom: d.Case.OpenedAt, LogTo: later(d.IssuedAt)}
		},
		"ciphertext.storageHold.to": func(d *Deletion) {
			d.Backups[0].Ciphertext.StorageHold = &Span{From: d.Case.OpenedAt, To: later(d.IssuedAt)}
		},
		"restoredCopies[].disposedAt": func(d *Deletion) {
			at := later(d.IssuedAt)
			d.Backups[0].RestoredCopies = []RestoredCopy{{At: d.Case.OpenedAt, By: "x", Purpose: "p", Output: "stdout", DisposedAt: &at, DisposedBy: "x", Note: "n"}}
		},
	} {
		st := manySubjects(2)
		edit(&st.Predicate)
		run := &verifyRun{stmt: st, tolerance: time.Minute, report: &Report{TrustedTimes: []tsa.Verified{{Time: st.Predicate.IssuedAt}}}}
		if err := run.checkTimes(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s a month after the trusted time: %v", name, err)
		}
	}
	st := manySubjects(2)
	for i := range st.Predicate.Backups {
		st.Predicate.Backups[i].ResidualCopiesUntil = st.Predicate.IssuedAt.Add(365 * 24 * time.Hour)
	}
	run := &verifyRun{stmt: st, tolerance: time.Minute, report: &Report{TrustedTimes: []tsa.Verified{{Time: st.Predicate.IssuedAt}}}}
	if err := run.checkTimes(); err != nil {
		t.Fatalf("snapshots kept a year after the trusted time: %v", err)
	}
}
