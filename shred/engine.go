package shred

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
)

// DefaultParallel is how many backups shred destroys at once: enough to
// keep a Vault cluster busy without crowding out other clients.
const DefaultParallel = 16

// ledgerBatch is how many destroyed backups one ledger entry lists.
const ledgerBatch = 256

// RunOptions tune a shred run.
type RunOptions struct {
	Parallel int
	// RequireOriginalsDisposed refuses a backup whose plaintext original's
	// disposal is not recorded.
	RequireOriginalsDisposed bool
	// Progress, if set, is called after each backup with the count done.
	Progress func(done, total int)
}

// RunResult says what one run destroyed and what it could not.
type RunResult struct {
	Case      string       `json:"case"`
	Destroyed []*Backup    `json:"destroyed"`
	Skipped   []*PlanItem  `json:"skipped"`
	Failed    []*ItemError `json:"failed"`

	mu sync.Mutex
}

func (r *RunResult) destroyed(b *Backup) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Destroyed = append(r.Destroyed, b)
}

// RunShred destroys the keys of every released backup of a closed case
// that is due, verifies in Vault that each is gone, deletes the
// ciphertext, and records the result in the catalog and the ledger.
//
// Each backup moves released -> destroying -> shredded -> recorded, every
// step written before the next starts, so a run killed at any point is
// finished by running it again. Two operators may run it at once: catalog
// writes use check-and-set, only the run that records a backup shredded
// writes its ledger entry, and the other counts it as done.
func (v *Vault) RunShred(ctx context.Context, actor Actor, caseID string, opts RunOptions) (*RunResult, error) {
	plan, err := v.PlanShred(ctx, caseID, now())
	if err != nil {
		return nil, err
	}
	if err := v.requireAdmin(ctx, "delete"); err != nil {
		return nil, err
	}
	res := &RunResult{Case: caseID}
	due, unrecorded := v.filterDue(plan, opts, res)
	if len(due) == 0 && len(unrecorded) == 0 && plan.Count(ActionDone) == 0 {
		return res, refusedf("nothing to shred for case %s: no backup is released and due", caseID)
	}
	var done atomic.Int64
	for chunk := range slices.Chunk(due, ledgerBatch) {
		mine := v.destroyChunk(ctx, actor, chunk, opts, res, func() {
			if opts.Progress != nil {
				opts.Progress(int(done.Add(1)), len(due))
			}
		})
		v.record(ctx, actor, mine, opts, res)
	}
	v.record(ctx, actor, unrecorded, opts, res)
	return res, batchError(len(res.Destroyed), res.Failed)
}

// filterDue splits the plan into backups to destroy now and backups
// destroyed by an interrupted run but not yet in the ledger.
func (v *Vault) filterDue(plan *Plan, opts RunOptions, res *RunResult) (due, unrecorded []*PlanItem) {
	for _, it := range plan.Items {
		switch {
		case it.Action == ActionDone && !it.Backup.Destruction.Recorded:
			unrecorded = append(unrecorded, it)
		case it.Action == ActionSkip:
			res.Skipped = append(res.Skipped, it)
		case it.Action == ActionDestroy && opts.RequireOriginalsDisposed && len(it.Warnings) > 0:
			it.Action, it.Reason = ActionSkip, "original's disposal not recorded (--require-originals-disposed)"
			res.Skipped = append(res.Skipped, it)
		case it.Action == ActionDestroy:
			due = append(due, it)
		}
	}
	return due, unrecorded
}

