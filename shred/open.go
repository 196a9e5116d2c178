package shred

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"filippo.io/age"
)

// ErrTampered marks a ciphertext whose digest differs from the catalog's.
var ErrTampered = errors.New("ciphertext does not match its catalog digest (tampered, truncated or replaced)")

// Decrypt streams the age file src to dst, accepting only a stanza that
// names the Transit key name. dst may receive data before a later chunk
// fails to authenticate; callers that need all-or-nothing write to a
// temporary file (see OpenBackup).
func (v *Vault) Decrypt(ctx context.Context, name string, src io.Reader, dst io.Writer) error {
	r, err := age.Decrypt(src, NewIdentity(ctx, v, name))
	if err != nil {
		return fmt.Errorf("failed to decrypt: %w", err)
	}
	if _, err := io.CopyBuffer(dst, r, make([]byte, copyBufferSize)); err != nil {
		return fmt.Errorf("failed to decrypt: %w", err)
	}
	return nil
}

// OpenRequest asks to restore one backup for a documented purpose.
type OpenRequest struct {
	ID      string
	Purpose string
	Output  string // file to create; must not exist
}

// OpenBackup decrypts a backup into req.Output. The access is written to
// the ledger before the key is unwrapped, so no open goes unrecorded. The
// output appears only once every byte authenticated and the ciphertext
// matched its catalog digest.
func (v *Vault) OpenBackup(ctx context.Context, actor Actor, req OpenRequest) (*Backup, error) {
	b, err := v.checkOpen(ctx, req)
	if err != nil {
		return nil, err
	}
	out, err := createAtomic(req.Output)
	if err != nil {
		return nil, err
	}
	defer out.Abort()
	if err := v.recordOpen(ctx, actor, b, req.Purpose); err != nil {
		return nil, err
	}
	if err := v.decryptFile(ctx, b, out); err != nil {
		return nil, err
	}
	return b, out.Commit()
}

func (v *Vault) checkOpen(ctx context.Context, req OpenRequest) (*Backup, error) {
	if req.Purpose == "" {
		return nil, errors.New("a purpose is required to open a backup")
	}
	if err := CheckText("purpose", req.Purpose, 1024); err != nil {
		return nil, err
	}
	b, _, err := v.GetBackup(ctx, req.ID)
	if err != nil {
		return nil, err
	}
	if err := v.require(ctx, PolicyAdmin, v.mounts.Transit+"/decrypt/"+b.Key, "update"); err != nil {
		return nil, err
	}
	switch b.State {
	case StateShredded, StateDestroying:
		return nil, fmt.Errorf("backup %s is %s: %w", b.ID, b.State, ErrKeyDestroyed)
	case StateProtecting, StateFailed:
		return nil, fmt.Errorf("backup %s was never completely protected (state %s)", b.ID, b.State)
	}
	return b, nil
}

func (v *Vault) recordOpen(ctx context.Context, actor Actor, b *Backup, purpose string) error {
	_, err := v.Append(ctx, actor.String(), Event{Event: EventBackupOpened, Backups: []string{b.ID},
		Details: map[string]string{"purpose": purpose}})
	if err != nil {
		return fmt.Errorf("failed to record the access in the ledger, so the backup was not opened: %w", err)
	}
	return nil
}

// decryptFile decrypts b's ciphertext into w and checks the ciphertext
// digest against the catalog.
func (v *Vault) decryptFile(ctx context.Context, b *Backup, w io.Writer) error {
	f, err := os.Open(b.Ciphertext.Path)
	if err != nil {
		return fmt.Errorf("failed to open the ciphertext of %s: %w", b.ID, err)
	}
	defer f.Close()
	hr := newHashingReader(f)
	if err := v.Decrypt(ctx, b.Key, hr, w); err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, hr); err != nil {
		return fmt.Errorf("failed to read %s: %w", b.Ciphertext.Path, err)
	}
	if hr.sum() != b.Ciphertext.SHA256 {
		return fmt.Errorf("%s: %w", b.Ciphertext.Path, ErrTampered)
	}
	return nil
}
