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
// the backups of a plaintext digest, and sizes/<size> marks that some
// backup has a plaintext of that size (so a file of a new size need not
// be hashed before its duplicates are looked for; a marker, not a list,
// so the check costs one read however many backups share the size). An
// entry is written once, before the registration it indexes, so every
// registered backup is in them; the role policies allow create but
// neither update nor delete there. They are hints, like the ledger head:
// every record found through one is read and matched against its
// registration, so an entry planted for another backup or for none
// changes nothing, and none can be removed to hide one.

// indexPaths returns the index entries of registration r.
func indexPaths(r *Registration) []string {
	var out []string
	if r.System != "" {
		out = append(out, "systems/"+r.System+"/"+r.ID)
	}
	if r.Plaintext.SHA256 != "" {
		out = append(out, sizePath(r.Plaintext.Size), "digests/"+r.Plaintext.SHA256+"/"+r.ID)
	}
	return out
}

func sizePath(size int64) string { return "sizes/" + strconv.FormatInt(size, 10) }

// writeIndex writes r's missing index entries and returns how many it
// wrote; an existing entry is kept.
func (c *Catalog) writeIndex(ctx context.Context, r *Registration) (int, error) {
	written := 0
	for _, path := range indexPaths(r) {
		_, err := c.store.Put(ctx, path, map[string]any{"id": r.ID}, 0)
		switch {
		case err == nil:
			written++
		case !errors.Is(err, errs.ErrConflict):
			return written, fmt.Errorf("failed to index backup %s (%s): %w", r.ID, path, err)
		}
	}
	return written, nil
}

// HasSize reports whether the index marks a backup with a plaintext of
// size bytes.
func (c *Catalog) HasSize(ctx context.Context, size int64) (bool, error) {
	_, err := c.store.Get(ctx, sizePath(size))
	if errors.Is(err, errs.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// DigestIDs returns the ids the index names for plaintexts of SHA-256
// digest sum (lowercase hex). A malformed digest, as a hand-written
// registration may carry, names nothing: it must not stop a plan.
func (c *Catalog) DigestIDs(ctx context.Context, sum string) ([]string, error) {
	if !digestRE.MatchString(sum) {
		return nil, nil
	}
	return c.store.List(ctx, "digests/"+sum+"/")
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

// SystemIDs returns the ids the system index names for system, sorted.
func (c *Catalog) SystemIDs(ctx context.Context, system string) ([]string, error) {
	if !ValidID(system) {
		return nil, fmt.Errorf("invalid system name %q", Truncate(system, 40))
	}
	ids, err := c.store.List(ctx, "systems/"+system+"/")
	slices.Sort(ids)
	return ids, err
}

// IndexRegistrations adds the index entries missing for registered
// backups, as a catalog written before the indexes existed lacks them,
// and returns how many it added. It reads every registration; run it
// once, with a token that may read them all (the operator's, from init).
func (c *Catalog) IndexRegistrations(ctx context.Context) (int, error) {
	ids, err := c.store.List(ctx, "registrations/")
	if err != nil {
		return 0, err
	}
	added, err := parallel.Map(ctx, ids, parallel.DefaultLimit, func(ctx context.Context, id string) (int, error) {
		r, err := c.GetRegistration(ctx, id)
		if err != nil || (r.System != "" && !ValidID(r.System)) {
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
