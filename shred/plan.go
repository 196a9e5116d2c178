package shred

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/internal/parallel"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
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
	// StorageHold is when the storage itself held the ciphertext for the
	// case (an S3 Object Lock legal hold), as the case's hold record says;
	// nil where it says none. The attestation takes the span from the
	// ledger instead.
	StorageHold *attest.Span `json:"storageHold,omitempty"`

	key *KeyInfo
}

// Plan is what `shred run` would do for a case, computed without changing
// anything.
type Plan struct {
	Case  *catalog.Case `json:"case"`
	At    time.Time     `json:"at"`
	Items []*PlanItem   `json:"items"`

	// ledgerEnd is the ledger's last slot before the plan read any
	// backup: a run of the plan does not list again what another run
	// listed after it (ledger.Listings).
	ledgerEnd ledger.Head
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

// DestroyedNothing says that a run of p stopped before it destroyed any
// key. On a re-run it adds that the keys earlier runs destroyed stay gone:
// "nothing was destroyed" alone would say they are still there.
func (p *Plan) DestroyedNothing() string {
	gone := 0
	for _, it := range p.Items {
		if it.Action == ActionDone || it.Action == ActionDestroy && it.key == nil {
			gone++
		}
	}
	if gone == 0 {
		return "nothing was destroyed"
	}
	return fmt.Sprintf("this run destroyed no key (the keys of %d backup(s) that earlier runs destroyed are gone for good)", gone)
}

// PlanShred works out, for every backup the case held, whether it would
// be destroyed now or why not. It changes nothing. The case must be closed.
// A hold record of another case, and Vault's view of each key, decide;
// the status records only add grace periods and what was already done,
// and the runs' intents what a stopped run began.
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
	end, err := s.ledger.End(ctx)
	if err != nil {
		return nil, fmt.Errorf("failed to find the end of the ledger: %w", err)
	}
	ids, err := s.catalog.HeldIDs(ctx, caseID)
	if err != nil {
		return nil, err
	}
	held, own, err := s.catalog.ActiveHoldsAndOwn(ctx, ids, caseID)
	if err != nil {
		return nil, err
	}
	spans := storageSpans(own)
	count := counter(progressOf(ctx), len(ids))
	items, err := parallel.Map(ctx, ids, DefaultParallel, func(ctx context.Context, id string) (*PlanItem, error) {
		defer count()
		it, err := s.planItem(ctx, id, held[id], at)
		if it != nil {
			it.StorageHold = spans[id]
		}
		return it, err
	})
	if err != nil {
		return nil, err
	}
	if err := s.planKeysGone(ctx, caseID, items); err != nil {
		return nil, err
	}
	p := &Plan{Case: c, At: at, Items: items, ledgerEnd: end}
	return p, s.duplicateWarnings(ctx, p)
}

// planKeysGone decides the items planItem left undecided, whose key is
// gone: one that the destruction records of the case, or of another case
// whose close released it, name (or, from versions before those records,
// whose status says shredded) was shredded by an earlier run, and any
// other was interrupted. The records and the case's intents are read
// once, and only after every key: a run records its intent before it
// deletes a key, so the intent of a key another run is deleting now is on
// record by the time the key reads as gone.
func (s *Service) planKeysGone(ctx context.Context, caseID string, items []*PlanItem) error {
	intents := sync.OnceValues(func() (map[string]*catalog.Intent, error) { return s.catalog.CaseIntents(ctx, caseID) })
	records := s.destructionRecords()
	for _, it := range items {
		if it.Action != "" {
			continue
		}
		ds, err := records.of(ctx, it.Backup, caseID)
		if err != nil {
			return err
		}
		it.Backup.ApplyDestructions(ds)
		if it.Backup.State == catalog.StateShredded && it.Backup.Destruction != nil {
			it.Action, it.Reason = ActionDone, alreadyShredded(it.Backup)
			continue
		}
		if err := interrupted(it, intents); err != nil {
			return err
		}
	}
	return nil
}

// alreadyShredded is the reason of a plan's item an earlier run shredded.
func alreadyShredded(b *catalog.Backup) string {
	return "already shredded at " + b.Destruction.DestroyedAt.Format(time.RFC3339)
}

