package shred

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/cryptoshred/cryptoshred/internal/ctxio"
	"github.com/cryptoshred/cryptoshred/internal/fsutil"
	"github.com/cryptoshred/cryptoshred/internal/parallel"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
	"github.com/cryptoshred/cryptoshred/shred/storage"
)

// setStorageHold puts b's ciphertext under the storage's own legal hold
// (on) or lifts it, where the storage can hold; it reports whether it
// did and whether it found the hold off before (foundOff; see heldNow):
// a placement that did is afresh, a lift that did is untimed. A registration can name any location, so the object must be b's
// own ciphertext, an age file whose header names b's key: a hold is not
// placed on an object that names another key (its owner's run could not
// delete it), and lifted only from one that names b's, never from
// another backup's held ciphertext. A version that is gone has no hold
// to lift.
func (s *Service) setStorageHold(ctx context.Context, b *catalog.Backup, on bool) (set, foundOff bool, err error) {
	be, holder, err := s.storageHolder(ctx, b.Ciphertext.Path)
	if err != nil || holder == nil {
		return false, false, err
	}
	own := ownCiphertext(ctx, be, b)
	switch {
	case on && own != nil:
		return false, false, fmt.Errorf("backup %s: no storage hold placed: %w", b.ID, own)
	case !on && errors.Is(own, errs.ErrNotFound):
		return false, false, nil
	case !on && own != nil:
		return false, false, fmt.Errorf("backup %s: its storage hold was left in place: %w", b.ID, own)
	}
	foundOff = !heldNow(ctx, holder, b.Ciphertext.Path)
	if err := holder.SetHold(ctx, b.Ciphertext.Path, on); err != nil {
		return false, false, fmt.Errorf("backup %s: %w", b.ID, err)
	}
	return true, foundOff, nil
}

// heldNow reports whether the storage holds loc now. hold place asks
// before it sets the hold: one found off means that nothing held the
// object since whatever span the ledger may still show open (a hold
// release killed after its lift, a lift made with plain S3 calls), so the
// ledger entry marks the placement afresh and the span restarts there. A
// lift asks too: one found off was lifted before, at a time the ledger
// does not know (a close or a release killed after its lift, another
// case's close that lifted it just after this case's hold was placed),
// so the entry marks the lift untimed and the span ends unstated. A
// status that cannot be read counts as off: the span restarts or ends
// unstated, stating less, never more.
func heldNow(ctx context.Context, holder storage.Holder, loc string) bool {
	held, err := holder.Held(ctx, loc)
	return err == nil && held
}

// storageHolder returns the back end of loc and, if it can put loc under
// a legal hold (an S3 bucket with Object Lock), its Holder.
func (s *Service) storageHolder(ctx context.Context, loc string) (storage.Backend, storage.Holder, error) {
	be, err := s.storage.For(loc)
	if err != nil {
		return nil, nil, err
	}
	holder, err := holderOf(ctx, be, loc)
	return be, holder, err
}

// holderOf returns be's Holder if be is a storage that holds (S3) and
// loc's bucket can (Object Lock), or nil.
func holderOf(ctx context.Context, be storage.Backend, loc string) (storage.Holder, error) {
	holder, ok := be.(storage.Holder)
	if !ok || !be.Properties().LegalHold {
		return nil, nil
	}
	if can, err := holder.CanHold(ctx, loc); err != nil || !can {
		return nil, err
	}
	return holder, nil
}

// liftStorageHold lifts the storage hold of a backup no case holds any
// more, if the case's hold record says the case placed one, or may have
// (StorageHoldAhead: a hold place stopped between setting the legal hold
// and noting it), so a backup protected without one, or in a bucket whose
// lock configuration the compliance officer may not read, is released as
// before, and records when. A lift that found the legal hold already off,
// or of a hold the record does not note as placed, is untimed (see
// heldNow): the ledger must not end a span at this time, nor state one
// whose start it may not know.
func (s *Service) liftStorageHold(ctx context.Context, caseID string, b *catalog.Backup) (lifted, untimed bool, err error) {
	h, version, err := s.catalog.GetHold(ctx, caseID, b.ID)
	if err != nil || !mayHaveHeldStorage(h) {
		return false, false, err
	}
	held, foundOff, err := s.setStorageHold(ctx, b, false)
	untimed = held && (foundOff || h.StorageHeldAt.IsZero())
	if err != nil || !held || !h.StorageReleasedAt.IsZero() {
		return held, untimed, err
	}
	h.StorageReleasedAt = catalog.Now()
	_, err = s.catalog.PutHold(ctx, h, version)
	return true, untimed, err
}

