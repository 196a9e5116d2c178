package shred

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/cryptoshred/cryptoshred/internal/ctxio"
	"github.com/cryptoshred/cryptoshred/internal/fsutil"
	"github.com/cryptoshred/cryptoshred/shred/agefile"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
	"github.com/cryptoshred/cryptoshred/shred/storage"
)

// ProtectRequest describes one file or stream to protect.
type ProtectRequest struct {
	Source string    // plaintext file; never modified or deleted
	Input  io.Reader // or a plaintext stream, such as a pipe from pg_dump
	Name   string    // the backup's name when reading Input
	OutDir string    // where NAME.age is written: a directory or s3://BUCKET/PREFIX
	// NoStorageHold allows an S3 destination whose bucket has no Object
	// Lock, so no hold can protect the ciphertext there.
	NoStorageHold bool
	System        string
	Controllers   []string
	Categories    []string
	Labels        map[string]string
	// AllowDuplicate protects a file even when a live backup already
	// holds the same content.
	AllowDuplicate bool
	// Progress, if set, is called as the plaintext is read with the
	// bytes read so far and the total (-1 for a stream).
	Progress func(done, total int64)
}

func (r *ProtectRequest) metadata() catalog.Metadata {
	return catalog.Metadata{System: r.System, Controllers: r.Controllers, Categories: r.Categories, Labels: r.Labels}
}

// Validate checks the request's metadata against the catalog's rules.
func (r *ProtectRequest) Validate() error {
	if r.Input != nil && !catalog.ValidID(r.Name) {
		return fmt.Errorf("a backup read from a stream needs a --name of 1 to 128 letters, digits, '.', '_' or '-', not %q", catalog.Truncate(r.Name, 40))
	}
	return r.metadata().Validate()
}

func (r *ProtectRequest) name() string {
	if r.Input != nil {
		return r.Name + ".age"
	}
	return filepath.Base(r.Source) + ".age"
}

// Protect encrypts req.Source (or req.Input) into req.OutDir under a new
// per-backup key and registers it in the catalog. The catalog entry is
// written first, as an intent, so a crash leaves a visible "protecting"
// entry rather than an unknown key or file.
func (s *Service) Protect(ctx context.Context, actor Actor, req ProtectRequest) (*catalog.Backup, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	orig, err := originalOf(req)
	if err != nil {
		return nil, err
	}
	if err := s.guard.RequireAdmin(ctx, "update"); err != nil {
		return nil, err
	}
	if !req.AllowDuplicate {
		if err := s.refuseDuplicate(ctx, orig); err != nil {
			return nil, err
		}
	}
	be, out, err := s.destination(ctx, req)
	if err != nil {
		return nil, err
	}
	p, err := s.startProtect(ctx, actor, req, be, orig, out)
	if err != nil {
		return nil, err
	}
	b, err := s.continueProtect(ctx, actor, p, be, req)
	if err == nil && p.changed != nil {
		return nil, p.changed
	}
	return b, err
}

// continueProtect takes the protect p from where it stands: registered
// (only its status and ledger entry are left), committed (its ciphertext
// is in place and recorded, its registration is left) or started (its
// data is to be written).
func (s *Service) continueProtect(ctx context.Context, actor Actor, p protecting, be storage.Backend, req ProtectRequest) (*catalog.Backup, error) {
	switch {
	case p.b.Registered:
		return s.recordProtected(ctx, actor, p.b)
	case p.b.Ciphertext.SHA256 != "":
		return s.finishProtect(ctx, actor, p.b)
	}
	if err := s.protectData(ctx, p.b, be, req); err != nil {
		if !errors.Is(err, errMayBeCommitted) {
			s.markFailed(ctx, p.b.ID, err)
		}
		return nil, err
	}
	if err := s.recordCommitted(ctx, p); err != nil {
		return nil, err
	}
	return s.finishProtect(ctx, actor, p.b)
}

