package shred

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"filippo.io/age"
)

// Digests are the sizes and SHA-256 sums of one encryption pass.
type Digests struct {
	Plaintext  FileInfo
	Ciphertext FileInfo
}

const copyBufferSize = 1 << 20

// Encrypt streams src through age to dst, wrapping the file key with the
// Transit key name, and returns the size and SHA-256 of both sides,
// computed in the same pass. Hashing and writing run on their own
// goroutines beside the encryption; memory use is constant.
func (v *Vault) Encrypt(ctx context.Context, name string, src io.Reader, dst io.Writer) (Digests, error) {
	plain, cipher := newAsyncDigest(nil), newAsyncDigest(dst)
	err := encryptTo(ctx, v, name, src, plain, cipher)
	perr, cerr := plain.Close(), cipher.Close()
	if err = errors.Join(err, perr, cerr); err != nil {
		return Digests{}, err
	}
	return Digests{
		Plaintext:  FileInfo{Size: plain.n, SHA256: plain.sum()},
		Ciphertext: FileInfo{Size: cipher.n, SHA256: cipher.sum()},
	}, nil
}

func encryptTo(ctx context.Context, v *Vault, name string, src io.Reader, plain *asyncDigest, dst io.Writer) error {
	w, err := age.Encrypt(dst, NewRecipient(ctx, v, name))
	if err != nil {
		return fmt.Errorf("failed to start encryption: %w", err)
	}
	if err := plain.feed(src, w); err != nil {
		return fmt.Errorf("failed to encrypt: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("failed to finish encryption: %w", err)
	}
	return nil
}

// ProtectRequest describes one file to protect.
type ProtectRequest struct {
	Source      string // plaintext file; never modified or deleted
	OutDir      string // where NAME.age is written
	System      string
	Controllers []string
	Categories  []string
	Labels      map[string]string
}

// Validate checks the request's metadata against the catalog's rules.
func (r *ProtectRequest) Validate() error {
	if r.System != "" && !ValidID(r.System) {
		return fmt.Errorf("invalid system name %q: use 1 to 128 letters, digits, '.', '_' or '-'", truncate(r.System, 40))
	}
	for _, c := range r.Controllers {
		if err := CheckText("controller", c, 256); err != nil || c == "" {
			return fmt.Errorf("invalid controller %q", truncate(c, 40))
		}
	}
	for _, c := range r.Categories {
		if !ValidCategory(c) {
			return fmt.Errorf("unknown category %q: use one of %s", truncate(c, 40), strings.Join(Categories, ", "))
		}
	}
	return checkLabels(r.Labels)
}

func checkLabels(labels map[string]string) error {
	for k, val := range labels {
		if !ValidID(k) {
			return fmt.Errorf("invalid label key %q", truncate(k, 40))
		}
		if err := CheckText("label "+k, val, 256); err != nil {
			return err
		}
	}
	return nil
}

// CheckText rejects free text that is too long, is not UTF-8, or holds
// control or format characters (such as bidirectional overrides), so
// catalog fields print safely on a terminal.
func CheckText(what, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%s is longer than %d bytes", what, max)
	}
	if !utf8.ValidString(s) || strings.IndexFunc(s, unsafeRune) >= 0 {
		return fmt.Errorf("%s contains control characters or invalid UTF-8", what)
	}
	return nil
}

func unsafeRune(r rune) bool { return unicode.In(r, unicode.Cc, unicode.Cf) }

// Protect encrypts req.Source into req.OutDir under a new per-backup key
// and registers it in the catalog. The catalog entry is written first, as
// an intent, so a crash leaves a visible "protecting" entry rather than an
// unknown key or file.
func (v *Vault) Protect(ctx context.Context, actor Actor, req ProtectRequest) (*Backup, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	orig, err := statOriginal(req.Source)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(req.OutDir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("output directory %s does not exist or is not a directory", req.OutDir)
	}
	if err := v.requireAdmin(ctx, "update"); err != nil {
		return nil, err
	}
	b, err := v.startProtect(ctx, actor, req, orig)
	if err != nil {
		return nil, err
	}
	if err := v.protectData(ctx, b, req.Source); err != nil {
		v.markFailed(ctx, b.ID, err)
		return nil, err
	}
	return v.finishProtect(ctx, actor, b)
}