// mayHaveHeldStorage reports whether h's case placed a storage hold, or
// wrote ahead that it was about to (StorageHoldAhead). A record of an
// earlier version without that mark counts only what it noted.
func mayHaveHeldStorage(h *catalog.Hold) bool {
	return !h.StorageHeldAt.IsZero() || h.StorageHoldAhead
}

// ErrCiphertextChanged marks a ciphertext that is missing, or whose size
// or SHA-256 differs from its registration. The CLI maps it to exit 5.
var ErrCiphertextChanged = errors.New("ciphertext missing or changed")

// VerifyCiphertext re-reads b's ciphertext and checks it against the
// size and SHA-256 of its registration.
func (s *Service) VerifyCiphertext(ctx context.Context, b *catalog.Backup) error {
	if !b.Registered {
		return errs.Refusedf("backup %s has no registration to verify against", b.ID)
	}
	be, err := s.storage.For(b.Ciphertext.Path)
	if err != nil {
		return err
	}
	r, err := be.Open(ctx, b.Ciphertext.Path)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return fmt.Errorf("backup %s: %s is missing: %w", b.ID, b.Ciphertext.Path, ErrCiphertextChanged)
	case errors.Is(err, storage.ErrNotAFile):
		return fmt.Errorf("backup %s: its ciphertext is missing (%v): %w", b.ID, err, ErrCiphertextChanged)
	}
	if err != nil {
		return err
	}
	defer r.Close()
	hr := fsutil.NewHashingReader(r)
	if _, err := io.Copy(io.Discard, hr); err != nil {
		return fmt.Errorf("failed to read %s: %w", b.Ciphertext.Path, err)
	}
	if hr.N != b.Ciphertext.Size || hr.Sum() != b.Ciphertext.SHA256 {
		return fmt.Errorf("backup %s: %s has %d bytes with sha256 %s, registered %d bytes with sha256 %s: %w",
			b.ID, b.Ciphertext.Path, hr.N, hr.Sum(), b.Ciphertext.Size, b.Ciphertext.SHA256, ErrCiphertextChanged)
	}
	return nil
}

// VerifyResult is the outcome of verifying one backup's ciphertext.
type VerifyResult struct {
	ID      string `json:"id"`
	Path    string `json:"path"`
	OK      bool   `json:"ok"`
	Problem string `json:"problem,omitempty"`
	// Err is the error Problem describes: an ErrCiphertextChanged when
	// the ciphertext is missing or changed, or the error that kept it
	// from being checked (Vault sealed or unreachable, a refused token,
	// an unknown id, a cancelled run), which says nothing of the
	// ciphertext.
	Err error `json:"-"`
}

// VerifyBackups re-reads and re-hashes the ciphertexts of ids (or of
// every backup the case held, if caseID is set), DefaultParallel at a
// time; the results are in the order of ids. A ciphertext that does not
// check out is a problem unless Vault no longer has the backup's key:
// whatever a record says, only Vault's answer spares it. An interrupted
// verify returns an error, not results: a ciphertext it stopped reading
// is neither missing nor changed, but one it found so is in the error.
func (s *Service) VerifyBackups(ctx context.Context, ids []string, caseID string) ([]VerifyResult, error) {
	if caseID != "" {
		held, err := s.catalog.HeldIDs(ctx, caseID)
		if err != nil {
			return nil, err
		}
		ids = held
	}
	res, err := parallel.Map(ctx, ids, DefaultParallel, func(ctx context.Context, id string) (VerifyResult, error) {
		return s.verifyOne(ctx, id), nil
	})
	if stopped := ctxio.Interrupted(ctx); stopped != nil {
		return nil, errors.Join(append([]error{stopped}, changedOf(res)...)...)
	}
	return res, err
}

