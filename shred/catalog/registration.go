package catalog

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/cryptoshred/cryptoshred/shred/errs"
)

// Registration is what is known of a backup once it is protected, stored
// write-once at registrations/<id>: the role policies give create but not
// update there, so no role token can change it afterwards. Every decision
// about which file is deleted, which digest is attested and which key is
// destroyed is taken from it, never from the mutable status record.
type Registration struct {
	ID          string            `json:"id"`
	Key         string            `json:"key"`
	Name        string            `json:"name"`
	System      string            `json:"system,omitempty"`
	Controllers []string          `json:"controllers,omitempty"`
	Categories  []string          `json:"categories,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Ciphertext  FileInfo          `json:"ciphertext"`
	Plaintext   FileInfo          `json:"plaintext"`
	// Original is the plaintext the backup was made from, if it existed
	// unencrypted before protect; its disposal is recorded later, in the
	// status record.
	Original  *FileInfo `json:"original,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	CreatedBy string    `json:"createdBy"`
}

func registrationPath(id string) string { return "registrations/" + id }

// NewRegistration takes the registration facts from a backup about to be
// marked protected.
func NewRegistration(b *Backup) *Registration {
	r := &Registration{ID: b.ID, Key: b.Key, Name: b.Name, System: b.System, Controllers: b.Controllers,
		Categories: b.Categories, Labels: b.Labels, Ciphertext: b.Ciphertext, Plaintext: b.Plaintext,
		CreatedAt: b.CreatedAt, CreatedBy: b.CreatedBy}
	if b.Original != nil && b.Original.EncryptedAfterFirstStorage {
		o := b.Original.FileInfo
		r.Original = &o
	}
	return r
}

// PutRegistration writes r once, after its index entries. A registration
// that exists already is accepted only if it records the same ciphertext
// (a re-run of an interrupted protect); anything else is refused.
func (c *Catalog) PutRegistration(ctx context.Context, r *Registration) error {
	if _, err := c.writeIndex(ctx, r); err != nil {
		return err
	}
	_, err := PutJSON(ctx, c.store, registrationPath(r.ID), r, 0)
	if !errors.Is(err, errs.ErrConflict) {
		return err
	}
	cur, err := c.GetRegistration(ctx, r.ID)
	if err != nil {
		return err
	}
	if cur.Ciphertext.SHA256 != r.Ciphertext.SHA256 || cur.Key != r.Key {
		return errs.Refusedf("backup %s is already registered with another ciphertext: a registration is written once", r.ID)
	}
	return nil
}

// GetRegistration reads backup id's registration, from ctx's
// registration cache when it holds it (see WithRegistrationCache).
func (c *Catalog) GetRegistration(ctx context.Context, id string) (*Registration, error) {
	cache, _ := ctx.Value(registrationCacheKey{}).(*registrationCache)
	if r := cache.get(id); r != nil {
		return r, nil
	}
	var r Registration
	if _, err := GetJSON(ctx, c.store, registrationPath(id), &r); err != nil {
		return nil, err
	}
	if r.ID != id || r.Key != id {
		return nil, fmt.Errorf("registration %s holds id %q and key %q", id, Truncate(r.ID, 40), Truncate(r.Key, 40))
	}
	cache.put(&r)
	return &r, nil
}

type registrationCacheKey struct{}

// registrationCache holds the registrations read under one context.
type registrationCache struct {
	mu sync.Mutex
	m  map[string]Registration
}

// WithRegistrationCache returns ctx with an empty registration cache:
// GetRegistration under it reads each registration from the store once
// and answers later reads from memory. That is safe because a
// registration is write-once (no role's policy gives update or delete on
// registrations/), so a second read returns the same record; a missing
// registration is never cached. The cache lives as long as ctx, one
// command's run, not the process.
func WithRegistrationCache(ctx context.Context) context.Context {
	if _, ok := ctx.Value(registrationCacheKey{}).(*registrationCache); ok {
		return ctx
	}
	return context.WithValue(ctx, registrationCacheKey{}, &registrationCache{m: map[string]Registration{}})
}

func (rc *registrationCache) get(id string) *Registration {
	if rc == nil {
		return nil
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	r, ok := rc.m[id]
	if !ok {
		return nil
	}
	// Callers get their own slices and map, as from a fresh read.
	r.Controllers, r.Categories, r.Labels = slices.Clone(r.Controllers), slices.Clone(r.Categories), maps.Clone(r.Labels)
	if r.Original != nil {
		o := *r.Original
		r.Original = &o
	}
	return &r
}

func (rc *registrationCache) put(r *Registration) {
	if rc == nil {
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.m[r.ID] = *r
}

// Backup returns a backup record made of r alone, with no state: what is
// known of a registered backup whose status record cannot be read.
func (r *Registration) Backup() *Backup {
	b := &Backup{}
	r.apply(b)
	return b
}

// apply overwrites b's registration facts with r's, so no decision can
// rest on a status record edited since.
func (r *Registration) apply(b *Backup) {
	b.ID, b.Key, b.Name, b.System = r.ID, r.Key, r.Name, r.System
	b.Controllers, b.Categories, b.Labels = r.Controllers, r.Categories, r.Labels
	b.Ciphertext, b.Plaintext, b.CreatedAt, b.CreatedBy = r.Ciphertext, r.Plaintext, r.CreatedAt, r.CreatedBy
	b.Registered = true
	if r.Original == nil {
		b.Original = nil // a status record's own original (a stream backup has none) would decide holds by date and disposals
		return
	}
	var disposal *Disposal
	if b.Original != nil {
		disposal = b.Original.Disposal
	}
	b.Original = &Original{FileInfo: *r.Original, EncryptedAfterFirstStorage: true, Disposal: disposal}
}

// ForgetRegistrations drops ids from ctx's registration cache, for a
// caller that will not read them again under ctx (a run whose attestation
// takes the backups it destroyed from its own records). A Go map keeps its
// size after deletes, so the cache is copied into one of the size left.
func ForgetRegistrations(ctx context.Context, ids func(yield func(string) bool)) {
	rc, _ := ctx.Value(registrationCacheKey{}).(*registrationCache)
	if rc == nil {
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := len(rc.m)
	for id := range ids {
		delete(rc.m, id)
	}
	if len(rc.m) == n {
		return
	}
	m := make(map[string]Registration, len(rc.m))
	for id, r := range rc.m {
		m[id] = r
	}
	rc.m = m
}
