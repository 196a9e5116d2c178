package shred_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
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

// A backup two cases held and both closed is destroyed by one case's run;
// the other case's plan finds it shredded (not gone without a record),
// its attestation covers it, and show and list say shredded.
func TestBackupTwoCasesReleasedIsShreddedForBoth(t *testing.T) {
	_, adminV, complianceV := roles(t)
	ctx := context.Background()
	shreddedByFirstOfTwo(t, adminV, complianceV, []byte("held by two cases"))
	plan, err := adminV.PlanShred(ctx, "SECOND", catalog.Now())
	if err != nil || plan.Count(shred.ActionDone) != 1 {
		t.Fatalf("plan of SECOND: %+v %v, want the backup FIRST's run destroyed done", plan.Items[0], err)
	}
	a, err := adminV.Attest(ctx, admin, "SECOND", runOpts(t).Attest)
	if err != nil || len(attestedStatement(t, a).Predicate.Backups) != 1 {
		t.Fatalf("attestation of SECOND: %v", err)
	}
	if listed, _, err := adminV.ListBackups(ctx, catalog.BackupFilter{Case: "SECOND"}); err != nil || len(listed) != 1 || listed[0].State != catalog.StateShredded {
		t.Fatalf("backup list --case SECOND: %+v %v", listed, err)
	}
}

// Attack: the admin writes names that are not case ids, and many of
// them, into a status record's closedCases. Listings, show and runs
// still work.
func TestAttackJunkClosedCases(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	ctx := context.Background()
	b, _ := protect(t, adminV, []byte("junk in closedCases"))
	planOf(t, adminV, complianceV, "JUNK", b)
	junk := []string{"../holds", "a/b", ""}
	for i := range 500 {
		junk = append(junk, fmt.Sprintf("NOCASE%d", i))
	}
	insider := asRole(t, srv, vault.PolicyAdmin)
	rec := insider.read("backups/" + b.ID)
	rec["closedCases"] = junk
	insider.mustWrite("backups/"+b.ID, rec)
	if _, _, err := adminV.GetBackup(ctx, b.ID); err != nil {
		t.Fatalf("backup show: %v", err)
	}
	if listed, _, err := adminV.ListBackups(ctx, catalog.BackupFilter{}); err != nil || len(listed) != 1 {
		t.Fatalf("backup list: %d %v", len(listed), err)
	}
	if res, err := adminV.RunShred(ctx, admin, "JUNK", runOpts(t)); err != nil || len(res.Destroyed) != 1 {
		t.Fatalf("shred run: %+v %v", res, err)
	}
}

// legacyShredded leaves b, in closed case caseID, as an older version's
// run left it: key deleted, status shredded with a destruction d, and a
// ledger entry listing it with d's digest. d's ciphertext is deleted, or
// left behind as note says.
func legacyShredded(t *testing.T, srv *vaulttest.Server, caseID string, b *catalog.Backup, note string) {
	t.Helper()
	raw := asRole(t, srv, vault.PolicyAdmin)
	if _, err := raw.l.Delete("cryptoshred-transit/keys/" + b.Key); err != nil {
		t.Fatal(err)
	}
	at := catalog.Now()
	d := catalog.Destruction{VersionsDestroyed: []int{1}, DestroyedAt: at, DestroyedBy: "older run", VerifiedAt: at, MountPresent: true,
		Verification: "key read after delete: not found; transit mount present", CiphertextDeleted: note == "", CiphertextNote: note}
	m, err := catalog.ToMap(d)
	if err != nil {
		t.Fatal(err)
	}
	writeDestruction(raw, b.ID, m)
	listWithDigest(t, srv, caseID, b.ID, &d)
}

// listWithDigest appends, with a backup-admin token, a key.destroyed entry
// of caseID listing backup id with the digest of account d.
func listWithDigest(t *testing.T, srv *vaulttest.Server, caseID, id string, d *catalog.Destruction) {
	t.Helper()
	client := vault.New(srv.Client(t, srv.TokenWithPolicies(t, "lister", vault.PolicyAdmin)), vault.DefaultMounts)
	ev := ledger.Event{Kind: ledger.KindKeyDestroyed, Case: caseID, Backups: []string{id},
		Details: map[string]string{"destructions": id + "=" + shred.DestructionDigest(d)}}
	if _, err := ledger.New(client, client).Append(context.Background(), "lister", ev); err != nil {
		t.Fatal(err)
	}
}

// shreddedByFirstOfTwo protects data as a backup that cases FIRST and
// SECOND hold and then close, and shreds it in a run of FIRST.
func shreddedByFirstOfTwo(t *testing.T, adminV, complianceV *shred.Service, data []byte) *catalog.Backup {
	t.Helper()
	b, _ := protect(t, adminV, data)
	for _, c := range []string{"FIRST", "SECOND"} {
		openCase(t, complianceV, c)
		hold(t, complianceV, c, b.ID)
	}
	closeCase(t, complianceV, "FIRST")
	closeCase(t, complianceV, "SECOND")
	if res, err := adminV.RunShred(context.Background(), admin, "FIRST", runOpts(t)); err != nil || len(res.Destroyed) != 1 {
		t.Fatalf("run of FIRST: %+v %v", res, err)
	}
	return b
}

