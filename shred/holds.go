package shred

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/cryptoshred/cryptoshred/internal/parallel"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
)

// HoldSelector picks the backups to hold: explicit ids, or every backup of
// a system that can still be held (optionally made before a time: the
// original's modification time, or the protect time when unknown).
type HoldSelector struct {
	IDs           []string
	System        string
	CreatedBefore time.Time
}

// requireOpenCase returns an error unless case caseID is open and the
// caller holds the compliance role; needs says what needs an open case.
func (s *Service) requireOpenCase(ctx context.Context, caseID, needs string) error {
	c, _, err := s.catalog.GetCase(ctx, caseID)
	if err != nil {
		return err
	}
	if c.State != catalog.CaseOpen {
		return errs.Refusedf("case %s is %s: %s", caseID, c.State, needs)
	}
	return s.guard.RequireCompliance(ctx)
}

// PlaceHolds holds the selected backups for an open case. A held backup's
// key keeps deletion_allowed=false in Vault, which the admin role cannot
// change: Vault, not this code, stops its deletion. Every key and storage
// hold is placed, and the ledger entry written, before any ciphertext is
// re-read and re-hashed: a large case's data takes long to read, and the
// holds must not wait for it.
func (s *Service) PlaceHolds(ctx context.Context, actor Actor, caseID string, sel HoldSelector) ([]string, error) {
	if err := s.requireOpenCase(ctx, caseID, "holds can only be placed on an open case"); err != nil {
		return nil, err
	}
	ids, skipped, err := s.selectBackups(ctx, sel)
	if err != nil {
		return nil, errors.Join(err, batchError(0, skipped))
	}
	var problems problemList
	var mu sync.Mutex
	var placed []*catalog.Backup
	storageHeld, afresh := map[string]bool{}, map[string]bool{}
	markedAt := map[string]time.Time{} // the placements marked holdPlacedAfresh, by backup
	rec := &recordedReleases{}
	held, failed := forEach(ctx, ids, DefaultParallel, progressOf(ctx), func(ctx context.Context, id string) error {
		b, afreshAt, statusErr, err := s.placeHold(ctx, actor, caseID, id, rec)
		if err != nil {
			return err
		}
		problems.add(statusErr)
		problems.add(s.checkLatched(ctx, b, "hold recorded"))
		inStorage, wasOff, err := s.holdStorage(ctx, caseID, b)
		problems.add(err)
		mu.Lock()
		placed = append(placed, ciphertextOf(b))
		storageHeld[id], afresh[id] = inStorage, inStorage && wasOff
		if !afreshAt.IsZero() {
			markedAt[id] = afreshAt
		}
		mu.Unlock()
		return nil
	})
	if len(held) > 0 {
		ev := ledger.Event{Kind: ledger.KindHoldPlaced, Case: caseID, Backups: held}
		marks := marking{storageHeldDetail: storageHeld, storageHeldAfreshDetail: afresh, holdPlacedAfreshDetail: idSet(slices.Collect(maps.Keys(markedAt)))}
		if err := s.appendSplitMarking(ctx, actor, ev, marks); err != nil {
			return held, err
		}
		s.settleAfreshFrom(ctx, caseID, markedAt)
	}
	problems.add(s.verifyHeld(ctx, placed))
	return held, errors.Join(batchError(len(held), append(skipped, failed...)), problems.err())
}

// ciphertextOf keeps of b what VerifyCiphertext reads: a hold on a large
// case re-hashes after every hold is placed, and must not keep every
// backup's whole record until then (100,000 backups: 263 MiB peak).
func ciphertextOf(b *catalog.Backup) *catalog.Backup {
	return &catalog.Backup{ID: b.ID, Registered: b.Registered, Ciphertext: b.Ciphertext}
}

// selectBackups returns the ids to hold, and the catalog records a
// system-wide selection had to skip as unreadable.
func (s *Service) selectBackups(ctx context.Context, sel HoldSelector) ([]string, []*ItemError, error) {
	if len(sel.IDs) > 0 {
		return sel.IDs, nil, nil
	}
	if sel.System == "" {
		return nil, nil, errors.New("name backups to hold, or a --system")
	}
	backups, bad, err := s.catalog.ListBackups(ctx, catalog.BackupFilter{System: sel.System})
	if err != nil {
		return nil, nil, err
	}
	backups, skipped, err := s.withUnreadableStatus(ctx, backups, bad, sel.System)
	if err != nil {
		return nil, nil, err
	}
	ids, open, err := s.holdable(ctx, backups, sel.CreatedBefore)
	skipped = append(skipped, open...)
	if err != nil {
		return nil, skipped, err
	}
	if len(ids) == 0 {
		return nil, skipped, errs.Refusedf("no backup of system %q matches", sel.System)
	}
	return ids, skipped, nil
}

