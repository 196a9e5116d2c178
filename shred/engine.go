package shred

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/cryptoshred/cryptoshred/shred/agefile"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
	"github.com/cryptoshred/cryptoshred/shred/storage"
)

// ledgerBatch is how many destroyed backups one ledger entry lists.
const ledgerBatch = 256

// ledgerIDsPerEntry is the most backup ids one ledger entry lists: an id
// takes about 30 bytes in the entry, so an entry stays near 32 KiB, far
// below the 1 MiB that Vault's integrated storage accepts per entry.
var ledgerIDsPerEntry = 1000

// appendSplit appends ev to the ledger, as one entry per
// ledgerIDsPerEntry of its backups (one entry if it lists none). Every
// entry carries the event's kind, case and details, so a reader adding up
// the entries of one kind and case gets the whole list.
func (s *Service) appendSplit(ctx context.Context, actor Actor, ev ledger.Event) error {
	return s.appendSplitMarking(ctx, actor, ev, nil)
}

// marking maps a detail key to the backups an entry marks in it.
type marking map[string]map[string]bool

// appendSplitMarking is appendSplit for an event whose entries also name,
// in each detail key of marks, which of the backups each lists are marked
// in it.
func (s *Service) appendSplitMarking(ctx context.Context, actor Actor, ev ledger.Event, marks marking) error {
	if len(ev.Backups) == 0 {
		_, err := s.ledger.Append(ctx, actor.String(), ev)
		return err
	}
	for part := range slices.Chunk(ev.Backups, ledgerIDsPerEntry) {
		e := ev
		e.Backups = part
		e.Details = marks.details(ev.Details, part)
		if _, err := s.ledger.Append(ctx, actor.String(), e); err != nil {
			return err
		}
	}
	return nil
}

// details returns base with, for each key of m under which some of part
// is marked, those ids; base itself if none is.
func (m marking) details(base map[string]string, part []string) map[string]string {
	out, cloned := base, false
	for key, marked := range m {
		ids := markedOf(part, marked)
		if ids == "" {
			continue
		}
		if !cloned {
			out, cloned = maps.Clone(base), true
			if out == nil {
				out = map[string]string{}
			}
		}
		out[key] = ids
	}
	return out
}

// RunOptions tune a shred run and describe its attestation.
type RunOptions struct {
	Parallel int
	// RequireOriginalsDisposed refuses a backup whose plaintext original's
	// disposal is not recorded.
	RequireOriginalsDisposed bool
	// Progress, if set, is called with 0 before the first backup and
	// after each backup with the count done.
	Progress func(done, total int)
	// Attest is what the run's attestation needs; Run refuses to start
	// without it.
	Attest AttestOptions
}

// RunResult says what one run destroyed and what it could not.
type RunResult struct {
	Case      string            `json:"case"`
	Destroyed []*catalog.Backup `json:"destroyed"`
	Skipped   []*PlanItem       `json:"skipped"`
	Failed    []*ItemError      `json:"failed"`
	// ListedElsewhere counts backups the run destroyed that another run
	// of the case listed in the ledger first; they are that run's to
	// report as destroyed, and this run's attestation covers them too.
	ListedElsewhere int `json:"listedElsewhere,omitempty"`
	// KeysDestroyed counts the keys this run deleted and read back as
	// gone, and KeysNotRecorded those of them whose destruction record or
	// ledger entry then failed: they are gone for good, and a re-run
	// records them.
	KeysDestroyed   int `json:"keysDestroyed"`
	KeysNotRecorded int `json:"keysNotRecorded,omitempty"`
	// KeysUnconfirmed counts the keys this run deleted and read back as
	// not found, but whose transit mount it could not then confirm (an
	// expired token, say): they are most likely gone, so the run is
	// partial, not refused, but they are not counted as destroyed, and
	// their backups are failed items a re-run finishes.
	KeysUnconfirmed int `json:"keysUnconfirmed,omitempty"`
	// LeftOut are the backups the run's attestation leaves out, and why
	// (Attestation.LeftOut).
	LeftOut []*ItemError `json:"leftOutOfAttestation,omitempty"`
	// Attestation is the attestation the run issued, if it got that far.
	Attestation *Attestation `json:"-"`

	mu       sync.Mutex
	readBack map[string]bool
}

