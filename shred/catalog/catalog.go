package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/cryptoshred/cryptoshred/internal/parallel"
	"github.com/cryptoshred/cryptoshred/shred/errs"
)

// Catalog reads and writes backups, cases and holds in a Store, checking
// each record against the path it was read from.
type Catalog struct {
	store Store
}

// New returns a Catalog over store.
func New(store Store) *Catalog { return &Catalog{store: store} }

// Store returns the underlying store.
func (c *Catalog) Store() Store { return c.store }

func backupPath(id string) string             { return "backups/" + id }
func casePath(id string) string               { return "cases/" + id }
func holdPath(caseID, backupID string) string { return "holds/" + caseID + "/" + backupID }

// GetBackup reads a backup and the version to use for check-and-set.
func (c *Catalog) GetBackup(ctx context.Context, id string) (*Backup, int, error) {
	rec, err := c.getStatus(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	b, err := c.decodeStatus(ctx, id, rec)
	return b, rec.Version, err
}

// getStatus reads backup id's status record as stored.
func (c *Catalog) getStatus(ctx context.Context, id string) (*Record, error) {
	if err := CheckID("backup", id); err != nil {
		return nil, err
	}
	rec, err := c.store.Get(ctx, backupPath(id))
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return nil, fmt.Errorf("backup %s: %w", id, errs.ErrNotFound)
	case errors.Is(err, ErrMalformed) && rec != nil:
		return rec, nil // undecodable: decodeStatus says so, like any other junk
	}
	return rec, err
}

// decodeStatus reads rec, backup id's status record, with its
// registration applied; one that is not a status record of id is
// ErrMalformed.
func (c *Catalog) decodeStatus(ctx context.Context, id string, rec *Record) (*Backup, error) {
	var b Backup
	if rec.Data == nil {
		return nil, fmt.Errorf("%w %s: its data cannot be decoded", ErrMalformed, backupPath(id))
	}
	if err := FromMap(rec.Data, &b); err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrMalformed, backupPath(id), err)
	}
	if b.ID != id || b.Key != id {
		return nil, fmt.Errorf("catalog entry backups/%s holds id %q and key %q: the catalog was edited (a backup's key is named after it): %w", id, Truncate(b.ID, 40), Truncate(b.Key, 40), ErrMalformed)
	}
	return &b, c.register(ctx, &b)
}

// register applies b's registration, if it has one. A backup still being
// protected has none yet.
func (c *Catalog) register(ctx context.Context, b *Backup) error {
	r, err := c.GetRegistration(ctx, b.ID)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("backup %s: %w", b.ID, err)
	}
	r.apply(b)
	return nil
}

// GetBackupOrRegistration reads backup id as GetBackup does, but a status
// record that cannot be read (malformed, or naming another backup) or is
// missing (a register stopped between its registration and its status
// write) gives the backup as its registration has it, with no state: a
// hold rests on the registration, never on the status.
func (c *Catalog) GetBackupOrRegistration(ctx context.Context, id string) (*Backup, int, error) {
	rec, err := c.getStatus(ctx, id)
	if errors.Is(err, errs.ErrNotFound) {
		return c.registrationOnly(ctx, id, 0, err)
	}
	if err != nil {
		return nil, 0, err
	}
	b, err := c.decodeStatus(ctx, id, rec)
	if !errors.Is(err, ErrMalformed) {
		return b, rec.Version, err
	}
	return c.registrationOnly(ctx, id, rec.Version, err)
}

// registrationOnly returns backup id as its registration has it, and
// version, its status record's; with no registration to read, it returns
// statusErr, why the status record was not taken.
func (c *Catalog) registrationOnly(ctx context.Context, id string, version int, statusErr error) (*Backup, int, error) {
	r, err := c.GetRegistration(ctx, id)
	switch {
	case stopsListing(err):
		return nil, 0, err
	case err != nil:
		return nil, 0, statusErr
	}
	return r.Backup(), version, nil
}

// PutBackup writes b if the stored version is still cas (0: new).
func (c *Catalog) PutBackup(ctx context.Context, b *Backup, cas int) (int, error) {
	return PutJSON(ctx, c.store, backupPath(b.ID), b, cas)
}