// protecting is a protect under way: its backup and the version of the
// status record it wrote last. The version is its claim on the backup: a
// re-run that takes the protect over writes the record first, and this
// protect then registers nothing (recordCommitted).
type protecting struct {
	b       *catalog.Backup
	version int
	// changed is the refusal to return once an earlier backup, resumed
	// though the file changed since (it had nothing left to read of it),
	// is finished: the file as it is now was not protected.
	changed error
}

// recordCommitted writes the committed ciphertext's location and digests
// into the status record, if it is still the version p wrote. Another
// version means a re-run took this protect for an interrupted one and
// writes the backup's data itself (it may have removed this ciphertext
// already), so this protect stops before its registration.
func (s *Service) recordCommitted(ctx context.Context, p protecting) error {
	_, err := s.catalog.PutBackup(ctx, p.b, p.version)
	if errors.Is(err, errs.ErrConflict) {
		return fmt.Errorf("backup %s: another protect took over its output %s while this one ran; this one registered nothing: %w",
			p.b.ID, p.b.Ciphertext.Path, errs.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("backup %s encrypted to %s but not recorded (%s): %w", p.b.ID, p.b.Ciphertext.Path, rerunAdvice(p.b), err)
	}
	return nil
}

// destination returns the back end and location of the new ciphertext.
// An S3 bucket must be able to hold it (Object Lock) unless the request
// says otherwise.
func (s *Service) destination(ctx context.Context, req ProtectRequest) (storage.Backend, string, error) {
	be, err := s.storage.For(req.OutDir)
	if err != nil {
		return nil, "", err
	}
	out, err := be.Locate(req.OutDir, req.name())
	if err != nil {
		return nil, "", err
	}
	if err := requireHoldable(ctx, be, out, req.OutDir, req.NoStorageHold); err != nil {
		return nil, "", err
	}
	return be, out, nil
}

// requireHoldable refuses loc, in where, if its storage can hold but its
// bucket cannot (no Object Lock), unless allowed: a case's hold on the
// backup could not stop the admin's own S3 credentials deleting it.
func requireHoldable(ctx context.Context, be storage.Backend, loc, where string, allowed bool) error {
	if _, holds := be.(storage.Holder); allowed || !holds || !be.Properties().LegalHold {
		return nil
	}
	if holder, err := holderOf(ctx, be, loc); err != nil || holder == nil {
		return errs.Refusedf("the bucket of %s has no Object Lock, so no legal hold could protect the ciphertext there "+
			"(create the bucket with Object Lock, or pass --no-storage-hold)%s", where, errSuffix(err))
	}
	return nil
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return ": " + err.Error()
}

// startProtect registers a new backup, or resumes the unfinished protect
// whose output is already in place: one that wrote its ciphertext but
// could not record it (Vault went away), so a re-run completes the work.
// A resumed backup whose registration was written is returned registered,
// its ciphertext checked against the registration: only its status and
// ledger entry are left to write.
func (s *Service) startProtect(ctx context.Context, actor Actor, req ProtectRequest, be storage.Backend, orig *catalog.Original, out string) (protecting, error) {
	b := newBackup(actor, req, orig, out)
	if _, err := be.Stat(ctx, out); err == nil {
		return s.resumeProtect(ctx, be, out, orig)
	}
	version, err := s.catalog.PutBackup(ctx, b, 0)
	if err != nil {
		return protecting{}, fmt.Errorf("failed to register backup: %w", err)
	}
	return protecting{b: b, version: version}, nil
}

// resumeProtect finishes or restarts the interrupted protect that left a
// ciphertext at path. The ciphertext's age header names its key, and so
// its backup: only that backup's record is read, never the whole catalog.
// Only a protect of the same file is resumed: another file's, or a
// stream's, which cannot be read again, may still be running (two files
// of one name protected into one directory at once) and is refused.
func (s *Service) resumeProtect(ctx context.Context, be storage.Backend, path string, orig *catalog.Original) (protecting, error) {
	p, head, err := s.unfinishedAt(ctx, be, path)
	switch {
	case err != nil:
		return protecting{}, fmt.Errorf("failed to check what left %s: %w", path, err)
	case p.b == nil:
		return protecting{}, fmt.Errorf("%s already exists: refusing to overwrite it", path)
	case !samePath(p.b.Original, orig):
		return protecting{}, fmt.Errorf("%s already exists: refusing to overwrite it (it is the ciphertext of backup %s, "+
			"protected from %s and not finished: only a protect of that same file resumes it)", path, p.b.ID, originalName(p.b.Original))
	case p.b.Registered || p.b.Ciphertext.SHA256 != "":
		return s.resumeFinishable(ctx, p, orig)
	case !sameFile(p.b.Original, orig):
		return protecting{}, changedOriginal(p.b, orig)
	}
	return s.restartProtect(ctx, be, p, orig, head)
}

// resumeFinishable takes over an interrupted protect with nothing left
// to write: registered, or its commit recorded. Finishing it reads
// nothing of the file, so one changed since (a nightly dump written
// again) does not leave the earlier complete ciphertext unregistered, out
// of every hold's reach: the backup is finished from its recorded
// original, and the protect then reports (changed) that the file as it is
// now was not protected.
func (s *Service) resumeFinishable(ctx context.Context, p protecting, orig *catalog.Original) (protecting, error) {
	if !sameOriginal(p.b.Original, orig) {
		p.changed = finishedNotProtected(p.b, orig)
	}
	if p.b.Registered {
		return p, s.VerifyCiphertext(ctx, p.b)
	}
	return p, s.verifyCommitted(ctx, p.b)
}

// finishedNotProtected is the refusal after finishing b, whose protect's
// file has changed since: the file as it is now was not protected.
func finishedNotProtected(b *catalog.Backup, now *catalog.Original) error {
	was := b.Original
	return errs.Refusedf("%s was not protected: it changed since the interrupted protect of backup %s (then %d bytes modified %s, "+
		"now %d bytes modified %s). That protect had nothing left to write, so backup %s was finished as the earlier file; "+
		"protect the file as it is now into another directory or under another name", now.Path, b.ID, was.Size,
		was.Mtime.Format(time.RFC3339Nano), now.Size, now.Mtime.Format(time.RFC3339Nano), b.ID)
}

// restartProtect takes over a protect of the same file that committed its
// ciphertext but did not record it: it writes the status record first, so
// the protect it takes over, if it still runs, registers nothing
// (recordCommitted), then removes the ciphertext to write it again: only
// the one it inspected, whose start was head, never one that a second
// re-run, which took the protect over after this one, wrote under the
// same key since.
func (s *Service) restartProtect(ctx context.Context, be storage.Backend, p protecting, orig *catalog.Original, head []byte) (protecting, error) {
	p.b.Original = orig
	version, err := s.catalog.PutBackup(ctx, p.b, p.version)
	if err != nil {
		return protecting{}, fmt.Errorf("failed to take over the unfinished protect of backup %s (another protect may be writing it): %w", p.b.ID, err)
	}
	obj := storage.Object{Loc: p.b.Ciphertext.Path, Check: startsWith(head)}
	if err := be.Delete(ctx, []storage.Object{obj})[0].Err; err != nil {
		return protecting{}, fmt.Errorf("failed to remove the unfinished output of %s: %w", p.b.ID, err)
	}
	return protecting{b: p.b, version: version}, nil
}

// verifyCommitted checks that the ciphertext of b, a protect that recorded
// its commit and stopped before its registration, is the one recorded.
func (s *Service) verifyCommitted(ctx context.Context, b *catalog.Backup) error {
	recorded := *b
	recorded.Registered = true // VerifyCiphertext checks the record it is given
	return s.VerifyCiphertext(ctx, &recorded)
}

// unfinishedAt returns the backup whose protect wrote the ciphertext at
// path and did not finish, or none, and the start of that ciphertext as
// read. A file that is not such a ciphertext is not an error; failing to
// read it or the catalog is.
func (s *Service) unfinishedAt(ctx context.Context, be storage.Backend, path string) (protecting, []byte, error) {
	head, err := headAt(ctx, be, path)
	key, kerr := agefile.HeaderKey(bytes.NewReader(head))
	if err != nil || kerr != nil {
		return protecting{}, nil, err
	}
	b, version, err := s.catalog.GetBackup(ctx, key)
	if errors.Is(err, errs.ErrNotFound) {
		return protecting{}, nil, nil
	}
	if err != nil || b.State != catalog.StateProtecting {
		return protecting{}, nil, err
	}
	if at, err := namesCurrent(ctx, be, b.Ciphertext.Path, path); err != nil || !at {
		return protecting{}, nil, err
	}
	return protecting{b: b, version: version}, head, nil
}

// headAt returns the first storage.CheckBytes of what is at path, which
// hold its age header, or nothing if nothing is there.
func headAt(ctx context.Context, be storage.Backend, path string) ([]byte, error) {
	r, err := be.Open(ctx, path)
	if errors.Is(err, errs.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, storage.CheckBytes))
}

