// Package shredtest holds test helpers shared by the shred and CLI tests.
package shredtest

import (
	"context"
	"testing"

	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
)

// DestroyedInLedger counts, per backup id, the key.destroyed ledger
// entries that name it, after verifying the chain.
func DestroyedInLedger(t testing.TB, v *shred.Service) map[string]int {
	t.Helper()
	entries, err := v.Entries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, e := range entries {
		if e.Kind == ledger.KindKeyDestroyed {
			for _, id := range e.Backups {
				counts[id]++
			}
		}
	}
	return counts
}
