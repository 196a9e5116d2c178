package shred_test

import (
	"context"
	"testing"

	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// A batch whose keys all failed to be deleted (here the latch was closed
// again after the plan, so Vault refuses every delete) writes no
// destruction record: before, the run wrote an empty create-only record,
// junk that every later plan of the case read.
func TestBatchWithNoKeyGoneWritesNoRecord(t *testing.T) {
	srv, _ := newVault(t)
	ctx := context.Background()
	ids := closedCaseOf(t, srv, "EMPTY", 2)
	adminV := roleVault(t, srv, vault.PolicyAdmin)
	plan, err := adminV.PlanShred(ctx, "EMPTY", catalog.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		b, _, err := adminV.GetBackup(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Root(t).Logical().Write("cryptoshred-transit/keys/"+b.Key+"/config", map[string]any{"deletion_allowed": false}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := adminV.Run(ctx, admin, plan, runOpts(t))
	if err == nil || res == nil || len(res.Failed) != len(ids) || res.KeysDestroyed != 0 {
		t.Fatalf("run: %v, %+v", err, res)
	}
	sec, err := srv.Root(t).Logical().List("cryptoshred/metadata/destructions/EMPTY/")
	if err != nil || sec != nil {
		t.Fatalf("destruction records after a run that destroyed nothing: %v %v", sec, err)
	}
}