// startsWith accepts, to delete, only an object whose first
// storage.CheckBytes are head: the age header's wrapped file key differs
// on every write, so this is the ciphertext inspected, not another
// written under the same key since.
func startsWith(head []byte) func(io.Reader) error {
	return func(r io.Reader) error {
		got, err := io.ReadAll(io.LimitReader(r, storage.CheckBytes))
		switch {
		case err != nil:
			return fmt.Errorf("%w: %w", storage.ErrUnchecked, err)
		case !bytes.Equal(got, head):
			return errors.New("not the ciphertext inspected: another protect wrote it since")
		}
		return nil
	}
}

// namesCurrent reports whether recorded, a backup's recorded location,
// names what is at path now: path itself (a file, or an S3 key recorded
// before its commit) or, where a location names a version (S3, once
// committed), the version path holds now, as the storage pins it.
func namesCurrent(ctx context.Context, be storage.Backend, recorded, path string) (bool, error) {
	pinner, ok := be.(storage.Pinner)
	if recorded == path || !ok {
		return recorded == path, nil
	}
	pinned, err := pinner.Pin(ctx, path)
	return recorded == pinned, err
}

// samePath reports whether a resumed backup was protected from the path
// being protected now (neither is a stream).
func samePath(registered, now *catalog.Original) bool {
	return registered != nil && now != nil && registered.Path == now.Path
}

