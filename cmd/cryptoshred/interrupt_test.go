package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// interruptedOpenSize is large enough that opening it takes a moment, so
// Ctrl-C lands while the plaintext streams.
const interruptedOpenSize = 256 << 20

// TestOpenInterruptedBySIGINTLeavesNoOutput sends SIGINT to a real
// `backup open` child process once it has read 16 MiB of a 256 MiB
// ciphertext: it stops, exits 1 saying it was interrupted, and leaves
// neither the output nor a temporary file.
func TestOpenInterruptedBySIGINTLeavesNoOutput(t *testing.T) {
	srv := vaulttest.Start(t)
	rootVault := vault.New(srv.Root(t), vault.DefaultMounts)
	if _, err := rootVault.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	b := protectSparse(t, newService(rootVault), interruptedOpenSize)
	out := t.TempDir()
	cmd := child(srv, srv.TokenWithPolicies(t, "backup-admin", vault.PolicyAdmin),
		"backup", "open", b.ID, "--purpose", "interrupted", "-o", filepath.Join(out, "restored"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntilRead(t, cmd.Process.Pid, 16<<20)
	_ = cmd.Process.Signal(os.Interrupt)
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitError || !strings.Contains(stderr.String(), "interrupted: context canceled") {
		t.Fatalf("interrupted open: exit %d, want %d\n%s", code, exitError, stderr.String())
	}
	if entries, err := os.ReadDir(out); err != nil || len(entries) != 0 {
		t.Fatalf("the interrupted open left %v (%v)", entries, err)
	}
}

// protectSparse protects a file of size zero bytes (sparse, so quick to
// write) and removes it.
func protectSparse(t *testing.T, v *shred.Service, size int64) *catalog.Backup {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "large.tar")
	if err := os.WriteFile(src, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(src, size); err != nil {
		t.Fatal(err)
	}
	b, err := v.Protect(context.Background(), shred.Actor{DisplayName: "setup"}, shred.ProtectRequest{Source: src, OutDir: dir, System: "large"})
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(src)
	return b
}

// waitUntilRead waits until process pid has read n bytes (rchar in
// /proc/PID/io), and fails the test if it ends first.
func waitUntilRead(t *testing.T, pid int, n int64) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		io, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
		if err != nil {
			t.Fatalf("the process ended before it read %d bytes: %v", n, err)
		}
		if rchar(string(io)) >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("the process did not read %d bytes in a minute", n)
}

func rchar(procIO string) int64 {
	for _, line := range strings.Split(procIO, "\n") {
		if v, ok := strings.CutPrefix(line, "rchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// stuckAfterInterrupt stands for a command that does not stop when it is
// interrupted (blocked on a read no context reaches): it says ready,
// waits for the first signal, says interrupted, and sleeps on.
func stuckAfterInterrupt() {
	ctx, stop := interruptContext()
	defer stop()
	fmt.Println("ready")
	<-ctx.Done()
	fmt.Println("interrupted")
	time.Sleep(time.Minute)
	os.Exit(0)
}

// TestSecondInterruptKills: after the first SIGINT cancels the command's
// context, a second one kills the process, as it would any other.
func TestSecondInterruptKills(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "CRYPTOSHRED_TEST_STUCK=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	for _, want := range []string{"ready", "interrupted"} {
		if !lines.Scan() || lines.Text() != want {
			t.Fatalf("child said %q, want %q", lines.Text(), want)
		}
		_ = cmd.Process.Signal(os.Interrupt)
	}
	waitOrKill(t, cmd, "a second SIGINT")
	if ws := cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Fatalf("after a second SIGINT: %v, want killed by it", cmd.ProcessState)
	}
}

// waitOrKill waits up to 10 s for cmd to end after what, and fails the
// test if it had to be killed.
func waitOrKill(t *testing.T, cmd *exec.Cmd, what string) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("the process was still running 10 s after %s", what)
	}
}

