package vaulttest

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/cryptoshred/cryptoshred/internal/testtools"
)

// DeleteCeiling measures the raw capacity of a server for the per-key work
// of a shred: with creator, it creates n keys in the Transit mount transit
// and allows their deletion; then deleter deletes and reads back each, with
// clients goroutines and no other logic. It returns keys per second of the
// second step. The keys are gone afterwards. Vault's cost per request
// depends on the token's policies, so deleter should carry the token
// whose work is compared with it.
func DeleteCeiling(ctx context.Context, creator, deleter *api.Client, transit string, n, clients int) (float64, error) {
	name := func(i int) string { return fmt.Sprintf("%s/keys/ceiling-%d", transit, i) }
	err := testtools.Each(n, clients, func(i int) error {
		if _, err := creator.Logical().WriteWithContext(ctx, name(i), map[string]any{"type": "aes256-gcm96"}); err != nil {
			return err
		}
		_, err := creator.Logical().WriteWithContext(ctx, name(i)+"/config", map[string]any{"deletion_allowed": true})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("failed to create the ceiling's keys: %w", err)
	}
	rate, err := WorkRate(n, clients, func(i int) error {
		if _, err := deleter.Logical().DeleteWithContext(ctx, name(i)); err != nil {
			return err
		}
		sec, err := deleter.Logical().ReadWithContext(ctx, name(i))
		if err == nil && sec != nil {
			err = fmt.Errorf("%s still there after its deletion", name(i))
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("failed to delete the ceiling's keys: %w", err)
	}
	return rate, nil
}

// WorkRate calls work for each of 0 to n-1, clients calls at a time and
// with no other logic, and returns calls per second. The caller prepares
// whatever work needs beforehand, so that only the requests are timed.
func WorkRate(n, clients int, work func(int) error) (float64, error) {
	start := time.Now()
	if err := testtools.Each(n, clients, work); err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// DeleteCeilings returns DeleteCeiling with 16 clients (the issue's
// measure) and the best of 16, 32 and 64 clients: Vault on Raft serves
// more with more clients.
func DeleteCeilings(ctx context.Context, creator, deleter *api.Client, transit string, n int) (at16, best float64, err error) {
	for _, clients := range []int{16, 32, 64} {
		rate, err := DeleteCeiling(ctx, creator, deleter, transit, n, clients)
		if err != nil {
			return 0, 0, err
		}
		if clients == 16 {
			at16 = rate
		}
		best = max(best, rate)
	}
	return at16, best, nil
}