// changedOf returns the errors of results whose ciphertext is missing or
// changed.
func changedOf(results []VerifyResult) []error {
	var out []error
	for _, r := range results {
		if errors.Is(r.Err, ErrCiphertextChanged) {
			out = append(out, r.Err)
		}
	}
	return out
}

// verifyOne checks backup id's ciphertext against its registration (a
// status record that cannot be read says nothing of the ciphertext). The
// result keeps the error, so that a caller tells a ciphertext missing or
// changed (ErrCiphertextChanged) from one that could not be checked.
func (s *Service) verifyOne(ctx context.Context, id string) VerifyResult {
	b, _, err := s.catalog.GetBackupOrRegistration(ctx, id)
	if err != nil {
		return VerifyResult{ID: id, Problem: err.Error(), Err: err}
	}
	r := VerifyResult{ID: id, Path: b.Ciphertext.Path}
	if err := s.VerifyCiphertext(ctx, b); err != nil {
		if s.keyDestroyedUnheld(ctx, b) {
			r.OK, r.Problem = true, "key destroyed: nothing to verify"
			return r
		}
		r.Problem, r.Err = err.Error(), err
		return r
	}
	r.OK = true
	return r
}

// keyDestroyedUnheld reports whether Vault no longer has b's key and no
// case holds b: a held backup whose key is gone is a problem to report,
// not a shredded one.
func (s *Service) keyDestroyedUnheld(ctx context.Context, b *catalog.Backup) bool {
	gone, err := s.keys.KeyAbsent(ctx, b.Key)
	if err != nil || !gone {
		return false
	}
	held, err := s.catalog.ActiveHolds(ctx, []string{b.ID}, "")
	return err == nil && len(held[b.ID]) == 0
}

// verifyHeld re-reads and re-hashes the ciphertexts of backups against
// their registrations, DefaultParallel at a time, and returns what is
// missing or changed. Interrupted, it says so once, beside those it found
// missing or changed: every backup it stopped reading would say it was
// interrupted too, and none of them is missing.
func (s *Service) verifyHeld(ctx context.Context, backups []*catalog.Backup) error {
	problems := parallel.Each(ctx, backups, DefaultParallel, s.VerifyCiphertext)
	if err := ctxio.Interrupted(ctx); err != nil {
		problems = slices.DeleteFunc(problems, func(p error) bool { return !errors.Is(p, ErrCiphertextChanged) })
		return errors.Join(append([]error{fmt.Errorf("the holds are placed, but their ciphertexts were not all re-hashed: %w", err)}, problems...)...)
	}
	return errors.Join(problems...)
}

// holdStorage follows a key hold to the ciphertext: where the storage can
// hold it, it notes ahead in the hold record that the case may set the
// legal hold (writeAhead), puts the ciphertext under it, records when,
// and reports whether it did and whether it found the hold off (afresh).
// The key hold stands whatever happens here; a storage that refuses the
// hold is reported. PlaceHolds verifies the ciphertext afterwards.
func (s *Service) holdStorage(ctx context.Context, caseID string, b *catalog.Backup) (held, afresh bool, err error) {
	h, version, err := s.writeAhead(ctx, caseID, b)
	if err != nil || h == nil {
		return false, false, err
	}
	held, afresh, err = s.setStorageHold(ctx, b, true)
	if err != nil || !held {
		return false, false, err
	}
	return true, afresh, s.noteStorageHeld(ctx, h, version)
}

// noteStorageHeld notes in h, read at version, when the storage took its
// legal hold, unless a record noted it before. A record changed since it
// was read is read again: another hold place of the case may have noted
// it meanwhile.
func (s *Service) noteStorageHeld(ctx context.Context, h *catalog.Hold, version int) error {
	for range 2 {
		if !h.StorageHeldAt.IsZero() {
			return nil
		}
		h.StorageHeldAt = catalog.Now()
		_, err := s.catalog.PutHold(ctx, h, version)
		if !errors.Is(err, errs.ErrConflict) {
			return err
		}
		if h, version, err = s.catalog.GetHold(ctx, h.Case, h.Backup); err != nil {
			return err
		}
	}
	return fmt.Errorf("backup %s: its storage hold is set, but its hold record kept changing while it was noted", h.Backup)
}

