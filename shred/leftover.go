package shred

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

// ciphertextError makes a ciphertext left behind a failure of its item,
// so the run exits partial and says to run again; the key stays recorded
// as destroyed.
func ciphertextError(d *catalog.Destruction) error {
	if !d.CiphertextLeft() {
		return nil
	}
	return errors.New("key destroyed and recorded, but the ciphertext was " + d.CiphertextNote + " (run shred run again to delete it)")
}

// retryCiphertexts deletes the ciphertexts an earlier run could not, and
// records the outcome in one destruction record per batch, which updates
// what the case's records say of each ciphertext
// (catalog.CaseDestructions).
func (s *Service) retryCiphertexts(ctx context.Context, actor Actor, items []*PlanItem, res *RunResult) {
	if len(items) == 0 {
		return
	}
	s.deleteCiphertexts(ctx, items)
	for chunk := range slices.Chunk(items, recordBatch()) {
		s.recordRetry(ctx, actor, chunk, res)
	}
}

// recordRetry records what became of the ciphertexts of items in one
// destruction record, and reports each as destroyed or failed.
func (s *Service) recordRetry(ctx context.Context, actor Actor, items []*PlanItem, res *RunResult) {
	if err := s.catalog.PutDestructions(ctx, destructionsRecord(res.Case, actor, items)); err != nil {
		res.fail(itemErrors(itemIDs(items), fmt.Errorf("key destroyed and recorded, but what became of the ciphertext could not be recorded (run again): %w", err))...)
		return
	}
	var failed []*ItemError
	for _, it := range items {
		if err := ciphertextError(it.Backup.Destruction); err != nil {
			failed = append(failed, &ItemError{ID: it.Backup.ID, Err: err})
			continue
		}
		res.destroyed(it.Backup)
	}
	res.fail(failed...)
}
