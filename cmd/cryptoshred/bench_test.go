package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"golang.org/x/sync/errgroup"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// BenchmarkShredRunCommand times what an operator waits for: the
// cryptoshred process itself, started as `shred plan`, `shred run` and
// `attest verify` on a closed case of CLI_BENCH_N (default 10,000; on
// Raft CLI_BENCH_RAFT_N, default 2,000) backups, through a backup-admin
// token (without Vault's default policy; the plan is also timed with a
// token carrying it). Each command's time and the process's peak RSS are
// printed, and the run's rate next to the server's raw delete + read-back
// ceiling, measured just before and just after it, with the same token
// and with the root token. ns/op counts the commands and ceilings, not the
// set-up. CLI_BENCH_RUN_CPU_PROFILE names a file for a CPU profile of the
// shred run process.
func BenchmarkShredRunCommand(b *testing.B) {
	for _, target := range []struct {
		name  string
		n     int
		start func(*testing.B) *vaulttest.Server
	}{
		{"dev", benchN("CLI_BENCH_N", 10000), func(b *testing.B) *vaulttest.Server { return vaulttest.Start(b) }},
		{"raft", benchN("CLI_BENCH_RAFT_N", 2000), activeNode},
	} {
		b.Run(target.name, func(b *testing.B) {
			for range b.N {
				benchShredCommands(b, target.name, target.start(b), target.n)
			}
		})
	}
}

func benchShredCommands(b *testing.B, name string, srv *vaulttest.Server, n int) {
	b.StopTimer()
	root := srv.Root(b)
	dir := b.TempDir()
	admin := benchCase(b, srv, dir, "BENCH", n)
	withDefault := srv.TokenWithDefaultPolicy(b, "backup-admin", vault.PolicyAdmin)
	files := newRunFiles(b, dir)
	b.StartTimer()
	// Without, with and again without the default policy, so neither
	// gets the colder caches alone.
	plan := timeCommand(b, child(srv, admin, "shred", "plan", "--case", "BENCH"))
	planDefault := timeCommand(b, child(srv, withDefault, "shred", "plan", "--case", "BENCH"))
	planAgain := timeCommand(b, child(srv, admin, "shred", "plan", "--case", "BENCH"))
	before := ceilings(b, srv, root, admin, n)
	mixBefore := runRequestsCeiling(b, root, srv.Client(b, admin), "BENCH", n)
	runCmd := child(srv, admin, files.args("BENCH")...)
	if name := os.Getenv("CLI_BENCH_RUN_CPU_PROFILE"); name != "" {
		runCmd.Env = append(runCmd.Env, "CRYPTOSHRED_TEST_CPU_PROFILE="+name)
	}
	run := timeCommand(b, runCmd)
	after := ceilings(b, srv, root, admin, n)
	mixAfter := runRequestsCeiling(b, root, srv.Client(b, admin), "BENCH", n)
	parts := attestationFiles(b, files.out)
	verify := timeCommand(b, exec.Command(os.Args[0], append([]string{"attest", "verify", "--key", files.key + ".pub"}, parts...)...))
	rate := float64(n) / run.took.Seconds()
	at16, best, root16 := (before.at16+after.at16)/2, (before.best+after.best)/2, (before.root16+after.root16)/2
	b.ReportMetric(rate, "backups/s")
	b.ReportMetric(rate/at16, "x-ceiling")
	b.ReportMetric(rate/best, "x-ceiling-best")
	b.ReportMetric(float64(run.peakKiB>>10), "run-peak-MiB")
	fmt.Printf("%s, %d backups, whole processes with a backup-admin token: shred plan %v and %v (peak RSS %d MiB; %v with Vault's default policy on the token); "+
		"shred run %v = %.0f backups/s (peak RSS %d MiB, processor time %v); attest verify of %d file(s) %v (peak RSS %d MiB)\n",
		name, n, plan.took.Round(time.Millisecond), planAgain.took.Round(time.Millisecond), plan.peakKiB>>10, planDefault.took.Round(time.Millisecond),
		run.took.Round(time.Millisecond), rate, run.peakKiB>>10, run.cpu.Round(time.Millisecond), len(parts), verify.took.Round(time.Millisecond), verify.peakKiB>>10)
	fmt.Printf("%s: raw delete+read-back ceiling, before / after the run: backup-admin token with 16 clients %.0f / %.0f keys/s, best of 16, 32 and 64 clients %.0f / %.0f; "+
		"root token with 16 clients %.0f / %.0f; shred run at %.2fx the backup-admin 16-client ceiling, %.2fx its best, %.2fx the root one\n",
		name, before.at16, after.at16, before.best, after.best, before.root16, after.root16, rate/at16, rate/best, rate/root16)
	mix := (mixBefore + mixAfter) / 2
	b.ReportMetric(rate/mix, "x-same-requests")
	fmt.Printf("%s: raw capacity for a run's requests per backup (backup-admin token, 16 clients), before / after the run: %.0f / %.0f backups/s; "+
		"shred run at %.2fx of it; the requests themselves at %.2fx the delete+read-back ceiling\n",
		name, mixBefore, mixAfter, rate/mix, mix/at16)
}

