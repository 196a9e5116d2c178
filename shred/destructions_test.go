package shred_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// A run records its destructions once per batch and writes no status
// record, and every reader still finds the backups shredded: the plan,
// backup show and list (by state and by case), and the attestation.
func TestRunWritesNoStatusRecord(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	ctx := context.Background()
	var backups []*catalog.Backup
	for _, data := range []string{"first", "second", "third"} {
		b, _ := protect(t, adminV, []byte(data))
		backups = append(backups, b)
	}
	planOf(t, adminV, complianceV, "NOSTATUS", backups...)
	before := statusVersions(t, adminV, backups)
	res, err := adminV.RunShred(ctx, admin, "NOSTATUS", runOpts(t))
	if err != nil || len(res.Destroyed) != 3 || len(attestedStatement(t, res.Attestation).Predicate.Backups) != 3 {
		t.Fatalf("shred run: %+v %v", res, err)
	}
	if after := statusVersions(t, adminV, backups); !slices.Equal(after, before) {
		t.Fatalf("status record versions went from %v to %v: the run wrote them", before, after)
	}
	if names := destructionRecords(t, srv, "NOSTATUS"); len(names) != 1 {
		t.Fatalf("destruction records %v, want one for the run's one batch", names)
	}
	for _, b := range backups {
		got, _, err := adminV.GetBackup(ctx, b.ID)
		if err != nil || got.State != catalog.StateShredded || got.Destruction == nil || !got.Destruction.CiphertextDeleted {
			t.Fatalf("%s reads as %+v %v, want shredded with its ciphertext deleted", b.ID, got, err)
		}
	}
	for _, f := range []catalog.BackupFilter{{State: catalog.StateShredded}, {Case: "NOSTATUS"}} {
		if listed, _, err := adminV.ListBackups(ctx, f); err != nil || len(listed) != 3 || listed[0].State != catalog.StateShredded {
			t.Fatalf("backup list %+v: %d backups, %v; want the three, shredded", f, len(listed), err)
		}
	}
	if listed, _, err := adminV.ListBackups(ctx, catalog.BackupFilter{State: catalog.StateReleased}); err != nil || len(listed) != 0 {
		t.Fatalf("backup list --state released: %d backups, %v; want none", len(listed), err)
	}
	plan, err := adminV.PlanShred(ctx, "NOSTATUS", catalog.Now())
	if err != nil || plan.Count(shred.ActionDone) != 3 || !strings.HasPrefix(plan.Items[0].Reason, "already shredded at ") {
		t.Fatalf("plan after the run: %+v %v, want all three done", plan, err)
	}
}

// Attack: the admin creates, with plain Vault calls, a destruction record
// that sorts before the run's, naming a released backup whose key is still
// in Vault and a backup another open case holds (and writes that case
// into its status as closed, so that backup show finds the record). The
// plan still destroys the first (Vault has its key), the attestation
// states its destruction as the run recorded it in the ledger, and the
// held backup's ciphertext is still verified (and found missing once
// removed).
func TestAttackForgedDestructionRecordDecidesNothing(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	ctx := context.Background()
	released, _ := protect(t, adminV, []byte("released, key still there"))
	held, _ := protect(t, adminV, []byte("held by an open case"))
	openCase(t, complianceV, "OPEN")
	hold(t, complianceV, "OPEN", held.ID)
	planOf(t, adminV, complianceV, "FORGED", released)
	forged := destructionRecord("forger", "key read after delete: not found; transit mount present")
	insider := asRole(t, srv, vault.PolicyAdmin)
	for _, c := range []struct{ caseID, id string }{{"FORGED", released.ID}, {"OPEN", held.ID}} {
		insider.mustWrite("destructions/"+c.caseID+"/00000000T000000.000000Z-forgedfirst",
			map[string]any{"case": c.caseID, "by": "forger", "at": forged["destroyedAt"], "backups": map[string]any{c.id: forged}})
	}

	plan, err := adminV.PlanShred(ctx, "FORGED", catalog.Now())
	if err != nil || plan.Count(shred.ActionDestroy) != 1 {
		t.Fatalf("plan: %+v %v, want %s destroyed: Vault still has its key", plan, err, released.ID)
	}
	res, err := adminV.Run(ctx, admin, plan, runOpts(t))
	if err != nil || len(res.Destroyed) != 1 {
		t.Fatalf("shred run: %+v %v", res, err)
	}
	a, err := adminV.Attest(ctx, admin, "FORGED", runOpts(t).Attest)
	if err != nil {
		t.Fatal(err)
	}
	if got := attestedStatement(t, a).Predicate.Backups; len(got) != 1 || got[0].DestroyedBy == "forger" {
		t.Fatalf("attested %+v, want the run's destruction of %s", got, released.ID)
	}

	rec := insider.read("backups/" + held.ID)
	rec["closedCases"] = []string{"OPEN"}
	insider.mustWrite("backups/"+held.ID, rec)
	if got, _, err := adminV.GetBackup(ctx, held.ID); err != nil || got.State != catalog.StateShredded {
		t.Fatalf("the held backup reads as %+v %v; want the forged record shown, as a forged status would be", got, err)
	}
	if err := os.Remove(held.Ciphertext.Path); err != nil {
		t.Fatal(err)
	}
	verified, err := adminV.VerifyBackups(ctx, nil, "OPEN")
	if err != nil || len(verified) != 1 || verified[0].OK || !strings.Contains(verified[0].Problem, "missing") {
		t.Fatalf("backup verify of a held backup a forged record names: %+v %v", verified, err)
	}
}

func statusVersions(t *testing.T, v *shred.Service, backups []*catalog.Backup) []int {
	t.Helper()
	out := make([]int, len(backups))
	for i, b := range backups {
		_, version, err := v.GetBackup(context.Background(), b.ID)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = version
	}
	return out
}

func destructionRecords(t *testing.T, srv *vaulttest.Server, caseID string) []any {
	t.Helper()
	sec, err := srv.Root(t).Logical().List("cryptoshred/metadata/destructions/" + caseID + "/")
	if err != nil || sec == nil {
		t.Fatalf("list the destruction records of %s: %v", caseID, err)
	}
	return sec.Data["keys"].([]any)
}