func (r *RunResult) destroyed(b *catalog.Backup) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Destroyed = append(r.Destroyed, b)
}

func (r *RunResult) destroyedListedElsewhere() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ListedElsewhere++
}

// countKeys counts, once the run is recorded, the keys it read back as
// gone and those of them neither listed by it nor by another run: their
// destruction record or ledger entry failed.
func (r *RunResult) countKeys() {
	r.mu.Lock()
	defer r.mu.Unlock()
	listed := r.ListedElsewhere
	for _, b := range r.Destroyed {
		if r.readBack[b.ID] {
			listed++
		}
	}
	r.KeysDestroyed, r.KeysNotRecorded = len(r.readBack), len(r.readBack)-listed
}

// unconfirmed counts n keys deleted and read back as not found whose
// mount could not be confirmed (KeysUnconfirmed).
func (r *RunResult) unconfirmed(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.KeysUnconfirmed += n
}

// fail adds failures; destruction and recording add them concurrently.
func (r *RunResult) fail(failed ...*ItemError) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Failed = append(r.Failed, failed...)
}

// RunShred plans the case's destruction now and runs that plan, for
// callers that confirm nothing (see Run).
func (s *Service) RunShred(ctx context.Context, actor Actor, caseID string, opts RunOptions) (*RunResult, error) {
	ctx = catalog.WithRegistrationCache(ctx)
	plan, err := s.PlanShred(ctx, caseID, catalog.Now())
	if err != nil {
		return nil, err
	}
	return s.Run(ctx, actor, plan, opts)
}

// Run carries out plan, the plan the caller showed and the user confirmed,
// and attests it. Before any key is destroyed it checks that the
// attestation can be issued, so a key is never destroyed that cannot be
// attested. It then destroys the key of every backup the plan marks for
// destruction, verifies in Vault that each is gone, deletes the
// ciphertext, records the result in the catalog and the ledger, and
// issues and stores the signed attestation.
//
// Backups go in batches: the run records its intent for the batch
// (catalog.Intent), deletes and reads back the keys, deletes the
// ciphertexts, records the batch's destructions in one record
// (catalog.Destructions), and one ledger entry then lists the batch; the
// record and the entry of one batch are written while the next batch's
// keys are deleted. No status record is written: Vault's answer that a
// key is gone, with the case's destruction records, says a backup is
// shredded. A run killed at any point is finished by running it again: a
// key gone whose intent is on record is recorded then, and so is a backup
// shredded earlier that the verified ledger does not list. Two operators
// may run at once: both record a key both deleted, but an entry leaves
// out what another entry of the case listed since the run's plan began
// (ledger.Listings), so the ledger lists each backup once per case, and
// both runs attest it with the destruction the ledger recorded.
// What may be deleted is decided by Vault (a held key's latch stays
// closed) and by the plan; a status changed after the plan (a grace
// period set meanwhile) does not stop a confirmed run.
func (s *Service) Run(ctx context.Context, actor Actor, plan *Plan, opts RunOptions) (*RunResult, error) {
	// Registrations are write-once: the run and its attestation read each
	// one once (and none again if ctx carries the plan's cache).
	ctx = catalog.WithRegistrationCache(ctx)
	if err := s.checkAttestable(ctx, plan, opts.Attest); err != nil {
		return nil, err
	}
	res, err := s.destroy(ctx, actor, plan, opts)
	if res == nil || (errors.Is(err, errs.ErrRefused) && !errors.Is(err, errs.ErrPartial)) || nothingToAttest(plan, res) {
		return res, err
	}
	res.Attestation, err = s.attest(ctx, actor, plan.Case, opts.Attest, res, err)
	return res, err
}