// sameOriginal reports whether a resumed backup was made from the file
// being protected now: the same path, and the size and modification time
// its status record gives. A file written again since (a nightly dump to
// one path) is other data: resuming would delete the ciphertext of the
// earlier data, its only copy, and register the new data in its place.
func sameOriginal(registered, now *catalog.Original) bool {
	return samePath(registered, now) && registered.Size == now.Size && registered.Mtime.Equal(now.Mtime)
}

// sameFile reports whether the file being protected now is the very file
// whose protect recorded was (sameOriginal, and its device, inode and
// change time when was recorded them): the check before restartProtect
// removes a ciphertext, since a file written again with its size and
// modification time set back (cp -p, rsync -t, tar x, a coarse clock) is
// other data. A status record from before they were recorded keeps the
// size and modification time alone.
func sameFile(was, now *catalog.Original) bool {
	if !sameOriginal(was, now) {
		return false
	}
	return was.File == nil || now.File != nil && was.File.Device == now.File.Device && was.File.Inode == now.File.Inode && was.File.Ctime.Equal(now.File.Ctime)
}

// changedOriginal refuses to resume b, whose file has changed since its
// protect was interrupted, and says what keeps the earlier data.
func changedOriginal(b *catalog.Backup, now *catalog.Original) error {
	was := b.Original
	return errs.Refusedf("%s already exists: refusing to overwrite it (it is the ciphertext of backup %s, the unfinished protect of %s "+
		"as it was then, %d bytes modified %s; the file is now %d bytes modified %s). The ciphertext and backup %s are kept, "+
		"protecting: they may be the only copy of the earlier data. %s; protect the file as it is now into another directory "+
		"or under another name", b.Ciphertext.Path, b.ID, was.Path, was.Size, was.Mtime.Format(time.RFC3339Nano),
		now.Size, now.Mtime.Format(time.RFC3339Nano), b.ID, finishEarlier(b))
}

