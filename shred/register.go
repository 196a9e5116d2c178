package shred

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/cryptoshred/cryptoshred/internal/fsutil"
	"github.com/cryptoshred/cryptoshred/shred/agefile"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
	"github.com/cryptoshred/cryptoshred/shred/storage"
)

// RegisterRequest describes one age file to adopt as a backup.
type RegisterRequest struct {
	File        string // the age file; read, never modified
	System      string
	Controllers []string
	Categories  []string
	Labels      map[string]string
	// NoStorageHold allows an object in an S3 bucket without Object
	// Lock, where no hold can protect the ciphertext.
	NoStorageHold bool
}

// Validate checks the request's metadata with the rules of protect.
func (r *RegisterRequest) Validate() error {
	return catalog.Metadata{System: r.System, Controllers: r.Controllers, Categories: r.Categories, Labels: r.Labels}.Validate()
}

// Register adopts an age file whose only recipient is a cryptoshred
// per-backup key as a protected backup; its id is the key's name. It
// reads the header without decrypting anything, and refuses a file that
// could be decrypted without that key, a key that is not in Vault or not
// honestly shreddable, and a key that is already a backup. The
// plaintext's history is unknown, so the original is recorded as having
// existed before encryption, with no path, until dispose-original records
// what became of it. A register stopped after the registration, before
// the status record, leaves a backup that holds take as its registration
// has it (catalog.GetBackupOrRegistration); running it again writes the
// status.
func (s *Service) Register(ctx context.Context, actor Actor, req RegisterRequest) (*catalog.Backup, error) {
	b, err := s.checkRegister(ctx, req)
	if err != nil {
		return nil, err
	}
	fillRegistered(b, actor, req)
	if err := s.catalog.PutRegistration(ctx, catalog.NewRegistration(b)); err != nil {
		return nil, err
	}
	b.Registered = true
	if err := s.putRegistered(ctx, b); err != nil {
		return nil, err
	}
	_, err = s.ledger.Append(ctx, actor.String(), ledger.Event{Kind: ledger.KindBackupRegistered, Backups: []string{b.ID},
		Details: map[string]string{"sha256": b.Ciphertext.SHA256, "system": b.System, "file": b.Name}})
	return b, err
}

// checkRegister checks the request, the token and the file, and returns
// the backup's key name and ciphertext.
func (s *Service) checkRegister(ctx context.Context, req RegisterRequest) (*catalog.Backup, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if err := s.guard.RequireAdmin(ctx, "read"); err != nil {
		return nil, err
	}
	inspect := inspectAgeFile
	if strings.HasPrefix(req.File, "s3://") {
		inspect = func(loc string) (*catalog.Backup, error) { return s.inspectStoredObject(ctx, loc, req.NoStorageHold) }
	}
	b, err := inspect(req.File)
	if err != nil {
		return nil, err
	}
	return b, s.checkRegisterKey(ctx, b.Key)
}

// inspectAgeFile reads path once: its header names the key, and the whole
// file gives the ciphertext's size and SHA-256.
func inspectAgeFile(path string) (*catalog.Backup, error) {
	f, err := fsutil.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return inspectAge(f, f.Name())
}

// inspectAge reads the age file at loc from r: the key its header names,
// and the size and SHA-256 of the whole file.
func inspectAge(r io.Reader, loc string) (*catalog.Backup, error) {
	hr := fsutil.NewHashingReader(r)
	key, err := agefile.HeaderKey(hr)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(io.Discard, hr); err != nil {
		return nil, fmt.Errorf("failed to read %s: %w", loc, err)
	}
	return &catalog.Backup{ID: key, Key: key, Ciphertext: catalog.FileInfo{Path: loc, Size: hr.N, SHA256: hr.Sum()}}, nil
}

// checkRegisterKey refuses a key that is missing, may exist outside
// Vault, already allows deletion (which would bypass holds), or is not of
// the backup key type.
func (s *Service) checkRegisterKey(ctx context.Context, name string) error {
	info, err := s.keys.KeyInfo(ctx, name)
	switch {
	case err != nil:
		return err
	case info == nil:
		return errs.Refusedf("key %s is not in Vault (never created, or destroyed): the file cannot be registered", name)
	case info.Shreddable() != nil:
		return info.Shreddable()
	case info.DeletionAllowed:
		return errs.Refusedf("key %s already allows deletion: registering it would bypass holds", name)
	case info.Type != KeyType:
		return errs.Refusedf("key %s is of type %s, not %s", name, info.Type, KeyType)
	}
	return nil
}

func fillRegistered(b *catalog.Backup, actor Actor, req RegisterRequest) {
	name, _, _ := strings.Cut(b.Ciphertext.Path, "?") // an S3 location's versionId
	b.Name = filepath.Base(name)
	b.System, b.Controllers, b.Categories, b.Labels = req.System, req.Controllers, req.Categories, req.Labels
	b.State = catalog.StateProtected
	b.Original = &catalog.Original{EncryptedAfterFirstStorage: true}
	b.CreatedAt, b.CreatedBy = catalog.Now(), actor.String()
}

// putRegistered writes the new catalog entry; one that exists already is
// a refusal, so a key is registered once.
func (s *Service) putRegistered(ctx context.Context, b *catalog.Backup) error {
	_, err := s.catalog.PutBackup(ctx, b, 0)
	if errors.Is(err, errs.ErrConflict) {
		return errs.Refusedf("backup %s is already in the catalog: a key is registered once", b.ID)
	}
	if err != nil {
		return fmt.Errorf("failed to register backup: %w", err)
	}
	return nil
}

// inspectStoredObject is inspectAgeFile for an object in storage: it pins
// the object's current version, so the registration names exactly what
// was read. As protect, it refuses a bucket that cannot hold the object
// unless unheldAllowed.
func (s *Service) inspectStoredObject(ctx context.Context, loc string, unheldAllowed bool) (*catalog.Backup, error) {
	be, err := s.storage.For(loc)
	if err != nil {
		return nil, err
	}
	if err := requireHoldable(ctx, be, loc, loc, unheldAllowed); err != nil {
		return nil, err
	}
	if p, ok := be.(storage.Pinner); ok {
		if loc, err = p.Pin(ctx, loc); err != nil {
			return nil, err
		}
	}
	r, err := be.Open(ctx, loc)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return inspectAge(r, loc)
}