// nothingToAttest reports a run that recorded no destruction, of a plan
// that found none recorded before: every backup failed, so an attestation
// would only fail in turn, and its error would hide theirs.
func nothingToAttest(plan *Plan, res *RunResult) bool {
	return len(res.Destroyed) == 0 && res.ListedElsewhere == 0 && plan.Count(ActionDone) == 0
}

// attest issues the run's attestation, using what res learnt; runErr is
// what the destruction reported, kept beside an attestation failure.
func (s *Service) attest(ctx context.Context, actor Actor, c *catalog.Case, opts AttestOptions, res *RunResult, runErr error) (*Attestation, error) {
	known := res.reads()
	// The attestation takes the backups the run destroyed from its own
	// records (runReads.record), never their registrations again.
	catalog.ForgetRegistrations(ctx, maps.Keys(known.shredded))
	a, err := s.issue(ctx, actor, c, opts, known)
	var refused *LeftOutError
	switch {
	case a != nil:
		res.LeftOut = a.LeftOut
	case errors.As(err, &refused):
		res.LeftOut = refused.LeftOut
	}
	if a == nil && err != nil {
		err = fmt.Errorf("keys destroyed and recorded, but the attestation failed (shred run issues it once the cause is dealt with): %w", err)
	}
	if err != nil && res.KeysDestroyed > 0 {
		err = &destroyedError{err}
	}
	return a, errors.Join(runErr, err)
}

// destroyedError is a failure after the run destroyed keys: the run is
// partial, never refused (exit 4 says nothing was destroyed), whatever
// refused the step that failed, an expired token say.
type destroyedError struct{ err error }

func (e *destroyedError) Error() string { return e.err.Error() }
func (e *destroyedError) Unwrap() error { return e.err }

// Is makes a destroyedError an errs.ErrPartial.
func (e *destroyedError) Is(target error) bool { return target == errs.ErrPartial }

func (s *Service) destroy(ctx context.Context, actor Actor, plan *Plan, opts RunOptions) (*RunResult, error) {
	if err := s.guard.RequireAdmin(ctx, "delete"); err != nil {
		return nil, err
	}
	res := &RunResult{Case: plan.Case.ID}
	due, earlier := s.filterDue(plan, opts, res)
	if len(due) == 0 && len(earlier) == 0 {
		return res, errs.Refusedf("nothing to shred for case %s: no backup is released and due", plan.Case.ID)
	}
	unrecorded, leftover, err := s.splitDone(ctx, earlier)
	if err != nil {
		return nil, err
	}
	listings := s.ledger.Listings(plan.ledgerEnd, ledger.KindKeyDestroyed, plan.Case.ID)
	toRecord, recorded := s.recorder(ctx, actor, listings, opts, res)
	s.destroyDue(ctx, actor, due, opts, res, toRecord)
	for chunk := range slices.Chunk(unrecorded, recordBatch()) {
		toRecord <- batch{items: chunk}
	}
	close(toRecord)
	<-recorded
	s.retryCiphertexts(ctx, actor, leftover, res)
	res.countKeys()
	return res, batchError(len(res.Destroyed)+res.ListedElsewhere+res.KeysNotRecorded+res.KeysUnconfirmed, res.Failed)
}

// recordBatch is how many backups one batch destroys and records.
func recordBatch() int { return min(ledgerBatch, ledgerIDsPerEntry) }

