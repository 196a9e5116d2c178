package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/cryptoshred/cryptoshred/internal/testtools"
	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// runRequestsCeiling returns the raw capacity of a server, in backups per
// second, for the requests a shred run makes for each backup
// (BenchmarkShredRunRequestMix counts them), replayed through a
// backup-admin token by 16 clients with no other logic: the plan reads a
// status record, a registration, a key and a hold record; the run deletes
// the key and reads it back (its destruction record and ledger entry are
// one write per batch); the attestation reads the hold record again and
// one ledger slot. The run's rate against it is how much of Vault the
// client leaves unused; it against the delete + read-back ceiling is what
// the data model's requests cost.
// mixKV names the KV paths the replay reads and writes.
type mixKV struct {
	kv, caseID string
	ids        []string
}

func (m mixKV) data(path string) string { return m.kv + "/data/" + path }

// It reads caseID's own records (status, registration, hold, ledger
// slots) for up to n of its backups, and deletes keys made for it by root,
// so that the case itself is left as it was.
func runRequestsCeiling(b *testing.B, root, admin *api.Client, caseID string, n int) float64 {
	ctx := context.Background()
	m := mixKV{kv: vault.DefaultMounts.KV, caseID: caseID, ids: caseIDs(b, root, vault.DefaultMounts.KV, caseID)}
	n = min(n, 2000, len(m.ids))
	prefix := "mix-" + rand.Text()[:8]
	if err := m.prepare(ctx, root, prefix, n); err != nil {
		b.Fatal(err)
	}
	rate, err := vaulttest.WorkRate(n, 16, func(i int) error { return m.replay(ctx, admin, prefix, i) })
	if err != nil {
		b.Fatal(err)
	}
	return rate
}

// caseIDs lists the backups caseID holds.
func caseIDs(b *testing.B, root *api.Client, kv, caseID string) []string {
	sec, err := root.Logical().List(kv + "/metadata/holds/" + caseID + "/")
	if err != nil || sec == nil {
		b.Fatalf("failed to list the case's holds: %v", err)
	}
	keys, _ := sec.Data["keys"].([]any)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i], _ = k.(string)
	}
	return out
}

// prepare creates, for each of n backups, a key named prefix-i whose
// deletion is allowed.
func (m mixKV) prepare(ctx context.Context, root *api.Client, prefix string, n int) error {
	transit := vault.DefaultMounts.Transit
	return testtools.Each(n, 16, func(i int) error {
		name := fmt.Sprintf("%s-%d", prefix, i)
		if _, err := root.Logical().WriteWithContext(ctx, transit+"/keys/"+name, map[string]any{"type": "aes256-gcm96"}); err != nil {
			return err
		}
		_, err := root.Logical().WriteWithContext(ctx, transit+"/keys/"+name+"/config", map[string]any{"deletion_allowed": true})
		return err
	})
}

// replay makes backup i's requests with admin, deleting key prefix-i.
func (m mixKV) replay(ctx context.Context, admin *api.Client, prefix string, i int) error {
	name, id := fmt.Sprintf("%s-%d", prefix, i), m.ids[i]
	key := vault.DefaultMounts.Transit + "/keys/" + name
	hold := m.data("holds/" + m.caseID + "/" + id)
	if err := readAll(ctx, admin, m.data("backups/"+id), m.data("registrations/"+id), key, hold); err != nil {
		return err
	}
	if _, err := admin.Logical().DeleteWithContext(ctx, key); err != nil {
		return err
	}
	if sec, err := admin.Logical().ReadWithContext(ctx, key); err != nil || sec != nil {
		return fmt.Errorf("key %s not read back as gone: %v", name, err)
	}
	return readAll(ctx, admin, hold, m.data(fmt.Sprintf("ledger/%012d", i+1)))
}

// readAll reads each path, which must exist.
func readAll(ctx context.Context, c *api.Client, paths ...string) error {
	for _, p := range paths {
		sec, err := c.Logical().ReadWithContext(ctx, p)
		if err == nil && sec == nil {
			err = errors.New("not found")
		}
		if err != nil {
			return fmt.Errorf("failed to read %s: %w", p, err)
		}
	}
	return nil
}
