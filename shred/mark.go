package shred

import (
	"context"
	"fmt"

	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

// markBatch records the destructions of items, whose keys this run
// verified gone, in one destruction record of the case
// (catalog.Destructions), and returns them to be listed. If the record
// cannot be written none of them is listed: the next run finds their
// keys gone and their intent on record, and verifies and records them
// again. A batch of no backups writes no record. Two runs that destroyed the same key both record it; the ledger
// lists it once (ledger.Listings), and an attestation states the
// destruction whose digest the ledger recorded.
func (s *Service) markBatch(ctx context.Context, actor Actor, items []*PlanItem, res *RunResult, tick func()) []*PlanItem {
	if len(items) == 0 {
		return nil // a batch whose keys all failed: an empty record is junk every plan reads
	}
	err := s.catalog.PutDestructions(ctx, destructionsRecord(res.Case, actor, items))
	for range items {
		tick()
	}
	if err != nil {
		res.fail(itemErrors(itemIDs(items), fmt.Errorf("key destroyed and verified, but not yet recorded (run again): %w", err))...)
		return nil
	}
	for _, it := range items {
		it.Backup.State = catalog.StateShredded
	}
	return items
}

// destructionsRecord is the record of the destructions of items, backups
// of caseID.
func destructionsRecord(caseID string, actor Actor, items []*PlanItem) *catalog.Destructions {
	rec := &catalog.Destructions{Case: caseID, By: actor.String(), At: catalog.Now(), Backups: make(map[string]*catalog.Destruction, len(items))}
	for _, it := range items {
		rec.Backups[it.Backup.ID] = it.Backup.Destruction
	}
	return rec
}