// startProtect registers a new backup, or resumes the unfinished protect
// whose output is already in place: one that wrote its ciphertext but
// could not record it (Vault went away), so a re-run completes the work.
func (v *Vault) startProtect(ctx context.Context, actor Actor, req ProtectRequest, orig *Original) (*Backup, error) {
	b := newBackup(actor, req, orig)
	if _, err := os.Lstat(b.Ciphertext.Path); err == nil {
		return v.resumeProtect(ctx, b.Ciphertext.Path, orig)
	}
	if _, err := v.PutBackup(ctx, b, 0); err != nil {
		return nil, fmt.Errorf("failed to register backup: %w", err)
	}
	return b, nil
}

func (v *Vault) resumeProtect(ctx context.Context, path string, orig *Original) (*Backup, error) {
	unfinished, err := v.ListBackups(ctx, BackupFilter{State: StateProtecting})
	if err != nil {
		return nil, err
	}
	for _, b := range unfinished {
		if b.Ciphertext.Path == path {
			if err := os.Remove(path); err != nil {
				return nil, fmt.Errorf("failed to remove the unfinished output of %s: %w", b.ID, err)
			}
			b.Original = orig
			return b, nil
		}
	}
	return nil, fmt.Errorf("%s already exists: refusing to overwrite it", path)
}

func statOriginal(path string) (*Original, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("failed to read %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	return &Original{
		FileInfo:                   FileInfo{Path: abs, Size: st.Size(), Mtime: st.ModTime().UTC()},
		EncryptedAfterFirstStorage: true,
	}, nil
}

func newBackup(actor Actor, req ProtectRequest, orig *Original) *Backup {
	id := NewBackupID()
	name := filepath.Base(req.Source) + ".age"
	out, _ := filepath.Abs(filepath.Join(req.OutDir, name))
	return &Backup{
		ID: id, Name: name, System: req.System, Controllers: req.Controllers,
		Categories: req.Categories, Labels: req.Labels, State: StateProtecting,
		Key: id, Ciphertext: FileInfo{Path: out}, Original: orig,
		CreatedAt: now(), CreatedBy: actor.String(),
	}
}

// protectData creates the key and writes the ciphertext, filling in b's
// digests.
func (v *Vault) protectData(ctx context.Context, b *Backup, source string) error {
	if err := v.ensureKey(ctx, b.Key); err != nil {
		return err
	}
	src, err := os.Open(source)
	if err != nil {
		return fmt.Errorf("failed to open %s: %w", source, err)
	}
	defer src.Close()
	out, err := createAtomic(b.Ciphertext.Path)
	if err != nil {
		return err
	}
	defer out.Abort()
	d, err := v.Encrypt(ctx, b.Key, src, out)
	if err != nil {
		return err
	}
	b.Plaintext, b.Original.SHA256 = d.Plaintext, d.Plaintext.SHA256
	b.Ciphertext.Size, b.Ciphertext.SHA256 = d.Ciphertext.Size, d.Ciphertext.SHA256
	return out.Commit()
}

func (v *Vault) finishProtect(ctx context.Context, actor Actor, b *Backup) (*Backup, error) {
	done := *b
	done.State = StateProtected
	if _, err := v.UpdateBackup(ctx, b.ID, func(cur *Backup) error {
		*cur = done
		return nil
	}); err != nil {
		return nil, fmt.Errorf("backup %s encrypted to %s but not registered: %w", b.ID, b.Ciphertext.Path, err)
	}
	_, err := v.Append(ctx, actor.String(), Event{Event: EventBackupProtected, Backups: []string{b.ID},
		Details: map[string]string{"sha256": b.Ciphertext.SHA256, "system": b.System}})
	return &done, err
}

// markFailed records why protecting b failed; best effort, since the
// original error is what the caller needs.
func (v *Vault) markFailed(ctx context.Context, id string, cause error) {
	if errors.Is(cause, ErrVaultUnavailable) {
		return
	}
	_, _ = v.UpdateBackup(ctx, id, func(b *Backup) error {
		b.State, b.FailedReason = StateFailed, truncate(cause.Error(), 500)
		return nil
	})
}