// destroyChunk destroys a chunk of backups and returns those this run
// recorded as shredded: keys deleted and read back in parallel, the mount
// checked once, ciphertexts deleted with one directory sync each, then the
// catalog updated.
func (v *Vault) destroyChunk(ctx context.Context, actor Actor, chunk []*PlanItem, opts RunOptions, res *RunResult, tick func()) []*PlanItem {
	byID := itemsByID(chunk)
	gone, failed := forEach(ctx, slices.Sorted(maps.Keys(byID)), parallelism(opts), func(ctx context.Context, id string) error {
		return v.destroyKey(ctx, actor, byID[id])
	})
	res.Failed = append(res.Failed, withoutDoneElsewhere(failed)...)
	if err := v.CheckTransitMount(ctx); err != nil {
		res.Failed = append(res.Failed, itemErrors(gone, fmt.Errorf("could not confirm the transit mount after deleting the key: %w", err))...)
		return nil
	}
	items := pick(byID, gone)
	deleteCiphertexts(items)
	var mu sync.Mutex
	var mine []*PlanItem
	_, failed = forEach(ctx, gone, parallelism(opts), func(ctx context.Context, id string) error {
		defer tick()
		ours, err := v.markShredded(ctx, byID[id])
		if ours {
			mu.Lock()
			mine = append(mine, byID[id])
			mu.Unlock()
		}
		return err
	})
	res.Failed = append(res.Failed, failed...)
	return mine
}

// withoutDoneElsewhere drops the backups another run shredded meanwhile:
// they are neither this run's nor failures.
func withoutDoneElsewhere(failed []*ItemError) []*ItemError {
	return slices.DeleteFunc(failed, func(e *ItemError) bool { return errors.Is(e, errDoneElsewhere) })
}

func itemsByID(items []*PlanItem) map[string]*PlanItem {
	m := make(map[string]*PlanItem, len(items))
	for _, it := range items {
		m[it.Backup.ID] = it
	}
	return m
}

func pick(byID map[string]*PlanItem, ids []string) []*PlanItem {
	out := make([]*PlanItem, len(ids))
	for i, id := range ids {
		out[i] = byID[id]
	}
	return out
}

// record writes one ledger entry for items, then marks each recorded.
func (v *Vault) record(ctx context.Context, actor Actor, items []*PlanItem, opts RunOptions, res *RunResult) {
	if len(items) == 0 {
		return
	}
	byID := itemsByID(items)
	ids := slices.Sorted(maps.Keys(byID))
	if _, err := v.Append(ctx, actor.String(), Event{Event: EventKeyDestroyed, Case: res.Case, Backups: ids}); err != nil {
		res.Failed = append(res.Failed, itemErrors(ids, fmt.Errorf("key destroyed and verified, but not yet recorded in the ledger (run again): %w", err))...)
		return
	}
	_, failed := forEach(ctx, ids, parallelism(opts), func(ctx context.Context, id string) error {
		if err := v.markRecorded(ctx, byID[id]); err != nil {
			return err
		}
		res.destroyed(byID[id].Backup)
		return nil
	})
	res.Failed = append(res.Failed, failed...)
}

func parallelism(opts RunOptions) int {
	if opts.Parallel > 0 {
		return opts.Parallel
	}
	return DefaultParallel
}

func itemErrors(ids []string, err error) []*ItemError {
	out := make([]*ItemError, len(ids))
	for i, id := range ids {
		out[i] = &ItemError{ID: id, Err: err}
	}
	return out
}

// errDoneElsewhere marks a backup another run shredded meanwhile.
var errDoneElsewhere = errors.New("shredded by another run")

// destroyKey takes one backup from released (or an interrupted
// destroying) to a key deleted and read back as not found.
func (v *Vault) destroyKey(ctx context.Context, actor Actor, it *PlanItem) error {
	if err := v.markDestroying(ctx, actor, it); err != nil {
		return err
	}
	if err := v.DeleteKey(ctx, it.Backup.Key); err != nil {
		return err
	}
	return v.verifyGone(ctx, it.Backup)
}

// markDestroying records the intent before the key is touched. The write
// uses the version the plan read, so a change since the plan (a new hold,
// another run) is seen before anything is destroyed.
func (v *Vault) markDestroying(ctx context.Context, actor Actor, it *PlanItem) error {
	b := it.Backup
	if b.State == StateDestroying {
		return nil
	}
	versions := slices.Clone(it.key.Versions)
	b.State = StateDestroying
	b.Destruction = &Destruction{VersionsDestroyed: versions, DestroyedBy: actor.String()}
	version, err := v.PutBackup(ctx, b, it.version)
	if errors.Is(err, ErrConflict) {
		return v.reclaim(ctx, actor, it)
	}
	it.version = version
	return err
}