// destroyDue destroys due one batch at a time and sends each batch's
// backups whose keys it verified gone to toRecord, to be recorded and
// listed while it destroys the next batch.
func (s *Service) destroyDue(ctx context.Context, actor Actor, due []*PlanItem, opts RunOptions, res *RunResult, toRecord chan<- batch) {
	var done atomic.Int64
	if opts.Progress != nil && len(due) > 0 {
		opts.Progress(0, len(due)) // starts the clock of a progress bar's rate and ETA
	}
	for start := 0; start < len(due); start += recordBatch() {
		chunk := due[start:min(start+recordBatch(), len(due))]
		gone, err := s.destroyChunk(ctx, actor, chunk, opts, res)
		if err != nil {
			res.fail(itemErrors(itemIDs(due[start:]), err)...)
			return
		}
		toRecord <- batch{items: gone, mark: true, tick: func() {
			if opts.Progress != nil {
				opts.Progress(int(done.Add(1)), len(due))
			}
		}}
	}
}

// filterDue splits the plan into backups to destroy now and backups an
// earlier run shredded.
func (s *Service) filterDue(plan *Plan, opts RunOptions, res *RunResult) (due, earlier []*PlanItem) {
	for _, it := range plan.Items {
		switch {
		case it.Action == ActionDone:
			earlier = append(earlier, it)
		case it.Action == ActionSkip:
			res.Skipped = append(res.Skipped, it)
		case it.Action == ActionDestroy && opts.RequireOriginalsDisposed && len(originalWarnings(it.Backup)) > 0:
			it.Action, it.Reason = ActionSkip, "original's disposal not recorded (--require-originals-disposed)"
			res.Skipped = append(res.Skipped, it)
		case it.Action == ActionDestroy:
			due = append(due, it)
		}
	}
	return due, earlier
}

// splitDone returns, of the backups an earlier run shredded, those the
// verified ledger does not list as destroyed (a run stopped before their
// ledger entry, or one still running) and, of the others, those whose
// ciphertext is still to delete. It walks the ledger only if there are
// any.
func (s *Service) splitDone(ctx context.Context, earlier []*PlanItem) (unrecorded, leftover []*PlanItem, err error) {
	if len(earlier) == 0 {
		return nil, nil, nil
	}
	facts, err := s.ledgerFacts(ctx, backupIDs(itemBackups(earlier)))
	if err != nil {
		return nil, nil, fmt.Errorf("failed to read the ledger's record of the backups shredded earlier: %w", err)
	}
	for _, it := range earlier {
		switch {
		case !facts.destroyed[it.Backup.ID]:
			unrecorded = append(unrecorded, it)
		case it.Backup.Destruction.CiphertextLeft():
			leftover = append(leftover, it)
		}
	}
	return unrecorded, leftover, nil
}

// destroyChunk destroys a chunk of backups and returns those whose keys
// it verified gone: its intent recorded, keys deleted and read back in
// parallel, the mount checked once, ciphertexts deleted with one
// directory sync each. An intent that cannot be recorded is returned as
// the error, with nothing deleted.
func (s *Service) destroyChunk(ctx context.Context, actor Actor, chunk []*PlanItem, opts RunOptions, res *RunResult) ([]*PlanItem, error) {
	byID := itemsByID(chunk)
	if err := s.recordIntent(ctx, actor, res.Case, chunk); err != nil {
		return nil, err
	}
	gone, failed := forEach(ctx, slices.Sorted(maps.Keys(byID)), parallelism(opts), nil, func(ctx context.Context, id string) error {
		return s.destroyKey(ctx, byID[id])
	})
	res.fail(failed...)
	if err := s.keys.CheckMount(ctx); err != nil {
		res.fail(itemErrors(gone, fmt.Errorf("could not confirm the transit mount after deleting the key: %w", err))...)
		res.unconfirmed(len(gone))
		return nil, nil
	}
	res.readBackGone(gone)
	items := pick(byID, gone)
	s.deleteCiphertexts(ctx, items)
	return items, nil
}

