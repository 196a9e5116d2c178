package shred_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/internal/shredtest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
	"github.com/cryptoshred/cryptoshred/shred/storage/local"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// closedCase protects n backups, holds them for caseID and closes it.
func closedCase(t *testing.T, v *shred.Service, caseID string, n int) []*catalog.Backup {
	t.Helper()
	backups := make([]*catalog.Backup, n)
	ids := make([]string, n)
	for i := range backups {
		backups[i], _ = protect(t, v, []byte(fmt.Sprintf("backup %s %d", caseID, i)))
		ids[i] = backups[i].ID
	}
	openCase(t, v, caseID)
	hold(t, v, caseID, ids...)
	closeCase(t, v, caseID)
	return backups
}

func TestPlanRefusesOpenCase(t *testing.T) {
	_, v := newVault(t)
	openCase(t, v, "OPEN")
	if _, err := v.PlanShred(context.Background(), "OPEN", time.Now()); !errors.Is(err, shred.ErrRefused) {
		t.Fatalf("plan on open case: %v", err)
	}
	if _, err := v.RunShred(context.Background(), admin, "OPEN", runOpts(t)); !errors.Is(err, shred.ErrRefused) {
		t.Fatalf("run on open case: %v", err)
	}
}

func TestShredRunDestroysVerifiesAndRecords(t *testing.T) {
	_, v := newVault(t)
	ctx := context.Background()
	backups := closedCase(t, v, "DPA-9", 5)
	plan, err := v.PlanShred(ctx, "DPA-9", time.Now())
	if err != nil || plan.Count(shred.ActionDestroy) != 5 {
		t.Fatalf("plan: %+v %v", plan, err)
	}
	if w := plan.Items[0].Warnings; len(w) != 1 || !strings.Contains(w[0], "disposal is not recorded") {
		t.Fatalf("plan warnings: %v", w)
	}
	res, err := v.RunShred(ctx, admin, "DPA-9", runOpts(t))
	if err != nil || len(res.Destroyed) != 5 {
		t.Fatalf("run: %+v %v", res, err)
	}
	for _, b := range backups {
		assertShredded(t, v, b)
		if _, err := open(t, v, b.ID); !errors.Is(err, shred.ErrKeyDestroyed) {
			t.Fatalf("open after shred: %v", err)
		}
	}
	if n := shredtest.DestroyedInLedger(t, v)[backups[0].ID]; n != 1 {
		t.Fatalf("backup recorded %d times in the ledger", n)
	}
	again, err := v.RunShred(ctx, admin, "DPA-9", runOpts(t))
	if err != nil || len(again.Destroyed) != 0 {
		t.Fatalf("second run: %+v %v", again, err)
	}
}

func assertShredded(t *testing.T, v *shred.Service, b *catalog.Backup) {
	t.Helper()
	ctx := context.Background()
	if key, err := v.KeyInfo(ctx, b.Key); err != nil || key != nil {
		t.Fatalf("key %s still in Vault: %+v %v", b.Key, key, err)
	}
	if _, err := os.Stat(b.Ciphertext.Path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ciphertext %s still there: %v", b.Ciphertext.Path, err)
	}
	got, _, err := v.GetBackup(ctx, b.ID)
	if err != nil || got.State != catalog.StateShredded || !got.Destruction.MountPresent {
		t.Fatalf("catalog after shred: %+v %v", got, err)
	}
	if shredtest.DestroyedInLedger(t, v)[b.ID] == 0 {
		t.Fatalf("%s shredded but not in the verified ledger", b.ID)
	}
}

