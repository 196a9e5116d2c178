package shred

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/internal/fsutil"
	"github.com/cryptoshred/cryptoshred/shred/agefile"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
)

// DisposalMethods lists the methods dispose-original accepts, as the
// attestation names them.
var DisposalMethods = []string{attest.DisposalDeleted, attest.DisposalMediaSanitized, attest.DisposalNotOurs}

// DisposeRequest records what became of a backup's plaintext original.
type DisposeRequest struct {
	ID       string
	Method   string
	Note     string
	Evidence string // optional document path; its SHA-256 is recorded
}

// DisposeOriginal records the disposal of a backup's plaintext original.
// With DisposalDeleted it deletes the original first, if it is still there
// and still has the SHA-256 protect recorded, and the backup's ciphertext
// checks out or its key is gone (otherwise it refuses), and syncs the
// directory; the other methods record the operator's declaration.
// A disposal is recorded once.
func (s *Service) DisposeOriginal(ctx context.Context, actor Actor, req DisposeRequest) (*catalog.Backup, error) {
	if err := checkDispose(req); err != nil {
		return nil, err
	}
	b, _, err := s.catalog.GetBackup(ctx, req.ID)
	if err != nil {
		return nil, err
	}
	if err := disposable(b); err != nil {
		return nil, err
	}
	d, err := newDisposal(actor, req)
	if err != nil {
		return nil, err
	}
	if req.Method == attest.DisposalDeleted {
		if err := s.copiesKept(ctx, b); err != nil {
			return nil, err
		}
		absent, err := deleteOriginal(b.Original)
		if err != nil {
			return nil, err
		}
		if absent {
			d.Note += " (cryptoshred found nothing at " + b.Original.Path + " to delete: it may have been moved rather than deleted)"
		}
	}
	return s.recordDisposal(ctx, actor, b.ID, d)
}

// ciphertextKept refuses to let the original of a backup whose key Vault
// still has be deleted unless its ciphertext checks out against its
// registration: with the ciphertext lost, the original may be the only
// copy of data nobody was told to destroy. A key gone with no destruction
// a run recorded is not this tool's doing (a plan says to investigate),
// and that backup's original is kept too.
func (s *Service) ciphertextKept(ctx context.Context, b *catalog.Backup) error {
	gone, err := s.keys.KeyAbsent(ctx, b.Key)
	if err != nil {
		return err
	}
	if gone {
		return s.destructionRecorded(ctx, b)
	}
	if err := s.VerifyCiphertext(ctx, b); err != nil {
		return errs.Refusedf("not deleting the original: the backup's ciphertext does not check out, so the original may be the only copy left: %v", err)
	}
	return nil
}

// copiesKept refuses to delete b's original unless every backup the
// digest index names for its plaintext keeps its data elsewhere: its
// ciphertext checks out, or its key is gone by a destruction a run
// recorded. b's own registration may have been planted (the admin may
// create one, with no key in Vault, copying another backup's original),
// but the index is create-only, so the backup whose ciphertext was lost is
// still named there, and the file is kept as what may be its last copy.
func (s *Service) copiesKept(ctx context.Context, b *catalog.Backup) error {
	ids, err := s.catalog.DigestIDs(ctx, b.Original.SHA256)
	if err != nil {
		return fmt.Errorf("failed to list the backups of the original's digest: %w", err)
	}
	others := slices.DeleteFunc(ids, func(id string) bool { return id == b.ID })
	for _, id := range append([]string{b.ID}, others...) {
		if err := s.copyKept(ctx, b, id); err != nil {
			return err
		}
	}
	return nil
}

// copyKept checks one backup of the original's plaintext (copiesKept). An
// index entry naming no registered backup, or one whose write-once
// registration records another plaintext digest (an entry the admin
// planted), names nothing: it holds no copy of this original.
func (s *Service) copyKept(ctx context.Context, b *catalog.Backup, id string) error {
	if id == b.ID {
		return s.ciphertextKept(ctx, b)
	}
	other, _, err := s.catalog.GetBackupOrRegistration(ctx, id)
	switch {
	case errors.Is(err, errs.ErrNotFound) || errors.Is(err, catalog.ErrMalformed) || other != nil && !other.Registered:
		return nil
	case err == nil && other.Plaintext.SHA256 != b.Original.SHA256:
		return nil
	case err != nil:
		return fmt.Errorf("not deleting the original: failed to read backup %s, which has the same plaintext: %w", id, err)
	}
	if err := s.ciphertextKept(ctx, other); err != nil {
		return fmt.Errorf("backup %s has the same plaintext: %w", id, err)
	}
	return nil
}

// destructionRecorded refuses unless an account of a destruction
// accounts for b's key being gone: a run's destruction record (in one of
// the cases whose close released b) or, from versions before those
// records, a status record saying shredded with its destruction, as a
// plan and an attestation count them (catalog.Backup.ApplyDestructions).
func (s *Service) destructionRecorded(ctx context.Context, b *catalog.Backup) error {
	ds, err := s.destructionRecords().of(ctx, b, "")
	if err != nil {
		return err
	}
	accounted := *b
	accounted.ApplyDestructions(ds)
	if accounted.State != catalog.StateShredded || accounted.Destruction == nil {
		return errs.Refusedf("not deleting the original: key %s of backup %s is not in Vault, but no run recorded destroying it (investigate), so the original may be the only copy left", b.Key, b.ID)
	}
	return nil
}

