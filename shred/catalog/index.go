package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cryptoshred/cryptoshred/internal/parallel"
	"github.com/cryptoshred/cryptoshred/shred/errs"
)

// The system index lists a system's backups at systems/<system>/<id>, so
// a listing by system reads only that system's records. An entry is
// written once, before the registration it indexes, so every registered
// backup with a system is in it; the role policies allow create but
// neither update nor delete there. It is a hint, like the ledger head: a
// listing reads each record it names and keeps only those whose
// registration has that system, so an entry planted for another backup
// or for none changes nothing.

func systemIndexDir(system string) string      { return "systems/" + system + "/" }
func systemIndexPath(system, id string) string { return systemIndexDir(system) + id }

// indexSystem writes the system index entry of backup id, if it has a
// system; an existing entry is kept.
func (c *Catalog) indexSystem(ctx context.Context, system, id string) error {
	if system == "" {
		return nil
	}
	_, err := c.store.Put(ctx, systemIndexPath(system, id), map[string]any{"id": id}, 0)
	if err != nil && !errors.Is(err, errs.ErrConflict) {
		return fmt.Errorf("failed to index backup %s under system %s: %w", id, system, err)
	}
	return nil
}

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
	ids, err := c.store.List(ctx, systemIndexDir(system))
	slices.Sort(ids)
	return ids, err
}

// IndexSystems adds the index entries missing for registered backups, as
// a catalog written before the index existed lacks them, and returns how
// many it added. It reads every registration; run it once, with a token
// that may read them all (the operator's, from init).
func (c *Catalog) IndexSystems(ctx context.Context) (int, error) {
	ids, err := c.store.List(ctx, "registrations/")
	if err != nil {
		return 0, err
	}
	added, err := parallel.Map(ctx, ids, parallel.DefaultLimit, func(ctx context.Context, id string) (int, error) {
		return c.indexRegistration(ctx, id)
	})
	total := 0
	for _, n := range added {
		total += n
	}
	return total, err
}

// indexRegistration indexes registration id unless its entry exists, and
// returns 1 if it wrote one.
func (c *Catalog) indexRegistration(ctx context.Context, id string) (int, error) {
	r, err := c.GetRegistration(ctx, id)
	if err != nil || !ValidID(r.System) {
		return 0, nil // a malformed registration is reported by the listings that read it
	}
	_, err = c.store.Put(ctx, systemIndexPath(r.System, id), map[string]any{"id": id}, 0)
	switch {
	case errors.Is(err, errs.ErrConflict):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("failed to index backup %s: %w", id, err)
	}
	return 1, nil
}
