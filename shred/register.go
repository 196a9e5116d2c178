package shred

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// EventBackupRegistered is the ledger event of a backup adopted by
// Register: an age file made outside cryptoshred (by the age CLI with
// age-plugin-cryptoshred) whose only recipient is a cryptoshred key.
const EventBackupRegistered = "backup.registered"

// RegisterRequest describes one age file to adopt as a backup.
type RegisterRequest struct {
	File        string // the age file; read, never modified
	System      string
	Controllers []string
	Categories  []string
	Labels      map[string]string
}

// Validate checks the request's metadata with the rules of protect.
func (r *RegisterRequest) Validate() error {
	p := ProtectRequest{System: r.System, Controllers: r.Controllers, Categories: r.Categories, Labels: r.Labels}
	return p.Validate()
}

// Register adopts an age file whose only recipient is a cryptoshred
// per-backup key as a protected backup; its id is the key's name. It
// reads the header without decrypting anything, and refuses a file that
// could be decrypted without that key, a key that is not in Vault or not
// honestly shreddable, and a key that is already a backup. The
// plaintext's history is unknown, so the original is recorded as having
// existed before encryption, with no path, until dispose-original records
// what became of it.
func (v *Vault) Register(ctx context.Context, actor Actor, req RegisterRequest) (*Backup, error) {
	b, err := v.checkRegister(ctx, req)
	if err != nil {
		return nil, err
	}
	fillRegistered(b, actor, req)
	if err := v.putRegistered(ctx, b); err != nil {
		return nil, err
	}
	_, err = v.Append(ctx, actor.String(), Event{Event: EventBackupRegistered, Backups: []string{b.ID},
		Details: map[string]string{"sha256": b.Ciphertext.SHA256, "system": b.System, "file": b.Name}})
	return b, err
}

// checkRegister checks the request, the token and the file, and returns
// the backup's key name and ciphertext.
func (v *Vault) checkRegister(ctx context.Context, req RegisterRequest) (*Backup, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if err := v.requireAdmin(ctx, "read"); err != nil {
		return nil, err
	}
	b, err := inspectAgeFile(req.File)
	if err != nil {
		return nil, err
	}
	return b, v.checkRegisterKey(ctx, b.Key)
}

// inspectAgeFile reads path once: its header names the key, and the whole
// file gives the ciphertext's size and SHA-256.
func inspectAgeFile(path string) (*Backup, error) {
	f, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	hr := newHashingReader(f)
	key, err := headerKey(hr)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(io.Discard, hr); err != nil {
		return nil, fmt.Errorf("failed to read %s: %w", path, err)
	}
	return &Backup{ID: key, Key: key, Ciphertext: FileInfo{Path: f.Name(), Size: hr.n, SHA256: hr.sum()}}, nil
}

func headerKey(r io.Reader) (string, error) {
	stanzas, err := HeaderStanzas(r)
	if err != nil {
		return "", err
	}
	return RegistrableKey(stanzas)
}

// openRegular opens path, a regular file, by its absolute name.
func openRegular(path string) (*os.File, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("failed to read %s: %w", path, err)
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return f, nil
}

// maxArmorLead is how much leading whitespace an armored file may have,
// as age itself allows.
const maxArmorLead = 1024

// HeaderStanzas returns the recipient stanzas of the age file r (binary
// or armored) without decrypting it: age parses the header (at most
// 2 MiB) and hands its stanzas to an identity that records them and
// unwraps nothing. r is left somewhere past the header.
func HeaderStanzas(r io.Reader) ([]*age.Stanza, error) {
	rec := &stanzaRecorder{}
	_, err := age.Decrypt(dearmor(r), rec)
	if rec.stanzas == nil {
		return nil, fmt.Errorf("not an age file: %w", err)
	}
	return rec.stanzas, nil
}

func dearmor(r io.Reader) io.Reader {
	br := bufio.NewReader(r)
	start, _ := br.Peek(maxArmorLead + len(armor.Header))
	if bytes.HasPrefix(bytes.TrimSpace(start), []byte(armor.Header)) {
		return armor.NewReader(br)
	}
	return br
}

// stanzaRecorder is an age.Identity that keeps the stanzas it is shown
// and never unwraps a file key.
type stanzaRecorder struct{ stanzas []*age.Stanza }

// Unwrap implements age.Identity.
func (s *stanzaRecorder) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	s.stanzas = slices.Clone(stanzas)
	return nil, age.ErrIncorrectIdentity
}

// RegistrableKey returns the per-backup key an age file's stanzas are
// wrapped to. It refuses any other stanza (whoever holds that identity
// could decrypt the file after the key is destroyed), more than one key,
// and a key name that is not a backup id ("bk-...").
func RegistrableKey(stanzas []*age.Stanza) (string, error) {
	for _, s := range stanzas {
		if s.Type != StanzaType {
			return "", refusedf("the file also has a %q recipient stanza: it can be decrypted without Vault, so destroying its key would not erase it", truncate(s.Type, 40))
		}
	}
	if len(stanzas) != 1 {
		return "", refusedf("the file is wrapped to %d cryptoshred keys: a backup has exactly one", len(stanzas))
	}
	key, _, err := ParseStanza(stanzas[0])
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(key, "bk-") || !ValidID(key) {
		return "", refusedf("key %s is not a per-backup key (its name must start with \"bk-\"): encrypt to a fresh key with the age plugin's \"new\" recipient", key)
	}
	return key, nil
}

// checkRegisterKey refuses a key that is missing, may exist outside
// Vault, already allows deletion (which would bypass holds), or is not of
// the backup key type.
func (v *Vault) checkRegisterKey(ctx context.Context, name string) error {
	info, err := v.KeyInfo(ctx, name)
	switch {
	case err != nil:
		return err
	case info == nil:
		return refusedf("key %s is not in Vault (never created, or destroyed): the file cannot be registered", name)
	case info.Shreddable() != nil:
		return info.Shreddable()
	case info.DeletionAllowed:
		return refusedf("key %s already allows deletion: registering it would bypass holds", name)
	case info.Type != KeyType:
		return refusedf("key %s is of type %s, not %s", name, info.Type, KeyType)
	}
	return nil
}

func fillRegistered(b *Backup, actor Actor, req RegisterRequest) {
	b.Name = filepath.Base(b.Ciphertext.Path)
	b.System, b.Controllers, b.Categories, b.Labels = req.System, req.Controllers, req.Categories, req.Labels
	b.State = StateProtected
	b.Original = &Original{EncryptedAfterFirstStorage: true}
	b.CreatedAt, b.CreatedBy = now(), actor.String()
}

// putRegistered writes the new catalog entry; one that exists already is
// a refusal, so a key is registered once.
func (v *Vault) putRegistered(ctx context.Context, b *Backup) error {
	_, err := v.PutBackup(ctx, b, 0)
	if errors.Is(err, ErrConflict) {
		return refusedf("backup %s is already in the catalog: a key is registered once", b.ID)
	}
	if err != nil {
		return fmt.Errorf("failed to register backup: %w", err)
	}
	return nil
}
