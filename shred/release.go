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

// ReleaseHolds lifts an open case's holds on ids before the case closes,
// for a documented reason (a hold placed by mistake). Unlike CloseCase it
// never opens a key's deletion latch: a backup no other case holds goes
// back to protected, its key still latched in Vault. Each hold record is
// marked released with the reason, and hold.released ledger entries
// record the reason, split as every bulk entry is (appendSplit).
func (s *Service) ReleaseHolds(ctx context.Context, actor Actor, caseID string, ids []string, reason string) ([]string, error) {
	if reason == "" {
		return nil, errors.New("releasing a hold before its case closes needs a reason")
	}
	if err := catalog.CheckText("reason", reason, 1024); err != nil {
		return nil, err
	}
	if err := s.requireOpenCase(ctx, caseID, "only an open case's holds are released with hold release (case close releases the rest)"); err != nil {
		return nil, err
	}
	elsewhere, err := s.catalog.ActiveHolds(ctx, ids, caseID)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var lifted []string
	untimed, finished := map[string]bool{}, map[string]bool{}
	var problems problemList
	rec := &recordedReleases{}
	released, failed := forEach(ctx, ids, DefaultParallel, progressOf(ctx), func(ctx context.Context, id string) error {
		done, unreadable, err := s.releaseEarly(ctx, actor, caseID, id, reason, len(elsewhere[id]) > 0, rec)
		liftedHere := done.lifted
		if unreadable != nil {
			problems.add(fmt.Errorf("backup %s: hold released, but its status record does not show it: %w", id, unreadable))
		}
		mu.Lock()
		if liftedHere {
			lifted = append(lifted, id)
		}
		untimed[id], finished[id] = done.liftUntimed, done.finished
		mu.Unlock()
		if liftedHere && err != nil {
			// The hold is released and the storage hold lifted; only the
			// hold record's note of when failed. The ledger entry must
			// still list it, with the lift.
			problems.add(fmt.Errorf("backup %s: storage hold lifted, but its hold record does not show it: %w", id, err))
			return nil
		}
		return err
	})
	// The case's own record counts too: a hold place of this case that
	// re-activated it before the lift is a hold the lift undid.
	failed = append(failed, s.heldDuringRelease(ctx, lifted, "its storage hold was lifted", placeAgainAdvice)...)
	if len(released) > 0 {
		slices.Sort(released)
		ev := ledger.Event{Kind: ledger.KindHoldReleased, Case: caseID, Backups: released,
			Details: map[string]string{"reason": reason, "before": "case close"}}
		marks := liftMarks(lifted, untimed)
		marks[holdReleasedUntimedDetail] = finished
		if err := s.appendSplitMarking(ctx, actor, ev, marks); err != nil {
			return released, err
		}
	}
	if len(ids) == 1 && len(failed) == 1 && len(released) == 0 {
		return nil, batchError(0, failed) // its text is the one failure's, and --format json lists it
	}
	return released, errors.Join(batchError(len(released), failed), problems.err())
}

// releaseEarly marks caseID's hold on id released with reason, then takes
// the case off the backup's status and, if no other case holds it, lifts
// the storage hold and returns the backup to protected, reporting whether
// it lifted a storage hold. The key's latch is not touched: it was never
// opened.
//
// A hold already released early is refused, unless the ledger does not
// record its release: a release interrupted before its ledger entry is
// finished by running it again with the same reason. Its steps are taken
// again, and the ledger entry must mark the hold released (finished), and
// the storage hold lifted if the case placed one (liftUntimed), at a time
// it cannot state: the interrupted run may have released and lifted long
// before, and another case may have placed the storage hold again since.
// An active hold re-activated by a hold place stopped before its entry
// (afreshDue) is released untimed too (finished): the ledger still shows
// the case's earlier placement open, across the time it was released.
func (s *Service) releaseEarly(ctx context.Context, actor Actor, caseID, id, reason string, stillHeld bool, rec *recordedReleases) (done earlyRelease, unreadable, err error) {
	h, version, err := s.catalog.GetHold(ctx, caseID, id)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return done, nil, errs.Refusedf("case %s does not hold backup %s", caseID, id)
	case err != nil:
		return done, nil, err
	case !h.ReleasedAt.IsZero():
		if err := s.unrecordedRelease(ctx, h, reason, rec); err != nil {
			return done, nil, err
		}
		done.finished, done.liftUntimed = true, mayHaveHeldStorage(h)
	default:
		done.finished = s.afreshDue(ctx, h, rec)
		h.ReleasedAt, h.ReleasedBy, h.ReleaseReason = catalog.Now(), actor.String(), reason
		if _, err := s.catalog.PutHold(ctx, h, version); err != nil {
			return done, nil, fmt.Errorf("failed to release the hold: %w", err)
		}
	}
	var b *catalog.Backup
	b, unreadable, err = s.updateHeld(ctx, id, func(b *catalog.Backup) error {
		b.HeldBy = slices.DeleteFunc(b.HeldBy, func(c string) bool { return c == caseID })
		if !stillHeld && len(b.HeldBy) == 0 && b.State == catalog.StateHeld {
			b.State = catalog.StateProtected
		}
		return nil
	})
	if !stillHeld && err == nil {
		stillHeld, err = s.heldMeanwhile(ctx, caseID, id, b.HeldBy, unreadable != nil)
	}
	if err != nil || stillHeld {
		return done, unreadable, err
	}
	var untimed bool
	done.lifted, untimed, err = s.liftStorageHold(ctx, caseID, b)
	done.liftUntimed = done.liftUntimed || untimed
	return done, unreadable, err
}

