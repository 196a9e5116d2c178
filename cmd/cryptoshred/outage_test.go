package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/internal/fsutil"
	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// outageEnv is a persistent Vault that tests stop, seal, pause and restart.
type outageEnv struct {
	t     *testing.T
	vault *vaulttest.Persistent
	roles roles
	dir   string
	key   string // signing key prefix
}

func newOutageEnv(t *testing.T) *outageEnv {
	t.Helper()
	p := vaulttest.StartPersistent(t)
	e := &outageEnv{t: t, vault: p, dir: t.TempDir()}
	e.must(e.cli(p.Token, "init"))
	e.roles = roles{
		admin:      p.TokenWithPolicies(t, "backup-admin", vault.PolicyAdmin),
		compliance: p.TokenWithPolicies(t, "compliance-officer", vault.PolicyCompliance),
		auditor:    p.TokenWithPolicies(t, "auditor", vault.PolicyAuditor),
	}
	e.key = filepath.Join(e.dir, "signer")
	if err := attest.WriteKeyPair(e.key+".key", e.key+".pub", attest.ECDSAP256, nil); err != nil {
		t.Fatal(err)
	}
	return e
}

// cli returns the CLI as a child process.
// Retries are cut to one, so a Vault that is down fails fast.
func (e *outageEnv) cli(token string, args ...string) *exec.Cmd {
	cmd := child(e.vault.Server, token, args...)
	cmd.Env = append(cmd.Env, "VAULT_MAX_RETRIES=1")
	return cmd
}

// outcome runs cmd and returns its exit code and combined output.
func outcome(cmd *exec.Cmd) (int, string) {
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		return -1, err.Error()
	}
	return 0, string(out)
}

func (e *outageEnv) must(cmd *exec.Cmd) string {
	e.t.Helper()
	code, out := outcome(cmd)
	if code != 0 {
		e.t.Fatalf("%v: exit %d\n%s", cmd.Args[1:], code, out)
	}
	return out
}

func (e *outageEnv) do(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *outageEnv) shredRun(caseID string) *exec.Cmd {
	return e.cli(e.roles.admin, "shred", "run", "--case", caseID, "--yes", "--sign-key", e.key+".key",
		"--vault-snapshot-retention", "720h", "-o", filepath.Join(e.dir, caseID+fmt.Sprint(time.Now().UnixNano())+".json"))
}

// expectUnavailable checks a command failed with exit 1 and a message that
// names Vault and says what to do, without a raw HTTP dump.
func (e *outageEnv) expectUnavailable(cmd *exec.Cmd, want string) {
	e.t.Helper()
	code, out := outcome(cmd)
	if code != exitError || !strings.Contains(out, want) || strings.Contains(out, "URL: ") || strings.Contains(out, "goroutine ") {
		e.t.Fatalf("%v with Vault down: exit %d\n%s", cmd.Args[1:], code, out)
	}
}

func (e *outageEnv) root() *shred.Service {
	return newService(vault.New(e.vault.Root(e.t), vault.DefaultMounts))
}

