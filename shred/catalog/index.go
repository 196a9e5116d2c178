package catalog

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/cryptoshred/cryptoshred/internal/parallel"
	"github.com/cryptoshred/cryptoshred/shred/errs"
)

// The catalog's indexes let a listing read only the records it may need:
// systems/<system>/<id> lists a system's backups, digests/<sha256>/<id>
// the backups of a plaintext digest, plaintext-sizes/<size> marks that
// some backup has a plaintext of that size (so a file of a new size need
// not be hashed before its duplicates are looked for; a marker, not a
// list, so the check costs one read however many backups share the
// size), and shared/<sha256> marks a digest the index names for more
// than one backup (so a plan or an attestation lists the marks once
// instead of every digest of its backups). An entry is written once,
// before the registration it indexes (a mark by the protect whose
// listing finds the second copy), so every backup registered through
// cryptoshred is in them; the role policies allow create but neither
// update nor delete there. They are hints, like the ledger head: every
// record found through one is read and matched against its registration,
// so an entry planted for another backup or for none changes nothing, and
// none can be removed to hide one. A raw API call can leave an entry out:
// a backup without its digest entry goes unnoticed everywhere, one
// without its shared mark in plans and attestations until the next init
// marks it.

// indexPaths returns the index entries of registration r.
func indexPaths(r *Registration) []string {
	var out []string
	if r.System != "" && ValidID(r.System) { // a malformed name is reported by the listings
		out = append(out, "systems/"+r.System+"/"+r.ID)
	}
	if r.Plaintext.SHA256 != "" {
		out = append(out, sizePath(r.Plaintext.Size), "digests/"+r.Plaintext.SHA256+"/"+r.ID)
	}
	return out
}

// sizePath is the size marker. The prefix is not the first version's
// "sizes/": the role policies no longer grant that one, so Vault refuses
// a cryptoshred from before the shared marks, which would index a
// duplicate without marking it, before it writes any digest entry (it
// reads or writes the size marker first).
func sizePath(size int64) string { return "plaintext-sizes/" + strconv.FormatInt(size, 10) }

func sharedPath(sum string) string { return "shared/" + sum }

// sharedMarksComplete records that every shared digest of a registered
// backup is marked. Only init writes it, after indexing every
// registration; no role policy may, so no role can make plans trust
// marks that are missing.
const sharedMarksComplete = "indexes/shared"

// writeIndex writes r's missing index entries, then marks r's digest
// shared if the index names another backup for it, and returns how many
// entries it wrote. Two backups of one plaintext indexed at once cannot
// both miss the other: each lists the digest after writing its own entry
// there, so the later one sees both.
func (c *Catalog) writeIndex(ctx context.Context, r *Registration) (int, error) {
	written := 0
	for _, path := range indexPaths(r) {
		created, err := c.createOnce(ctx, path, map[string]any{"id": r.ID})
		if err != nil {
			return written, fmt.Errorf("failed to index backup %s (%s): %w", r.ID, path, err)
		}
		if created {
			written++
		}
	}
	marked, err := c.markShared(ctx, r.Plaintext.SHA256)
	if marked {
		written++
	}
	return written, err
}

// createOnce writes data at path unless a record is there already, and
// reports whether it wrote it.
func (c *Catalog) createOnce(ctx context.Context, path string, data map[string]any) (bool, error) {
	_, err := c.store.Put(ctx, path, data, 0)
	if errors.Is(err, errs.ErrConflict) {
		return false, nil
	}
	return err == nil, err
}

// markShared marks digest sum shared if the index names more than one
// backup for it, and reports whether it wrote the mark.
func (c *Catalog) markShared(ctx context.Context, sum string) (bool, error) {
	ids, err := c.DigestIDs(ctx, sum)
	if err != nil {
		return false, fmt.Errorf("failed to list the backups of digest %s: %w", sum, err)
	}
	if len(ids) < 2 {
		return false, nil
	}
	marked, err := c.createOnce(ctx, sharedPath(sum), map[string]any{"digest": sum})
	if err != nil {
		return false, fmt.Errorf("failed to mark digest %s shared: %w", sum, err)
	}
	return marked, nil
}

