package shred

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
)

// A hold placed on a backup while a case close (or an early release)
// works on it: no role can close a key's latch again once it is open, so
// what cannot be prevented is reported. hold place records its case in
// the backup's status before it reads the key again (checkLatched);
// the close reads the status after its own update of it (heldMeanwhile),
// which keeps the backup latched when the hold came first, and reads
// every case's hold records, its own included, once more after its last
// latch is opened
// (heldDuringRelease), which finds any hold recorded before its key was
// read again: one of the two always sees the other. The status only
// says which hold records to read (one that cannot be read, another
// version's or an edited one, makes the close list every case's); an
// admin who rewrites it defeats the first check, never the last, which
// lists the hold records themselves.

// updateHeld applies change to the status of backup id, which a case
// holds or held until now. A status record that cannot be read is left as
// it is (a newer version's, or evidence of an edit: rewriting it would
// lose what it holds), and one that is missing (a register stopped before
// writing it) is not written; the backup is returned as its registration
// has it, with why (unreadable): the hold records and Vault decide a hold
// and a release, not the status.
func (s *Service) updateHeld(ctx context.Context, id string, change func(*catalog.Backup) error) (b *catalog.Backup, unreadable, err error) {
	b, err = s.catalog.UpdateBackup(ctx, id, change)
	if !errors.Is(err, catalog.ErrMalformed) && !errors.Is(err, errs.ErrNotFound) {
		return b, nil, err
	}
	fromRegistration, _, rerr := s.catalog.GetBackupOrRegistration(ctx, id)
	if rerr != nil {
		return nil, nil, rerr
	}
	return fromRegistration, err, nil
}

// heldMeanwhile reports whether a case other than caseID named in heldBy
// (the backup's status) holds backup id by an active hold record; when
// the status could not be read (statusUnreadable), every case's hold
// records are listed instead.
func (s *Service) heldMeanwhile(ctx context.Context, caseID, id string, heldBy []string, statusUnreadable bool) (bool, error) {
	if statusUnreadable {
		elsewhere, err := s.catalog.ActiveHolds(ctx, []string{id}, caseID)
		return len(elsewhere[id]) > 0, err
	}
	active, err := s.catalog.ActiveHoldsIn(ctx, id, heldBy, caseID)
	return len(active) > 0, err
}

// heldDuringRelease lists again the hold records of every case on ids,
// the backups a case just released (what says how), and returns one
// error for each that a case now holds, with advice for its key. The
// releasing case's own records count too: hold place re-activates a record a hold release released early, and one of the
// closing case can be too, by a hold place and a hold release that both
// checked the case open before the close began, the release marking the
// record released just after the close read it (the close then writes
// nothing to it) and the place re-activating it before the close looks
// again.
func (s *Service) heldDuringRelease(ctx context.Context, ids []string, what string, advice func(key string) string) []*ItemError {
	if len(ids) == 0 {
		return nil
	}
	elsewhere, err := s.catalog.ActiveHolds(ctx, ids, "")
	if err != nil {
		return itemErrors(ids, fmt.Errorf("released, but whether another case placed a hold meanwhile could not be read: %w", err))
	}
	var out []*ItemError
	for _, id := range slices.Sorted(slices.Values(ids)) {
		if cases := elsewhere[id]; len(cases) > 0 {
			out = append(out, &ItemError{ID: id, Err: fmt.Errorf("case(s) %s placed a hold on it while %s: %s",
				strings.Join(cases, ", "), what, advice(id))})
		}
	}
	return out
}

// latchAdvice says what to do about key, unlatched while a case held it.
func (s *Service) latchAdvice(ctx context.Context) func(key string) string {
	mount := s.transitMount(ctx)
	return func(key string) string {
		return fmt.Sprintf("Vault no longer stops the deletion of key %s; ask a Vault operator to close its latch "+
			"(vault write %s/keys/%s/config deletion_allowed=false), then place that case's hold again to restore a storage hold", key, mount, key)
	}
}

// checkLatched reads b's key, which must be latched for the reason what
// gives, and reports a latch that is open (what a close and a hold at the
// same moment can leave: no role can close it again) or a key gone.
func (s *Service) checkLatched(ctx context.Context, b *catalog.Backup, what string) error {
	key, err := s.keys.KeyInfo(ctx, b.Key)
	switch {
	case err != nil:
		return fmt.Errorf("backup %s: %s, but its key could not be read to confirm its latch is closed: %w", b.ID, what, err)
	case key == nil:
		return fmt.Errorf("backup %s: %s, but its key %s is not in Vault: investigate", b.ID, what, b.Key)
	case key.DeletionAllowed:
		return fmt.Errorf("backup %s: %s, but its key's deletion latch is open (a case close and a hold at the same moment): %s", b.ID, what, s.latchAdvice(ctx)(b.Key))
	}
	return nil
}
