package shred

import (
	"context"
	"errors"

	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

// ciphertextLeft reports a destruction whose ciphertext is neither
// deleted nor known to be absent: the storage failed, and a later run
// tries again.
func ciphertextLeft(d *catalog.Destruction) bool {
	return d != nil && !d.CiphertextDeleted && !d.CiphertextAbsent
}

// ciphertextError makes a ciphertext left behind a failure of its item,
// so the run exits partial and says to run again; the key stays recorded
// as destroyed.
func ciphertextError(d *catalog.Destruction) error {
	if !ciphertextLeft(d) {
		return nil
	}
	return errors.New("key destroyed and recorded, but the ciphertext was " + d.CiphertextNote + " (run shred run again to delete it)")
}

// retryCiphertexts deletes the ciphertexts an earlier run could not, and
// records the outcome.
func (s *Service) retryCiphertexts(ctx context.Context, items []*PlanItem, res *RunResult) {
	if len(items) == 0 {
		return
	}
	s.deleteCiphertexts(ctx, items)
	byID := itemsByID(items)
	ids := make([]string, 0, len(items))
	for id := range byID {
		ids = append(ids, id)
	}
	_, failed := forEach(ctx, ids, DefaultParallel, func(ctx context.Context, id string) error {
		done := byID[id].Backup.Destruction
		b, err := s.catalog.UpdateBackup(ctx, id, func(cur *catalog.Backup) error {
			if cur.Destruction == nil {
				return errors.New("the catalog lost the record of the destruction")
			}
			if ciphertextLeft(cur.Destruction) || deletedOnlyHere(done, cur.Destruction) {
				cur.Destruction = withCiphertext(*cur.Destruction, done) // another run's retry may have recorded the deletion first
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := ciphertextError(b.Destruction); err != nil {
			return err
		}
		res.destroyed(b)
		return nil
	})
	res.Failed = append(res.Failed, failed...)
}