// finishEarlier says how b's interrupted protect of a file that changed
// since is still finished: only a protect of that same file resumes it.
func finishEarlier(b *catalog.Backup) string {
	if b.Original.File != nil {
		return fmt.Sprintf("Its commit is not recorded, so the ciphertext may be incomplete, and only that very file (its inode "+
			"and change time) resumes backup %s", b.ID)
	}
	return fmt.Sprintf("Its commit is not recorded, so the ciphertext may be incomplete: putting the earlier file back at %s, "+
		"with its size and modification time, and protecting it again finishes backup %s", b.Original.Path, b.ID)
}

// originalName names what a backup was protected from, for an error.
func originalName(o *catalog.Original) string {
	if o == nil {
		return "a stream"
	}
	return o.Path
}

// originalOf describes the plaintext original. A stream has none: its
// data was never stored unencrypted by this step.
func originalOf(req ProtectRequest) (*catalog.Original, error) {
	if req.Input != nil {
		return nil, nil
	}
	st, err := os.Stat(req.Source)
	if pe := (*os.PathError)(nil); errors.As(err, &pe) {
		return nil, fmt.Errorf("cannot read %s: %w", req.Source, pe.Err)
	}
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", req.Source)
	}
	abs, err := filepath.Abs(req.Source)
	if err != nil {
		return nil, err
	}
	return &catalog.Original{
		FileInfo:                   catalog.FileInfo{Path: abs, Size: st.Size(), Mtime: st.ModTime().UTC()},
		EncryptedAfterFirstStorage: true,
		File:                       fileIDOf(st),
	}, nil
}

// fileIDOf returns st's device, inode and change time, or nil where the
// system does not give them.
func fileIDOf(st os.FileInfo) *catalog.FileID {
	dev, ino, ctime, ok := fsutil.FileIDOf(st)
	if !ok {
		return nil
	}
	return &catalog.FileID{Device: dev, Inode: ino, Ctime: ctime}
}

func newBackup(actor Actor, req ProtectRequest, orig *catalog.Original, out string) *catalog.Backup {
	id := catalog.NewBackupID()
	return &catalog.Backup{
		ID: id, Name: req.name(), System: req.System, Controllers: req.Controllers,
		Categories: req.Categories, Labels: req.Labels, State: catalog.StateProtecting,
		Key: id, Ciphertext: catalog.FileInfo{Path: out}, Original: orig,
		CreatedAt: catalog.Now(), CreatedBy: actor.String(),
	}
}

// protectData creates the key and writes the ciphertext, filling in b's
// digests and its final location.
func (s *Service) protectData(ctx context.Context, b *catalog.Backup, be storage.Backend, req ProtectRequest) error {
	if err := s.ensureKey(ctx, b.Key); err != nil {
		return err
	}
	src, err := openSource(req)
	if err != nil {
		return err
	}
	defer src.Close()
	out, err := be.Create(ctx, b.Ciphertext.Path)
	if err != nil {
		return err
	}
	defer out.Abort()
	d, err := agefile.Encrypt(ctx, s.keys, b.Key, withProgress(src, plaintextSize(b), req.Progress), out)
	if err != nil {
		return err
	}
	// An interrupted protect commits nothing: a ciphertext with no
	// registration would be left for a re-run to resume or remove.
	if err := ctxio.Interrupted(ctx); err != nil {
		return err
	}
	setDigests(b, d)
	loc := b.Ciphertext.Path
	if b.Ciphertext.Path, err = out.Commit(ctx); err != nil {
		return s.commitFailed(ctx, be, b, loc, err)
	}
	return nil
}

