package shred

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/cryptoshred/cryptoshred/attest"
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
// and still has the SHA-256 protect recorded (otherwise it refuses), and
// syncs the directory; the other methods record the operator's declaration.
// A disposal is recorded once.
func (v *Vault) DisposeOriginal(ctx context.Context, actor Actor, req DisposeRequest) (*Backup, error) {
	if err := checkDispose(req); err != nil {
		return nil, err
	}
	b, _, err := v.GetBackup(ctx, req.ID)
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
		if err := deleteOriginal(b.Original); err != nil {
			return nil, err
		}
	}
	return v.recordDisposal(ctx, actor, b.ID, d)
}

func checkDispose(req DisposeRequest) error {
	if !slices.Contains(DisposalMethods, req.Method) {
		return fmt.Errorf("unknown disposal method %q: use deleted, media-sanitized or not-ours", truncate(req.Method, 40))
	}
	if req.Note == "" {
		return errors.New("a note saying what was done is required")
	}
	return CheckText("note", req.Note, 1024)
}

func disposable(b *Backup) error {
	switch {
	case b.Original == nil || !b.Original.EncryptedAfterFirstStorage:
		return refusedf("backup %s has no plaintext original on record", b.ID)
	case b.Original.Disposal != nil:
		return refusedf("the original of backup %s was already recorded as %s at %s by %s", b.ID,
			b.Original.Disposal.Method, b.Original.Disposal.At.Format("2006-01-02T15:04:05Z07:00"), b.Original.Disposal.By)
	}
	return nil
}

func newDisposal(actor Actor, req DisposeRequest) (*Disposal, error) {
	d := &Disposal{Method: req.Method, At: now(), By: actor.String(), Note: req.Note}
	if req.Evidence == "" {
		return d, nil
	}
	sum, _, err := FileSHA256(req.Evidence)
	if err != nil {
		return nil, fmt.Errorf("failed to read the evidence: %w", err)
	}
	d.Evidence = &DocumentRef{Name: filepath.Base(req.Evidence), SHA256: sum}
	return d, nil
}

// deleteOriginal removes the original only if it is the file protect
// encrypted; one that is already gone is fine.
func deleteOriginal(o *Original) error {
	sum, _, err := FileSHA256(o.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if sum != o.SHA256 {
		return refusedf("%s has changed since it was protected (sha256 %s, recorded %s): not deleting it", o.Path, sum, o.SHA256)
	}
	if err := os.Remove(o.Path); err != nil {
		return fmt.Errorf("failed to delete the original: %w", err)
	}
	return syncDir(filepath.Dir(o.Path))
}

func (v *Vault) recordDisposal(ctx context.Context, actor Actor, id string, d *Disposal) (*Backup, error) {
	b, err := v.UpdateBackup(ctx, id, func(b *Backup) error {
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
	_, err = v.Append(ctx, actor.String(), Event{Event: EventOriginalDisposed, Backups: []string{id}, Details: details})
	return b, err
}
