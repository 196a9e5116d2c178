package shred

import (
	"slices"
	"strings"
	"time"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
)

// The ledger details that record a storage's own legal hold (S3 Object
// Lock): which backups of a hold.placed entry had their ciphertext put
// under it, and which of a hold.released entry had it lifted. The
// attestation states a storage hold from these signed, chained entries,
// not from the case's hold record, which the compliance officer may
// rewrite without a trace. Details of the existing kinds, not kinds of
// their own, so that a ledger written by this version still verifies
// with an older one.
const (
	storageHeldDetail   = "storageHeld"
	storageLiftedDetail = "storageHoldLifted"
)

// markedOf returns the ids of part that are in marked, space-separated.
func markedOf(part []string, marked map[string]bool) string {
	var ids []string
	for _, id := range part {
		if marked[id] {
			ids = append(ids, id)
		}
	}
	return strings.Join(ids, " ")
}

// storageHoldSpans collects, by case and backup, the spans of the storage
// holds the ledger records: from the hold.placed entry that marks the
// ciphertext held to the hold.released entry that marks it lifted. Only
// an id the entry itself lists counts.
type storageHoldSpans struct {
	open   map[string]time.Time
	closed map[string]*attest.Span
}

func newStorageHoldSpans() *storageHoldSpans {
	return &storageHoldSpans{open: map[string]time.Time{}, closed: map[string]*attest.Span{}}
}

// add takes e's storage-hold marks on the backups of only.
func (sp *storageHoldSpans) add(e *ledger.Entry, only map[string]bool) {
	key := map[string]string{ledger.KindHoldPlaced: storageHeldDetail, ledger.KindHoldReleased: storageLiftedDetail}[e.Kind]
	if key == "" || e.Details[key] == "" {
		return
	}
	for _, id := range strings.Fields(e.Details[key]) {
		if only[id] && slices.Contains(e.Backups, id) {
			sp.mark(e.Case+"/"+id, e.Kind == ledger.KindHoldPlaced, e.Time)
		}
	}
}

// mark opens a span at a hold, or closes the open one at a lift; a hold
// while one is open, or a lift while none is, changes nothing.
func (sp *storageHoldSpans) mark(caseAndID string, held bool, at time.Time) {
	from, isOpen := sp.open[caseAndID]
	switch {
	case held && !isOpen:
		sp.open[caseAndID] = at
	case !held && isOpen:
		sp.closed[caseAndID] = &attest.Span{From: from, To: at}
		delete(sp.open, caseAndID)
	}
}

// of returns caseID's storage-hold spans by backup: the open one, or
// else the last that closed.
func (sp *storageHoldSpans) of(caseID string) map[string]*attest.Span {
	out := map[string]*attest.Span{}
	for k, span := range sp.closed {
		if id, ok := strings.CutPrefix(k, caseID+"/"); ok {
			out[id] = span
		}
	}
	for k, from := range sp.open {
		if id, ok := strings.CutPrefix(k, caseID+"/"); ok {
			out[id] = &attest.Span{From: from}
		}
	}
	return out
}

// idSet returns the set of ids.
func idSet(ids []string) map[string]bool {
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out
}