func checkDispose(req DisposeRequest) error {
	if !slices.Contains(DisposalMethods, req.Method) {
		return fmt.Errorf("unknown disposal method %q: use deleted, media-sanitized or not-ours", catalog.Truncate(req.Method, 40))
	}
	if req.Note == "" {
		return errors.New("a note saying what was done is required")
	}
	return catalog.CheckText("note", req.Note, 1024)
}

// disposable refuses a disposal of b's original that its records do not
// support. A status record with no registration is refused: the admin
// writes it, and its path and SHA-256 could name another backup's
// original, perhaps the last copy of data whose ciphertext was lost.
func disposable(b *catalog.Backup) error {
	switch {
	case !b.Registered:
		return errs.Refusedf("backup %s has no registration (it was never completely protected or registered): what its status record says of an original is not acted on", b.ID)
	case b.Original == nil || !b.Original.EncryptedAfterFirstStorage:
		return errs.Refusedf("backup %s has no plaintext original on record", b.ID)
	case b.Original.Disposal != nil:
		return errs.Refusedf("the original of backup %s was already recorded as %s at %s by %s", b.ID,
			b.Original.Disposal.Method, b.Original.Disposal.At.Format("2006-01-02T15:04:05Z07:00"), b.Original.Disposal.By)
	}
	return nil
}

func newDisposal(actor Actor, req DisposeRequest) (*catalog.Disposal, error) {
	d := &catalog.Disposal{Method: req.Method, At: catalog.Now(), By: actor.String(), Note: req.Note}
	if req.Evidence == "" {
		return d, nil
	}
	sum, _, err := fsutil.FileSHA256(req.Evidence)
	if err != nil {
		return nil, fmt.Errorf("failed to read the evidence: %w", err)
	}
	d.Evidence = &catalog.DocumentRef{Name: filepath.Base(req.Evidence), SHA256: sum}
	return d, nil
}

// deleteOriginal removes the original only if it is the file protect
// encrypted: a regular file, not a symbolic link, with the SHA-256 its
// write-once registration records and no other name, and removes that
// very file. One that is already gone is reported as absent, so that the
// record says so.
func deleteOriginal(o *catalog.Original) (absent bool, err error) {
	if o.Path == "" {
		return false, nil // a registered file's original is not known here: the operator declares it deleted
	}
	if o.SHA256 == "" {
		return false, errs.Refusedf("the original's digest is not on record, so %s cannot be recognised and is not deleted", o.Path)
	}
	err = fsutil.RemoveChecked(o.Path, func(r io.Reader) error {
		hr := fsutil.NewHashingReader(r)
		if err := notACiphertext(hr); err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, hr); err != nil {
			return err
		}
		if sum := hr.Sum(); sum != o.SHA256 {
			return fmt.Errorf("it has changed since it was protected (sha256 %s, recorded %s)", sum, o.SHA256)
		}
		return nil
	})
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return true, nil
	case errors.Is(err, fsutil.ErrNotRemovable):
		return false, errs.Refusedf("not deleting the original: %v", err)
	case err != nil:
		return false, fmt.Errorf("failed to delete the original: %w", err)
	}
	return false, fsutil.SyncDir(filepath.Dir(o.Path))
}

// notACiphertext refuses a file whose age header (read from r, which is
// left past it) wraps a file key to a cryptoshred key: a backup's
// ciphertext, which a registration can name as an original just as it
// names its digest (both are readable by every role), or which a backup
// protected again took as its original. Deleted as an original, it would
// be lost while its key lives, though no one decided to destroy it.
func notACiphertext(r io.Reader) error {
	stanzas, err := agefile.HeaderStanzas(r)
	if errors.Is(err, agefile.ErrUnread) {
		return err
	}
	for _, st := range stanzas {
		if st.Type == agefile.StanzaType {
			return errors.New("it is a cryptoshred ciphertext (its age header wraps a key held in Vault), never a plaintext original")
		}
	}
	return nil
}

func (s *Service) recordDisposal(ctx context.Context, actor Actor, id string, d *catalog.Disposal) (*catalog.Backup, error) {
	b, err := s.catalog.UpdateBackup(ctx, id, func(b *catalog.Backup) error {
		if err := disposable(b); err != nil {
			return err
		}
		b.Original.Disposal = d
		return nil
	})
	if err != nil {
		return nil, err
	}
	details := map[string]string{"method": d.Method, "note": d.Note}
	if d.Evidence != nil {
		details["evidenceSha256"] = d.Evidence.SHA256
	}
	_, err = s.ledger.Append(ctx, actor.String(), ledger.Event{Kind: ledger.KindOriginalDisposed, Backups: []string{id}, Details: details})
	return b, err
}
