package shred

import "github.com/cryptoshred/cryptoshred/shred/catalog"

// runReads is what a run learnt itself, which its attestation uses instead
// of asking Vault again: for each backup whose key it deleted and then read
// back as not found, that read-back and the status record then written as
// shredded (by the run, or by another run it found had written it first).
// Hold records, the ledger and every other backup (one an
// earlier run destroyed and this run only recorded, say) are still read
// afresh.
type runReads struct {
	shredded map[string]*catalog.Backup
	readBack map[string]bool
}

// reads returns what r learnt; nil r learnt nothing.
func (r *RunResult) reads() *runReads {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := &runReads{shredded: map[string]*catalog.Backup{}, readBack: r.readBack}
	for _, b := range r.Destroyed {
		if r.readBack[b.ID] {
			out.shredded[b.ID] = b
		}
	}
	return out
}

// readBackGone notes that the run read the keys of ids back as gone after
// deleting them.
func (r *RunResult) readBackGone(ids []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.readBack == nil {
		r.readBack = map[string]bool{}
	}
	for _, id := range ids {
		r.readBack[id] = true
	}
}

// record returns the status record the run wrote for id, if any.
func (k *runReads) record(id string) (*catalog.Backup, bool) {
	if k == nil {
		return nil, false
	}
	b, ok := k.shredded[id]
	return b, ok
}

// keyReadBack reports whether the run itself read id's key back as gone.
func (k *runReads) keyReadBack(id string) bool {
	return k != nil && k.readBack[id]
}