// ceiling is the raw delete + read-back ceiling with token: with 16
// clients, as the issue measured it, and the best of 16, 32 and 64 (Vault
// on Raft serves more with more clients, and a run has up to 64 requests
// in flight: one batch's deletes beside the previous batch's status
// writes); root16 is the root token's with 16 clients.
type ceiling struct{ at16, best, root16 float64 }

// ceilings measures the ceilings of ceiling.
func ceilings(b *testing.B, srv *vaulttest.Server, root *api.Client, token string, n int) ceiling {
	ctx, transit, keys := context.Background(), vault.DefaultMounts.Transit, min(n, 2000)
	at16, best, err := vaulttest.DeleteCeilings(ctx, root, srv.Client(b, token), transit, keys)
	if err != nil {
		b.Fatal(err)
	}
	root16, err := vaulttest.DeleteCeiling(ctx, root, root, transit, keys, 16)
	if err != nil {
		b.Fatal(err)
	}
	return ceiling{at16: at16, best: best, root16: root16}
}

// activeNode starts a 3-node Raft cluster and returns its active node.
func activeNode(b *testing.B) *vaulttest.Server {
	s, err := vaulttest.StartCluster(b, 3).Active(time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func benchN(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// benchCase sets srv up with init, protects n small files in dir 16 at a
// time, holds them for caseID and closes it, all as root, and returns a
// backup-admin token.
func benchCase(b *testing.B, srv *vaulttest.Server, dir, caseID string, n int) string {
	ctx := context.Background()
	root := vault.New(srv.Root(b), vault.DefaultMounts)
	if _, err := root.Init(ctx); err != nil {
		b.Fatal(err)
	}
	v := newService(root)
	actor := shred.Actor{DisplayName: "setup"}
	ids := make([]string, n)
	var g errgroup.Group
	g.SetLimit(16)
	for i := range n {
		g.Go(func() error {
			src := filepath.Join(dir, fmt.Sprintf("b%06d.tar", i))
			if err := os.WriteFile(src, []byte(src), 0o600); err != nil {
				return err
			}
			bk, err := v.Protect(ctx, actor, shred.ProtectRequest{Source: src, OutDir: dir, System: "bench"})
			if err == nil {
				ids[i] = bk.ID
			}
			return err
		})
	}
	err := g.Wait()
	if err == nil {
		_, err = v.OpenCase(ctx, actor, catalog.Case{ID: caseID, Authority: "DPA", Reference: caseID, Controllers: []string{"Ministry"}})
	}
	if err == nil {
		_, err = v.PlaceHolds(ctx, actor, caseID, shred.HoldSelector{IDs: ids})
	}
	if err == nil {
		_, err = v.CloseCase(ctx, actor, shred.CloseRequest{Case: caseID, Reference: "closed",
			Document: catalog.DocumentRef{Name: "d.pdf", SHA256: fmt.Sprintf("%064x", 1)}})
	}
	if err != nil {
		b.Fatal(err)
	}
	return srv.TokenWithPolicies(b, "backup-admin", vault.PolicyAdmin)
}

type commandRun struct {
	took    time.Duration
	peakKiB int64
	// cpu is the processor time the process used, user and system: on a
	// machine whose cores the Vault server shares, what the client takes
	// from it.
	cpu time.Duration
}

// timeCommand runs cmd, this test binary as the CLI, and returns its wall
// time and peak RSS, which the process reports itself (see
// testtools.PeakRSSKiB); it fails the benchmark unless cmd exits 0.
func timeCommand(b *testing.B, cmd *exec.Cmd) commandRun {
	if cmd.Env == nil {
		cmd.Env = append(os.Environ(), "CRYPTOSHRED_TEST_AS_CLI=1")
	}
	peakFile := filepath.Join(b.TempDir(), "peak")
	cmd.Env = append(cmd.Env, "CRYPTOSHRED_TEST_PEAK_RSS="+peakFile)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		b.Fatalf("%v: %v\n%s", cmd.Args[1:], err, lastLines(string(out), 10))
	}
	raw, err := os.ReadFile(peakFile)
	peak, perr := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || perr != nil {
		b.Fatalf("%v: no peak RSS reported: %v %v", cmd.Args[1:], err, perr)
	}
	return commandRun{took: took, peakKiB: peak, cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
}

// attestationFiles returns the attestation files shred run wrote to out:
// out alone, or every part its index lists.
func attestationFiles(b *testing.B, out string) []string {
	raw, err := os.ReadFile(attest.IndexFileName(out))
	if os.IsNotExist(err) {
		return []string{out}
	}
	var idx attest.PartIndex
	if err == nil {
		err = json.Unmarshal(raw, &idx)
	}
	if err != nil {
		b.Fatal(err)
	}
	var files []string
	for _, p := range idx.Parts {
		files = append(files, filepath.Join(filepath.Dir(out), p.File))
	}
	return files
}
