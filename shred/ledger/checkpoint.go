package ledger

import (
	"context"
	"errors"
	"fmt"
)

// Checkpoint is a head recorded elsewhere, such as in an attestation:
// the chain must still hold that hash at that slot.
type Checkpoint struct {
	Name string // what recorded it, e.g. the attestation id
	Head Head
}

// VerifyCheckpoints walks src like Verify and also checks that every
// checkpoint's head is still in the chain, also in a chain with findings
// (junk a role wrote into a slot), which it returns as Verify does. A
// head that is not in the chain (a restored snapshot, a truncation, a
// rewrite) is a *BrokenError naming the checkpoint. In an export, so is
// one the export cannot show is: every slot after the head's must be an
// entry whose link and signature were checked, since a slot carried as a
// hash alone, or junk, that no entry after the head links through could
// hide a splice of entries from an older chain. The ledger in Vault needs
// no such proof: each slot is read where the store keeps it, and no role
// can rewrite one.
func VerifyCheckpoints(ctx context.Context, src Source, cps []Checkpoint) (*Report, error) {
	_, inStore := src.(*Ledger)
	c := checkpoints{want: map[int64][]Checkpoint{}, proveByLaterSlots: !inStore}
	for _, cp := range cps {
		if cp.Head.Seq == 0 && cp.Head.Hash == Genesis {
			continue // an empty ledger's head is in every chain
		}
		c.want[cp.Head.Seq] = append(c.want[cp.Head.Seq], cp)
	}
	rep, err := verify(ctx, src, c.slot)
	var found *FindingsError
	if err != nil && !errors.As(err, &found) {
		return rep, err
	}
	if c.bad == nil {
		c.end(rep.Entries)
	}
	if c.bad != nil {
		rep.FirstBad, rep.Problem, err = c.bad.Seq, c.bad.Reason, c.bad
	}
	return rep, err
}

// checkpoints follows a walk: want are the heads not yet reached, reached
// those whose slot the walk passed, lastChecked whether the last slot was
// a checked entry; proveByLaterSlots whether a head reached must be
// followed by checked entries only (an export).
type checkpoints struct {
	want              map[int64][]Checkpoint
	reached           []Checkpoint
	lastChecked       bool
	proveByLaterSlots bool
	bad               *BrokenError
}

// slot checks slot seq against the heads reached before it and the heads
// at it.
func (c *checkpoints) slot(seq int64, hash string, checked bool) {
	if len(c.reached) > 0 && !checked && c.proveByLaterSlots {
		c.fail(unprovenError(c.reached[0], fmt.Sprintf("slot %d after it is not an entry whose link and signature could be checked", seq)))
	}
	for _, cp := range c.want[seq] {
		if hash != cp.Head.Hash {
			c.fail(checkpointError(cp, fmt.Sprintf("slot %d now holds another entry", seq)))
		}
		c.reached = append(c.reached, cp)
	}
	delete(c.want, seq)
	c.lastChecked = checked
}

// end fails a head the walk never reached, or reached at the last slot
// when that slot is a hash alone.
func (c *checkpoints) end(entries int64) {
	if len(c.reached) > 0 && !c.lastChecked && c.proveByLaterSlots {
		c.fail(unprovenError(c.reached[0], fmt.Sprintf("its slot %d, the last, is a hash alone", entries)))
	}
	for _, cps := range c.want {
		c.fail(checkpointError(cps[0], fmt.Sprintf("the chain ends at entry %d", entries)))
		break
	}
}

// fail keeps the first failure.
func (c *checkpoints) fail(err *BrokenError) {
	if c.bad == nil {
		c.bad = err
	}
}

func checkpointError(cp Checkpoint, why string) *BrokenError {
	return &BrokenError{Reason: fmt.Sprintf("%s names ledger head %d (%s), which is no longer in the chain: %s (a restored snapshot or a truncation)",
		cp.Name, cp.Head.Seq, cp.Head.Hash, why)}
}

// unprovenError is a head the source cannot show is still in the chain.
func unprovenError(cp Checkpoint, why string) *BrokenError {
	return &BrokenError{Reason: fmt.Sprintf("%s names ledger head %d (%s), which this export cannot show is still in the chain: %s "+
		"(an export of one case carries other cases' entries as hashes alone); verify a whole-ledger export", cp.Name, cp.Head.Seq, cp.Head.Hash, why)}
}