// commitFailed returns the error of b's failed commit to loc. A commit
// refused because the name is taken failed for certain when what holds
// the name is not b's own ciphertext, which a commit sent again after
// its answer was lost would find there: the backup is then failed, not
// left protecting for re-runs that would each fail the same way.
func (s *Service) commitFailed(ctx context.Context, be storage.Backend, b *catalog.Backup, loc string, err error) error {
	if errors.Is(err, fs.ErrExist) {
		if other := takenBy(ctx, be, loc, b.Key); other != "" {
			return fmt.Errorf("%s is taken by %s, so backup %s stored nothing there; protect it under another --name or into another "+
				"directory, or, if what is there is no backup, remove it with the storage's own tools and protect again: %w", loc, other, b.ID, err)
		}
	}
	return fmt.Errorf("%w; %w (%s)", err, errMayBeCommitted, rerunAdvice(b))
}

// takenBy says what holds loc, whose commit the storage refused as taken,
// if it is not the ciphertext under key, or "" if it is, or if it cannot
// be read (it may be).
func takenBy(ctx context.Context, be storage.Backend, loc, key string) string {
	head, err := headAt(ctx, be, loc)
	switch {
	case err != nil:
		return ""
	case head == nil:
		return "no object that can be read: on S3, a delete marker (left by a plain S3 delete) over an older version, " +
			"which the storage does not write over (remove both, if they are no backup)"
	}
	other, err := agefile.HeaderKey(bytes.NewReader(head))
	switch {
	case err != nil:
		return "an object that is no cryptoshred ciphertext"
	case other != key:
		return "the ciphertext of backup " + other
	}
	return ""
}

// errMayBeCommitted marks a commit that failed but may have put the
// ciphertext in place all the same (a directory sync that failed after
// the file was linked, an S3 upload that completed though its answer was
// lost or Ctrl-C cancelled it): the backup stays protecting, which a
// re-run of a file's protect resumes, not failed, which no re-run resumes.
var errMayBeCommitted = errors.New("the ciphertext may be in place all the same")

// rerunAdvice says what finishes b's interrupted protect: protecting the
// same file again resumes it, but a stream, which cannot be read again,
// is never resumed (resumeProtect), so its backup stays protecting and
// the stream is protected again under another name.
func rerunAdvice(b *catalog.Backup) string {
	if b.Original == nil {
		return "a stream is never resumed: this backup stays protecting; protect the stream again under another --name"
	}
	return "protect the same file again to finish"
}

// registeredAdvice says what is left of b's protect, cut after its
// registration, where missing names what was not written. A file's
// re-run writes it; a stream's backup is protected all the same (its
// ciphertext, key and registration are in place, so it is held and
// shredded as any other), and protecting the stream again would make a
// second live backup of the same data.
func registeredAdvice(b *catalog.Backup, missing string) string {
	if b.Original != nil {
		return rerunAdvice(b)
	}
	return fmt.Sprintf("the backup is protected and registered, and can be held and shredded: no new protect is needed; "+
		"only its record is incomplete: %s not written, and no command writes that for a stream", missing)
}

// setDigests fills in b's sizes and SHA-256 sums from its encryption.
func setDigests(b *catalog.Backup, d agefile.Digests) {
	b.Plaintext = catalog.FileInfo{Size: d.Plaintext.Size, SHA256: d.Plaintext.SHA256}
	if b.Original != nil {
		b.Original.SHA256 = d.Plaintext.SHA256
	}
	b.Ciphertext.Size, b.Ciphertext.SHA256 = d.Ciphertext.Size, d.Ciphertext.SHA256
}

// plaintextSize is the size of b's original, -1 for a stream.
func plaintextSize(b *catalog.Backup) int64 {
	if b.Original == nil {
		return -1
	}
	return b.Original.Size
}

