// Package shredtest holds test helpers shared by the shred and CLI tests.
package shredtest

import (
	"context"
	"testing"

	"github.com/cryptoshred/cryptoshred/shred"
)

// DestroyedInLedger counts, per backup id, the key.destroyed ledger
// entries that name it, after verifying the chain.
func DestroyedInLedger(t testing.TB, v *shred.Vault) map[string]int {
	t.Helper()
	entries, err := v.Entries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, e := range entries {
		if e.Event == shred.EventKeyDestroyed {
			for _, id := range e.Backups {
				counts[id]++
			}
		}
	}
	return counts
}