// Two backups an older version shredded, one whose ciphertext it could
// not delete: this version's run finishes that one, and its retry's
// record is merged into the status's account, which the attestation
// states as deleted. Both accounts rewritten afterwards: the retried
// backup's account is still on record as the ledger recorded it, and is
// attested; the other has none left, and is left out, saying why.
func TestOlderRunsDestructionIsFinishedAndChecked(t *testing.T) {
	srv, v := newVault(t)
	ctx := context.Background()
	backups := closedCase(t, v, "OLDER", 2)
	retried, done := backups[0], backups[1]
	legacyShredded(t, srv, "OLDER", retried, "not deleted: the storage failed")
	legacyShredded(t, srv, "OLDER", done, "")
	if err := os.Remove(done.Ciphertext.Path); err != nil {
		t.Fatal(err)
	}
	res, err := v.RunShred(ctx, admin, "OLDER", runOpts(t))
	if err != nil || len(res.Destroyed) != 1 {
		t.Fatalf("run: %+v %v", res, err)
	}
	if _, err := os.Stat(retried.Ciphertext.Path); !os.IsNotExist(err) {
		t.Fatalf("ciphertext left behind: %v", err)
	}
	a, err := v.Attest(ctx, admin, "OLDER", runOpts(t).Attest)
	if err != nil {
		t.Fatal(err)
	}
	got := attestedStatement(t, a).Predicate.Backups
	for _, b := range got {
		if !b.Ciphertext.Deleted || b.DestroyedBy != "older run" {
			t.Fatalf("attested %+v, want the older run's destruction with the ciphertext deleted", b)
		}
	}
	if len(got) != 2 {
		t.Fatalf("attested %d backups, want 2", len(got))
	}

	officer := asRole(t, srv, vault.PolicyCompliance)
	for _, b := range backups {
		rec := officer.read("backups/" + b.ID)
		rec["destruction"].(map[string]any)["destroyedBy"] = "someone else"
		officer.mustWrite("backups/"+b.ID, rec)
	}
	a, err = v.Attest(ctx, admin, "OLDER", runOpts(t).Attest)
	if err == nil || !strings.Contains(err.Error(), done.ID) || !strings.Contains(err.Error(), "the record was changed since") {
		t.Fatalf("attest after the accounts were rewritten: %v, want %s left out", err, done.ID)
	}
	if got := attestedStatement(t, a).Predicate.Backups; len(got) != 1 || got[0].BackupID != retried.ID || got[0].DestroyedBy != "older run" {
		t.Fatalf("attested %+v, want %s as the ledger recorded it", got, retried.ID)
	}
}

// Attack: after case FIRST's run destroyed a backup that case SECOND also
// held and closed, the admin plants in SECOND's directory a record with a
// backdated account and appends a ledger entry of SECOND listing it with
// that account's digest. SECOND's attestation does not state that account:
// the first listing, FIRST's, decides.
func TestAttackLaterListingCannotReplaceTheAccount(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	ctx := context.Background()
	b := shreddedByFirstOfTwo(t, adminV, complianceV, []byte("held by two cases, then forged"))
	insider := asRole(t, srv, vault.PolicyAdmin)
	forged := recordedDestruction(t, insider, "FIRST", b.ID)
	at, _ := time.Parse(time.RFC3339Nano, forged["destroyedAt"].(string))
	forged["destroyedAt"] = at.Add(-time.Hour).Format(time.RFC3339Nano)
	recordByAnother(insider, "SECOND", b.ID, forged)
	var d catalog.Destruction
	if err := catalog.FromMap(forged, &d); err != nil {
		t.Fatal(err)
	}
	listWithDigest(t, srv, "SECOND", b.ID, &d)
	a, err := adminV.Attest(ctx, admin, "SECOND", runOpts(t).Attest)
	if a != nil {
		for _, got := range attestedStatement(t, a).Predicate.Backups {
			if !got.DestroyedAt.Equal(at) {
				t.Fatalf("SECOND's attestation states destroyedAt %s, want %s as FIRST's run recorded it", got.DestroyedAt, at)
			}
		}
	}
	if a == nil && (err == nil || !strings.Contains(err.Error(), "the record was changed since")) {
		t.Fatalf("attest SECOND: %v", err)
	}
}

// Attack: a run records its destruction and stops before its ledger
// entry; the compliance officer then writes into the status a shredded
// account of their own. The next run lists the run's recorded account,
// and the attestation states it.
func TestAttackStatusAccountCannotPreemptTheRecord(t *testing.T) {
	srv, v := newVault(t)
	ctx := context.Background()
	b := closedCase(t, v, "PREEMPT", 1)[0]
	stopShredded(t, asRole(t, srv, vault.PolicyAdmin), "PREEMPT", b)
	officer := asRole(t, srv, vault.PolicyCompliance)
	writeDestruction(officer, b.ID, destructionRecord("compliance officer", "key read after delete: not found; transit mount present"))
	res, err := v.RunShred(ctx, admin, "PREEMPT", runOpts(t))
	if err != nil {
		t.Fatalf("run: %+v %v", res, err)
	}
	if got := attestedStatement(t, res.Attestation).Predicate.Backups; len(got) != 1 || got[0].DestroyedBy != "stopped run" {
		t.Fatalf("attested %+v, want the stopped run's recorded account", got)
	}
}

// A held backup whose key is gone (a Vault operator deleted it) and whose
// ciphertext is missing is a problem for backup verify, not a shredded
// backup.
func TestVerifyReportsAHeldBackupWithItsKeyGone(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	b := protectHeld(t, adminV, complianceV, "LOST", []byte("held, key deleted by an operator"))
	root := srv.Root(t).Logical()
	if _, err := root.Write("cryptoshred-transit/keys/"+b.Key+"/config", map[string]any{"deletion_allowed": true}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Delete("cryptoshred-transit/keys/" + b.Key); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(b.Ciphertext.Path); err != nil {
		t.Fatal(err)
	}
	res, err := adminV.VerifyBackups(context.Background(), nil, "LOST")
	if err != nil || len(res) != 1 || res[0].OK {
		t.Fatalf("backup verify: %+v %v, want a problem", res, err)
	}
}