// storageSpans returns, by backup, when the storage held its ciphertext
// under holds (one case's records).
func storageSpans(holds []*catalog.Hold) map[string]*attest.Span {
	out := map[string]*attest.Span{}
	for _, h := range holds {
		if !h.StorageHeldAt.IsZero() {
			out[h.Backup] = &attest.Span{From: h.StorageHeldAt, To: h.StorageReleasedAt}
		}
	}
	return out
}

// planItem plans backup id, but leaves the action of one whose key is
// gone to planKeysGone.
func (s *Service) planItem(ctx context.Context, id string, heldBy []string, at time.Time) (*PlanItem, error) {
	b, _, err := s.catalog.GetBackup(ctx, id)
	if errors.Is(err, errs.ErrUnavailable) || errors.Is(err, errs.ErrRefused) {
		return nil, err
	}
	if err != nil {
		return &PlanItem{Backup: &catalog.Backup{ID: id, Key: id}, Action: ActionSkip,
			Reason: "its catalog record is unreadable, so nothing is done to it: " + err.Error()}, nil
	}
	it := &PlanItem{Backup: b, Warnings: originalWarnings(b)}
	if reason := skipReason(b, heldBy, at); reason != "" {
		it.Action, it.Reason = ActionSkip, reason
		return it, nil
	}
	if it.key, err = s.keys.KeyInfo(ctx, b.Key); err != nil {
		return nil, err
	}
	if it.key == nil {
		return it, nil
	}
	it.Action, it.Reason = keyDecision(b, it.key)
	if it.Action == ActionDestroy {
		if w := s.ciphertextWarning(ctx, b); w != "" {
			it.Warnings = append(it.Warnings, w)
		}
	}
	return it, nil
}

// interrupted plans a backup whose key is gone and that no record says
// shredded: a run that stopped after deleting the key left either its
// intent (catalog.Intent) or, before intents, the status destroying; the
// destruction is then finished. A key gone without either is not this
// tool's doing and is reported.
func interrupted(it *PlanItem, intents func() (map[string]*catalog.Intent, error)) error {
	b := it.Backup
	if b.State != catalog.StateDestroying || b.Destruction == nil {
		byID, err := intents()
		if err != nil {
			return fmt.Errorf("failed to read the intents of earlier runs: %w", err)
		}
		in := byID[b.ID]
		if in == nil {
			it.Action, it.Reason = ActionSkip, "key "+b.Key+" is not in Vault, but no run recorded that it would destroy it: investigate"
			return nil
		}
		b.Destruction = &catalog.Destruction{VersionsDestroyed: slices.Clone(in.Versions[b.ID]), DestroyedBy: in.By}
	}
	it.Action, it.Reason = ActionDestroy, "key already gone from Vault: verify and record the interrupted destruction"
	return nil
}

// skipReason says why destruction is ruled out now, or "" if it is not:
// no registration, another case's active hold, a grace period, or a
// catalog that records nothing to act on. A cancelled schedule is not a
// reason: cancelling returns a backup to released, as case close left it.
func skipReason(b *catalog.Backup, heldBy []string, at time.Time) string {
	switch {
	case releasable(b) != nil:
		return releasable(b).Error()
	case len(heldBy) > 0:
		return "still held by case(s) " + strings.Join(heldBy, ", ")
	}
	switch b.State {
	case catalog.StateShredded:
		if b.Destruction == nil {
			return "the catalog says shredded but records no destruction: investigate"
		}
	case catalog.StatePending:
		if at.Before(b.ShredAfter) {
			return "grace period runs until " + b.ShredAfter.Format(time.RFC3339)
		}
	case catalog.StateHeld, catalog.StateDestroying, catalog.StateProtected, catalog.StateReleased:
	default:
		return "backup is " + string(b.State)
	}
	return ""
}

// keyDecision decides from Vault's view of a key that is present.
func keyDecision(b *catalog.Backup, key *KeyInfo) (string, string) {
	switch {
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
func (p *Plan) backups() []*catalog.Backup { return itemBackups(p.Items) }

// itemBackups returns the backups of items.
func itemBackups(items []*PlanItem) []*catalog.Backup {
	out := make([]*catalog.Backup, len(items))
	for i, it := range items {
		out[i] = it.Backup
	}
	return out
}
