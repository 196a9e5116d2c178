package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// result is what one in-process run of the CLI printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

// runCLI runs the CLI in-process against srv with token.
func runCLI(t *testing.T, srv *vaulttest.Server, token string, args ...string) result {
	t.Helper()
	t.Setenv("VAULT_ADDR", srv.Addr)
	t.Setenv("VAULT_TOKEN", token)
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"cryptoshred"}, args...), strings.NewReader(""), &out, &errb)
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// mustRun runs the CLI and fails the test unless it exits 0.
func mustRun(t *testing.T, srv *vaulttest.Server, token string, args ...string) result {
	t.Helper()
	r := runCLI(t, srv, token, args...)
	if r.code != 0 {
		t.Fatalf("cryptoshred %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// expectCode runs the CLI and fails the test unless it exits with code.
func expectCode(t *testing.T, code int, srv *vaulttest.Server, token string, args ...string) result {
	t.Helper()
	r := runCLI(t, srv, token, args...)
	if r.code != code {
		t.Fatalf("cryptoshred %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	return r
}

// initVault starts a dev server, runs `cryptoshred init` and returns tokens
// for each role.
func initVault(t *testing.T) (*vaulttest.Server, roles) {
	t.Helper()
	srv := vaulttest.Start(t)
	mustRun(t, srv, srv.Token, "init")
	return srv, roles{
		admin:      srv.TokenWithPolicies(t, "backup-admin", vault.PolicyAdmin),
		compliance: srv.TokenWithPolicies(t, "compliance-officer", vault.PolicyCompliance),
		auditor:    srv.TokenWithPolicies(t, "auditor", vault.PolicyAuditor),
	}
}

type roles struct{ admin, compliance, auditor string }

func TestInitTwiceReportsNoChange(t *testing.T) {
	srv := vaulttest.Start(t)
	first := mustRun(t, srv, srv.Token, "init")
	if !strings.Contains(first.stdout, "enabled transit engine at cryptoshred-transit/") ||
		!strings.Contains(first.stdout, "wrote policy cryptoshred-admin") {
		t.Fatalf("first init: %s", first.stdout)
	}
	second := mustRun(t, srv, srv.Token, "init")
	if !strings.Contains(second.stdout, "no change") {
		t.Fatalf("second init: %s", second.stdout)
	}
	js := mustRun(t, srv, srv.Token, "--format", "json", "init")
	if !strings.Contains(js.stdout, `"changed": false`) {
		t.Fatalf("json init: %s", js.stdout)
	}
}

func TestAdminTokenCannotUpdateKeyConfig(t *testing.T) {
	srv, r := initVault(t)
	if _, err := srv.Root(t).Logical().Write("cryptoshred-transit/keys/X", map[string]any{"type": "aes256-gcm96"}); err != nil {
		t.Fatal(err)
	}
	_, err := srv.Client(t, r.admin).Logical().Write("cryptoshred-transit/keys/X/config", map[string]any{"deletion_allowed": true})
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("admin updating key config: %v", err)
	}
}

func TestExitCodesAreInHelp(t *testing.T) {
	var out bytes.Buffer
	code := run(context.Background(), []string{"cryptoshred", "--help"}, strings.NewReader(""), &out, &out)
	if code != exitOK || !strings.Contains(out.String(), "4  refused") || !strings.Contains(out.String(), "5  verification failed") {
		t.Fatalf("help (exit %d): %s", code, out.String())
	}
}

func TestUsageErrors(t *testing.T) {
	srv := vaulttest.Start(t)
	for _, args := range [][]string{
		{"no-such-command"},
		{"--format", "yaml", "init"},
		{"init", "--no-such-flag"},
		{"backup", "protect"},
		{"backup", "protect", "--category", "shoe-size", "f"},
		{"backup", "open", "bk-x", "-o", "out"},
	} {
		r := runCLI(t, srv, srv.Token, args...)
		if r.code != exitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %s)", args, r.code, exitUsage, r.stderr)
		}
	}
}

// TestMissingRequiredFlagIsUsageError: a flag a command cannot do without,
// left out, is a usage error (exit 2) named on stderr, with nothing on
// stdout; urfave/cli's Required flags exited 1 and printed the whole help
// on stdout, so no flag may use it.
func TestMissingRequiredFlagIsUsageError(t *testing.T) {
	t.Setenv("VAULT_ADDR", "http://127.0.0.1:1")
	t.Setenv("VAULT_TOKEN", "unused")
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"ledger", "export"}, "--output"},
		{[]string{"ledger", "export", "--case", "C"}, "--output"},
		{[]string{"attest", "witness", "att.json", "--sign-key", "w.pem", "-o", "w.json"}, "--key"},
		{[]string{"attest", "witness", "att.json", "--key", "a.pub", "-o", "w.json"}, "--sign-key"},
		{[]string{"attest", "witness", "att.json", "--key", "a.pub", "--sign-key", "w.pem"}, "--output"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"cryptoshred"}, tc.args...), strings.NewReader(""), &out, &errb)
		if code != exitUsage || out.Len() != 0 || !strings.Contains(errb.String(), tc.flag) {
			t.Errorf("%v: exit %d, want %d, with nothing on stdout and %s named on stderr\nstdout: %s\nstderr: %s",
				tc.args, code, exitUsage, tc.flag, out.String(), errb.String())
		}
	}
	var walk func(path string, cmds []*cli.Command)
	walk = func(path string, cmds []*cli.Command) {
		for _, c := range cmds {
			for _, f := range c.Flags {
				if rf, ok := f.(cli.RequiredFlag); ok && rf.IsRequired() {
					t.Errorf("%s %s: flag --%s is Required: check it in the action with usagef", path, c.Name, f.Names()[0])
				}
			}
			walk(path+" "+c.Name, c.Subcommands)
		}
	}
	app := newApp(strings.NewReader(""), io.Discard, io.Discard)
	walk("cryptoshred", app.Commands)
	for _, f := range app.Flags {
		if rf, ok := f.(cli.RequiredFlag); ok && rf.IsRequired() {
			t.Errorf("global flag --%s is Required", f.Names()[0])
		}
	}
}

func TestMissingTokenIsUsageError(t *testing.T) {
	srv := vaulttest.Start(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	r := runCLI(t, srv, "", "init")
	if r.code != exitUsage || !strings.Contains(firstLine(r.stderr), "VAULT_TOKEN is not set and there is no ~/.vault-token: run vault login, or export VAULT_TOKEN=\"$(vault print token)\"") {
		t.Fatalf("no token: %+v", r)
	}
	// As the vault CLI does, the token `vault login` wrote is used.
	if err := os.WriteFile(filepath.Join(home, ".vault-token"), []byte(srv.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, srv, "", "init")
}

// testEnv is an initialised Vault, role tokens and a scratch directory.
type testEnv struct {
	srv   *vaulttest.Server
	roles roles
	dir   string
}

func newTestEnv(t *testing.T) testEnv {
	srv, r := initVault(t)
	return testEnv{srv: srv, roles: r, dir: t.TempDir()}
}

// shredRoot returns the library's view of env's Vault with the root token.
func shredRoot(t *testing.T, env testEnv) *shred.Service {
	return newService(vault.New(env.srv.Root(t), vault.DefaultMounts))
}