func openSource(req ProtectRequest) (io.ReadCloser, error) {
	if req.Input != nil {
		return io.NopCloser(req.Input), nil
	}
	src, err := os.Open(req.Source)
	if err != nil {
		return nil, fmt.Errorf("failed to open %s: %w", req.Source, err)
	}
	return src, nil
}

func (s *Service) finishProtect(ctx context.Context, actor Actor, b *catalog.Backup) (*catalog.Backup, error) {
	if err := s.catalog.PutRegistration(ctx, catalog.NewRegistration(b)); err != nil {
		return nil, fmt.Errorf("backup %s encrypted to %s but not registered: %w", b.ID, b.Ciphertext.Path, err)
	}
	return s.recordProtected(ctx, actor, b)
}

// recordProtected records a registered backup in the ledger, then marks
// it protected. In this order an interruption leaves the backup in
// protecting, which a re-run of protect on the same file resumes; at worst
// the ledger then lists its protection twice, never not at all.
func (s *Service) recordProtected(ctx context.Context, actor Actor, b *catalog.Backup) (*catalog.Backup, error) {
	if _, err := s.ledger.Append(ctx, actor.String(), ledger.Event{Kind: ledger.KindBackupProtected, Backups: []string{b.ID},
		Details: map[string]string{"sha256": b.Ciphertext.SHA256, "system": b.System}}); err != nil {
		return nil, fmt.Errorf("backup %s encrypted to %s and registered, but not recorded in the ledger (%s): %w", b.ID, b.Ciphertext.Path,
			registeredAdvice(b, "its backup.protected ledger entry and its status record (which says protecting) are"), err)
	}
	done := *b
	done.Registered = true
	done.State = catalog.StateProtected
	if _, err := s.catalog.UpdateBackup(ctx, b.ID, func(cur *catalog.Backup) error {
		*cur = done
		return nil
	}); err != nil {
		return nil, fmt.Errorf("backup %s encrypted to %s and registered, but its status not recorded (%s): %w", b.ID, b.Ciphertext.Path,
			registeredAdvice(b, "its status record (which says protecting) is"), err)
	}
	return &done, nil
}

// markFailed records why protecting b failed; best effort, since the
// original error is what the caller needs. It is written even once ctx is
// done, within failedRecordTimeout, so that an interrupted protect says
// failed, and why, rather than protecting.
func (s *Service) markFailed(ctx context.Context, id string, cause error) {
	if errors.Is(cause, errs.ErrUnavailable) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), failedRecordTimeout)
	defer cancel()
	_, _ = s.catalog.UpdateBackup(ctx, id, func(b *catalog.Backup) error {
		b.State, b.FailedReason = catalog.StateFailed, catalog.Truncate(cause.Error(), 500)
		return nil
	})
}

// failedRecordTimeout bounds markFailed's write after an interruption: a
// second Ctrl-C kills the process anyway.
const failedRecordTimeout = 30 * time.Second

// ensureKey creates the per-backup key name, or accepts the one an
// interrupted protect of the same backup created, if it is still honestly
// shreddable and latched.
func (s *Service) ensureKey(ctx context.Context, name string) error {
	info, err := s.keys.KeyInfo(ctx, name)
	switch {
	case err != nil:
		return err
	case info == nil:
		return s.keys.CreateKey(ctx, name)
	case info.DeletionAllowed:
		return errs.Refusedf("key %s already exists with deletion allowed", name)
	}
	return info.Shreddable()
}

// CreateKey creates a new per-backup key name in the key store; an
// existing key is an error, since two backups never share a key.
func (s *Service) CreateKey(ctx context.Context, name string) error {
	if info, err := s.keys.KeyInfo(ctx, name); err != nil {
		return err
	} else if info != nil {
		return fmt.Errorf("key %s already exists in Vault", name)
	}
	return s.keys.CreateKey(ctx, name)
}
