package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

// TestLocalCiphertextChangedBehindTheToolsBack: a held backup's local
// ciphertext deleted or modified is reported by backup verify, hold
// place and shred plan.
func TestLocalCiphertextChangedBehindTheToolsBack(t *testing.T) {
	env := newTestEnv(t)
	gone := protectFile(t, env, "gone.tar", []byte("to be deleted behind our back"))
	changed := protectFile(t, env, "changed.tar", []byte("to be modified behind our back"))
	intact := protectFile(t, env, "intact.tar", []byte("left alone"))
	mustRun(t, env.srv, env.roles.admin, "backup", "verify", gone.ID, changed.ID, intact.ID)

	if err := os.Remove(gone.Ciphertext.Path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(changed.Ciphertext.Path, []byte("age-encryption.org/v1\nnot what was registered"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := expectCode(t, exitVerifyKO, env.srv, env.roles.auditor, "backup", "verify", gone.ID, changed.ID, intact.ID)
	if !strings.Contains(r.stdout, gone.ID) || !strings.Contains(r.stdout, "is missing") || !strings.Contains(r.stdout, "registered") ||
		!strings.Contains(r.stdout, "PASS "+intact.ID) {
		t.Fatalf("backup verify:\n%s\n%s", r.stdout, r.stderr)
	}
	replaced := protectFile(t, env, "replaced.tar", []byte("to be replaced by a directory"))
	looped := protectFile(t, env, "looped.tar", []byte("to be replaced by a symbolic link to itself"))
	if os.Remove(replaced.Ciphertext.Path) != nil || os.Mkdir(replaced.Ciphertext.Path, 0o700) != nil ||
		os.Remove(looped.Ciphertext.Path) != nil || os.Symlink(looped.Ciphertext.Path, looped.Ciphertext.Path) != nil {
		t.Fatal("replacing the ciphertexts")
	}
	for _, b := range []*catalog.Backup{replaced, looped} {
		if r := expectCode(t, exitVerifyKO, env.srv, env.roles.auditor, "backup", "verify", b.ID); !strings.Contains(r.stdout, "its ciphertext is missing") {
			t.Fatalf("backup verify of a ciphertext replaced by something else:\n%s\n%s", r.stdout, r.stderr)
		}
	}
	mustRun(t, env.srv, env.roles.compliance, "case", "open", "LOST", "--authority", "A", "--reference", "R", "--controller", "C")
	r = expectCode(t, exitVerifyKO, env.srv, env.roles.compliance, "hold", "place", "--case", "LOST", gone.ID, changed.ID, intact.ID)
	if !strings.Contains(r.stderr, gone.ID) || !strings.Contains(r.stderr, "missing or changed") {
		t.Fatalf("hold place over lost ciphertexts: %s", r.stderr)
	}
	if r := mustRun(t, env.srv, env.roles.auditor, "--format", "json", "case", "show", "LOST"); strings.Count(r.stdout, `"backup"`) != 3 {
		t.Fatalf("the key holds were not all placed:\n%s", r.stdout)
	}
	mustRun(t, env.srv, env.roles.compliance, "case", "close", "LOST", "--decision-ref", "D", "--decision-file", decisionFile(t, env), "--yes")
	r = mustRun(t, env.srv, env.roles.admin, "shred", "plan", "--case", "LOST")
	if strings.Count(r.stdout, "the ciphertext is missing or changed") != 2 {
		t.Fatalf("shred plan does not warn about both lost ciphertexts:\n%s", r.stdout)
	}
}

// TestBackupVerifyOutageIsNoTamperAlarm: exit 5 is the tamper alarm, raised
// by backup verify only for a ciphertext that really is missing or
// changed. A mistyped id, a token Vault refuses, a Vault that nothing
// answers for, a sealed Vault or a cancelled run exits 1 or 4; a changed
// ciphertext beside a mistyped id still exits 5, with both reported.
func TestBackupVerifyOutageIsNoTamperAlarm(t *testing.T) {
	env := newTestEnv(t)
	intact := protectFile(t, env, "intact.tar", []byte("left alone"))
	changed := protectFile(t, env, "changed.tar", []byte("to be modified behind our back"))
	const typo = "bk-no-such-backup"
	notAlarm := func(what string, r result) {
		t.Helper()
		if r.code != exitError && r.code != exitRefused {
			t.Errorf("%s: exit %d, want 1 or 4 (never 5, the tamper alarm)\nstdout: %s\nstderr: %s", what, r.code, r.stdout, r.stderr)
		}
		if strings.Contains(r.stderr, "missing or changed") {
			t.Errorf("%s: reported as a ciphertext missing or changed: %s", what, r.stderr)
		}
	}

	r := runCLI(t, env.srv, env.roles.auditor, "backup", "verify", intact.ID, typo)
	notAlarm("a mistyped id", r)
	if !strings.Contains(r.stdout, "PASS "+intact.ID) || !strings.Contains(r.stderr, typo) {
		t.Errorf("a mistyped id beside an intact backup:\n%s\n%s", r.stdout, r.stderr)
	}
	notAlarm("a token Vault refuses", runCLI(t, env.srv, "hvs.not-a-token", "backup", "verify", intact.ID))

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	notAlarm("nothing listening", runAt(t, closed, env.roles.auditor, "backup", "verify", intact.ID))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	t.Setenv("VAULT_ADDR", env.srv.Addr)
	t.Setenv("VAULT_TOKEN", env.roles.auditor)
	var out, errb bytes.Buffer
	code := run(ctx, []string{"cryptoshred", "backup", "verify", intact.ID}, strings.NewReader(""), &out, &errb)
	notAlarm("a cancelled run", result{stdout: out.String(), stderr: errb.String(), code: code})

	if err := os.WriteFile(changed.Ciphertext.Path, []byte("age-encryption.org/v1\nnot what was registered"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = expectCode(t, exitVerifyKO, env.srv, env.roles.auditor, "backup", "verify", intact.ID, changed.ID, typo)
	if !strings.Contains(r.stderr, "1 of 3 ciphertext(s) missing or changed") || !strings.Contains(r.stderr, "1 of 3 ciphertext(s) could not be verified") ||
		!strings.Contains(r.stderr, typo) {
		t.Errorf("a changed ciphertext beside a mistyped id: the stderr does not report both:\n%s", r.stderr)
	}

	if err := env.srv.Root(t).Sys().Seal(); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VAULT_MAX_RETRIES", "1") // as the outage tests: a sealed Vault is retried with backoff
	r = runCLI(t, env.srv, env.roles.auditor, "backup", "verify", intact.ID, changed.ID)
	notAlarm("a sealed Vault", r)
	if !strings.Contains(r.stderr, "sealed") {
		t.Errorf("a sealed Vault is not named: %s", r.stderr)
	}
}

// TestUncheckedBackupPrintsNoLinesOfItsOwn: the reason a backup could not
// be verified may quote its ciphertext path, which the admin writes; a
// line break in it stays on the line of that backup's error, so no
// "PASS" line of the admin's making appears under the verify's output,
// while two backups' errors stay one a line.
func TestUncheckedBackupPrintsNoLinesOfItsOwn(t *testing.T) {
	forged := errors.New("open /backups/x.age\nPASS bk-forged /backups/x.age")
	err := verifyOutcome([]shred.VerifyResult{{ID: "bk-a", Err: forged}, {ID: "bk-b", Err: errors.New("vault is sealed")}})
	var out bytes.Buffer
	reportError(&out, err)
	if strings.Contains(out.String(), "\nPASS") || strings.Count(out.String(), "\n") != 2 || !strings.Contains(out.String(), "\nvault is sealed\n") {
		t.Fatalf("printed:\n%s", out.String())
	}
}
