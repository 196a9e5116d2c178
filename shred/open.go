package shred

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/cryptoshred/cryptoshred/internal/ctxio"
	"github.com/cryptoshred/cryptoshred/internal/fsutil"
	"github.com/cryptoshred/cryptoshred/shred/agefile"
	"github.com/cryptoshred/cryptoshred/shred/audit"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
)

// RestoreRequest asks to restore one backup for a documented purpose.
type RestoreRequest struct {
	ID      string
	Purpose string
	Output  string // file to create; must not exist
	// Writer, if set, receives the plaintext instead of a file (a pipe
	// to pg_restore, say); Output then only names it for the ledger.
	// Each chunk is written once it has authenticated, so a failure
	// leaves a truncated stream and an error, as age -d does.
	Writer io.Writer
	// Progress, if set, is called as the ciphertext is read with the
	// bytes read so far and its size.
	Progress func(done, total int64)
}

// maxOutputName is the longest output name an open records: a longer
// path is refused, not cut, so the ledger names the copy exactly and
// dispose-restore of the same path matches it.
const maxOutputName = 1024

// outputName is where the plaintext goes, as the ledger records it.
func (r RestoreRequest) outputName() string {
	if r.Writer != nil {
		return streamOutput
	}
	if abs, err := filepath.Abs(r.Output); err == nil {
		return abs
	}
	return r.Output
}

// Restore decrypts a backup into req.Output (or req.Writer). The access,
// with the purpose and where the plaintext goes, is written to the ledger
// before the key is unwrapped, so no open goes unrecorded. A file output
// appears only once every byte authenticated and the ciphertext matched
// its catalog digest, and never after ctx is done (restoreFile).
func (s *Service) Restore(ctx context.Context, actor Actor, req RestoreRequest) (*catalog.Backup, error) {
	b, err := s.checkRestore(ctx, req)
	if err != nil {
		return nil, err
	}
	if req.Writer != nil {
		entry, err := s.recordOpen(ctx, actor, b, req)
		if err != nil {
			return nil, err
		}
		return b, s.decryptFile(audit.WithLedgerEntry(ctx, entry.Hash), b, req.Writer, req.Progress)
	}
	if err := s.restoreFile(ctx, actor, b, req); err != nil {
		return nil, err
	}
	return b, nil
}

// restoreFile decrypts b into a temporary file that becomes req.Output
// only once every byte authenticated, and only if ctx is still live: an
// interrupted open commits no plaintext, and its temporary file goes.
func (s *Service) restoreFile(ctx context.Context, actor Actor, b *catalog.Backup, req RestoreRequest) error {
	out, err := fsutil.Create(req.Output)
	if err != nil {
		return err
	}
	defer out.Abort()
	entry, err := s.recordOpen(ctx, actor, b, req)
	if err != nil {
		return err
	}
	// The key store names the entry in its audit log (a Vault request
	// header), so the unwrap is matched with its purpose exactly.
	if err := s.decryptFile(audit.WithLedgerEntry(ctx, entry.Hash), b, out, req.Progress); err != nil {
		return err
	}
	if err := ctxio.Interrupted(ctx); err != nil {
		return err
	}
	return out.Commit()
}

func (s *Service) checkRestore(ctx context.Context, req RestoreRequest) (*catalog.Backup, error) {
	if req.Purpose == "" {
		return nil, errors.New("a purpose is required to open a backup")
	}
	if err := catalog.CheckText("purpose", req.Purpose, 1024); err != nil {
		return nil, err
	}
	if name := req.outputName(); len(name) > maxOutputName {
		return nil, fmt.Errorf("the output path is %d bytes long, more than the %d the ledger records of it: give a shorter one", len(name), maxOutputName)
	}
	b, _, err := s.catalog.GetBackup(ctx, req.ID)
	if err != nil {
		return nil, err
	}
	if err := s.guard.RequireDecrypt(ctx, b.Key); err != nil {
		return nil, err
	}
	if !b.Registered {
		return nil, fmt.Errorf("backup %s was never completely protected (state %s)", b.ID, b.State)
	}
	// The status record may lie either way, and a run stopped between a
	// key's deletion and its shredded status leaves it saying released:
	// Vault says whether the key exists, before an open is recorded.
	if key, err := s.keys.KeyInfo(ctx, b.Key); err != nil || key == nil {
		return nil, errors.Join(err, fmt.Errorf("backup %s (status %s): %w", b.ID, b.State, errs.ErrKeyDestroyed))
	}
	return b, nil
}

func (s *Service) recordOpen(ctx context.Context, actor Actor, b *catalog.Backup, req RestoreRequest) (*ledger.Entry, error) {
	e, err := s.ledger.Append(ctx, actor.String(), ledger.Event{Kind: ledger.KindBackupOpened, Backups: []string{b.ID},
		Details: map[string]string{"purpose": req.Purpose, "output": req.outputName()}})
	if err != nil {
		return nil, fmt.Errorf("failed to record the access in the ledger, so the backup was not opened: %w", err)
	}
	return e, nil
}

// decryptFile decrypts b's ciphertext into w and checks the ciphertext
// digest against the catalog.
func (s *Service) decryptFile(ctx context.Context, b *catalog.Backup, w io.Writer, progress func(done, total int64)) error {
	be, err := s.storage.For(b.Ciphertext.Path)
	if err != nil {
		return err
	}
	f, err := be.Open(ctx, b.Ciphertext.Path)
	if err != nil {
		return fmt.Errorf("failed to open the ciphertext of %s: %w", b.ID, err)
	}
	defer f.Close()
	hr := fsutil.NewHashingReader(withProgress(f, b.Ciphertext.Size, progress))
	if err := agefile.Decrypt(ctx, s.keys, b.Key, hr, w); err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, hr); err != nil {
		return fmt.Errorf("failed to read %s: %w", b.Ciphertext.Path, err)
	}
	if hr.Sum() != b.Ciphertext.SHA256 {
		return fmt.Errorf("%s: %w", b.Ciphertext.Path, ErrTampered)
	}
	return nil
}