// UpdateBackup applies change to backup id under check-and-set, retrying
// when another operator wrote first. change sees the latest record each
// time; if it returns an error nothing is written.
func (c *Catalog) UpdateBackup(ctx context.Context, id string, change func(*Backup) error) (*Backup, error) {
	for attempt := 0; attempt < 50; attempt++ {
		b, version, err := c.GetBackup(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := change(b); err != nil {
			return b, err
		}
		if _, err = c.PutBackup(ctx, b, version); !errors.Is(err, errs.ErrConflict) {
			return b, err
		}
		SleepJitter(ctx, attempt)
	}
	return nil, fmt.Errorf("backup %s: %w (gave up after many retries)", id, errs.ErrConflict)
}

// BackupFilter selects backups in ListBackups; empty fields match all.
type BackupFilter struct {
	State  State
	System string
	Case   string
}

// match reports whether b has f's state and system. It does not ask
// about f's case: the case's hold records chose the backups (the status
// fields naming cases are the admin's to write, and a protect's last
// status write may drop a hold placed during it).
func (f BackupFilter) match(b *Backup) bool {
	return (f.State == "" || b.State == f.State) &&
		(f.System == "" || b.System == f.System)
}

// BackupIDs returns the ids of the catalog's backups, sorted.
func (c *Catalog) BackupIDs(ctx context.Context) ([]string, error) {
	ids, err := c.store.List(ctx, "backups/")
	slices.Sort(ids)
	return ids, err
}

// ListBackups returns the catalog's backups that match f, oldest first,
// and one RecordError per record it could not read. A malformed record
// is skipped and reported, so no single record stops a listing; a failure
// to reach the store is an error.
//
// A filter by case reads only the backups the case held (its hold
// records), which decide (INTEGRITY rule 6): what a status record says of
// cases is not asked. One by system reads only those the system index
// names; every record read is still matched against f's state and system.
func (c *Catalog) ListBackups(ctx context.Context, f BackupFilter) ([]*Backup, []*RecordError, error) {
	ids, indexed, err := c.candidateIDs(ctx, f)
	if err != nil {
		return nil, nil, err
	}
	backups, bad, err := c.ReadBackups(ctx, ids)
	if indexed && err == nil {
		bad, err = c.withoutUnwritten(ctx, bad)
	}
	return slices.DeleteFunc(backups, func(b *Backup) bool { return !f.match(b) }), bad, err
}

// candidateIDs returns, sorted, the ids f can match: the case's held
// backups, the system's indexed ones, or every backup; indexed says the
// ids came from an index.
func (c *Catalog) candidateIDs(ctx context.Context, f BackupFilter) (ids []string, indexed bool, err error) {
	switch {
	case f.Case != "":
		ids, err = c.HeldIDs(ctx, f.Case)
		return ids, true, err
	case f.System != "":
		ids, err = c.SystemIDs(ctx, f.System)
		return ids, true, err
	}
	ids, err = c.BackupIDs(ctx)
	return ids, false, err
}

// GetBackups reads the backups ids, in order; any unreadable record is an
// error.
func (c *Catalog) GetBackups(ctx context.Context, ids []string) ([]*Backup, error) {
	return parallel.Map(ctx, ids, parallel.DefaultLimit, func(ctx context.Context, id string) (*Backup, error) {
		b, _, err := c.GetBackup(ctx, id)
		return b, err
	})
}

// ReadBackups reads the backups ids, in order, skipping and reporting
// the records that are missing or malformed.
func (c *Catalog) ReadBackups(ctx context.Context, ids []string) ([]*Backup, []*RecordError, error) {
	return readEach(ctx, ids, backupPath, func(ctx context.Context, id string) (*Backup, error) {
		b, _, err := c.GetBackup(ctx, id)
		return b, err
	})
}

// readEach reads the record of each of ids with get, several at once,
// and returns those it read, in order, and a RecordError naming path(id)
// for each it could not read; Vault not answering, or refusing the
// token, stops it (stopsListing).
func readEach[T any](ctx context.Context, ids []string, path func(string) string, get func(context.Context, string) (*T, error)) ([]*T, []*RecordError, error) {
	type read struct {
		v   *T
		err error
	}
	all, err := parallel.Map(ctx, ids, parallel.DefaultLimit, func(ctx context.Context, id string) (read, error) {
		v, err := get(ctx, id)
		if stopsListing(err) {
			return read{}, err
		}
		return read{v, err}, nil
	})
	var out []*T
	var bad []*RecordError
	for i, r := range all {
		if r.err != nil {
			bad = append(bad, &RecordError{ID: ids[i], Path: path(ids[i]), Err: r.err})
		} else if r.v != nil {
			out = append(out, r.v)
		}
	}
	return out, bad, err
}

// withoutUnwritten returns bad, the records an indexed listing skipped,
// without those whose status record is not written (an index entry is
// written before the records it indexes) and that have no registration
// either: they name nothing. One with a registration is kept, and said
// to be registered: its status record is missing (a register stopped
// before writing it), which must hide it from no hold.
func (c *Catalog) withoutUnwritten(ctx context.Context, bad []*RecordError) ([]*RecordError, error) {
	var out []*RecordError
	for _, e := range bad {
		if !gone(e) {
			out = append(out, e)
			continue
		}
		_, err := c.GetRegistration(ctx, e.ID)
		switch {
		case stopsListing(err):
			return nil, err
		case !errors.Is(err, errs.ErrNotFound):
			out = append(out, &RecordError{ID: e.ID, Path: e.Path, Err: fmt.Errorf("%w, though the backup is registered (a register stopped before writing it: run it again)", e.Err)})
		}
	}
	return out, nil
}

// gone reports whether e is a record deleted since it was listed.
func gone(e *RecordError) bool { return errors.Is(e.Err, errs.ErrNotFound) }

// RecordError is a record a listing skipped because it could not be read
// or is malformed.
type RecordError struct {
	ID   string
	Path string
	Err  error
}

func (e *RecordError) Error() string { return "skipped " + e.Path + ": " + e.Err.Error() }

// Unwrap returns why the record was skipped.
func (e *RecordError) Unwrap() error { return e.Err }

// GetCase reads a case and its version.
func (c *Catalog) GetCase(ctx context.Context, id string) (*Case, int, error) {
	if err := CheckID("case", id); err != nil {
		return nil, 0, err
	}
	var cs Case
	version, err := GetJSON(ctx, c.store, casePath(id), &cs)
	if errors.Is(err, errs.ErrNotFound) {
		return nil, 0, fmt.Errorf("case %s: %w", id, errs.ErrNotFound)
	}
	if err == nil && cs.ID != id {
		return nil, 0, fmt.Errorf("catalog entry cases/%s holds id %q: the catalog was edited", id, cs.ID)
	}
	return &cs, version, err
}

// PutCase writes cs if the stored version is still cas (0: new).
func (c *Catalog) PutCase(ctx context.Context, cs *Case, cas int) (int, error) {
	return PutJSON(ctx, c.store, casePath(cs.ID), cs, cas)
}

// caseIDs returns the ids of every case record, sorted, without reading
// any. A name under cases/ that is no case id (a folder the compliance
// role created) is none.
func (c *Catalog) caseIDs(ctx context.Context) ([]string, error) {
	ids, err := c.store.List(ctx, "cases/")
	ids = slices.DeleteFunc(ids, func(id string) bool { return CheckID("case", id) != nil })
	slices.Sort(ids)
	return ids, err
}

// ListCases returns every case, and the case records it skipped because
// they cannot be read as one (junk the compliance role wrote), so that
// one such record hides no other case. A record deleted since the
// listing is left out.
func (c *Catalog) ListCases(ctx context.Context) ([]*Case, []*RecordError, error) {
	ids, err := c.caseIDs(ctx)
	if err != nil {
		return nil, nil, err
	}
	cases, bad, err := readEach(ctx, ids, casePath, func(ctx context.Context, id string) (*Case, error) {
		cs, _, err := c.GetCase(ctx, id)
		return cs, err
	})
	return cases, slices.DeleteFunc(bad, gone), err
}

// stopsListing reports whether err, met reading one record of a listing,
// stops the listing: Vault did not answer, or refused the token. Any
// other failure is the record's own.
func stopsListing(err error) bool {
	return errors.Is(err, errs.ErrUnavailable) || errors.Is(err, errs.ErrRefused)
}

// GetHold reads caseID's hold on backup id and its version.
func (c *Catalog) GetHold(ctx context.Context, caseID, id string) (*Hold, int, error) {
	var h Hold
	version, err := GetJSON(ctx, c.store, holdPath(caseID, id), &h)
	if err == nil && (h.Case != caseID || h.Backup != id) {
		return nil, 0, fmt.Errorf("hold record holds/%s/%s was edited", caseID, id)
	}
	return &h, version, err
}

// PutHold writes h if the stored version is still cas (0: new).
func (c *Catalog) PutHold(ctx context.Context, h *Hold, cas int) (int, error) {
	return PutJSON(ctx, c.store, holdPath(h.Case, h.Backup), h, cas)
}

// HeldIDs returns the ids of the backups a case held, sorted. A name
// under the case's holds that is no backup id (a folder, say, which the
// compliance role may create and no role may delete) holds nothing.
func (c *Catalog) HeldIDs(ctx context.Context, caseID string) ([]string, error) {
	if err := CheckID("case", caseID); err != nil {
		return nil, err
	}
	ids, err := c.store.List(ctx, "holds/"+caseID+"/")
	return sortedBackupIDs(ids), err
}

// CaseHolds returns the holds a case placed.
func (c *Catalog) CaseHolds(ctx context.Context, caseID string) ([]*Hold, error) {
	ids, err := c.HeldIDs(ctx, caseID)
	if err != nil {
		return nil, err
	}
	return parallel.Map(ctx, ids, parallel.DefaultLimit, func(ctx context.Context, id string) (*Hold, error) {
		h, _, err := c.GetHold(ctx, caseID, id)
		return h, err
	})
}

// HeldBackups returns the backups a case held, sorted by id.
func (c *Catalog) HeldBackups(ctx context.Context, caseID string) ([]*Backup, error) {
	ids, err := c.HeldIDs(ctx, caseID)
	if err != nil {
		return nil, err
	}
	return c.GetBackups(ctx, ids)
}