// recordIntent records, before any key of chunk is deleted, which keys
// the run is about to destroy (catalog.Intent), and only then gives each
// backup its destruction. A backup whose key was already gone carries the
// destruction its plan found.
func (s *Service) recordIntent(ctx context.Context, actor Actor, caseID string, chunk []*PlanItem) error {
	in := &catalog.Intent{Case: caseID, By: actor.String(), At: catalog.Now(), Versions: map[string][]int{}}
	for _, it := range chunk {
		if it.key != nil {
			in.Versions[it.Backup.ID] = slices.Clone(it.key.Versions)
		}
	}
	if len(in.Versions) == 0 {
		return nil
	}
	if err := s.catalog.PutIntent(ctx, in); err != nil {
		return err
	}
	for _, it := range chunk {
		if it.key != nil {
			it.Backup.Destruction = &catalog.Destruction{VersionsDestroyed: in.Versions[it.Backup.ID], DestroyedBy: in.By}
		}
	}
	return nil
}

func itemsByID(items []*PlanItem) map[string]*PlanItem {
	m := make(map[string]*PlanItem, len(items))
	for _, it := range items {
		m[it.Backup.ID] = it
	}
	return m
}

func itemIDs(items []*PlanItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Backup.ID
	}
	return out
}

func pick(byID map[string]*PlanItem, ids []string) []*PlanItem {
	out := make([]*PlanItem, len(ids))
	for i, id := range ids {
		out[i] = byID[id]
	}
	return out
}

// batch is what the recorder records: backups whose keys this run
// verified gone, whose destructions it records first (mark; tick after
// each), or backups an earlier run shredded.
type batch struct {
	items []*PlanItem
	mark  bool
	tick  func()
}

// recorder records, one batch after another and in the order sent, the
// batches sent on the returned channel, while the caller destroys the
// next batch; the second channel is closed once the first is closed and
// every batch sent is recorded. A batch's destructions are recorded
// before its ledger entry is written.
func (s *Service) recorder(ctx context.Context, actor Actor, listings *ledger.Listings, opts RunOptions, res *RunResult) (chan<- batch, <-chan struct{}) {
	in, done := make(chan batch, 1), make(chan struct{})
	go func() {
		defer close(done)
		for b := range in {
			items := b.items
			if b.mark {
				items = s.markBatch(ctx, actor, items, res, b.tick)
			}
			s.record(ctx, actor, listings, items, b.mark, res)
		}
	}()
	return in, done
}

