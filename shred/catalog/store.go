package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"
)

// Record is one stored object and its version. Version counts the writes
// to its path, starting at 1, as KV v2 does.
type Record struct {
	Data    map[string]any
	Version int
	// Written is when the store wrote this version, by its own clock
	// (Vault's created_time), which no writer sets; zero if unknown.
	Written time.Time
}

// Store holds records at slash-separated paths ("backups/bk-1") with
// check-and-set writes. Vault's KV v2 engine is the production store.
type Store interface {
	// Get reads path. A missing or deleted record returns an error
	// wrapping errs.ErrNotFound; one whose data cannot be decoded at
	// all returns an ErrMalformed with a Record of its version and write
	// time but no data.
	Get(ctx context.Context, path string) (*Record, error)
	// Put writes data at path if the current version is cas (0: the
	// path must be empty) and returns the new version. A lost race
	// returns an error wrapping errs.ErrConflict.
	Put(ctx context.Context, path string, data map[string]any, cas int) (int, error)
	// List returns the names under dir (ending in "/"); a missing dir
	// lists nothing.
	List(ctx context.Context, dir string) ([]string, error)
}

// ErrMalformed marks a record that exists but cannot be read as what its
// path holds.
var ErrMalformed = errors.New("malformed catalog entry")

// GetJSON reads path into out, a pointer to a struct, rejecting unknown
// fields, and returns the record's version. A record that exists but is
// not what path holds returns its version with an ErrMalformed, so that a
// writer may replace it with check-and-set.
func GetJSON(ctx context.Context, s Store, path string, out any) (int, error) {
	rec, err := s.Get(ctx, path)
	switch {
	case errors.Is(err, ErrMalformed) && rec != nil:
		return rec.Version, err
	case err != nil:
		return 0, err
	}
	if err := FromMap(rec.Data, out); err != nil {
		return rec.Version, fmt.Errorf("%w %s: %w", ErrMalformed, path, err)
	}
	return rec.Version, nil
}

// PutJSON writes in, a struct, at path with check-and-set version cas.
func PutJSON(ctx context.Context, s Store, path string, in any, cas int) (int, error) {
	m, err := ToMap(in)
	if err != nil {
		return 0, err
	}
	return s.Put(ctx, path, m, cas)
}

// ToMap turns a struct into the map a Store writes.
func ToMap(in any) (map[string]any, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	// UseNumber keeps integers above 2^53 exact on their way to Vault.
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	return m, dec.Decode(&m)
}

// FromMap decodes a stored map into out, rejecting unknown fields.
func FromMap(m map[string]any, out any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return StrictUnmarshal(b, out)
}

// StrictUnmarshal decodes exactly one JSON value from b into out,
// rejecting unknown fields and trailing data.
func StrictUnmarshal(b []byte, out any) error {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	return nil
}

// SleepJitter waits a short random time that grows with attempt, so
// writers that lost a check-and-set race do not retry in lockstep.
func SleepJitter(ctx context.Context, attempt int) {
	d := time.Duration(1+rand.IntN(1+min(attempt, 20))) * time.Millisecond
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// Now is the catalog's clock, in UTC and whole microseconds so it survives
// JSON.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
