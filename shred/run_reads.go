package shred

import (
	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

// runReads is what a run learnt itself, which its attestation uses instead
// of asking Vault again: for each backup whose key it deleted and then read
// back as not found, that read-back, the status record it then wrote as
// shredded, and the span of the case's storage hold its plan read from
// the case's own (released) hold record. Other cases' hold records, the
// ledger and every other backup (one an earlier run destroyed and this
// run only recorded, say) are still read afresh.
type runReads struct {
	recorded     map[string]*catalog.Backup
	readBack     map[string]bool
	storageHolds map[string]*attest.Span
}

// reads returns what r learnt; nil r learnt nothing.
func (r *RunResult) reads() *runReads {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := &runReads{recorded: map[string]*catalog.Backup{}, readBack: r.readBack, storageHolds: r.storageHolds}
	for _, b := range r.Destroyed {
		if r.readBack[b.ID] {
			out.recorded[b.ID] = b
		}
	}
	return out
}

// readBackGone notes that the run read the keys of items back as gone
// after deleting them, and keeps their storage-hold spans.
func (r *RunResult) readBackGone(items []*PlanItem) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.readBack == nil {
		r.readBack, r.storageHolds = map[string]bool{}, map[string]*attest.Span{}
	}
	for _, it := range items {
		r.readBack[it.Backup.ID] = true
		if it.StorageHold != nil {
			r.storageHolds[it.Backup.ID] = it.StorageHold
		}
	}
}

// record returns the status record the run wrote for id, if any.
func (k *runReads) record(id string) (*catalog.Backup, bool) {
	if k == nil {
		return nil, false
	}
	b, ok := k.recorded[id]
	return b, ok
}

// keyReadBack reports whether the run itself read id's key back as gone.
func (k *runReads) keyReadBack(id string) bool {
	return k != nil && k.readBack[id]
}

// split returns, of ids, those whose keys the run did not read back itself
// and those it did.
func (k *runReads) split(ids []string) (fresh, mine []string) {
	for _, id := range ids {
		if k.keyReadBack(id) {
			mine = append(mine, id)
		} else {
			fresh = append(fresh, id)
		}
	}
	return fresh, mine
}
