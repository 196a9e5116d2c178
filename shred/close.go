package shred

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// CloseRequest records the authority's closing decision.
type CloseRequest struct {
	Case      string
	Reference string
	Document  DocumentRef
}

// CloseResult says what closing a case released.
type CloseResult struct {
	Case      *Case    `json:"case"`
	Released  []string `json:"released"`
	StillHeld []string `json:"stillHeld"`

	mu sync.Mutex
}

func (r *CloseResult) add(list *[]string, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*list = append(*list, id)
}

// CloseCase records the decision and releases the case's holds. A backup
// becomes released, and its key's deletion latch is opened in Vault, only
// when no other case holds it. The case is marked closing before any hold
// is released, so an interrupted close is finished by running it again; a
// closed case is refused.
func (v *Vault) CloseCase(ctx context.Context, actor Actor, req CloseRequest) (*CloseResult, error) {
	c, err := v.beginClose(ctx, actor, req)
	if err != nil {
		return nil, err
	}
	holds, err := v.CaseHolds(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	res := &CloseResult{Case: c, Released: []string{}, StillHeld: []string{}}
	done, failed := forEach(ctx, holdBackups(holds), 16, func(ctx context.Context, id string) error {
		return v.releaseHold(ctx, actor, c.ID, id, res)
	})
	if len(failed) > 0 {
		return res, fmt.Errorf("case %s stays closing; run the command again to finish: %w", c.ID, batchError(len(done), failed))
	}
	return res, v.finishClose(ctx, actor, c, done, res)
}

func holdBackups(holds []*Hold) []string {
	ids := make([]string, len(holds))
	for i, h := range holds {
		ids[i] = h.Backup
	}
	return ids
}

// beginClose moves the case from open to closing with the decision. A case
// already closing with the same decision is resumed.
func (v *Vault) beginClose(ctx context.Context, actor Actor, req CloseRequest) (*Case, error) {
	if err := checkDecision(req); err != nil {
		return nil, err
	}
	if err := v.requireCompliance(ctx); err != nil {
		return nil, err
	}
	c, version, err := v.GetCase(ctx, req.Case)
	if err != nil {
		return nil, err
	}
	switch c.State {
	case CaseClosed:
		return nil, refusedf("case %s was already closed at %s by %s (decision %s)", c.ID,
			c.ClosedAt.Format("2006-01-02T15:04:05Z07:00"), c.Decision.RecordedBy, c.Decision.Reference)
	case CaseClosing:
		return c, sameDecision(c, req)
	}
	c.State = CaseClosing
	c.Decision = &Decision{Reference: req.Reference, Document: req.Document, RecordedBy: actor.String(), RecordedAt: now()}
	if _, err := v.putJSON(ctx, casePath(c.ID), c, version); err != nil {
		if errors.Is(err, ErrConflict) {
			return nil, refusedf("case %s changed while closing it (another operator?); run the command again", c.ID)
		}
		return nil, err
	}
	return c, nil
}

func checkDecision(req CloseRequest) error {
	if req.Reference == "" || req.Document.SHA256 == "" {
		return errors.New("closing a case needs the decision's reference and document")
	}
	return CheckText("decision reference", req.Reference, 256)
}

func sameDecision(c *Case, req CloseRequest) error {
	if c.Decision.Reference != req.Reference || c.Decision.Document.SHA256 != req.Document.SHA256 {
		return refusedf("case %s is being closed with decision %s (document sha256 %s); finish with the same decision",
			c.ID, c.Decision.Reference, c.Decision.Document.SHA256)
	}
	return nil
}

// releaseHold removes caseID's hold on a backup and, if no hold remains,
// releases it: catalog first, then the Vault latch, so a crash leaves a
// released backup whose key Vault still protects, never the reverse.
func (v *Vault) releaseHold(ctx context.Context, actor Actor, caseID, id string, res *CloseResult) error {
	b, err := v.UpdateBackup(ctx, id, func(b *Backup) error {
		b.HeldBy = slices.DeleteFunc(b.HeldBy, func(c string) bool { return c == caseID })
		if len(b.HeldBy) == 0 && b.State == StateHeld {
			b.State, b.ReleasedAt = StateReleased, now()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := v.markHoldReleased(ctx, actor, caseID, id); err != nil {
		return err
	}
	return v.ensureReleased(ctx, b, res)
}

func (v *Vault) ensureReleased(ctx context.Context, b *Backup, res *CloseResult) error {
	if b.State != StateReleased {
		if len(b.HeldBy) > 0 {
			res.add(&res.StillHeld, b.ID)
		}
		return nil
	}
	key, err := v.KeyInfo(ctx, b.Key)
	if err != nil || key == nil {
		return err
	}
	if !key.DeletionAllowed {
		if err := v.AllowDeletion(ctx, b.Key); err != nil {
			return err
		}
	}
	res.add(&res.Released, b.ID)
	return nil
}

func (v *Vault) markHoldReleased(ctx context.Context, actor Actor, caseID, id string) error {
	var h Hold
	version, err := v.getJSON(ctx, holdPath(caseID, id), &h)
	if err != nil || !h.ReleasedAt.IsZero() {
		return err
	}
	h.ReleasedAt, h.ReleasedBy = now(), actor.String()
	_, err = v.putJSON(ctx, holdPath(caseID, id), h, version)
	return err
}

func (v *Vault) finishClose(ctx context.Context, actor Actor, c *Case, unheld []string, res *CloseResult) error {
	slices.Sort(res.Released)
	slices.Sort(res.StillHeld)
	if _, err := v.Append(ctx, actor.String(), Event{Event: EventHoldReleased, Case: c.ID, Backups: unheld}); err != nil {
		return err
	}
	if _, err := v.Append(ctx, actor.String(), Event{Event: EventCaseClosed, Case: c.ID, Backups: res.Released,
		Details: map[string]string{"decision": c.Decision.Reference, "documentSha256": c.Decision.Document.SHA256,
			"stillHeldByOtherCases": fmt.Sprint(len(res.StillHeld))}}); err != nil {
		return err
	}
	_, version, err := v.GetCase(ctx, c.ID)
	if err != nil {
		return err
	}
	c.State, c.ClosedAt = CaseClosed, now()
	_, err = v.putJSON(ctx, casePath(c.ID), c, version)
	return err
}
