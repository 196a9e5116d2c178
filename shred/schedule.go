package shred

import (
	"context"
	"errors"
	"time"

	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
)

// Schedule puts every released backup of a closed case into the pending
// state for grace; a later RunShred destroys them once it has passed.
func (s *Service) Schedule(ctx context.Context, actor Actor, caseID string, grace time.Duration) ([]string, error) {
	return s.changeSchedule(ctx, actor, caseID, ledger.KindShredScheduled, func(b *catalog.Backup) bool {
		if b.State != catalog.StateReleased {
			return false
		}
		b.State, b.ShredAfter, b.ShredCase, b.CancelledAt = catalog.StatePending, catalog.Now().Add(grace), caseID, time.Time{}
		return true
	})
}

// Cancel returns every pending backup of the case to released, the state
// case close left it in: a later shred run destroys it (after its own
// confirmation), and shred run --grace schedules it again. CancelledAt
// records when, for display. The key's latch stays open: only a Vault
// operator can close it, after which the backup can be held again.
func (s *Service) Cancel(ctx context.Context, actor Actor, caseID string) ([]string, error) {
	return s.changeSchedule(ctx, actor, caseID, ledger.KindShredCancelled, func(b *catalog.Backup) bool {
		if b.State != catalog.StatePending {
			return false
		}
		b.State, b.ShredAfter, b.CancelledAt = catalog.StateReleased, time.Time{}, catalog.Now()
		return true
	})
}

var errUnchanged = errors.New("unchanged")

func (s *Service) changeSchedule(ctx context.Context, actor Actor, caseID, event string, change func(*catalog.Backup) bool) ([]string, error) {
	plan, err := s.PlanShred(ctx, caseID, catalog.Now())
	if err != nil {
		return nil, err
	}
	var changed []string
	for _, it := range plan.Items {
		if it.Action == ActionDone || (it.Action == ActionDestroy && it.key == nil) {
			continue // shredded, or a stopped run deleted its key (the next run records that): no grace applies
		}
		_, err := s.catalog.UpdateBackup(ctx, it.Backup.ID, func(b *catalog.Backup) error {
			if !change(b) {
				return errUnchanged
			}
			return nil
		})
		if err != nil && !errors.Is(err, errUnchanged) {
			return changed, err
		}
		if err == nil {
			changed = append(changed, it.Backup.ID)
		}
	}
	if len(changed) == 0 {
		return nil, errs.Refusedf("no backup of case %s to change", caseID)
	}
	_, err = s.ledger.Append(ctx, actor.String(), ledger.Event{Kind: event, Case: caseID, Backups: changed})
	return changed, err
}