func TestShredSkipsWhatIsNotReleased(t *testing.T) {
	srv, v := newVault(t)
	ctx := context.Background()
	shared, _ := protect(t, v, []byte("shared"))
	exportable, _ := protect(t, v, []byte("exportable"))
	openCase(t, v, "A")
	openCase(t, v, "B")
	hold(t, v, "A", shared.ID, exportable.ID)
	hold(t, v, "B", shared.ID)
	closeCase(t, v, "A")
	if _, err := srv.Root(t).Logical().Write("cryptoshred-transit/keys/"+exportable.Key+"/config", map[string]any{"exportable": true}); err != nil {
		t.Fatal(err)
	}
	plan, err := v.PlanShred(ctx, "A", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, it := range plan.Items {
		reasons[it.Backup.ID] = it.Action + ": " + it.Reason
	}
	if !strings.Contains(reasons[shared.ID], "skip: still held by case(s) B") ||
		!strings.Contains(reasons[exportable.ID], "skip: key "+exportable.Key+" is exportable") {
		t.Fatalf("plan reasons: %v", reasons)
	}
	if _, err := v.RunShred(ctx, admin, "A", runOpts(t)); !errors.Is(err, shred.ErrRefused) {
		t.Fatalf("run with nothing due: %v", err)
	}
	if key, _ := v.KeyInfo(ctx, shared.Key); key == nil {
		t.Fatal("held key destroyed")
	}
}

func TestShredGracePeriodAndCancel(t *testing.T) {
	_, v := newVault(t)
	ctx := context.Background()
	backups := closedCase(t, v, "G", 2)
	if ids, err := v.Schedule(ctx, admin, "G", time.Hour); err != nil || len(ids) != 2 {
		t.Fatalf("schedule: %v %v", ids, err)
	}
	if _, err := v.RunShred(ctx, admin, "G", runOpts(t)); !errors.Is(err, shred.ErrRefused) {
		t.Fatalf("run during grace: %v", err)
	}
	if _, err := v.Cancel(ctx, admin, "G"); err != nil {
		t.Fatal(err)
	}
	// Cancelling returns the backups to released: a plain run would
	// destroy them, and they can be scheduled again.
	plan, err := v.PlanShred(ctx, "G", time.Now())
	if err != nil || plan.Count(shred.ActionDestroy) != 2 {
		t.Fatalf("plan after cancel: %+v %v", plan, err)
	}
	if _, err := v.Schedule(ctx, admin, "G", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	res, err := v.RunShred(ctx, admin, "G", runOpts(t))
	if err != nil || len(res.Destroyed) != 2 {
		t.Fatalf("run after grace: %+v %v", res, err)
	}
	assertShredded(t, v, backups[1])
}

// Two runs of one case at once, in one batch and in batches of 6 (so
// that one run's later batches meet the other's intents, statuses and
// entries): both succeed and attest every backup, and each backup is
// destroyed, and listed, once.
func TestTwoConcurrentRunsDoTheWorkOnce(t *testing.T) {
	for _, batch := range []int{1000, 6} {
		t.Run(fmt.Sprint("batch-", batch), func(t *testing.T) {
			defer shred.SetLedgerIDsPerEntry(batch)()
			twoConcurrentRuns(t)
		})
	}
}

// twoConcurrentRuns runs two shred runs of one closed case of 40 backups
// at once and checks their outcome.
func twoConcurrentRuns(t *testing.T) {
	_, v := newVault(t)
	backups := closedCase(t, v, "TWO", 40)
	var wg sync.WaitGroup
	results := make([]*shred.RunResult, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = v.RunShred(context.Background(), admin, "TWO", withAttest(t, shred.RunOptions{Parallel: 4}))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if results[i] == nil {
			t.Fatalf("run %d: no result: %v", i, err)
		}
	}
	for i, err := range errs {
		checkConcurrentRun(t, results[i], err, backups)
	}
	if n := len(results[0].Destroyed) + len(results[1].Destroyed); n != 40 {
		t.Fatalf("runs destroyed %d + %d backups, want 40 in all", len(results[0].Destroyed), len(results[1].Destroyed))
	}
	counts := shredtest.DestroyedInLedger(t, v)
	for _, b := range backups {
		assertShredded(t, v, b)
		if counts[b.ID] != 1 {
			t.Fatalf("%s recorded %d times", b.ID, counts[b.ID])
		}
	}
	if _, err := v.VerifyLedger(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// checkConcurrentRun requires a run to have succeeded and its
// attestation to cover every one of backups: each backup the other run
// marked shredded meanwhile, this one lists too, unless the other did
// first (the ledger lists it once), so none is left out as not listed
// yet.
func checkConcurrentRun(t *testing.T, res *shred.RunResult, err error, backups []*catalog.Backup) {
	t.Helper()
	if err != nil {
		t.Fatalf("concurrent run: %v", err)
	}
	attested := map[string]bool{}
	for _, b := range attestedStatement(t, res.Attestation).Predicate.Backups {
		attested[b.BackupID] = true
	}
	for _, b := range backups {
		if !attested[b.ID] {
			t.Fatalf("%s left out of the attestation of a run that destroyed %d backups", b.ID, len(res.Destroyed))
		}
	}
}

// The plan's check of each ciphertext reads only its size and header, and
// still warns about one swapped for another backup's (same size, another
// key) and one cut short; the backups are still destroyed by their key.
func TestPlanWarnsAboutSwappedOrCutCiphertexts(t *testing.T) {
	_, v := newVault(t)
	backups := closedCase(t, v, "SWAP", 3)
	other, err := os.ReadFile(backups[1].Ciphertext.Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(backups[0].Ciphertext.Path, other, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(backups[2].Ciphertext.Path, 40); err != nil {
		t.Fatal(err)
	}
	plan, err := v.PlanShred(context.Background(), "SWAP", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{backups[0].ID: "its header names key " + backups[1].Key, backups[1].ID: "", backups[2].ID: "has 40 bytes"}
	for _, it := range plan.Items {
		got := strings.Join(it.Warnings, "; ")
		if it.Action != shred.ActionDestroy || (want[it.Backup.ID] == "") != !strings.Contains(got, "missing or changed") || !strings.Contains(got, want[it.Backup.ID]) {
			t.Errorf("%s: %s, warnings %q, want %q", it.Backup.ID, it.Action, got, want[it.Backup.ID])
		}
	}
}

// A run stopped after marking a backup shredded and before the batch's
// ledger entry leaves its key gone and the ledger silent about it. The
// next run lists it in the ledger and attests it; a run after that does
// not list it again.
func TestRunRecordsWhatAStoppedRunLeftOutOfTheLedger(t *testing.T) {
	srv, v := newVault(t)
	ctx := context.Background()
	backups := closedCase(t, v, "STOPPED", 2)
	stopShredded(t, asRole(t, srv, vault.PolicyAdmin), backups[0])
	if n := shredtest.DestroyedInLedger(t, v)[backups[0].ID]; n != 0 {
		t.Fatalf("set-up: destruction listed %d times", n)
	}
	res, err := v.RunShred(ctx, admin, "STOPPED", runOpts(t))
	if err != nil || len(res.Destroyed) != 2 {
		t.Fatalf("run after the stopped one: %+v %v", res, err)
	}
	if got := attestedStatement(t, res.Attestation).Predicate.Backups; len(got) != 2 {
		t.Fatalf("attestation covers %d backups, want 2", len(got))
	}
	if _, err := v.RunShred(ctx, admin, "STOPPED", runOpts(t)); err != nil {
		t.Fatalf("a run after that: %v", err)
	}
	counts := shredtest.DestroyedInLedger(t, v)
	for _, b := range backups {
		assertShredded(t, v, b)
		if counts[b.ID] != 1 {
			t.Fatalf("%s listed %d times in the ledger, want 1", b.ID, counts[b.ID])
		}
	}
}

// A run still recording what it destroyed looks stopped to a second run:
// the first lists a backup between the second's walk of the ledger and
// its own entry. The second leaves that backup out of its entry, so the
// ledger lists it once, and still attests it.
func TestRunDoesNotListWhatAnotherRunListedMeanwhile(t *testing.T) {
	srv, v := newVault(t)
	ctx := context.Background()
	backups := closedCase(t, v, "RACE", 2)
	stopShredded(t, asRole(t, srv, vault.PolicyAdmin), backups[0])
	client := vault.New(srv.Client(t, srv.TokenWithPolicies(t, "backup-admin", vault.PolicyAdmin)), vault.DefaultMounts)
	racedRecords := &shredtest.BeforeLedgerWrite{Store: client, Before: func() {
		ev := ledger.Event{Kind: ledger.KindKeyDestroyed, Case: "RACE", Backups: []string{backups[0].ID}}
		if _, err := ledger.New(client, client).Append(ctx, "first-run", ev); err != nil {
			t.Error(err)
		}
	}}
	second := shred.New(shred.Config{Records: racedRecords, Keys: client, Guard: client, Signer: client, Storage: local.New()})
	res, err := second.RunShred(ctx, admin, "RACE", runOpts(t))
	if err != nil || len(res.Destroyed) != 1 || res.Destroyed[0].ID != backups[1].ID || res.ListedElsewhere != 0 {
		t.Fatalf("second run: %+v %v; want it to report only the backup it listed", res, err)
	}
	if got := attestedStatement(t, res.Attestation).Predicate.Backups; len(got) != 2 {
		t.Fatalf("attestation covers %d backups, want 2", len(got))
	}
	counts := shredtest.DestroyedInLedger(t, v)
	for _, b := range backups {
		if counts[b.ID] != 1 {
			t.Fatalf("%s listed %d times in the ledger, want 1", b.ID, counts[b.ID])
		}
	}
}

// Another run that marks a backup shredded after this run's plan, and has
// not listed it yet, does not make this run leave it out: this run takes
// that record, lists the backup and attests it.
func TestRunListsWhatAnotherRunMarkedMeanwhile(t *testing.T) {
	srv, v := newVault(t)
	ctx := context.Background()
	backups := closedCase(t, v, "MARKED", 2)
	plan, err := v.PlanShred(ctx, "MARKED", time.Now())
	if err != nil || plan.Count(shred.ActionDestroy) != 2 {
		t.Fatalf("plan: %v", err)
	}
	stopShredded(t, asRole(t, srv, vault.PolicyAdmin), backups[0])
	res, err := v.Run(ctx, admin, plan, runOpts(t))
	if err != nil || len(res.Destroyed) != 2 {
		t.Fatalf("run: %+v %v", res, err)
	}
	if got := attestedStatement(t, res.Attestation).Predicate.Backups; len(got) != 2 {
		t.Fatalf("attestation covers %d backups, want 2", len(got))
	}
	counts := shredtest.DestroyedInLedger(t, v)
	for _, b := range backups {
		assertShredded(t, v, b)
		if counts[b.ID] != 1 {
			t.Fatalf("%s listed %d times in the ledger, want 1", b.ID, counts[b.ID])
		}
	}
}

// Another run that deletes, marks and lists a backup after this run's
// plan and before its run: this run does not list it a second time, though
// the other run's entry came before this run started.
func TestRunDoesNotListWhatAnotherRunListedAfterThePlan(t *testing.T) {
	srv, v := newVault(t)
	ctx := context.Background()
	backups := closedCase(t, v, "AFTERPLAN", 2)
	plan, err := v.PlanShred(ctx, "AFTERPLAN", time.Now())
	if err != nil || plan.Count(shred.ActionDestroy) != 2 {
		t.Fatalf("plan: %v", err)
	}
	stopShredded(t, asRole(t, srv, vault.PolicyAdmin), backups[0])
	listDestroyed(t, srv, "AFTERPLAN", backups[0].ID)
	res, err := v.Run(ctx, admin, plan, runOpts(t))
	if err != nil || len(res.Destroyed) != 1 || res.Destroyed[0].ID != backups[1].ID || res.ListedElsewhere != 1 {
		t.Fatalf("run: %+v %v; want it to report only the backup it listed, and one more listed elsewhere", res, err)
	}
	counts := shredtest.DestroyedInLedger(t, v)
	for _, b := range backups {
		if counts[b.ID] != 1 {
			t.Fatalf("%s listed %d times in the ledger, want 1", b.ID, counts[b.ID])
		}
	}
}

// A status record that says shredded without a destruction, written by
// the backup-admin's token between the plan and the run, does not keep
// the run from recording the destruction it did: the key it deleted is
// marked with the run's destruction, listed and attested.
func TestRunRecordsItsDestructionOverAShreddedRecordWithoutOne(t *testing.T) {
	srv, v := newVault(t)
	ctx := context.Background()
	backups := closedCase(t, v, "BARE", 1)
	plan, err := v.PlanShred(ctx, "BARE", time.Now())
	if err != nil || plan.Count(shred.ActionDestroy) != 1 {
		t.Fatalf("plan: %v", err)
	}
	raw := asRole(t, srv, vault.PolicyAdmin)
	rec := raw.read("backups/" + backups[0].ID)
	rec["state"] = string(catalog.StateShredded)
	raw.mustWrite("backups/"+backups[0].ID, rec)
	res, err := v.Run(ctx, admin, plan, runOpts(t))
	if err != nil || len(res.Destroyed) != 1 {
		t.Fatalf("run: %+v %v", res, err)
	}
	assertShredded(t, v, backups[0])
	if got, _, _ := v.GetBackup(ctx, backups[0].ID); got.Destruction.DestroyedBy != admin.String() {
		t.Fatalf("destruction recorded: %+v", got.Destruction)
	}
	if n := shredtest.DestroyedInLedger(t, v)[backups[0].ID]; n != 1 {
		t.Fatalf("listed %d times in the ledger, want 1", n)
	}
}

// stopShredded leaves b as a run stopped before its ledger entry does:
// key deleted, ciphertext deleted, status record shredded; through plain
// Vault calls with the backup-admin role's token.
func stopShredded(t *testing.T, raw insider, b *catalog.Backup) {
	t.Helper()
	if _, err := raw.l.Delete("cryptoshred-transit/keys/" + b.Key); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(b.Ciphertext.Path); err != nil {
		t.Fatal(err)
	}
	writeShreddedRecord(raw, b.ID, "key read after delete: not found; transit mount present")
}