// earlyRelease is what releaseEarly did to one backup: whether it lifted
// its storage hold, whether its entry ends the open hold unstated
// (finished: it finished a release an interrupted run began, or released
// a re-activation the ledger does not record), and whether that run may have lifted a storage hold
// the case placed or this one found it lifted already (liftUntimed).
type earlyRelease struct{ lifted, finished, liftUntimed bool }

// recordedReleases is, for one hold release or hold place, which
// backups' holds of its case the ledger records released since the case
// last placed them, the sequence number of the last hold.placed entry of
// the case marking each backup afresh, and the last sequence number
// read; it is read at most once, and only if a hold record asks for it.
type recordedReleases struct {
	once   sync.Once
	ids    map[string]bool
	afresh map[string]int64
	// afreshAt is when Vault wrote the last of them, by backup.
	afreshAt map[string]time.Time
	last     int64
	err      error
}

// unrecordedRelease returns nil if h, a hold released early, is one
// whose release the verified ledger does not record and reason is its
// reason: a hold release to finish. Otherwise it refuses.
func (s *Service) unrecordedRelease(ctx context.Context, h *catalog.Hold, reason string, rec *recordedReleases) error {
	released := errs.Refusedf("case %s's hold on %s was already released at %s", h.Case, h.Backup, h.ReleasedAt.Format(time.RFC3339))
	if h.ReleaseReason == "" {
		return released
	}
	recorded, err := s.releaseRecorded(ctx, h, rec)
	switch {
	case err != nil:
		return fmt.Errorf("case %s's hold on %s was released; whether the ledger records it could not be checked: %w", h.Case, h.Backup, err)
	case recorded:
		return released
	case h.ReleaseReason != reason:
		return errs.Refusedf("case %s's hold on %s was released at %s with reason %q, which the ledger does not record; run hold release again with that reason to record it",
			h.Case, h.Backup, h.ReleasedAt.Format(time.RFC3339), h.ReleaseReason)
	}
	return nil
}

// releaseRecorded reports whether the verified ledger's last hold entry
// of h's case for h's backup is a release (rec reads the ledger once, for
// one case).
func (s *Service) releaseRecorded(ctx context.Context, h *catalog.Hold, rec *recordedReleases) (bool, error) {
	err := rec.read(ctx, s.ledger, h.Case)
	return rec.ids[h.Backup], err
}

// afreshRecorded reports whether the verified ledger holds, from h's
// PlacedAfreshFrom on, a hold.placed entry of h's case marking h's
// backup afresh: the entry of the hold place that re-activated h. Where
// the re-activation could not read the ledger (afreshUnknown, which no
// sequence number reaches), an entry Vault wrote after h's placement
// counts; a writer's clock ahead of Vault's only marks once more, which
// states less.
func (s *Service) afreshRecorded(ctx context.Context, h *catalog.Hold, rec *recordedReleases) (bool, error) {
	err := rec.read(ctx, s.ledger, h.Case)
	if h.PlacedAfreshFrom == afreshUnknown {
		at, ok := rec.afreshAt[h.Backup]
		return ok && at.After(h.PlacedAt), err
	}
	return rec.afresh[h.Backup] >= h.PlacedAfreshFrom, err
}

// read walks src once, keeping what rec holds of caseID's hold entries.
func (rec *recordedReleases) read(ctx context.Context, src ledger.Source, caseID string) error {
	rec.once.Do(func() {
		rec.ids, rec.afresh, rec.afreshAt = map[string]bool{}, map[string]int64{}, map[string]time.Time{}
		_, rec.err = ledger.Walk(ctx, src, func(e *ledger.Entry, _ []byte) error {
			rec.last = max(rec.last, e.Seq)
			if e.Case == caseID && (e.Kind == ledger.KindHoldPlaced || e.Kind == ledger.KindHoldReleased) {
				rec.add(e)
			}
			return nil
		})
	})
	return rec.err
}

// add takes e, a hold entry of rec's case.
func (rec *recordedReleases) add(e *ledger.Entry) {
	for _, id := range e.Backups {
		rec.ids[id] = e.Kind == ledger.KindHoldReleased
	}
	for _, id := range strings.Fields(e.Details[holdPlacedAfreshDetail]) {
		if e.Kind == ledger.KindHoldPlaced {
			rec.afresh[id], rec.afreshAt[id] = e.Seq, e.At()
		}
	}
}

// ListHolds returns the hold records of caseID, or of every case that
// has any when it is empty, ordered by case and backup, and the records
// it skipped because they cannot be read. Cases are found by their hold
// records, not their case records, since the hold records decide. A case
// with neither is refused as unknown.
func (s *Service) ListHolds(ctx context.Context, caseID string) ([]*catalog.Hold, []*catalog.RecordError, error) {
	cases, skipped, err := s.holdCases(ctx, caseID)
	if err != nil {
		return nil, nil, err
	}
	var out []*catalog.Hold
	for _, c := range cases {
		holds, bad, err := s.catalog.ReadHolds(ctx, c)
		if err != nil {
			return nil, nil, err
		}
		out, skipped = append(out, holds...), append(skipped, bad...)
	}
	return out, skipped, nil
}

// holdCases returns the cases whose holds ListHolds lists, and the
// folders of hold records it cannot list.
func (s *Service) holdCases(ctx context.Context, caseID string) ([]string, []*catalog.RecordError, error) {
	if caseID == "" {
		return s.catalog.HoldCaseIDs(ctx)
	}
	held, err := s.catalog.HeldIDs(ctx, caseID)
	if err != nil || len(held) > 0 {
		return []string{caseID}, nil, err
	}
	_, _, err = s.catalog.GetCase(ctx, caseID)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return nil, nil, errs.Refusedf("case %s does not exist (see cryptoshred case list)", caseID)
	case err != nil && !errors.Is(err, catalog.ErrMalformed):
		return nil, nil, err
	}
	return []string{caseID}, nil, nil
}