// writeAhead reads caseID's hold record on b and, before hold place sets
// b's legal hold, marks it StorageHoldAhead, so that a hold place stopped
// (or whose Vault write fails) between setting it and noting
// StorageHeldAt leaves a record that case close and hold release lift
// from; otherwise the legal hold would outlive the case, and shred run
// could never delete the ciphertext. putHold writes the mark with the
// record, at no extra write; this writes it only on a record that notes
// neither (an earlier version's, or one whose storage could not be asked
// then). It returns the record and its version, or a nil record if b's
// storage cannot hold.
func (s *Service) writeAhead(ctx context.Context, caseID string, b *catalog.Backup) (*catalog.Hold, int, error) {
	h, version, err := s.catalog.GetHold(ctx, caseID, b.ID)
	if err != nil || mayHaveHeldStorage(h) {
		return h, version, err
	}
	if _, holder, err := s.storageHolder(ctx, b.Ciphertext.Path); err != nil || holder == nil {
		return nil, 0, err
	}
	h.StorageHoldAhead = true
	if version, err = s.catalog.PutHold(ctx, h, version); err != nil {
		return nil, 0, fmt.Errorf("backup %s: no storage hold placed: its hold record could not note it first: %w", b.ID, err)
	}
	return h, version, nil
}

// canHoldStorage reports whether b's ciphertext is on a storage that can
// put it under a legal hold, for putHold to mark the hold record it writes
// StorageHoldAhead. One that cannot be asked counts as not: writeAhead
// asks again before any hold is set.
func (s *Service) canHoldStorage(ctx context.Context, b *catalog.Backup) bool {
	_, holder, err := s.storageHolder(ctx, b.Ciphertext.Path)
	return err == nil && holder != nil
}

// ciphertextWarning checks, for a plan, that the ciphertext is present
// with its registered size and, for a local file, an age header naming
// its key; it returns a warning or "". It reads no more than the header,
// so a plan takes as long for large backups as for small ones; backup
// verify and hold place re-hash the whole file.
func (s *Service) ciphertextWarning(ctx context.Context, b *catalog.Backup) string {
	if err := s.quickCheck(ctx, b); err != nil {
		return "the ciphertext is missing or changed (" + err.Error() + "): it may be lost or copied elsewhere"
	}
	return ""
}

func (s *Service) quickCheck(ctx context.Context, b *catalog.Backup) error {
	be, err := s.storage.For(b.Ciphertext.Path)
	if err != nil {
		return err
	}
	info, err := be.Stat(ctx, b.Ciphertext.Path)
	switch {
	case err != nil:
		return err
	case info.Size != b.Ciphertext.Size:
		return fmt.Errorf("%s has %d bytes, registered %d", b.Ciphertext.Path, info.Size, b.Ciphertext.Size)
	case be.Properties().Name != "file":
		return nil
	}
	return ownCiphertext(ctx, be, b)
}

// ownCiphertext checks that the object at b's location is b's
// ciphertext: an age file whose header names b's key and no other.
func ownCiphertext(ctx context.Context, be storage.Backend, b *catalog.Backup) error {
	r, err := be.Open(ctx, b.Ciphertext.Path)
	if err != nil {
		return err
	}
	defer r.Close()
	return headerNames(b.Key)(r)
}

// problemList collects errors from concurrent calls.
type problemList struct {
	mu   sync.Mutex
	errs []error
}

func (p *problemList) add(err error) {
	if err == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.errs = append(p.errs, err)
}

func (p *problemList) err() error { return errors.Join(p.errs...) }

// liftMarks returns the marks of a hold.released entry for the storage
// holds a release lifted: those it found on, lifted at its time
// (storageLiftedDetail), and those it found off already (untimed), lifted
// at a time the ledger does not know (storageLiftedUntimedDetail).
func liftMarks(lifted []string, untimed map[string]bool) marking {
	timed := idSet(slices.DeleteFunc(slices.Clone(lifted), func(id string) bool { return untimed[id] }))
	return marking{storageLiftedDetail: timed, storageLiftedUntimedDetail: untimed}
}