// SharedDigests returns the digests marked shared, and whether the marks
// are complete. They are not until init has indexed every registration
// (and a token that may not read the record cannot tell): a caller must
// then look up every digest instead.
func (c *Catalog) SharedDigests(ctx context.Context) (map[string]bool, bool, error) {
	_, err := c.store.Get(ctx, sharedMarksComplete)
	if errors.Is(err, errs.ErrNotFound) || errors.Is(err, errs.ErrRefused) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("failed to read whether the shared marks are complete: %w", err)
	}
	sums, err := c.store.List(ctx, "shared/")
	if err != nil {
		return nil, false, fmt.Errorf("failed to list the shared marks: %w", err)
	}
	out := make(map[string]bool, len(sums))
	for _, s := range sums {
		out[s] = true
	}
	return out, true, nil
}

// CompleteSharedMarks records that the shared marks are complete and
// reports whether it wrote the record (false once it is there). Call it
// only after IndexRegistrations has run to its end.
func (c *Catalog) CompleteSharedMarks(ctx context.Context) (bool, error) {
	done, err := c.createOnce(ctx, sharedMarksComplete, map[string]any{"complete": true})
	if err != nil {
		return false, fmt.Errorf("failed to record the shared marks complete: %w", err)
	}
	return done, nil
}

// HasSize reports whether the index marks a backup with a plaintext of
// size bytes. A mark that cannot be read counts as one: the file is then
// hashed, as for any size seen before.
func (c *Catalog) HasSize(ctx context.Context, size int64) (bool, error) {
	_, err := c.store.Get(ctx, sizePath(size))
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return false, nil
	case errors.Is(err, ErrMalformed):
		return true, nil
	}
	return err == nil, err
}

// DigestIDs returns the ids the index names for plaintexts of SHA-256
// digest sum (lowercase hex). A malformed digest, as a hand-written
// registration may carry, names nothing: it must not stop a plan. Nor
// does a name there that is no backup id (a folder, say, which the admin
// may create and no role may delete): read as a backup, it would fail
// every later disposal of the original and every duplicate check of it.
func (c *Catalog) DigestIDs(ctx context.Context, sum string) ([]string, error) {
	if !digestRE.MatchString(sum) {
		return nil, nil
	}
	ids, err := c.store.List(ctx, "digests/"+sum+"/")
	return backupIDsOnly(ids), err
}

var digestRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Systems returns the names of the systems that have backups, sorted.
func (c *Catalog) Systems(ctx context.Context) ([]string, error) {
	dirs, err := c.store.List(ctx, "systems/")
	if err != nil {
		return nil, err
	}
	for i, d := range dirs {
		dirs[i] = strings.TrimSuffix(d, "/")
	}
	slices.Sort(dirs)
	return dirs, nil
}

// SystemIDs returns the ids the system index names for system, sorted. A
// name there that is no backup id (a folder, say, which the admin role
// may create and no role may delete) names nothing: read as a backup, it
// would fail every later listing and hold by system.
func (c *Catalog) SystemIDs(ctx context.Context, system string) ([]string, error) {
	if !ValidID(system) {
		return nil, fmt.Errorf("invalid system name %q", Truncate(system, 40))
	}
	ids, err := c.store.List(ctx, "systems/"+system+"/")
	return sortedBackupIDs(ids), err
}

// backupIDsOnly returns the names of a listing that are backup ids: a
// folder or other name a role planted under an index or a case's holds
// names nothing.
func backupIDsOnly(names []string) []string {
	return slices.DeleteFunc(names, func(id string) bool { return CheckID("backup", id) != nil })
}

// sortedBackupIDs returns backupIDsOnly(names), sorted.
func sortedBackupIDs(names []string) []string {
	ids := backupIDsOnly(names)
	slices.Sort(ids)
	return ids
}

// IndexRegistrations adds the index entries and shared marks missing for
// registered backups, as a catalog written before them lacks, and returns
// how many it added. It reads every registration (init runs it each time,
// with the operator's token); one it cannot read because Vault is down or
// refuses is an error, so init never records the marks complete without
// having seen every registration.
func (c *Catalog) IndexRegistrations(ctx context.Context) (int, error) {
	ids, err := c.store.List(ctx, "registrations/")
	if err != nil {
		return 0, err
	}
	added, err := parallel.Map(ctx, ids, parallel.DefaultLimit, func(ctx context.Context, id string) (int, error) {
		r, err := c.GetRegistration(ctx, id)
		if stopsListing(err) {
			return 0, fmt.Errorf("failed to read registration %s: %w", id, err)
		}
		if err != nil {
			return 0, nil // a malformed registration is reported by the listings that read it
		}
		return c.writeIndex(ctx, r)
	})
	total := 0
	for _, n := range added {
		total += n
	}
	return total, err
}
