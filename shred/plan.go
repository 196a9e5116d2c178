package shred

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cryptoshred/cryptoshred/internal/parallel"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
)

// Plan actions.
const (
	ActionDestroy = "destroy"
	ActionSkip    = "skip"
	ActionDone    = "done"
)

// PlanItem is what shred would do with one backup of a case.
type PlanItem struct {
	Backup   *catalog.Backup `json:"backup"`
	Action   string          `json:"action"`
	Reason   string          `json:"reason"`
	Warnings []string        `json:"warnings,omitempty"`

	version int
	key     *KeyInfo
}

// Plan is what `shred run` would do for a case, computed without changing
// anything.
type Plan struct {
	Case  *catalog.Case `json:"case"`
	At    time.Time     `json:"at"`
	Items []*PlanItem   `json:"items"`
}

// Count returns how many items have action.
func (p *Plan) Count(action string) int {
	n := 0
	for _, it := range p.Items {
		if it.Action == action {
			n++
		}
	}
	return n
}

// PlanShred works out, for every backup the case held, whether it would
// be destroyed now or why not. It changes nothing. The case must be closed.
func (s *Service) PlanShred(ctx context.Context, caseID string, at time.Time) (*Plan, error) {
	c, _, err := s.catalog.GetCase(ctx, caseID)
	if err != nil {
		return nil, err
	}
	if c.State != catalog.CaseClosed {
		return nil, errs.Refusedf("case %s is %s: the authority's closing decision must be recorded first (case close)", c.ID, c.State)
	}
	if err := s.keys.CheckMount(ctx); err != nil {
		return nil, err
	}
	ids, err := s.catalog.HeldIDs(ctx, caseID)
	if err != nil {
		return nil, err
	}
	items, err := parallel.Map(ctx, ids, DefaultParallel, func(ctx context.Context, id string) (*PlanItem, error) {
		return s.planItem(ctx, id, at)
	})
	return &Plan{Case: c, At: at, Items: items}, err
}

func (s *Service) planItem(ctx context.Context, id string, at time.Time) (*PlanItem, error) {
	b, version, err := s.catalog.GetBackup(ctx, id)
	if err != nil {
		return nil, err
	}
	it := &PlanItem{Backup: b, version: version, Warnings: originalWarnings(b)}
	if reason := stateSkipReason(b, at); reason != "" {
		it.Action, it.Reason = ActionSkip, reason
		if b.State == catalog.StateShredded {
			it.Action = ActionDone
		}
		return it, nil
	}
	it.key, err = s.keys.KeyInfo(ctx, b.Key)
	if err != nil {
		return nil, err
	}
	it.Action, it.Reason = keyDecision(b, it.key)
	return it, nil
}

// stateSkipReason says why the catalog state rules out destruction now, or
// "" if it does not.
func stateSkipReason(b *catalog.Backup, at time.Time) string {
	switch b.State {
	case catalog.StateShredded:
		return "already shredded at " + b.Destruction.DestroyedAt.Format(time.RFC3339)
	case catalog.StateHeld:
		return "still held by case(s) " + strings.Join(b.HeldBy, ", ")
	case catalog.StatePending:
		if at.Before(b.ShredAfter) {
			return "grace period runs until " + b.ShredAfter.Format(time.RFC3339)
		}
	case catalog.StateReleased:
		if !b.CancelledAt.IsZero() {
			return "its scheduled destruction was cancelled at " + b.CancelledAt.Format(time.RFC3339) + ": schedule it again with shred run --grace"
		}
	case catalog.StateDestroying:
	default:
		return "backup is " + string(b.State)
	}
	if len(b.HeldBy) > 0 {
		return "still held by case(s) " + strings.Join(b.HeldBy, ", ")
	}
	return ""
}

// keyDecision decides from Vault's view of the key.
func keyDecision(b *catalog.Backup, key *KeyInfo) (string, string) {
	switch {
	case key == nil && b.State == catalog.StateDestroying:
		return ActionDestroy, "key already gone from Vault: verify and record the interrupted destruction"
	case key == nil:
		return ActionSkip, "key " + b.Key + " is not in Vault, but the catalog never recorded its destruction: investigate"
	case key.Shreddable() != nil:
		return ActionSkip, key.Shreddable().Error()
	case !key.DeletionAllowed:
		return ActionSkip, "Vault still forbids deleting key " + b.Key + " (deletion_allowed=false): not released"
	}
	return ActionDestroy, fmt.Sprintf("released: destroy key %s (versions %v) and delete %s", b.Key, key.Versions, b.Ciphertext.Path)
}

func originalWarnings(b *catalog.Backup) []string {
	if b.Original == nil || !b.Original.EncryptedAfterFirstStorage || b.Original.Disposal != nil {
		return nil
	}
	where := b.Original.Path
	if where == "" {
		where = "location unknown"
	}
	return []string{"the plaintext original (" + where + ") existed before encryption and its disposal is not recorded: crypto-shredding does not erase it"}
}

// backups returns the plan's backups.
func (p *Plan) backups() []*catalog.Backup {
	out := make([]*catalog.Backup, len(p.Items))
	for i, it := range p.Items {
		out[i] = it.Backup
	}
	return out
}