// record writes one ledger entry for items. The entry is the only record
// that they are recorded: a run stopped before it leaves them shredded
// and unlisted, and the next run lists them (splitDone). A backup another
// run listed since this run's plan (ledger.Listings) is that run's to
// report as destroyed; if this run destroyed its key (deleted it, or
// finished a stopped run's destruction: destroyedHere), it is counted in
// ListedElsewhere and its ciphertext left behind is reported. One a
// stopped run destroyed is left to the run that listed it, and its
// ciphertext to the next run (splitDone).
func (s *Service) record(ctx context.Context, actor Actor, listings *ledger.Listings, items []*PlanItem, destroyedHere bool, res *RunResult) {
	if len(items) == 0 {
		return
	}
	byID := itemsByID(items)
	ids := slices.Sorted(maps.Keys(byID))
	_, others, err := listings.WithDetails(destructionsOf(byID)).AppendUnlisted(ctx, actor.String(), ids)
	if err != nil {
		res.fail(itemErrors(ids, fmt.Errorf("key destroyed and verified, but not yet recorded in the ledger (run again): %w", err))...)
		return
	}
	elsewhere := make(map[string]bool, len(others))
	for _, id := range others {
		elsewhere[id] = true
	}
	var failed []*ItemError
	for _, it := range items {
		switch {
		case !elsewhere[it.Backup.ID]:
			res.destroyed(it.Backup)
		case destroyedHere:
			res.destroyedListedElsewhere()
		default:
			continue
		}
		if err := ciphertextError(it.Backup.Destruction); err != nil {
			failed = append(failed, &ItemError{ID: it.Backup.ID, Err: err})
		}
	}
	res.fail(failed...)
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

// destroyKey deletes one backup's key (one already gone is not an error)
// and reads it back as not found.
func (s *Service) destroyKey(ctx context.Context, it *PlanItem) error {
	if err := s.keys.DeleteKey(ctx, it.Backup.Key); err != nil {
		return err
	}
	return s.verifyGone(ctx, it.Backup)
}

// verifyGone reads the key back: Vault must answer that it does not
// exist. destroyChunk then confirms the Transit mount is present, so a
// missing mount is never taken for a destroyed key.
func (s *Service) verifyGone(ctx context.Context, b *catalog.Backup) error {
	absent, err := s.keys.KeyAbsent(ctx, b.Key)
	if err != nil {
		return fmt.Errorf("could not verify that key %s is gone: %w", b.Key, err)
	}
	if !absent {
		return fmt.Errorf("key %s is still in Vault after its deletion", b.Key)
	}
	d := b.Destruction
	d.DestroyedAt, d.VerifiedAt, d.MountPresent = catalog.Now(), catalog.Now(), true
	d.Verification = "key read after delete: not found; transit mount present"
	return nil
}

// deleteCiphertexts deletes each backup's ciphertext: the file its
// registration names, and only if its age header names exactly this
// backup's key. A ciphertext that cannot be deleted is noted, not fatal:
// the key is gone, so it is already unreadable. One already gone is
// recorded as absent, not as deleted.
func (s *Service) deleteCiphertexts(ctx context.Context, items []*PlanItem) {
	for be, group := range s.byBackend(items) {
		objs := make([]storage.Object, len(group))
		for i, it := range group {
			objs[i] = storage.Object{Loc: it.Backup.Ciphertext.Path, Check: headerNames(it.Backup.Key)}
		}
		for i, r := range be.Delete(ctx, objs) {
			recordDeletion(group[i].Backup.Destruction, r)
		}
	}
}

// byBackend groups items by the back end that stores their ciphertext;
// an item whose back end cannot be reached is noted and left out.
func (s *Service) byBackend(items []*PlanItem) map[storage.Backend][]*PlanItem {
	out := map[storage.Backend][]*PlanItem{}
	for _, it := range items {
		be, err := s.storage.For(it.Backup.Ciphertext.Path)
		if err != nil {
			it.Backup.Destruction.CiphertextNote = "not deleted: " + err.Error()
			continue
		}
		out[be] = append(out[be], it)
	}
	return out
}

func recordDeletion(d *catalog.Destruction, r storage.Result) {
	d.CiphertextRemoved = r.Removed
	switch {
	case r.Err == nil:
		d.CiphertextDeleted = true
	case errors.Is(r.Err, errs.ErrNotFound) && len(r.Removed) > 0:
		d.CiphertextAbsent, d.CiphertextNote = true, "absent before shred: "+r.Err.Error()
	case errors.Is(r.Err, errs.ErrNotFound):
		d.CiphertextAbsent, d.CiphertextNote = true, "absent before shred: nothing was there to delete"
	case errors.Is(r.Err, storage.ErrNotDurable):
		d.CiphertextDeleted, d.CiphertextNote = true, r.Err.Error()
	default:
		d.CiphertextNote = "not deleted: " + r.Err.Error()
	}
}

// errNotOwnCiphertext marks a file that is not the backup's ciphertext:
// not an age file, or one whose header names another key.
var errNotOwnCiphertext = errors.New("not this backup's ciphertext")

// headerNames accepts an age file whose header names key and no other
// recipient; what it rejects is an errNotOwnCiphertext, and a file it
// could not read a storage.ErrUnchecked.
func headerNames(key string) func(io.Reader) error {
	return func(r io.Reader) error {
		got, err := agefile.HeaderKey(r)
		if errors.Is(err, agefile.ErrUnread) {
			return fmt.Errorf("%w: %w", storage.ErrUnchecked, err)
		}
		if err != nil {
			return fmt.Errorf("%w: %w", errNotOwnCiphertext, err)
		}
		if got != key {
			return fmt.Errorf("%w: its header names key %s", errNotOwnCiphertext, got)
		}
		return nil
	}
}
