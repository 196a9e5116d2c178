package shred_test

import (
	"context"
	"fmt"
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

// Runs of one case that meet: two at once, or one that finds what
// another did between its plan and its own writes. Each backup destroyed
// is listed in the ledger once, and each run attests what it reports.

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

// A run still recording what it destroyed looks stopped to a second run:
// the first lists a backup between the second's walk of the ledger and
// its own entry. The second leaves that backup out of its entry, so the
// ledger lists it once, and still attests it.
func TestRunDoesNotListWhatAnotherRunListedMeanwhile(t *testing.T) {
	srv, v := newVault(t)
	ctx := context.Background()
	backups := closedCase(t, v, "RACE", 2)
	stopShredded(t, asRole(t, srv, vault.PolicyAdmin), "RACE", backups[0])
	client := vault.New(srv.Client(t, srv.TokenWithPolicies(t, "backup-admin", vault.PolicyAdmin)), vault.DefaultMounts)
	racedRecords := &shredtest.BeforeWrite{Store: client, Prefix: "ledger/0", Before: func() {
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
	assertListedOnce(t, v, backups...)
}

// Another run that marks a backup shredded after this run's plan, and has
// not listed it yet, does not make this run leave it out: this run takes
// that record, lists the backup and attests it.
func TestRunListsWhatAnotherRunMarkedMeanwhile(t *testing.T) {
	srv, v := newVault(t)
	ctx := context.Background()
	backups := closedCase(t, v, "MARKED", 2)
	plan := planDestroying(t, v, "MARKED", 2)
	stopShredded(t, asRole(t, srv, vault.PolicyAdmin), "MARKED", backups[0])
	res, err := v.Run(ctx, admin, plan, runOpts(t))
	if err != nil || len(res.Destroyed) != 2 {
		t.Fatalf("run: %+v %v", res, err)
	}
	if got := attestedStatement(t, res.Attestation).Predicate.Backups; len(got) != 2 {
		t.Fatalf("attestation covers %d backups, want 2", len(got))
	}
	assertShreddedAndListedOnce(t, v, backups...)
}

// Another run that deletes, marks and lists a backup after this run's
// plan and before its run: this run does not list it a second time, though
// the other run's entry came before this run started.
func TestRunDoesNotListWhatAnotherRunListedAfterThePlan(t *testing.T) {
	srv, v := newVault(t)
	ctx := context.Background()
	backups := closedCase(t, v, "AFTERPLAN", 2)
	plan := planDestroying(t, v, "AFTERPLAN", 2)
	stopShredded(t, asRole(t, srv, vault.PolicyAdmin), "AFTERPLAN", backups[0])
	listDestroyed(t, srv, "AFTERPLAN", backups[0].ID)
	res, err := v.Run(ctx, admin, plan, runOpts(t))
	if err != nil || len(res.Destroyed) != 1 || res.Destroyed[0].ID != backups[1].ID || res.ListedElsewhere != 1 {
		t.Fatalf("run: %+v %v; want it to report only the backup it listed, and one more listed elsewhere", res, err)
	}
	assertListedOnce(t, v, backups...)
}

// A status record that says shredded without a destruction, written by
// the backup-admin's token between the plan and the run, does not keep
// the run from recording the destruction it did: the key it deleted is
// marked with the run's destruction, listed and attested.
func TestRunRecordsItsDestructionOverAShreddedRecordWithoutOne(t *testing.T) {
	srv, v := newVault(t)
	ctx := context.Background()
	backups := closedCase(t, v, "BARE", 1)
	plan := planDestroying(t, v, "BARE", 1)
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
	assertListedOnce(t, v, backups[0])
}

// planDestroying plans caseID now and requires n backups to destroy.
func planDestroying(t *testing.T, v *shred.Service, caseID string, n int) *shred.Plan {
	t.Helper()
	plan, err := v.PlanShred(context.Background(), caseID, time.Now())
	if err != nil || plan.Count(shred.ActionDestroy) != n {
		t.Fatalf("plan of %s: %v; want %d to destroy", caseID, err, n)
	}
	return plan
}

// assertListedOnce requires the verified ledger to list each of backups
// as destroyed exactly once.
func assertListedOnce(t *testing.T, v *shred.Service, backups ...*catalog.Backup) {
	t.Helper()
	counts := shredtest.DestroyedInLedger(t, v)
	for _, b := range backups {
		if counts[b.ID] != 1 {
			t.Fatalf("%s listed %d times in the ledger, want 1", b.ID, counts[b.ID])
		}
	}
}

// assertShreddedAndListedOnce is assertShredded and assertListedOnce.
func assertShreddedAndListedOnce(t *testing.T, v *shred.Service, backups ...*catalog.Backup) {
	t.Helper()
	for _, b := range backups {
		assertShredded(t, v, b)
	}
	assertListedOnce(t, v, backups...)
}