func writeSource(t *testing.T, dir, name string, size int) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, bytes.Repeat([]byte(name+"\n"), size/(len(name)+1)+1), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEachCommandWithVaultStoppedThenRestarted: protect, open, case close
// and shred run each fail clearly while Vault is down, leave no output,
// and succeed when run again after Vault is back.
func TestEachCommandWithVaultStoppedThenRestarted(t *testing.T) {
	e := newOutageEnv(t)
	src := writeSource(t, e.dir, "casework.tar", 100000)
	e.must(e.cli(e.roles.admin, "backup", "protect", src, "--out", e.dir))
	b := onlyBackup(t, e.root())
	e.must(e.cli(e.roles.compliance, "case", "open", "C1", "--authority", "DPA", "--reference", "R", "--controller", "Ministry"))
	e.must(e.cli(e.roles.compliance, "hold", "place", "--case", "C1", b.ID))
	doc := writeSource(t, e.dir, "decision.pdf", 100)
	src2 := writeSource(t, e.dir, "second.tar", 1000)
	restored := filepath.Join(e.dir, "restored.tar")
	steps := []struct {
		name  string
		cmd   func() *exec.Cmd
		after func()
	}{
		{"protect", func() *exec.Cmd { return e.cli(e.roles.admin, "backup", "protect", src2, "--out", e.dir) }, func() {
			if _, err := os.Stat(src2 + ".age"); err != nil {
				t.Fatal("protect after restart wrote nothing")
			}
		}},
		{"open", func() *exec.Cmd {
			return e.cli(e.roles.admin, "backup", "open", b.ID, "--purpose", "restore test", "-o", restored)
		}, func() {}},
		{"case close", func() *exec.Cmd {
			return e.cli(e.roles.compliance, "case", "close", "C1", "--decision-ref", "closing", "--decision-file", doc, "--yes")
		}, func() {}},
		{"shred run", func() *exec.Cmd { return e.shredRun("C1") }, func() { assertBackupState(t, e.root(), b.ID, catalog.StateShredded) }},
	}
	for _, s := range steps {
		e.vault.Stop()
		e.expectUnavailable(s.cmd(), "vault is unavailable")
		if leftovers, _ := filepath.Glob(filepath.Join(e.dir, ".*.tmp")); len(leftovers) > 0 || fileExists(restored) && s.name == "open" {
			t.Fatalf("%s left output behind with Vault down: %v", s.name, leftovers)
		}
		e.do(e.vault.Restart())
		e.must(s.cmd())
		s.after()
	}
	e.must(e.cli(e.roles.auditor, "ledger", "verify"))
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func onlyBackup(t *testing.T, v *shred.Service) *catalog.Backup {
	t.Helper()
	bs, _, err := v.ListBackups(context.Background(), catalog.BackupFilter{})
	if err != nil || len(bs) != 1 {
		for _, b := range bs {
			t.Logf("%s %s %s %s", b.ID, b.State, b.Ciphertext.Path, b.FailedReason)
		}
		t.Fatalf("want one backup, got %d (%v)", len(bs), err)
	}
	return bs[0]
}

func assertBackupState(t *testing.T, v *shred.Service, id string, want catalog.State) {
	t.Helper()
	b, _, err := v.GetBackup(context.Background(), id)
	if err != nil || b.State != want {
		t.Fatalf("backup %s: %v, want state %s", id, err, want)
	}
}

// TestVaultStoppedWhileProtectEncrypts stops Vault after protect created
// the key and while it encrypts a large file: the record cannot be
// finished, and a re-run once Vault is back completes that same backup.
func TestVaultStoppedWhileProtectEncrypts(t *testing.T) {
	e := newOutageEnv(t)
	src := writeSource(t, e.dir, "big.tar", 512<<20)
	out := t.TempDir()
	cmd := e.cli(e.roles.admin, "backup", "protect", src, "--out", out)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	e.do(cmd.Start())
	waitFor(t, func() bool { return unnamedOutputSize(cmd.Process.Pid, out) > 16<<20 })
	e.vault.Stop()
	if err := cmd.Wait(); err == nil || !strings.Contains(log.String(), "vault is unavailable") {
		t.Fatalf("protect with Vault stopped mid-way: %v\n%s", err, log.String())
	}
	e.do(e.vault.Restart())
	e.must(e.cli(e.roles.admin, "backup", "protect", src, "--out", out))
	b := onlyBackup(t, e.root())
	if b.State != catalog.StateProtected {
		t.Fatalf("after re-run: %s", b.State)
	}
	restored := filepath.Join(e.dir, "restored")
	e.must(e.cli(e.roles.admin, "backup", "open", b.ID, "--purpose", "check", "-o", restored))
	want, _, _ := fsutil.FileSHA256(src)
	if got, _, _ := fsutil.FileSHA256(restored); got != want {
		t.Fatal("restored file differs from the original")
	}
}

// unnamedOutputSize is the size of the unnamed (O_TMPFILE) output that
// process pid is writing in dir, found through /proc: it grows once the
// key is wrapped and encryption runs.
func unnamedOutputSize(pid int, dir string) int64 {
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	for _, fd := range fds {
		target, err := os.Readlink(fd)
		if err != nil || !strings.HasPrefix(target, dir+"/#") {
			continue
		}
		if st, err := os.Stat(fd); err == nil {
			return st.Size()
		}
	}
	return 0
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("condition not reached in 5 s")
}

// TestSealedVault: commands say Vault is sealed; after unsealing they work.
func TestSealedVault(t *testing.T) {
	e := newOutageEnv(t)
	src := writeSource(t, e.dir, "f.tar", 1000)
	e.do(e.vault.Seal())
	e.expectUnavailable(e.cli(e.roles.admin, "backup", "protect", src, "--out", e.dir), "vault is sealed; unseal it and run the command again")
	e.expectUnavailable(e.cli(e.roles.auditor, "ledger", "verify"), "sealed")
	e.do(e.vault.Unseal())
	e.must(e.cli(e.roles.admin, "backup", "protect", src, "--out", e.dir))
}

// TestSlowVault pauses Vault for two seconds in the middle of a command:
// the command waits and completes.
func TestSlowVault(t *testing.T) {
	e := newOutageEnv(t)
	src := writeSource(t, e.dir, "f.tar", 1000)
	cmd := e.cli(e.roles.admin, "backup", "protect", src, "--out", e.dir)
	e.vault.Pause()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	e.do(cmd.Start())
	time.Sleep(2 * time.Second)
	e.vault.Resume()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("protect across a 2 s stall: %v\n%s", err, out.String())
	}
}

