package shred

import (
	"strings"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
)

func TestStorageHoldSpansFollowTheLedger(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 11, 30, h, 0, 0, 0, time.UTC) }
	forged := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	entry := func(kind, caseID string, h int, listed, marked string) *ledger.Entry {
		key := map[string]string{ledger.KindHoldPlaced: storageHeldDetail, ledger.KindHoldReleased: storageLiftedDetail}[kind]
		return &ledger.Entry{Kind: kind, Case: caseID, Time: forged, Written: at(h), Backups: strings.Fields(listed), Details: map[string]string{key: marked}}
	}
	afresh := func(e *ledger.Entry, ids string) *ledger.Entry {
		e.Details[storageHeldAfreshDetail] = ids
		return e
	}
	placed, released := ledger.KindHoldPlaced, ledger.KindHoldReleased
	sp := newStorageHoldSpans()
	for _, e := range []*ledger.Entry{
		entry(placed, "A", 1, "b1 b2 b3 b4", "b1 b2 b3"),
		entry(placed, "A", 2, "b1", "b1"),   // held again while held: the first hold counts
		entry(released, "A", 3, "b2", "b2"), // released early, then held again
		entry(placed, "A", 4, "b2", "b2"),
		entry(released, "A", 5, "b1 b2", "b1 b2 b4"), // b4 marked lifted but never held: nothing
		entry(released, "A", 6, "b1", "b3"),          // b3 marked, but the entry does not list it
		entry(released, "B", 7, "b3", "b3"),          // another case's lift ends the object's hold
		entry(placed, "A", 8, "b5", "b5 other"),      // other is not asked about
		{Kind: ledger.KindCaseClosed, Case: "A", Written: at(9)},
		entry(placed, "A", 10, "b6", "b6"),                                                 // a closed case's hold marks count no more
		{Kind: ledger.KindCaseOpened, Case: "C", Written: at(11), Backups: []string{"b7"}}, // not a hold entry
		entry(placed, "C", 12, "b8", "b8"),
		entry(placed, "D", 13, "b8", "b8"), // a second case while held: the first hold counts
		entry(placed, "C", 14, "b9", "b9"),
		afresh(entry(placed, "D", 15, "b9", "b9"), "b9"), // found the hold off: the span restarts
		entry(placed, "C", 16, "b10", "b10"),
		afresh(entry(placed, "D", 17, "b10", ""), "b10"), // an afresh mark alone drops the span
		entry(placed, "C", 18, "b11", "b11"),
		afresh(entry(placed, "A", 19, "b11", "b11"), "b11"), // even a closed case's mark drops it
	} {
		sp.add(e, idSet(strings.Fields("b1 b2 b3 b4 b5 b6 b7 b8 b9 b10 b11")))
	}
	want := map[string]*attest.Span{"b1": {From: at(1), To: at(5)}, "b2": {From: at(4), To: at(5)}, "b3": {From: at(1), To: at(7)}, "b5": {From: at(8)},
		"b8": {From: at(12)}, "b9": {From: at(15)}}
	got := sp.spans()
	if len(got) != len(want) {
		t.Fatalf("spans %v, want %v", got, want)
	}
	for id, w := range want {
		if g := got[id]; g == nil || !g.From.Equal(w.From) || !g.To.Equal(w.To) {
			t.Errorf("%s: span %+v, want %+v", id, g, w)
		}
	}
}

// TestHoldSpansPairInLedgerOrder: a release closes its case's open
// placement; one with none open adds nothing; a hold placed again after
// an early release is a second span; a release Vault dates before its
// placement (a clock stepping back) ends the span at the placement.
func TestHoldSpansPairInLedgerOrder(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 11, 30, h, 0, 0, 0, time.UTC) }
	f := &ledgerFacts{holds: map[string][]attest.Hold{}, openHolds: openSpans{}}
	for _, step := range []struct {
		kind, caseID string
		h            int
	}{
		{ledger.KindHoldReleased, "NEVER", 1},
		{ledger.KindHoldPlaced, "A", 2}, {ledger.KindHoldPlaced, "A", 3}, {ledger.KindHoldReleased, "A", 4},
		{ledger.KindHoldReleased, "A", 5},
		{ledger.KindHoldPlaced, "A", 7}, {ledger.KindHoldReleased, "A", 6},
	} {
		f.addHold(&ledger.Entry{Kind: step.kind, Case: step.caseID}, "b", at(step.h))
	}
	want := []attest.Hold{{Case: "A", PlacedAt: at(2), ReleasedAt: at(4)}, {Case: "A", PlacedAt: at(7), ReleasedAt: at(7)}}
	if got := f.holds["b"]; len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("spans %+v, want %+v", got, want)
	}
}

// TestDisposalGoesByLedgerOrder: a disposal marks the copies opened before
// it in the ledger, even one a clock stepping back dates after it, and is
// then stated at that copy's time.
func TestDisposalGoesByLedgerOrder(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 11, 30, h, 0, 0, 0, time.UTC) }
	copies := []attest.RestoredCopy{{At: at(5), Output: "/x"}, {At: at(2), Output: "/y"}}
	markDisposed(copies, &ledger.Entry{Details: map[string]string{"output": "/x"}}, at(3))
	if d := copies[0].DisposedAt; d == nil || !d.Equal(at(5)) || copies[1].DisposedAt != nil {
		t.Fatalf("copies after the disposal of /x: %+v", copies)
	}
}

// TestSubjectNamesNeverMeet: a name two backups share, a blank one, and
// one a registration written by hand gives as another backup's qualified
// name are qualified by the backup id, so no two subjects share a name;
// a blank controller is no controller.
func TestSubjectNamesNeverMeet(t *testing.T) {
	a := &catalog.Backup{ID: "bk-a", Name: "x.age"}
	b := &catalog.Backup{ID: "bk-b", Name: "x.age"}
	c := &catalog.Backup{ID: "bk-c", Name: "bk-a/x.age"}
	d := &catalog.Backup{ID: "bk-d", Name: " "}
	e := &catalog.Backup{ID: "bk-e", Name: "y.age", Controllers: []string{" ", "Ministry"}}
	all := []*catalog.Backup{a, b, c, d, e}
	seen := map[string]bool{}
	for _, bk := range all {
		name := subjectName(bk, nameCounts(all))
		if seen[name] || strings.TrimSpace(name) == "" {
			t.Fatalf("subject name %q of %s meets another or is blank", name, bk.ID)
		}
		seen[name] = true
	}
	if got := controllers(&catalog.Case{Controllers: []string{""}}, all); len(got) != 1 || got[0] != "Ministry" {
		t.Fatalf("controllers %q", got)
	}
}
