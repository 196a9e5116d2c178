package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// failoverCluster starts a 3-node Raft cluster, runs init through a
// standby and returns the cluster and the standby every child process
// talks to (it survives the kill of the active node).
func failoverCluster(t *testing.T) (*vaulttest.Cluster, *vaulttest.Server) {
	t.Helper()
	c := vaulttest.StartCluster(t, 3)
	standby := c.Standbys()[0]
	if _, err := vault.New(standby.Root(t), vault.DefaultMounts).Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c, standby
}

// killLeaderDuring starts cmd, SIGKILLs the cluster's active node as soon
// as started reports true (or after 20 s), and returns cmd's exit code and
// output. The command must finish, successfully or with exit 1 or 3.
func killLeaderDuring(t *testing.T, c *vaulttest.Cluster, cmd *exec.Cmd, started func() bool) (int, string) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// A request a standby was forwarding when the leader died can hang
	// until the client's timeout (60 s by default, then retried): bound it,
	// as production.md advises for unattended runs.
	cmd.Env = append(cmd.Env, "VAULT_CLIENT_TIMEOUT=10s")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for !started() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	killedAt := time.Now()
	if _, err := c.KillActive(); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-exited:
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("command still running 3 minutes after the leader was killed:\n%s", out.String())
	}
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	}
	t.Logf("leader killed; the command exited %d %v later", code, time.Since(killedAt).Round(time.Millisecond))
	if code != 0 && code != 1 && code != 3 {
		t.Fatalf("exit %d after failover, want 0, 1 or 3:\n%s", code, out.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.WaitElected(ctx); err != nil {
		t.Fatal(err)
	}
	return code, out.String()
}

// TestShredRunFailover kills the active Vault node while `shred run`
// talks to a standby, then checks the invariants of the SIGKILL test, runs
// it again and checks that exactly the released backups were destroyed
// and attested.
func TestShredRunFailover(t *testing.T) {
	c, standby := failoverCluster(t)
	root := newService(vault.New(standby.Root(t), vault.DefaultMounts))
	admin := standby.TokenWithPolicies(t, "backup-admin", vault.PolicyAdmin)
	dir := t.TempDir()
	key := filepath.Join(dir, "signer")
	if err := attest.WriteKeyPair(key+".key", key+".pub", attest.ECDSAP256, nil); err != nil {
		t.Fatal(err)
	}
	const n = 100
	released, held := killCase(t, root, dir, "FAILOVER", n)
	first := slices.MinFunc(released, func(a, b *catalog.Backup) int { return cmpString(a.ID, b.ID) })
	run := func(out string) *exec.Cmd {
		return child(standby, admin, "shred", "run", "--case", "FAILOVER", "--yes", "--sign-key", key+".key",
			"--vault-snapshot-retention", "720h", "-o", filepath.Join(dir, out))
	}
	code, out := killLeaderDuring(t, c, run("killed.json"), func() bool {
		key, err := root.KeyInfo(context.Background(), first.Key)
		return err == nil && key == nil
	})
	t.Logf("shred run through the failover: exit %d\n%s", code, lastLines(out, 4))
	checkAfterKill(t, root, "FAILOVER", released, held)
	if out, err := run("rerun.json").CombinedOutput(); err != nil {
		t.Fatalf("re-run after failover: %v\n%s", err, out)
	}
	checkFinished(t, root, released, held)
	checkAttestation(t, filepath.Join(dir, "rerun.json"), key+".pub", n)
}

// TestCaseCloseFailover kills the active Vault node while `case close`
// talks to a standby: no latch opens on a backup another case holds or
// whose hold record is not yet released, and a re-run finishes the close.
func TestCaseCloseFailover(t *testing.T) {
	c, standby := failoverCluster(t)
	root := newService(vault.New(standby.Root(t), vault.DefaultMounts))
	cat := catalog.New(vault.New(standby.Root(t), vault.DefaultMounts))
	compliance := standby.TokenWithPolicies(t, "compliance", vault.PolicyCompliance)
	dir := t.TempDir()
	const n = 150
	released, held := setupHeld(t, root, dir, "CLOSE", n, false)
	decision := filepath.Join(dir, "decision.pdf")
	if err := os.WriteFile(decision, []byte("closing letter"), 0o600); err != nil {
		t.Fatal(err)
	}
	closeCmd := func() *exec.Cmd {
		return child(standby, compliance, "case", "close", "CLOSE", "--decision-ref", "letter", "--decision-file", decision, "--yes")
	}
	ids := backupIDs(released)
	code, out := killLeaderDuring(t, c, closeCmd(), func() bool {
		h, _, err := cat.GetHold(context.Background(), "CLOSE", ids[0])
		return err == nil && !h.ReleasedAt.IsZero()
	})
	t.Logf("case close through the failover: exit %d\n%s", code, lastLines(out, 4))
	checkLatches(t, root, cat, released, held, false)
	if out, err := closeCmd().CombinedOutput(); err != nil && code != 0 {
		t.Fatalf("re-run after failover: %v\n%s", err, out)
	}
	checkLatches(t, root, cat, released, held, true)
	cs, _, err := cat.GetCase(context.Background(), "CLOSE")
	if err != nil || cs.State != catalog.CaseClosed {
		t.Fatalf("case after re-run: %v %v", cs, err)
	}
	if _, err := root.VerifyLedger(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// checkLatches: the backup another case holds keeps its latch closed; a
// released backup's latch is open only if its hold record is released;
// with all set, every released backup's latch is open.
func checkLatches(t *testing.T, v *shred.Service, cat *catalog.Catalog, released []*catalog.Backup, held *catalog.Backup, all bool) {
	t.Helper()
	ctx := context.Background()
	open := 0
	for _, b := range released {
		_, key := backupAndKey(t, v, b)
		if key == nil {
			t.Fatalf("%s: key gone during a close", b.ID)
		}
		if key.DeletionAllowed {
			open++
			if h, _, err := cat.GetHold(ctx, "CLOSE", b.ID); err != nil || h.ReleasedAt.IsZero() {
				t.Fatalf("%s: latch open but its hold record is not released (%v)", b.ID, err)
			}
		} else if all {
			t.Fatalf("%s: latch still closed after the close finished", b.ID)
		}
	}
	t.Logf("%d of %d latches open", open, len(released))
	if _, key := backupAndKey(t, v, held); key == nil || key.DeletionAllowed {
		t.Fatalf("backup held by another case: key %+v", key)
	}
}

// TestProtectBatchFailover kills the active Vault node while a batch
// `backup protect` talks to a standby; re-running it on the files it did
// not report protected finishes the batch, and every file then has exactly
// one registered backup with its key and ciphertext.
func TestProtectBatchFailover(t *testing.T) {
	c, standby := failoverCluster(t)
	root := newService(vault.New(standby.Root(t), vault.DefaultMounts))
	admin := standby.TokenWithPolicies(t, "backup-admin", vault.PolicyAdmin)
	src, out := t.TempDir(), t.TempDir()
	const n = 80
	var files []string
	for i := range n {
		f := filepath.Join(src, fmt.Sprintf("db-%03d.tar", i))
		if err := os.WriteFile(f, []byte(f), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	protect := func(files []string) *exec.Cmd {
		return child(standby, admin, append([]string{"backup", "protect", "--out", out, "--system", "batch"}, files...)...)
	}
	code, output := killLeaderDuring(t, c, protect(files), func() bool {
		m, _ := filepath.Glob(filepath.Join(out, "*.age"))
		return len(m) >= 10
	})
	done := protectedFiles(output)
	t.Logf("protect through the failover: exit %d, %d of %d protected\n%s", code, len(done), n, lastLines(output, 3))
	rest := slices.DeleteFunc(slices.Clone(files), func(f string) bool { return done[f] })
	if len(rest) > 0 {
		if o, err := protect(rest).CombinedOutput(); err != nil {
			t.Fatalf("re-run of %d files after failover: %v\n%s", len(rest), err, o)
		}
	}
	checkProtected(t, root, catalog.New(vault.New(standby.Root(t), vault.DefaultMounts)), files)
}

var protectedLine = regexp.MustCompile(`(?m)^protected (\S+) as `)

func protectedFiles(out string) map[string]bool {
	done := map[string]bool{}
	for _, m := range protectedLine.FindAllStringSubmatch(out, -1) {
		done[m[1]] = true
	}
	return done
}

// checkProtected: each file has exactly one registered backup, whose key
// is in Vault and whose ciphertext is in place; the ledger verifies.
func checkProtected(t *testing.T, v *shred.Service, cat *catalog.Catalog, files []string) {
	t.Helper()
	ctx := context.Background()
	all, _, err := cat.ListBackups(ctx, catalog.BackupFilter{System: "batch"})
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, b := range all {
		if !b.Registered {
			continue
		}
		per[b.Original.Path]++
		if _, key := backupAndKey(t, v, b); key == nil {
			t.Fatalf("%s registered without its key", b.ID)
		}
		if _, err := os.Stat(b.Ciphertext.Path); err != nil {
			t.Fatalf("%s: %v", b.ID, err)
		}
	}
	for _, f := range files {
		if per[f] != 1 {
			t.Fatalf("%s: %d registered backups, want 1", f, per[f])
		}
	}
	if _, err := v.VerifyLedger(ctx); err != nil {
		t.Fatal(err)
	}
}

func backupIDs(bs []*catalog.Backup) []string {
	ids := make([]string, len(bs))
	for i, b := range bs {
		ids[i] = b.ID
	}
	slices.Sort(ids)
	return ids
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func lastLines(s string, n int) string {
	lines := regexp.MustCompile("\r?\n").Split(string(bytes.TrimSpace([]byte(s))), -1)
	return fmt.Sprint(lines[max(0, len(lines)-n):])
}