// reclaim re-reads a backup that changed since the plan and carries on
// only if it may still be destroyed.
func (v *Vault) reclaim(ctx context.Context, actor Actor, it *PlanItem) error {
	fresh, err := v.planItem(ctx, it.Backup.ID, now())
	switch {
	case err != nil:
		return err
	case fresh.Action == ActionDone:
		return errDoneElsewhere
	case fresh.Action != ActionDestroy:
		return refusedf("changed since the plan: %s", fresh.Reason)
	}
	*it = *fresh
	return v.markDestroying(ctx, actor, it)
}

// verifyGone reads the key back: Vault must answer that it does not
// exist. destroyChunk then confirms the Transit mount is present, so a
// missing mount is never taken for a destroyed key.
func (v *Vault) verifyGone(ctx context.Context, b *Backup) error {
	sec, err := v.client.Logical().ReadWithContext(ctx, v.keyPath(b.Key))
	if err != nil {
		return fmt.Errorf("could not verify that key %s is gone: %w", b.Key, vaultError("read key", b.Key, err))
	}
	if sec != nil {
		return fmt.Errorf("key %s is still in Vault after its deletion", b.Key)
	}
	d := b.Destruction
	d.DestroyedAt, d.VerifiedAt, d.MountPresent = now(), now(), true
	d.Verification = "key read after delete: not found; transit mount present"
	return nil
}

// deleteCiphertexts deletes each backup's ciphertext file and syncs each
// directory once. A file that cannot be deleted is noted, not fatal: the
// key is gone, so the file is already unreadable.
func deleteCiphertexts(items []*PlanItem) {
	dirs := map[string]bool{}
	for _, it := range items {
		d := it.Backup.Destruction
		if err := os.Remove(it.Backup.Ciphertext.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			d.CiphertextNote = "not deleted: " + err.Error()
			continue
		}
		d.CiphertextDeleted = true
		dirs[filepath.Dir(it.Backup.Ciphertext.Path)] = true
	}
	for dir := range dirs {
		if err := syncDir(dir); err != nil {
			for _, it := range items {
				if filepath.Dir(it.Backup.Ciphertext.Path) == dir {
					it.Backup.Destruction.CiphertextNote = "deleted, but the directory sync failed: " + err.Error()
				}
			}
		}
	}
}

// markShredded records the verified destruction and reports whether this
// run did so. If another run recorded it first, that record stands.
func (v *Vault) markShredded(ctx context.Context, it *PlanItem) (bool, error) {
	b := *it.Backup
	b.State = StateShredded
	version, err := v.PutBackup(ctx, &b, it.version)
	if err == nil {
		*it.Backup, it.version = b, version
		return true, nil
	}
	if !errors.Is(err, ErrConflict) {
		return false, err
	}
	cur, _, err := v.GetBackup(ctx, b.ID)
	if err == nil && cur.State != StateShredded {
		err = fmt.Errorf("key destroyed and verified, but the catalog changed meanwhile (state %s): run again", cur.State)
	}
	return false, err
}

// markRecorded notes that the ledger lists the destruction, writing over
// the version markShredded left (or re-reading it after an interruption).
func (v *Vault) markRecorded(ctx context.Context, it *PlanItem) error {
	b := *it.Backup
	b.Destruction.Recorded = true
	if _, err := v.PutBackup(ctx, &b, it.version); !errors.Is(err, ErrConflict) {
		return err
	}
	_, err := v.UpdateBackup(ctx, it.Backup.ID, func(cur *Backup) error {
		if cur.State != StateShredded || cur.Destruction == nil {
			return fmt.Errorf("cannot mark %s recorded in state %s", cur.ID, cur.State)
		}
		cur.Destruction.Recorded = true
		return nil
	})
	return err
}
