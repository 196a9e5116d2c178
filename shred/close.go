package shred

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
)

// CloseRequest records the authority's closing decision.
type CloseRequest struct {
	Case      string
	Reference string
	Document  catalog.DocumentRef
}

// CloseResult says what closing a case released.
type CloseResult struct {
	Case      *catalog.Case `json:"case"`
	Released  []string      `json:"released"`
	StillHeld []string      `json:"stillHeld"`
	// StatusUnreadable are the backups whose status record could not be
	// read: released or kept by their hold records, the record left as
	// it is.
	StatusUnreadable []string `json:"statusUnreadable,omitempty"`

	mu sync.Mutex
	// unlatching are the backups whose latch the close asked Vault to
	// open and found open (or could not read) after an error answer.
	unlatching []string
	// storageLifted are the backups whose storage hold the close lifted.
	storageLifted []string
	// liftedUntimed are those of storageLifted whose legal hold the close
	// found off already: lifted before, at a time the ledger does not know.
	liftedUntimed []string
}

// unlatched returns the backups the close released or may have unlatched.
func (r *CloseResult) unlatched() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(r.Released), r.unlatching...))))
}

// liftedOnly returns the backups whose storage hold the close lifted but
// which it did not release or unlatch (killed, or a Vault error, before
// the latch; a key gone): a hold another case placed just before the lift
// is without its storage hold, and only the re-check after it says so.
func (r *CloseResult) liftedOnly() []string {
	unlatched := r.unlatched()
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(r.storageLifted), func(id string) bool { return slices.Contains(unlatched, id) })
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
func (s *Service) CloseCase(ctx context.Context, actor Actor, req CloseRequest) (*CloseResult, error) {
	c, err := s.beginClose(ctx, actor, req)
	if err != nil {
		return nil, err
	}
	ids, elsewhere, holds, err := s.heldBackups(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	if err := s.recordReactivations(ctx, actor, c.ID, holds); err != nil {
		return nil, err
	}
	res := &CloseResult{Case: c, Released: []string{}, StillHeld: []string{}}
	done, failed := forEach(ctx, ids, DefaultParallel, progressOf(ctx), func(ctx context.Context, id string) error {
		return s.releaseHold(ctx, actor, c.ID, id, len(elsewhere[id]) > 0, res)
	})
	// The case's own records count too: a hold place of this case that
	// passed its open-case check before the close began can re-activate
	// a record a hold release marked released just after the close read it.
	failed = append(failed, s.heldDuringRelease(ctx, res.unlatched(), "this close opened its key's deletion latch", s.latchAdvice(ctx))...)
	failed = append(failed, s.heldDuringRelease(ctx, res.liftedOnly(), "this close lifted its storage hold", placeAgainAdvice)...)
	slices.Sort(res.StatusUnreadable)
	if len(failed) > 0 {
		return res, fmt.Errorf("case %s stays closing; run the command again to finish: %w", c.ID, batchError(len(done), failed))
	}
	return res, s.finishClose(ctx, actor, c, done, res)
}

// heldBackups returns the backups caseID holds and, for each, the other
// cases that hold it too, and caseID's hold records.
func (s *Service) heldBackups(ctx context.Context, caseID string) ([]string, map[string][]string, []*catalog.Hold, error) {
	holds, err := s.catalog.CaseHolds(ctx, caseID)
	if err != nil {
		return nil, nil, nil, err
	}
	ids := holdBackups(holds)
	elsewhere, err := s.catalog.ActiveHolds(ctx, ids, caseID)
	if err != nil {
		return nil, nil, nil, err
	}
	return ids, elsewhere, holds, nil
}

// recordReactivations writes, before the close releases anything, the
// hold.placed entry marked afresh (holdPlacedAfreshDetail) that a hold
// place stopped after re-activating one of caseID's hold records (holds)
// did not write (afreshDue): without it the ledger shows the case's
// earlier placement open, and the close's entry would end it, stating the
// hold across the time an interrupted hold release had released it. The
// hold stated instead runs from this entry, when the record was active,
// to the close's release, and the case still has the hold its close's
// attestation must state.
func (s *Service) recordReactivations(ctx context.Context, actor Actor, caseID string, holds []*catalog.Hold) error {
	rec := &recordedReleases{}
	var unrecorded []string
	markedAt := map[string]time.Time{}
	for _, h := range holds {
		if h.ReleasedAt.IsZero() && s.afreshDue(ctx, h, rec) {
			unrecorded = append(unrecorded, h.Backup)
			markedAt[h.Backup] = h.PlacedAt
		}
	}
	if len(unrecorded) == 0 {
		return nil
	}
	ev := ledger.Event{Kind: ledger.KindHoldPlaced, Case: caseID, Backups: unrecorded, Details: map[string]string{"by": "case close"}}
	if err := s.appendSplitMarking(ctx, actor, ev, marking{holdPlacedAfreshDetail: idSet(unrecorded)}); err != nil {
		return err
	}
	// As after a hold place: a record marked afreshUnknown is never
	// satisfied by the ledger, and each re-run of a stopped close would
	// write the entry again.
	s.settleAfreshFrom(ctx, caseID, markedAt)
	return nil
}

// holdBackups returns the backups of the holds that closing the case
// releases: all but those hold release already lifted before the close
// (they carry a reason), which must stay latched.
func holdBackups(holds []*catalog.Hold) []string {
	ids := make([]string, 0, len(holds))
	for _, h := range holds {
		if h.ReleaseReason == "" {
			ids = append(ids, h.Backup)
		}
	}
	return ids
}

// beginClose moves the case from open to closing with the decision. A case
// already closing with the same decision is resumed.
func (s *Service) beginClose(ctx context.Context, actor Actor, req CloseRequest) (*catalog.Case, error) {
	if err := checkDecision(req); err != nil {
		return nil, err
	}
	if err := s.guard.RequireCompliance(ctx); err != nil {
		return nil, err
	}
	c, version, err := s.catalog.GetCase(ctx, req.Case)
	if err != nil {
		return nil, err
	}
	switch c.State {
	case catalog.CaseClosed:
		return nil, errs.Refusedf("case %s was already closed at %s by %s (decision %s)", c.ID,
			c.ClosedAt.Format("2006-01-02T15:04:05Z07:00"), c.Decision.RecordedBy, c.Decision.Reference)
	case catalog.CaseClosing:
		return c, errors.Join(sameDecision(c, req), statable(*c))
	}
	if err := s.checkCloseAttestable(ctx, c); err != nil {
		return nil, err
	}
	c.State = catalog.CaseClosing
	c.Decision = &catalog.Decision{Reference: req.Reference, Document: req.Document, RecordedBy: actor.String(), RecordedAt: catalog.Now()}
	if err := statable(*c); err != nil {
		return nil, err
	}
	if _, err := s.catalog.PutCase(ctx, c, version); err != nil {
		if errors.Is(err, errs.ErrConflict) {
			return nil, errs.Refusedf("case %s changed while closing it (another operator?); run the command again", c.ID)
		}
		return nil, err
	}
	return c, nil
}

// statable refuses to close c, before any hold is released, if its
// attestation could not state it (a blank authority, a decision digest in
// upper case): once closed, no command could correct it, and every run
// would refuse to destroy what the close released.
func statable(c catalog.Case) error {
	c.ClosedAt = catalog.Now()
	if err := checkStatable(&c); err != nil {
		return errs.Refusedf("case %s could not be stated in an attestation, so it is not closed (correct the case record first): %v", c.ID, err)
	}
	return nil
}

// withPreviewDecision gives c, which a preview checks before the decision
// is known, a well-formed stand-in decision, so that statable judges
// only what the case record already holds.
func withPreviewDecision(c catalog.Case) catalog.Case {
	c.Decision = &catalog.Decision{Reference: "preview", RecordedBy: "preview", RecordedAt: catalog.Now(),
		Document: catalog.DocumentRef{Name: "preview", SHA256: strings.Repeat("0", 64)}}
	return c
}

func checkDecision(req CloseRequest) error {
	if req.Reference == "" || req.Document.SHA256 == "" {
		return errors.New("closing a case needs the decision's reference and document")
	}
	return catalog.CheckText("decision reference", req.Reference, 256)
}

func sameDecision(c *catalog.Case, req CloseRequest) error {
	if c.Decision.Reference != req.Reference || c.Decision.Document.SHA256 != req.Document.SHA256 {
		return errs.Refusedf("case %s is being closed with decision %s (document sha256 %s); finish with the same decision",
			c.ID, c.Decision.Reference, c.Decision.Document.SHA256)
	}
	return nil
}

// releaseHold lifts caseID's hold on a backup and, if no other case's
// hold record covers it (stillHeld is false), releases it: hold record,
// then status, then the Vault latch, so a crash leaves a released backup
// whose key Vault still protects, never the reverse. The status record's
// heldBy, which the admin role can rewrite, decides nothing.
func (s *Service) releaseHold(ctx context.Context, actor Actor, caseID, id string, stillHeld bool, res *CloseResult) error {
	if err := s.markHoldReleased(ctx, actor, caseID, id); err != nil {
		return err
	}
	b, unreadable, err := s.updateHeld(ctx, id, func(b *catalog.Backup) error {
		b.HeldBy = slices.DeleteFunc(b.HeldBy, func(c string) bool { return c == caseID })
		if !slices.Contains(b.ClosedCases, caseID) {
			b.ClosedCases = append(b.ClosedCases, caseID)
		}
		if !stillHeld && len(b.HeldBy) == 0 && (b.State == catalog.StateHeld || b.State == catalog.StateProtected) {
			b.State, b.ReleasedAt = catalog.StateReleased, catalog.Now()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if unreadable != nil {
		res.add(&res.StatusUnreadable, id)
	}
	if !stillHeld {
		if stillHeld, err = s.heldMeanwhile(ctx, caseID, id, b.HeldBy, unreadable != nil); err != nil {
			return err
		}
	}
	if stillHeld {
		res.add(&res.StillHeld, id)
		return errors.Join(s.checkLatched(ctx, b, "another case holds it"), s.checkStorageStillHeld(ctx, caseID, b))
	}
	lifted, untimed, err := s.liftStorageHold(ctx, caseID, b)
	if lifted {
		res.add(&res.storageLifted, b.ID) // even if its note in the hold record failed: the lift is done
	}
	if lifted && untimed {
		res.add(&res.liftedUntimed, b.ID)
	}
	if err != nil {
		return err
	}
	return s.openLatch(ctx, b, res)
}

// checkStorageStillHeld reads the legal hold of b, which another case
// holds, if caseID's hold record says caseID placed one or may have
// (mayHaveHeldStorage; the close lifts such a hold too): a run of this
// close killed (or failed) after its lift, with the other case's hold
// placed just before the lift, left it off, and the re-run, which finds
// the backup held and lifts nothing, is the last to look. One found off,
// or that cannot be read, is reported with the advice that restores it.
func (s *Service) checkStorageStillHeld(ctx context.Context, caseID string, b *catalog.Backup) error {
	h, _, err := s.catalog.GetHold(ctx, caseID, b.ID)
	if err != nil || !mayHaveHeldStorage(h) {
		return err
	}
	_, holder, err := s.storageHolder(ctx, b.Ciphertext.Path)
	if err != nil || holder == nil {
		return err
	}
	held, err := holder.Held(ctx, b.Ciphertext.Path)
	switch {
	case err != nil:
		return fmt.Errorf("backup %s: another case holds it, but whether its storage hold is on could not be read: %w", b.ID, err)
	case !held:
		return fmt.Errorf("backup %s: another case holds it, but its storage hold is off (lifted by an earlier run of this close): %s", b.ID, placeAgainAdvice(b.Key))
	}
	return nil
}

// placeAgainAdvice says what restores the storage hold of a backup whose
// hold a case placed while it was lifted.
func placeAgainAdvice(string) string {
	return "place that case's hold again (hold place) to restore a storage hold"
}

// openLatch lets Vault delete a released backup's key. Only a registered
// backup's own key ("bk-" and its id) is ever unlatched.
func (s *Service) openLatch(ctx context.Context, b *catalog.Backup, res *CloseResult) error {
	if err := releasable(b); err != nil {
		return err
	}
	key, err := s.keys.KeyInfo(ctx, b.Key)
	if err != nil || key == nil {
		return err
	}
	if !key.DeletionAllowed {
		if err := s.keys.AllowDeletion(ctx, b.Key); err != nil {
			if k, kerr := s.keys.KeyInfo(ctx, b.Key); kerr != nil || k != nil && k.DeletionAllowed {
				res.add(&res.unlatching, b.ID) // opened though the answer was an error, or cannot tell: checked as opened
			}
			return err
		}
	}
	res.add(&res.Released, b.ID)
	return nil
}

// releasable refuses to hold or release what is not a backup: a key not
// named like one, or a record without its write-once registration.
func releasable(b *catalog.Backup) error {
	switch {
	case !strings.HasPrefix(b.Key, "bk-") || b.Key != b.ID:
		return errs.Refusedf("%s is not a backup key: only per-backup keys (bk-...) are held or released", b.Key)
	case !b.Registered:
		return errs.Refusedf("backup %s has no registration: it was never completely protected or registered, so it is not held or released", b.ID)
	}
	return nil
}

func (s *Service) markHoldReleased(ctx context.Context, actor Actor, caseID, id string) error {
	h, version, err := s.catalog.GetHold(ctx, caseID, id)
	if err != nil || !h.ReleasedAt.IsZero() {
		return err
	}
	h.ReleasedAt, h.ReleasedBy = catalog.Now(), actor.String()
	_, err = s.catalog.PutHold(ctx, h, version)
	return err
}

func (s *Service) finishClose(ctx context.Context, actor Actor, c *catalog.Case, unheld []string, res *CloseResult) error {
	slices.Sort(res.Released)
	slices.Sort(res.StillHeld)
	marks := liftMarks(res.storageLifted, idSet(res.liftedUntimed))
	if err := s.appendSplitMarking(ctx, actor, ledger.Event{Kind: ledger.KindHoldReleased, Case: c.ID, Backups: unheld}, marks); err != nil {
		return err
	}
	if err := s.appendSplit(ctx, actor, ledger.Event{Kind: ledger.KindCaseClosed, Case: c.ID, Backups: res.Released,
		Details: map[string]string{"decision": c.Decision.Reference, "documentSha256": c.Decision.Document.SHA256,
			"stillHeldByOtherCases": fmt.Sprint(len(res.StillHeld))}}); err != nil {
		return err
	}
	_, version, err := s.catalog.GetCase(ctx, c.ID)
	if err != nil {
		return err
	}
	c.State, c.ClosedAt = catalog.CaseClosed, catalog.Now()
	_, err = s.catalog.PutCase(ctx, c, version)
	return err
}

// PreviewClose says what CloseCase would do now, changing nothing: which
// held backups it would release (opening their keys' deletion latches)
// and which other cases still hold. It refuses as CloseCase would: a case
// that is not open, or whose shred could not be attested.
func (s *Service) PreviewClose(ctx context.Context, caseID string) (*CloseResult, error) {
	c, _, err := s.catalog.GetCase(ctx, caseID)
	if err != nil {
		return nil, err
	}
	if c.State == catalog.CaseClosed {
		return nil, errs.Refusedf("case %s was already closed at %s", c.ID, c.ClosedAt.Format("2006-01-02T15:04:05Z07:00"))
	}
	if err := s.checkCloseAttestable(ctx, c); err != nil {
		return nil, err
	}
	if err := statable(withPreviewDecision(*c)); err != nil {
		return nil, err
	}
	ids, elsewhere, _, err := s.heldBackups(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	res := &CloseResult{Case: c, Released: []string{}, StillHeld: []string{}}
	for _, id := range ids {
		if len(elsewhere[id]) > 0 {
			res.StillHeld = append(res.StillHeld, id)
		} else {
			res.Released = append(res.Released, id)
		}
	}
	return res, nil
}
