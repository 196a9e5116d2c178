package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/internal/shredtest"
	"github.com/cryptoshred/cryptoshred/internal/testtools"
	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// TestMain lets a test run this binary as the cryptoshred CLI in a child
// process, so it can be killed for real; with CRYPTOSHRED_TEST_PEAK_RSS
// set, that process writes its peak RSS to the file it names as it exits.
// With CRYPTOSHRED_TEST_STUCK it is a command that ignores interruption
// (stuckAfterInterrupt). With CRYPTOSHRED_TEST_CPU_PROFILE it writes a CPU
// profile of the command to the file that names.
func TestMain(m *testing.M) {
	if os.Getenv("CRYPTOSHRED_TEST_STUCK") == "1" {
		stuckAfterInterrupt()
	}
	if os.Getenv("CRYPTOSHRED_TEST_AS_CLI") == "1" {
		stop := profileCPU(os.Getenv("CRYPTOSHRED_TEST_CPU_PROFILE"))
		code := runMain()
		stop()
		if name := os.Getenv("CRYPTOSHRED_TEST_PEAK_RSS"); name != "" {
			_ = os.WriteFile(name, []byte(strconv.FormatInt(testtools.PeakRSSKiB(), 10)), 0o600)
		}
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// profileCPU writes a CPU profile of the process to name until the
// returned function is called; with no name it does nothing. A benchmark
// sets it to see where a command's own processor time goes.
func profileCPU(name string) func() {
	if name == "" {
		return func() {}
	}
	f, err := os.Create(name)
	if err != nil || pprof.StartCPUProfile(f) != nil {
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}

// child returns the CLI as a child process with the given token.
func child(srv *vaulttest.Server, token string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), append(srv.Env(token), "CRYPTOSHRED_TEST_AS_CLI=1")...)
	return cmd
}

// killCase sets up a closed case with n released backups and one backup it
// held that another open case still holds.
func killCase(t *testing.T, v *shred.Service, dir, caseID string, n int) (released []*catalog.Backup, held *catalog.Backup) {
	t.Helper()
	return setupHeld(t, v, dir, caseID, n, true)
}

// setupHeld protects n+1 backups, holds them all for caseID and the last
// one also for caseID-other, and closes caseID if close is set.
func setupHeld(t *testing.T, v *shred.Service, dir, caseID string, n int, close bool) (released []*catalog.Backup, held *catalog.Backup) {
	t.Helper()
	ctx := context.Background()
	actor := shred.Actor{DisplayName: "setup"}
	var ids []string
	for i := range n + 1 {
		src := filepath.Join(dir, fmt.Sprintf("%s-%d.tar", caseID, i))
		if err := os.WriteFile(src, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := v.Protect(ctx, actor, shred.ProtectRequest{Source: src, OutDir: dir, System: caseID})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, b.ID)
		released = append(released, b)
	}
	held, released = released[n], released[:n]
	for _, c := range []string{caseID, caseID + "-other"} {
		if _, err := v.OpenCase(ctx, actor, catalog.Case{ID: c, Authority: "DPA", Reference: c, Controllers: []string{"Ministry"}}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := v.PlaceHolds(ctx, actor, caseID, shred.HoldSelector{IDs: ids})
	if err == nil {
		_, err = v.PlaceHolds(ctx, actor, caseID+"-other", shred.HoldSelector{IDs: []string{held.ID}})
	}
	if err == nil && close {
		_, err = v.CloseCase(ctx, actor, shred.CloseRequest{Case: caseID, Reference: "closed",
			Document: catalog.DocumentRef{Name: "d.pdf", SHA256: fmt.Sprintf("%064x", 1)}})
	}
	if err != nil {
		t.Fatal(err)
	}
	return released, held
}

// TestShredRunSurvivesSIGKILL kills a real `shred run` child process at
// evenly spread moments of its run, checks that nothing is wrongly
// destroyed or lost at that instant, runs it again, and checks the job is
// finished exactly.
func TestShredRunSurvivesSIGKILL(t *testing.T) {
	srv := vaulttest.Start(t)
	rootVault := vault.New(srv.Root(t), vault.DefaultMounts)
	if _, err := rootVault.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	root := newService(rootVault)
	admin := srv.TokenWithPolicies(t, "backup-admin", vault.PolicyAdmin)
	dir := t.TempDir()
	key := filepath.Join(dir, "signer")
	if err := attest.WriteKeyPair(key+".key", key+".pub", attest.ECDSAP256, nil); err != nil {
		t.Fatal(err)
	}
	run := func(caseID, out string, extra ...string) *exec.Cmd {
		args := append([]string{"shred", "run", "--case", caseID, "--yes", "--sign-key", key + ".key",
			"--vault-snapshot-retention", "720h", "-o", filepath.Join(dir, out)}, extra...)
		return child(srv, admin, args...)
	}
	const n = 24
	full := timeFullRun(t, root, dir, n, run("CALIBRATE", "calibrate.json", "--parallel", "4"))
	const points = 16
	for i := range points {
		delay := full * time.Duration(i) / points
		caseID := fmt.Sprintf("KILL-%02d", i)
		released, held := killCase(t, root, dir, caseID, n)
		killAfter(t, run(caseID, caseID+"-killed.json", "--parallel", "4"), delay)
		checkAfterKill(t, root, caseID, released, held)
		if out, err := run(caseID, caseID+"-rerun.json").CombinedOutput(); err != nil {
			t.Fatalf("%s: re-run after kill at %v: %v\n%s", caseID, delay, err, out)
		}
		checkFinished(t, root, released, held)
		checkListedOnce(t, root, released)
		checkAttestation(t, filepath.Join(dir, caseID+"-rerun.json"), key+".pub", n)
	}
}

// checkListedOnce: a kill at any point, and the re-run, list each
// destruction in the ledger exactly once (a re-run lists what the verified
// ledger lacks, and a killed run cannot have half-written an entry).
func checkListedOnce(t *testing.T, v *shred.Service, released []*catalog.Backup) {
	t.Helper()
	listed := shredtest.DestroyedInLedger(t, v)
	for _, b := range released {
		if listed[b.ID] != 1 {
			t.Fatalf("%s: its destruction is listed %d times in the ledger, want 1", b.ID, listed[b.ID])
		}
	}
}

func timeFullRun(t *testing.T, v *shred.Service, dir string, n int, cmd *exec.Cmd) time.Duration {
	killCase(t, v, dir, "CALIBRATE", n)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("calibration run: %v\n%s", err, out)
	}
	return time.Since(start)
}

func killAfter(t *testing.T, cmd *exec.Cmd, delay time.Duration) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(delay)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
}

// checkAfterKill: a backup recorded shredded has no key; a backup without
// a key is shredded, or the plan finishes its interrupted destruction (it
// is not lost track of); the held key is intact.
func checkAfterKill(t *testing.T, v *shred.Service, caseID string, released []*catalog.Backup, held *catalog.Backup) {
	t.Helper()
	states := map[string]int{}
	defer func() { t.Logf("at the kill: %v", states) }()
	listed := shredtest.DestroyedInLedger(t, v)
	plan := shredtest.PlanByID(t, v, caseID)
	for _, b := range released {
		got, key := backupAndKey(t, v, b)
		states[string(got.State)+keySuffix(key)+listedSuffix(listed[b.ID])]++
		if got.State == catalog.StateShredded && key != nil {
			t.Fatalf("%s recorded shredded but its key is still in Vault", b.ID)
		}
		if key == nil && got.State != catalog.StateShredded && plan[b.ID].Action != shred.ActionDestroy {
			t.Fatalf("%s: key gone, catalog says %s and the plan says %s: %s (lost track)", b.ID, got.State, plan[b.ID].Action, plan[b.ID].Reason)
		}
	}
	if _, key := backupAndKey(t, v, held); key == nil {
		t.Fatalf("held backup %s lost its key", held.ID)
	}
}

func keySuffix(key *shred.KeyInfo) string {
	if key == nil {
		return "+key-gone"
	}
	return ""
}

func checkFinished(t *testing.T, v *shred.Service, released []*catalog.Backup, held *catalog.Backup) {
	t.Helper()
	listed := shredtest.DestroyedInLedger(t, v)
	for _, b := range released {
		got, key := backupAndKey(t, v, b)
		if key != nil || got.State != catalog.StateShredded || listed[b.ID] == 0 {
			t.Fatalf("%s after re-run: state %s, key present %t, destructions in the ledger %d", b.ID, got.State, key != nil, listed[b.ID])
		}
		if _, err := os.Stat(b.Ciphertext.Path); !os.IsNotExist(err) {
			t.Fatalf("%s: ciphertext still there", b.ID)
		}
	}
	if got, key := backupAndKey(t, v, held); key == nil || got.State != catalog.StateHeld {
		t.Fatalf("held backup after re-run: %s, key present %t", got.State, key != nil)
	}
	if _, err := os.Stat(held.Ciphertext.Path); err != nil {
		t.Fatalf("held backup's ciphertext: %v", err)
	}
	if _, err := v.VerifyLedger(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func backupAndKey(t *testing.T, v *shred.Service, b *catalog.Backup) (*catalog.Backup, *shred.KeyInfo) {
	t.Helper()
	got, _, err := v.GetBackup(context.Background(), b.ID)
	if err != nil {
		t.Fatal(err)
	}
	key, err := v.KeyInfo(context.Background(), b.Key)
	if err != nil {
		t.Fatal(err)
	}
	return got, key
}

func listedSuffix(destructions int) string {
	if destructions > 0 {
		return "+in-ledger"
	}
	return ""
}

// checkAttestation verifies the re-run's attestation and that it covers
// all n destroyed backups.
func checkAttestation(t *testing.T, path, pub string, n int) {
	t.Helper()
	var out bytes.Buffer
	if err := runAttestVerify(context.Background(), verifyOptions{File: path, Key: pub, Format: "text"}, &out); err != nil {
		t.Fatalf("attestation after re-run: %v\n%s", err, out.String())
	}
	if want := fmt.Sprintf("%d backup(s)", n); !bytes.Contains(out.Bytes(), []byte(want)) {
		t.Fatalf("attestation does not cover %s:\n%s", want, out.String())
	}
}
