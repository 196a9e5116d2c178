package ledger

import (
	"context"
	"errors"
	"fmt"
)

// Checkpoint is a head recorded elsewhere, such as in an attestation:
// the chain must still hold that hash at that slot and, if Slots is set,
// the slots up to it must have that digest (Report.SlotsDigest).
type Checkpoint struct {
	Name  string // what recorded it, e.g. the attestation id
	Head  Head
	Slots string
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
// a checked entry, firstJunk the first slot of junk, slots the digest of
// the slots passed; proveByLaterSlots whether a head reached must be
// followed by checked entries only (an export).
type checkpoints struct {
	want              map[int64][]Checkpoint
	reached           []Checkpoint
	lastChecked       bool
	firstJunk         int64
	slots             slotDigest
	proveByLaterSlots bool
	bad               *BrokenError
}

// slot checks slot seq against the heads reached before it and the heads
// at it.
func (c *checkpoints) slot(seq int64, hash string, kind slotKind) {
	if len(c.reached) > 0 && kind != slotEntry && c.proveByLaterSlots {
		c.fail(unprovenError(c.reached[0], fmt.Sprintf("slot %d after it is not an entry whose link and signature could be checked", seq)))
	}
	c.slots.add(hash)
	if kind == slotJunk && c.firstJunk == 0 {
		c.firstJunk = seq
	}
	for _, cp := range c.want[seq] {
		c.at(cp, seq, hash)
		c.reached = append(c.reached, cp)
	}
	delete(c.want, seq)
	c.lastChecked = kind == slotEntry
}

// at checks checkpoint cp at its slot seq, whose chain hash is hash. A
// head after a slot of junk commits only to the slots after that one:
// without the digest of the slots up to it, a chain rebuilt behind the
// junk (a restored snapshot refilled by hand, or an export made up) would
// hold it as well, so such a head counts as not shown to be in the chain
// it was issued on.
func (c *checkpoints) at(cp Checkpoint, seq int64, hash string) {
	switch {
	case hash != cp.Head.Hash:
		c.fail(checkpointError(cp, fmt.Sprintf("slot %d now holds another entry", seq)))
	case cp.Slots != "" && c.slots.sum() != cp.Slots:
		c.fail(checkpointError(cp, fmt.Sprintf("slots 1 to %d are not those it was issued on (their digest differs)", seq)))
	case cp.Slots == "" && c.firstJunk > 0:
		c.fail(&BrokenError{Reason: fmt.Sprintf("%s names ledger head %d (%s), which cannot be shown to be in the chain it was issued on: "+
			"slot %d before it holds junk or an entry that does not link, so the head commits to no slot before that one, "+
			"and it names no digest of the slots (an attestation of an earlier version)", cp.Name, cp.Head.Seq, cp.Head.Hash, c.firstJunk)})
	}
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
