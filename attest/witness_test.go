package attest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestWitnessMustCoverTheAttestation: a witness verifies against the
// attestation it names only if it checked each of its backups once and no
// other, and names its id; one of some of them does not read as one of all.
func TestWitnessMustCoverTheAttestation(t *testing.T) {
	ctx := context.Background()
	st := testStatement()
	s, v, _ := newFileSigner(t, ECDSAP256, nil)
	env, err := Sign(ctx, st, s)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		edit func(*WitnessStatement)
		want string
	}{
		"all":        {func(*WitnessStatement) {}, ""},
		"some":       {func(ws *WitnessStatement) { ws.Predicate.Backups = ws.Predicate.Backups[:1] }, "did not check 1 of"},
		"twice":      {func(ws *WitnessStatement) { ws.Predicate.Backups[1] = ws.Predicate.Backups[0] }, "twice or one the attestation does not cover"},
		"another":    {func(ws *WitnessStatement) { ws.Predicate.Backups[1].BackupID = "bk-other" }, "twice or one the attestation does not cover"},
		"named else": {func(ws *WitnessStatement) { ws.Predicate.Attestation.ID = "att-other" }, `names attestation "att-other"`},
	} {
		t.Run(name, func(t *testing.T) {
			ws := NewWitnessStatement(Witness{WitnessID: "wit-1", IssuedAt: time.Now().UTC(), Backups: checkedAll(st),
				Ledger: WitnessLedger{AttestedHeadInChain: true}}, env, st)
			tc.edit(ws)
			wenv, err := SignWitness(ctx, ws, s)
			if err != nil {
				t.Fatal(err)
			}
			_, err = VerifyWitness(ctx, wenv, env, v)
			if tc.want == "" && err != nil || tc.want != "" && (!errors.Is(err, ErrWitnessMismatch) || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
}

// checkedAll is a witness's check of every backup of st, each found gone.
func checkedAll(st *Statement) []WitnessBackup {
	out := make([]WitnessBackup, len(st.Predicate.Backups))
	for i, b := range st.Predicate.Backups {
		out[i] = WitnessBackup{BackupID: b.BackupID, Key: b.Key.Name, KeyAbsent: true, MountPresent: true, CiphertextGone: true}
	}
	return out
}

// TestWitnessOverTheLimitIsRefused: VerifyWitness refuses a witness
// envelope larger than MaxEnvelopeSize before parsing it, with a
// verification error that says so, even one that would verify (a valid
// witness padded with white space); one of exactly MaxEnvelopeSize bytes
// verifies. SignWitness issues none that VerifyWitness would refuse.
func TestWitnessOverTheLimitIsRefused(t *testing.T) {
	ctx := context.Background()
	st := testStatement()
	s, v, _ := newFileSigner(t, ECDSAP256, nil)
	env, err := Sign(ctx, st, s)
	if err != nil {
		t.Fatal(err)
	}
	ws := NewWitnessStatement(Witness{WitnessID: "wit-1", IssuedAt: time.Now().UTC(), Backups: checkedAll(st),
		Ledger: WitnessLedger{AttestedHeadInChain: true}}, env, st)
	wenv, err := SignWitness(ctx, ws, s)
	if err != nil {
		t.Fatal(err)
	}
	padded := append(wenv, bytes.Repeat([]byte(" "), MaxEnvelopeSize-len(wenv))...)
	if _, err := VerifyWitness(ctx, padded, env, v); err != nil {
		t.Fatalf("a witness of exactly MaxEnvelopeSize bytes: %v", err)
	}
	_, err = VerifyWitness(ctx, append(padded, ' '), env, v)
	if !errors.Is(err, ErrWitnessTooLarge) || !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("a witness one byte over MaxEnvelopeSize: %v", err)
	}
	ws.Predicate.Witness.Name = strings.Repeat("x", MaxStatementSize)
	if _, err := SignWitness(ctx, ws, s); err == nil || !strings.Contains(err.Error(), "more than an envelope may hold") {
		t.Fatalf("a witness statement over MaxStatementSize: %v", err)
	}
}
