package shred

import (
	"context"
	"errors"
	"time"
)

// Schedule puts every released backup of a closed case into the pending
// state for grace; a later RunShred destroys them once it has passed.
func (v *Vault) Schedule(ctx context.Context, actor Actor, caseID string, grace time.Duration) ([]string, error) {
	return v.setPending(ctx, actor, caseID, EventShredScheduled, func(b *Backup) bool {
		if b.State != StateReleased {
			return false
		}
		b.State, b.ShredAfter, b.ShredCase, b.CancelledAt = StatePending, now().Add(grace), caseID, time.Time{}
		return true
	})
}

// Cancel returns every pending backup of the case to released.
func (v *Vault) Cancel(ctx context.Context, actor Actor, caseID string) ([]string, error) {
	return v.setPending(ctx, actor, caseID, EventShredCancelled, func(b *Backup) bool {
		if b.State != StatePending {
			return false
		}
		b.State, b.ShredAfter, b.CancelledAt = StateReleased, time.Time{}, now()
		return true
	})
}

var errUnchanged = errors.New("unchanged")

func (v *Vault) setPending(ctx context.Context, actor Actor, caseID, event string, change func(*Backup) bool) ([]string, error) {
	plan, err := v.PlanShred(ctx, caseID, now())
	if err != nil {
		return nil, err
	}
	var changed []string
	for _, it := range plan.Items {
		_, err := v.UpdateBackup(ctx, it.Backup.ID, func(b *Backup) error {
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
		return nil, refusedf("no backup of case %s to change", caseID)
	}
	_, err = v.Append(ctx, actor.String(), Event{Event: event, Case: caseID, Backups: changed})
	return changed, err
}
