package shred

import (
	"context"
	"errors"
	"slices"

	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
)

// markBatch marks items shredded in parallel and returns those now
// recorded shredded, by this run or another, to be listed.
func (s *Service) markBatch(ctx context.Context, items []*PlanItem, opts RunOptions, res *RunResult, tick func()) []*PlanItem {
	byID := itemsByID(items)
	marked, failed := forEach(ctx, itemIDs(items), parallelism(opts), func(ctx context.Context, id string) error {
		defer tick()
		return s.markShredded(ctx, byID[id])
	})
	res.fail(failed...)
	return pick(byID, marked)
}

// markShredded records the verified destruction; once it returns nil the
// catalog records the backup shredded, and the run lists it. The
// write is a check-and-set, so of two runs that destroyed the same key
// only one writes its record; the other takes that record as it is, and
// the ledger names whichever lists it first (ledger.Listings); if only
// this run deleted the ciphertext (the other came to it when it was gone),
// its record is written with this run's ciphertext result. A status
// changed since the plan by anything but a record of a destruction (a
// grace period set, an original's disposal recorded, shredded written
// with no destruction) keeps its changes and is marked shredded with this
// run's destruction: the key is gone.
func (s *Service) markShredded(ctx context.Context, it *PlanItem) error {
	for range 3 {
		b := *it.Backup
		b.State = catalog.StateShredded
		version, err := s.catalog.PutBackup(ctx, &b, it.version)
		if err == nil {
			*it.Backup, it.version = b, version
			return nil
		}
		if !errors.Is(err, errs.ErrConflict) {
			return err
		}
		cur, version, err := s.catalog.GetBackup(ctx, b.ID)
		switch {
		case err != nil:
			return err
		case cur.State != catalog.StateShredded || cur.Destruction == nil:
			cur.Destruction = b.Destruction
		default:
			s.adopt(ctx, it, cur, version)
			return nil
		}
		*it.Backup, it.version = *cur, version
	}
	return errors.New("key destroyed and verified, but its catalog record kept changing meanwhile: run again")
}

// adopt takes cur, another writer's record of the item's destruction at
// version, as the item's record; if only this run deleted the ciphertext,
// it tries once to write this run's ciphertext result into that record.
// The backup is recorded shredded either way.
func (s *Service) adopt(ctx context.Context, it *PlanItem, cur *catalog.Backup, version int) {
	mine := it.Backup.Destruction
	*it.Backup, it.version = *cur, version
	if !deletedOnlyHere(mine, cur.Destruction) {
		return
	}
	merged := *cur
	merged.Destruction = withCiphertext(*cur.Destruction, mine)
	if v, err := s.catalog.PutBackup(ctx, &merged, version); err == nil {
		*it.Backup, it.version = merged, v
	}
}

// deletedOnlyHere reports whether ours deleted the ciphertext and theirs,
// another run's record of the same destruction, says it did not.
func deletedOnlyHere(ours, theirs *catalog.Destruction) bool {
	return ours.CiphertextDeleted && !theirs.CiphertextDeleted
}

// withCiphertext returns d with the ciphertext result of from.
func withCiphertext(d catalog.Destruction, from *catalog.Destruction) *catalog.Destruction {
	d.CiphertextDeleted, d.CiphertextAbsent, d.CiphertextNote = from.CiphertextDeleted, from.CiphertextAbsent, from.CiphertextNote
	d.CiphertextRemoved = slices.Clone(from.CiphertextRemoved)
	return &d
}
