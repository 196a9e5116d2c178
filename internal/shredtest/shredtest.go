// Package shredtest holds test helpers shared by the shred and CLI tests.
package shredtest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
)

// DestroyedInLedger counts, per backup id, the key.destroyed ledger
// entries that name it, after verifying the chain.
func DestroyedInLedger(t testing.TB, v *shred.Service) map[string]int {
	t.Helper()
	counts, err := InLedger(v, ledger.KindKeyDestroyed)
	if err != nil {
		t.Fatal(err)
	}
	return counts
}

// InLedger counts, per backup id, the ledger entries of kind that name
// it, after verifying the chain. It may be called off the test goroutine.
func InLedger(v *shred.Service, kind string) (map[string]int, error) {
	entries, err := v.Entries(context.Background())
	counts := map[string]int{}
	for _, e := range entries {
		if e.Kind == kind {
			for _, id := range e.Backups {
				counts[id]++
			}
		}
	}
	return counts, err
}

// PlanByID plans caseID's destruction now and returns its items by
// backup id.
func PlanByID(t testing.TB, v *shred.Service, caseID string) map[string]*shred.PlanItem {
	t.Helper()
	plan, err := v.PlanShred(context.Background(), caseID, catalog.Now())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*shred.PlanItem{}
	for _, it := range plan.Items {
		out[it.Backup.ID] = it
	}
	return out
}

// BeforeWrite is a catalog.Store that runs Before once, just ahead of the
// first write through it of a path that starts with Prefix: another
// writer taking the moment between a reader's last look and its write
// (Prefix "ledger/0": a ledger slot). Before must write through another
// store: a write through this one would wait for itself.
type BeforeWrite struct {
	catalog.Store
	Prefix string
	Before func()
	once   sync.Once
}

// Put writes through the store, after Before on the first matching write.
func (r *BeforeWrite) Put(ctx context.Context, path string, data map[string]any, cas int) (int, error) {
	if strings.HasPrefix(path, r.Prefix) {
		r.once.Do(r.Before)
	}
	return r.Store.Put(ctx, path, data, cas)
}

// AppendDated appends ev to the ledger in store as a role token's holder
// can with plain calls: an entry by actor dated at, whatever the time,
// signed with role's key through signer and created in the next slot.
func AppendDated(t testing.TB, store catalog.Store, signer ledger.Signer, role, actor string, ev ledger.Event, at time.Time) {
	t.Helper()
	ctx := context.Background()
	entries, err := ledger.New(store, signer).Entries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	last := entries[len(entries)-1]
	e := ledger.Entry{Seq: last.Seq + 1, Prev: last.Hash, Time: at, Actor: actor, Kind: ev.Kind, Case: ev.Case, Backups: ev.Backups, Details: ev.Details}
	raw, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.Sign(ctx, role, raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Put(ctx, fmt.Sprintf("ledger/%012d", e.Seq), map[string]any{"entry": string(raw), "sig": sig}, 0); err != nil {
		t.Fatal(err)
	}
}