// TestVaultStoppedDuringCloseAndShred stops Vault at spread moments of a
// running `case close` and then of a running `shred run`, restarts it and
// runs the command again: the job finishes, nothing held loses its key,
// nothing is lost track of, and the ledger verifies.
func TestVaultStoppedDuringCloseAndShred(t *testing.T) {
	e := newOutageEnv(t)
	root := e.root()
	doc := writeSource(t, e.dir, "decision.pdf", 100)
	closeCmd := func(caseID string) *exec.Cmd {
		return e.cli(e.roles.compliance, "case", "close", caseID, "--decision-ref", "closing", "--decision-file", doc, "--yes")
	}
	const n, points = 16, 5
	openHeld(t, root, e.dir, "CAL", n)
	closeTime := timed(t, closeCmd("CAL"))
	shredTime := timed(t, e.shredRun("CAL"))
	for i := range points {
		caseID := fmt.Sprintf("STOP-%d", i)
		released, held := openHeld(t, root, e.dir, caseID, n)
		e.stopDuring(closeCmd(caseID), closeTime*time.Duration(i)/points)
		if code, out := outcome(closeCmd(caseID)); code != 0 && !strings.Contains(out, "already closed") {
			t.Fatalf("%s: close after restart: exit %d\n%s", caseID, code, out)
		}
		e.stopDuring(e.shredRun(caseID), shredTime*time.Duration(i)/points)
		checkAfterKill(t, root, caseID, released, held)
		e.must(e.shredRun(caseID))
		checkFinished(t, root, released, held)
	}
}

// openHeld is killCase without the close: n backups held by caseID, one
// more also held by another case.
func openHeld(t *testing.T, v *shred.Service, dir, caseID string, n int) ([]*catalog.Backup, *catalog.Backup) {
	t.Helper()
	return setupHeld(t, v, dir, caseID, n, false)
}

func timed(t *testing.T, cmd *exec.Cmd) time.Duration {
	t.Helper()
	start := time.Now()
	if code, out := outcome(cmd); code != 0 {
		t.Fatalf("%v: exit %d\n%s", cmd.Args[1:], code, out)
	}
	return time.Since(start)
}

// stopDuring starts cmd, stops Vault after delay, waits for cmd, and
// restarts Vault.
func (e *outageEnv) stopDuring(cmd *exec.Cmd, delay time.Duration) {
	e.t.Helper()
	e.do(cmd.Start())
	time.Sleep(delay)
	e.vault.Stop()
	_ = cmd.Wait()
	e.do(e.vault.Restart())
}

// TestKilledOpenLeavesNoPlaintext kills `backup open` while it writes a
// large restore: the output is an unnamed file until complete, so nothing
// is left on disk.
func TestKilledOpenLeavesNoPlaintext(t *testing.T) {
	e := newOutageEnv(t)
	src := writeSource(t, e.dir, "big.tar", 256<<20)
	e.must(e.cli(e.roles.admin, "backup", "protect", src, "--out", e.dir))
	b := onlyBackup(t, e.root())
	restore := t.TempDir()
	cmd := e.cli(e.roles.admin, "backup", "open", b.ID, "--purpose", "restore", "-o", filepath.Join(restore, "big.tar"))
	e.do(cmd.Start())
	waitFor(t, func() bool { return unnamedOutputSize(cmd.Process.Pid, restore) > 16<<20 })
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if left, _ := os.ReadDir(restore); len(left) != 0 {
		t.Fatalf("a killed open left %d file(s) in the output directory", len(left))
	}
}
