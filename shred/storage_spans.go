package shred

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
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
//
// storageHoldLiftedUntimed marks, in the hold.released entry of a hold
// release that finishes an interrupted one, the backups whose storage
// hold the interrupted run may have lifted at a time the ledger does not
// record: it ends the open span and states none from it.
//
// storageHeldAfresh marks, in a hold.placed entry, the backups whose
// legal hold hold place found off before it set it: whatever span the
// ledger still shows open was cut by a lift it does not record (a hold
// release killed after its lift, a plain S3 call), so the open span is
// dropped unstated and a new one starts at this entry. Without it the
// ledger cannot tell that from two cases holding at once.
const (
	storageHeldDetail          = "storageHeld"
	storageHeldAfreshDetail    = "storageHeldAfresh"
	storageLiftedDetail        = "storageHoldLifted"
	storageLiftedUntimedDetail = "storageHoldLiftedUntimed"
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

// storageHoldSpans collects, by backup, the spans of its ciphertext's
// storage hold that the ledger records: from a hold.placed entry that
// marks it held to a hold.released entry that marks it lifted. The legal
// hold is one flag on the object, whichever case set it, so any case's
// lift ends the span. Only an id the entry itself lists counts, and a
// case's hold marks only until its case.closed entry. A lift whose time
// the ledger does not know (storageHoldLiftedUntimed), or a placement that
// found the hold off (storageHeldAfresh), drops the open span: the storage
// did not hold all along from its start. Either mark, even forged, only
// states less, so it is taken from any case's entry. Each entry is
// dated by when Vault wrote its slot, not by the time its writer put in
// it: a role that signs a planted entry cannot date it.
type storageHoldSpans struct {
	closedCases map[string]bool
	open        openSpans
	closed      map[string]*attest.Span
}

func newStorageHoldSpans() *storageHoldSpans {
	return &storageHoldSpans{closedCases: map[string]bool{}, open: openSpans{}, closed: map[string]*attest.Span{}}
}

// add takes e's storage-hold marks on the backups of only.
func (sp *storageHoldSpans) add(e *ledger.Entry, only map[string]bool) {
	if e.Kind == ledger.KindCaseClosed {
		sp.closedCases[e.Case] = true
	}
	key := map[string]string{ledger.KindHoldPlaced: storageHeldDetail, ledger.KindHoldReleased: storageLiftedDetail}[e.Kind]
	held := e.Kind == ledger.KindHoldPlaced
	drop := map[string]string{ledger.KindHoldPlaced: storageHeldAfreshDetail, ledger.KindHoldReleased: storageLiftedUntimedDetail}[e.Kind]
	sp.drop(e, drop, only)
	if key == "" || e.Details[key] == "" || held && sp.closedCases[e.Case] {
		return
	}
	at := e.At()
	for _, id := range strings.Fields(e.Details[key]) {
		if only[id] && slices.Contains(e.Backups, id) {
			sp.mark(id, held, at)
		}
	}
}

// drop ends, stating nothing, the open span of each backup of only that e
// lists and marks in detail key: the ledger does not know when the
// storage stopped holding it.
func (sp *storageHoldSpans) drop(e *ledger.Entry, key string, only map[string]bool) {
	if key == "" {
		return
	}
	for _, id := range strings.Fields(e.Details[key]) {
		if only[id] && slices.Contains(e.Backups, id) {
			sp.open.end(id)
		}
	}
}

// mark opens a span at a hold, or closes the open one at a lift.
func (sp *storageHoldSpans) mark(id string, held bool, at time.Time) {
	if held {
		sp.open.start(id, at)
	} else if from, open := sp.open.end(id); open {
		sp.closed[id] = &attest.Span{From: from, To: at}
	}
}

// spans returns the storage-hold span of each backup that has one: the
// open one, or else the last that closed.
func (sp *storageHoldSpans) spans() map[string]*attest.Span {
	out := maps.Clone(sp.closed)
	for id, from := range sp.open {
		out[id] = &attest.Span{From: from}
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

// storageHoldsToState keeps, of the storage-hold spans the ledger records,
// those an attestation may state: on an S3 object whose bucket can hold
// it (asked of the storage once per bucket; an error states none), ending
// no earlier than they begin, and ended if the ciphertext was deleted or
// found gone, which a legal hold still in place would have prevented.
func (s *Service) storageHoldsToState(ctx context.Context, spans map[string]*attest.Span, backups []*catalog.Backup) map[string]*attest.Span {
	out := map[string]*attest.Span{}
	canHold := map[string]bool{}
	for _, b := range backups {
		span := spans[b.ID]
		bucket, isS3 := s3Bucket(b.Ciphertext.Path)
		if span == nil || !isS3 || !stateable(span, b.Destruction) {
			continue
		}
		can, asked := canHold[bucket]
		if !asked {
			_, holder, err := s.storageHolder(ctx, b.Ciphertext.Path)
			can = err == nil && holder != nil
			canHold[bucket] = can
		}
		if can {
			out[b.ID] = span
		}
	}
	return out
}

// stateable reports whether span can be true of a ciphertext whose
// destruction is d: it ends no earlier than it begins, and if it has not
// ended the ciphertext is still there.
func stateable(span *attest.Span, d *catalog.Destruction) bool {
	if span.To.IsZero() {
		return d.CiphertextLeft()
	}
	return !span.To.Before(span.From)
}

// s3Bucket returns the bucket of an s3:// location.
func s3Bucket(loc string) (string, bool) {
	rest, ok := strings.CutPrefix(loc, "s3://")
	bucket, _, _ := strings.Cut(rest, "/")
	return bucket, ok
}
