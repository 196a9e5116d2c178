package attest

import (
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
