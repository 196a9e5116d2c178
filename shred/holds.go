package shred

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Hold is one case's hold on one backup, stored at KV holds/<case>/<backup>.
type Hold struct {
	Case       string    `json:"case"`
	Backup     string    `json:"backup"`
	PlacedAt   time.Time `json:"placedAt"`
	PlacedBy   string    `json:"placedBy"`
	ReleasedAt time.Time `json:"releasedAt,omitzero"`
	ReleasedBy string    `json:"releasedBy,omitempty"`
}

func holdPath(caseID, backupID string) string { return "holds/" + caseID + "/" + backupID }

// HoldSelector picks the backups to hold: explicit ids, or every backup of
// a system that can still be held (optionally made before a time: the
// original's modification time, or the protect time when unknown).
type HoldSelector struct {
	IDs           []string
	System        string
	CreatedBefore time.Time
}

// PlaceHolds holds the selected backups for an open case. A held backup's
// key keeps deletion_allowed=false in Vault, which the admin role cannot
// change: Vault, not this code, stops its deletion.
func (v *Vault) PlaceHolds(ctx context.Context, actor Actor, caseID string, sel HoldSelector) ([]string, error) {
	c, _, err := v.GetCase(ctx, caseID)
	if err != nil {
		return nil, err
	}
	if c.State != CaseOpen {
		return nil, refusedf("case %s is %s: holds can only be placed on an open case", caseID, c.State)
	}
	if err := v.requireCompliance(ctx); err != nil {
		return nil, err
	}
	ids, err := v.selectBackups(ctx, sel)
	if err != nil {
		return nil, err
	}
	held, failed := forEach(ctx, ids, 16, func(ctx context.Context, id string) error {
		return v.placeHold(ctx, actor, caseID, id)
	})
	if len(held) > 0 {
		if _, err := v.Append(ctx, actor.String(), Event{Event: EventHoldPlaced, Case: caseID, Backups: held}); err != nil {
			return held, err
		}
	}
	return held, batchError(len(held), failed)
}

func (v *Vault) selectBackups(ctx context.Context, sel HoldSelector) ([]string, error) {
	if len(sel.IDs) > 0 {
		return sel.IDs, nil
	}
	if sel.System == "" {
		return nil, errors.New("name backups to hold, or a --system")
	}
	backups, err := v.ListBackups(ctx, BackupFilter{System: sel.System})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, b := range backups {
		if holdableState(b) == nil && (sel.CreatedBefore.IsZero() || backupDate(b).Before(sel.CreatedBefore)) {
			ids = append(ids, b.ID)
		}
	}
	if len(ids) == 0 {
		return nil, refusedf("no backup of system %q matches", sel.System)
	}
	return ids, nil
}

// backupDate is when the backed-up data was made: the original's
// modification time when known, else when it was protected.
func backupDate(b *Backup) time.Time {
	if b.Original != nil && !b.Original.Mtime.IsZero() {
		return b.Original.Mtime
	}
	return b.CreatedAt
}

// placeHold writes the hold record first, then marks the backup held, so a
// crash in between is repaired by placing the hold again.
func (v *Vault) placeHold(ctx context.Context, actor Actor, caseID, id string) error {
	b, _, err := v.GetBackup(ctx, id)
	if err != nil {
		return err
	}
	if err := v.checkHoldable(ctx, b); err != nil {
		return err
	}
	h := Hold{Case: caseID, Backup: id, PlacedAt: now(), PlacedBy: actor.String()}
	if _, err := v.putJSON(ctx, holdPath(caseID, id), h, 0); err != nil && !errors.Is(err, ErrConflict) {
		return err
	}
	_, err = v.UpdateBackup(ctx, id, func(b *Backup) error {
		if err := holdableState(b); err != nil {
			return err
		}
		if !slices.Contains(b.HeldBy, caseID) {
			b.HeldBy = append(b.HeldBy, caseID)
		}
		b.State = StateHeld
		return nil
	})
	return err
}

// checkHoldable refuses a hold that Vault would not enforce: a backup that
// is gone, or whose key's deletion latch is already open.
func (v *Vault) checkHoldable(ctx context.Context, b *Backup) error {
	if err := holdableState(b); err != nil {
		return err
	}
	key, err := v.KeyInfo(ctx, b.Key)
	switch {
	case err != nil:
		return err
	case key == nil:
		return refusedf("backup %s: its key %s is not in Vault; there is nothing left to hold", b.ID, b.Key)
	case key.DeletionAllowed:
		return refusedf("backup %s was already released: its key's deletion latch is open and only a Vault operator can close it "+
			"(vault write %s/keys/%s/config deletion_allowed=false); then place the hold again", b.ID, v.mounts.Transit, b.Key)
	}
	return nil
}

func holdableState(b *Backup) error {
	switch b.State {
	case StateProtected, StateHeld:
		return nil
	case StateShredded, StateDestroying:
		return refusedf("backup %s is %s: there is nothing left to hold", b.ID, b.State)
	}
	return refusedf("backup %s is %s and cannot be held in that state", b.ID, b.State)
}

// heldIDs returns the ids of the backups a case held, sorted.
func (v *Vault) heldIDs(ctx context.Context, caseID string) ([]string, error) {
	if err := checkID("case", caseID); err != nil {
		return nil, err
	}
	ids, err := v.kvList(ctx, "holds/"+caseID+"/")
	slices.Sort(ids)
	return ids, err
}

// CaseHolds returns the holds a case placed.
func (v *Vault) CaseHolds(ctx context.Context, caseID string) ([]*Hold, error) {
	ids, err := v.heldIDs(ctx, caseID)
	if err != nil {
		return nil, err
	}
	return parallelMap(ctx, ids, 16, func(ctx context.Context, id string) (*Hold, error) {
		var h Hold
		_, err := v.getJSON(ctx, holdPath(caseID, id), &h)
		if err == nil && (h.Case != caseID || h.Backup != id) {
			return nil, fmt.Errorf("hold record holds/%s/%s was edited", caseID, id)
		}
		return &h, err
	})
}