// ptyChild starts the CLI in a child process whose controlling terminal
// is a new pseudo-terminal (so Ctrl-C typed on it sends SIGINT), and
// returns the terminal's master end and what is drawn on it.
func ptyChild(t *testing.T, env []string, args ...string) (*exec.Cmd, *os.File, *os.File, func(want ...string) string) {
	t.Helper()
	master, slave := openPTY(t)
	drawn := recordTerminal(master)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "CRYPTOSHRED_TEST_AS_CLI=1", passwordEnv+"="), env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, master, slave, drawn
}

// echoOn reports whether the terminal echoes what is typed.
func echoOn(t *testing.T, tty *os.File) bool {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio.Lflag&unix.ECHO != 0
}

// TestPasswordPromptStopsAtCtrlC: Ctrl-C at keygen's password prompt ends
// the command at once (before, it waited for Enter), exits 1, writes no
// key, and leaves the terminal echoing again.
func TestPasswordPromptStopsAtCtrlC(t *testing.T) {
	key := filepath.Join(t.TempDir(), "signer.key")
	cmd, master, slave, drawn := ptyChild(t, nil, "attest", "keygen", "-o", key)
	if shown := drawn("Password for the new key: "); !strings.Contains(shown, "Password for the new key: ") {
		t.Fatalf("no password prompt: %q", shown)
	}
	for deadline := time.Now().Add(5 * time.Second); echoOn(t, slave); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the prompt never turned the echo off")
		}
	}
	if _, err := master.Write([]byte{3}); err != nil { // Ctrl-C
		t.Fatal(err)
	}
	waitOrKill(t, cmd, "Ctrl-C at the password prompt")
	if shown := drawn("interrupted"); cmd.ProcessState.ExitCode() != exitError || !strings.Contains(shown, "interrupted: context canceled") {
		t.Fatalf("Ctrl-C at the password prompt: %v\n%s", cmd.ProcessState, shown)
	}
	if !echoOn(t, slave) {
		t.Fatal("the terminal was left without echo")
	}
	if _, err := os.Stat(key); err == nil {
		t.Fatal("a key was written")
	}
}

// TestCaseCloseConfirmationStopsAtCtrlC: Ctrl-C at case close's
// confirmation is no (before, it waited for Enter): exit 4, and the case
// stays open.
func TestCaseCloseConfirmationStopsAtCtrlC(t *testing.T) {
	env := newTestEnv(t)
	mustRun(t, env.srv, env.roles.compliance, "case", "open", "CTRLC", "--authority", "DPA", "--reference", "R", "--controller", "Ministry")
	decision := filepath.Join(env.dir, "decision.pdf")
	if err := os.WriteFile(decision, []byte("decision"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, master, _, drawn := ptyChild(t, env.srv.Env(env.roles.compliance),
		"case", "close", "CTRLC", "--decision-ref", "D-1", "--decision-file", decision)
	if shown := drawn(`[type "CTRLC" to confirm]: `); !strings.Contains(shown, `[type "CTRLC" to confirm]: `) {
		t.Fatalf("no confirmation prompt: %q", shown)
	}
	if _, err := master.Write([]byte{3}); err != nil {
		t.Fatal(err)
	}
	waitOrKill(t, cmd, "Ctrl-C at the confirmation")
	if shown := drawn("not confirmed"); cmd.ProcessState.ExitCode() != exitRefused || !strings.Contains(shown, "not confirmed") {
		t.Fatalf("Ctrl-C at the confirmation: %v\n%s", cmd.ProcessState, shown)
	}
	if c, _, err := shredRoot(t, env).GetCase(context.Background(), "CTRLC"); err != nil || c.State != catalog.CaseOpen {
		t.Fatalf("the case after Ctrl-C: %+v %v", c, err)
	}
}

// confirm returns false as soon as its context is cancelled, without an
// answer.
func TestConfirmReturnsWhenCancelled(t *testing.T) {
	stdin, typing := io.Pipe()
	defer typing.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan bool, 1)
	go func() { done <- confirm(ctx, stdin, io.Discard, "Destroy these keys for good?", "CASE-1") }()
	cancel()
	select {
	case ok := <-done:
		if ok {
			t.Fatal("a cancelled confirmation was taken as yes")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("confirm still waits for an answer 5 s after its context was cancelled")
	}
}
