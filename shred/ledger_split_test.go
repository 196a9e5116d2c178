package shred_test

import (
	"context"
	"slices"
	"testing"

	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
)

// TestLedgerEntriesSplit lowers the ids per ledger entry to 3 and checks
// that a case of 7 backups records its holds, release, close and
// destruction in entries of at most 3 ids that together list every backup
// once per kind, and that the ledger verifies and the attestation covers
// all 7.
func TestLedgerEntriesSplit(t *testing.T) {
	defer shred.SetLedgerIDsPerEntry(3)()
	_, v := newVault(t)
	ctx := context.Background()
	backups := closedCase(t, v, "SPLIT", 7)
	res, err := v.RunShred(ctx, admin, "SPLIT", runOpts(t))
	if err != nil || len(res.Destroyed) != 7 || res.Attestation.Backups != 7 {
		t.Fatalf("run: %v", err)
	}
	entries, err := v.Entries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string][]string{}
	for _, e := range entries {
		if e.Case != "SPLIT" || len(e.Backups) == 0 {
			continue
		}
		if len(e.Backups) > 3 {
			t.Fatalf("%s entry lists %d backups", e.Kind, len(e.Backups))
		}
		listed[e.Kind] = append(listed[e.Kind], e.Backups...)
	}
	var want []string
	for _, b := range backups {
		want = append(want, b.ID)
	}
	slices.Sort(want)
	for _, kind := range []string{ledger.KindHoldPlaced, ledger.KindHoldReleased, ledger.KindCaseClosed, ledger.KindKeyDestroyed} {
		got := slices.Sorted(slices.Values(listed[kind]))
		if !slices.Equal(got, want) {
			t.Fatalf("%s entries list %v, want %v", kind, got, want)
		}
	}
	if _, err := v.VerifyLedger(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestHoldReleaseEntriesSplit: an early release of 7 holds, with the ids
// per entry lowered to 3, is recorded in entries of at most 3 ids that
// together list all 7 with the reason, as every other bulk entry.
func TestHoldReleaseEntriesSplit(t *testing.T) {
	defer shred.SetLedgerIDsPerEntry(3)()
	_, v := newVault(t)
	ctx := context.Background()
	var want []string
	for i := range 7 {
		b, _ := protect(t, v, []byte{byte(i)})
		want = append(want, b.ID)
	}
	openCase(t, v, "EARLY")
	hold(t, v, "EARLY", want...)
	if _, err := v.ReleaseHolds(ctx, compliance, "EARLY", want, "placed by mistake"); err != nil {
		t.Fatal(err)
	}
	entries, err := v.Entries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if e.Case != "EARLY" || e.Kind != ledger.KindHoldReleased {
			continue
		}
		if len(e.Backups) > 3 || e.Details["reason"] != "placed by mistake" {
			t.Fatalf("hold.released entry lists %d backups with details %v", len(e.Backups), e.Details)
		}
		got = append(got, e.Backups...)
	}
	slices.Sort(want)
	if slices.Sort(got); !slices.Equal(got, want) {
		t.Fatalf("hold.released entries list %v, want %v", got, want)
	}
}