// withUnreadableStatus adds to backups those of bad, the records a
// listing of system skipped, whose status record cannot be read but whose
// registration names system: an unreadable status never keeps a backup
// out of a hold. The other records of bad are returned as skipped.
func (s *Service) withUnreadableStatus(ctx context.Context, backups []*catalog.Backup, bad []*catalog.RecordError, system string) ([]*catalog.Backup, []*ItemError, error) {
	var skipped []*ItemError
	for _, r := range bad {
		b, _, err := s.catalog.GetBackupOrRegistration(ctx, r.ID)
		switch {
		case errors.Is(err, errs.ErrUnavailable) || errors.Is(err, errs.ErrRefused):
			return nil, nil, err
		case err == nil && b.System == system:
			backups = append(backups, b)
		default:
			skipped = append(skipped, &ItemError{ID: r.ID, Err: r})
		}
	}
	return backups, skipped, nil
}

// backupDate is when the backed-up data was made: the original's
// modification time when known, else when it was protected.
func backupDate(b *catalog.Backup) time.Time {
	if b.Original != nil && !b.Original.Mtime.IsZero() {
		return b.Original.Mtime
	}
	return b.CreatedAt
}

// placeHold writes the hold record first, then marks the backup held, so a
// crash in between is repaired by placing the hold again. It returns the
// backup, for the storage hold and the re-hash that follow, and, if its
// entry must mark the placement afresh (putHold), the hold record's
// PlacedAt (afreshAt; zero otherwise); once the hold record is written the hold stands, and a
// status that could not be marked is returned as statusErr, to report,
// not as err.
func (s *Service) placeHold(ctx context.Context, actor Actor, caseID, id string, rec *recordedReleases) (b *catalog.Backup, afreshAt time.Time, statusErr, err error) {
	b, _, err = s.catalog.GetBackupOrRegistration(ctx, id)
	if err != nil {
		return nil, time.Time{}, nil, err
	}
	if err := s.checkHoldable(ctx, b); err != nil {
		return nil, time.Time{}, nil, err
	}
	if afreshAt, err = s.putHold(ctx, actor, caseID, id, s.canHoldStorage(ctx, b), rec); err != nil {
		return nil, time.Time{}, nil, err
	}
	held, unreadable, err := s.updateHeld(ctx, id, func(b *catalog.Backup) error {
		if !slices.Contains(b.HeldBy, caseID) {
			b.HeldBy = append(b.HeldBy, caseID)
		}
		b.State = catalog.StateHeld
		return nil
	})
	if err = cmp.Or(err, unreadable); err != nil {
		return b, afreshAt, fmt.Errorf("backup %s: hold recorded, but its status record does not show it: %w", id, err), nil
	}
	return held, afreshAt, nil, nil
}

// putHold creates caseID's hold record on id, or re-activates one that
// hold release released early; an active record is left as it is. One
// the case's close released (the close began after this hold place
// checked that the case is open) stays released. It returns, if the new
// hold.placed entry must mark this placement afresh, the PlacedAt of the
// record it leaves active (zero otherwise)
// (holdPlacedAfreshDetail): the record it re-activated was released by a
// hold release the ledger does not record (interrupted before its
// entry), so the ledger still shows the case's hold from its earlier
// placement open, and the attestation would state the hold across the
// time it was released; or the record it found active was re-activated
// so by a hold place whose marked entry the ledger does not hold
// (stopped before it: afreshDue). The placement is never refused for
// this: a ledger that cannot be read marks it too, which states less. A
// record it writes for a ciphertext on a storage that can hold (ahead)
// is marked StorageHoldAhead (see writeAhead).
func (s *Service) putHold(ctx context.Context, actor Actor, caseID, id string, ahead bool, rec *recordedReleases) (afreshAt time.Time, err error) {
	h := catalog.Hold{Case: caseID, Backup: id, PlacedAt: catalog.Now(), PlacedBy: actor.String(), StorageHoldAhead: ahead}
	_, err = s.catalog.PutHold(ctx, &h, 0)
	if !errors.Is(err, errs.ErrConflict) {
		return time.Time{}, err
	}
	old, version, err := s.catalog.GetHold(ctx, caseID, id)
	switch {
	case err != nil:
		return time.Time{}, err
	case old.ReleasedAt.IsZero():
		return timeIf(s.afreshDue(ctx, old, rec), old.PlacedAt), nil
	case old.ReleaseReason == "":
		return time.Time{}, errs.Refusedf("case %s is closing: its close released the hold on %s", caseID, id)
	}
	h.PlacedAfreshFrom = s.afreshFrom(ctx, old, rec)
	if _, err = s.catalog.PutHold(ctx, &h, version); err != nil {
		return time.Time{}, err
	}
	return timeIf(h.PlacedAfreshFrom != 0, h.PlacedAt), nil
}

// timeIf returns at if cond holds, else the zero time.
func timeIf(cond bool, at time.Time) time.Time {
	if cond {
		return at
	}
	return time.Time{}
}

