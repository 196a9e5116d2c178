package ledger

import (
	"context"
	"fmt"
)

// Checkpoint is a head recorded elsewhere, such as in an attestation:
// the chain must still hold that hash at that slot.
type Checkpoint struct {
	Name string // what recorded it, e.g. the attestation id
	Head Head
}

// VerifyCheckpoints walks src like Verify and also checks that every
// checkpoint's head is still in the chain. A head that is not (a restored
// snapshot, a truncation, a rewrite) is a *BrokenError naming the
// checkpoint.
func VerifyCheckpoints(ctx context.Context, src Source, cps []Checkpoint) (*Report, error) {
	want := map[int64][]Checkpoint{}
	for _, cp := range cps {
		if cp.Head.Seq == 0 && cp.Head.Hash == Genesis {
			continue // an empty ledger's head is in every chain
		}
		want[cp.Head.Seq] = append(want[cp.Head.Seq], cp)
	}
	var bad *BrokenError
	rep, err := verify(ctx, src, func(seq int64, hash string) {
		for _, cp := range want[seq] {
			if hash != cp.Head.Hash && bad == nil {
				bad = checkpointError(cp, fmt.Sprintf("slot %d now holds another entry", seq))
			}
		}
		delete(want, seq)
	})
	if err == nil && bad == nil {
		for _, cps := range want {
			bad = checkpointError(cps[0], fmt.Sprintf("the chain ends at entry %d", rep.Entries))
			break
		}
	}
	if err == nil && bad != nil {
		rep.FirstBad, rep.Problem, err = bad.Seq, bad.Reason, bad
	}
	return rep, err
}

func checkpointError(cp Checkpoint, why string) *BrokenError {
	return &BrokenError{Reason: fmt.Sprintf("%s names ledger head %d (%s), which is no longer in the chain: %s (a restored snapshot or a truncation)",
		cp.Name, cp.Head.Seq, cp.Head.Hash, why)}
}