// afreshUnknown is the PlacedAfreshFrom of a record re-activated while
// the ledger could not be read: larger than any sequence number, and the
// largest integer a record holds exactly (2^53), since the records' JSON
// passes through float64; math.MaxInt64 came back as 9223372036854776000,
// which no longer fits, and left the hold record unreadable.
const afreshUnknown = 1 << 53

// settleAfreshFrom clears, once the hold.placed entry marking each of
// markedAt's backups afresh is written, the PlacedAfreshFrom a hold
// record carries at afreshUnknown (its re-activation could not read the
// ledger): no entry ever reaches it, so every later hold
// place of the case would mark the backup afresh again. Only the record
// this placement marked (the same PlacedAt, still active) is cleared, by
// check-and-set; a failure leaves it as it is, which only states less.
func (s *Service) settleAfreshFrom(ctx context.Context, caseID string, markedAt map[string]time.Time) {
	for id, placedAt := range markedAt {
		h, version, err := s.catalog.GetHold(ctx, caseID, id)
		if err != nil || h.PlacedAfreshFrom != afreshUnknown || !h.ReleasedAt.IsZero() || !h.PlacedAt.Equal(placedAt) {
			continue
		}
		h.PlacedAfreshFrom = 0
		_, _ = s.catalog.PutHold(ctx, h, version)
	}
}

// afreshFrom returns, for a hold place about to re-activate old (released
// early), the PlacedAfreshFrom of its record: zero if the verified ledger
// records old's release, else the sequence number after the last entry
// it read, or afreshUnknown if it could not read the ledger.
func (s *Service) afreshFrom(ctx context.Context, old *catalog.Hold, rec *recordedReleases) int64 {
	recorded, err := s.releaseRecorded(ctx, old, rec)
	switch {
	case err != nil:
		return afreshUnknown
	case recorded:
		return 0
	}
	return rec.last + 1
}

// afreshDue reports whether a hold place that finds h active must mark
// its entry afresh: h was re-activated after an unrecorded release and
// the verified ledger holds no hold.placed entry of h's case marking h's
// backup afresh since (or cannot be read). A forged PlacedAfreshFrom only
// marks a later placement afresh, which states less.
func (s *Service) afreshDue(ctx context.Context, h *catalog.Hold, rec *recordedReleases) bool {
	if h.PlacedAfreshFrom == 0 {
		return false
	}
	recorded, err := s.afreshRecorded(ctx, h, rec)
	return err != nil || !recorded
}

// checkHoldable refuses a hold that Vault would not enforce: something
// that is not a registered backup, a key that is gone, or one whose
// deletion latch is already open. Vault decides, not the status record.
func (s *Service) checkHoldable(ctx context.Context, b *catalog.Backup) error {
	if err := releasable(b); err != nil {
		return err
	}
	key, err := s.keys.KeyInfo(ctx, b.Key)
	switch {
	case err != nil:
		return err
	case key == nil:
		return errs.Refusedf("backup %s: its key %s is not in Vault; there is nothing left to hold", b.ID, b.Key)
	case key.DeletionAllowed:
		return s.alreadyReleased(ctx, b)
	}
	return nil
}

// alreadyReleased is the refusal to hold b, whose key's latch is open.
func (s *Service) alreadyReleased(ctx context.Context, b *catalog.Backup) error {
	return errs.Refusedf("backup %s was already released: its key's deletion latch is open and only a Vault operator can close it "+
		"(vault write %s/keys/%s/config deletion_allowed=false); then place the hold again", b.ID, s.transitMount(ctx), b.Key)
}

// holdable returns the backups a system-wide hold takes: every registered
// backup made before the cutoff whose key Vault still holds latched. The
// status record is not asked: an admin could have rewritten it to hide a
// backup from the hold. A key whose latch is already open is returned as
// skipped, with the operator command that closes it; a key gone is
// nothing left to hold.
func (s *Service) holdable(ctx context.Context, backups []*catalog.Backup, before time.Time) ([]string, []*ItemError, error) {
	candidates := slices.DeleteFunc(slices.Clone(backups), func(b *catalog.Backup) bool {
		return releasable(b) != nil || (!before.IsZero() && !backupDate(b).Before(before))
	})
	keys, err := parallel.Map(ctx, candidates, DefaultParallel, func(ctx context.Context, b *catalog.Backup) (*KeyInfo, error) {
		return s.keys.KeyInfo(ctx, b.Key)
	})
	var ids []string
	var open []*ItemError
	for i, b := range candidates {
		switch key := keys[i]; {
		case err != nil || key == nil:
		case key.DeletionAllowed:
			open = append(open, &ItemError{ID: b.ID, Err: s.alreadyReleased(ctx, b)})
		default:
			ids = append(ids, b.ID)
		}
	}
	return ids, open, err
}

// transitMount names the key mount for an operator's instructions.
func (s *Service) transitMount(ctx context.Context) string {
	ks, err := s.keys.Describe(ctx)
	if err != nil || ks.TransitMount == "" {
		return "TRANSIT-MOUNT"
	}
	return ks.TransitMount
}
