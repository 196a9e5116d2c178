package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

// TestShredRunRefusesOutputsItCouldNotWriteFirst: shred run refuses,
// before any key is destroyed, a set of outputs it could not write after:
// -o and --bundle naming one file (or, in parts, -o's index and the
// bundle of part 1), a part file of the bundle that exists, and a
// directory that takes no new file. The keys stay in Vault, the ledger
// records no destruction, and a run with good names then succeeds.
func TestShredRunRefusesOutputsItCouldNotWriteFirst(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("uses /proc as a directory no file can be created in, even by root")
	}
	env := newTestEnv(t)
	priv, _ := signingKey(t, env)
	backups := closedCaseOfCLI(t, env, "DPA-OUT", 2)
	in := func(name string) string { return filepath.Join(env.dir, name) }
	blocker := in("d.part-0002.bundle.json")
	if err := os.WriteFile(blocker, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		code  int
		flags []string
		want  string
	}{
		{"same -o and --bundle", exitUsage, []string{"-o", in("same.json"), "--bundle", filepath.Join(env.dir, "sub", "..", "same.json")},
			"-o and --bundle both name"},
		{"the bundle of part 1 is -o's index", exitUsage, []string{"-o", in("e.dsse.json"), "--bundle", in("e.index.json")},
			"--bundle and the index of -o both name " + in("e.index.json") + ": each output needs a file of its own; nothing was destroyed"},
		{"an existing part of the bundle", exitError, []string{"-o", in("d.dsse.json"), "--bundle", in("d.bundle.json")},
			blocker + " already exists: refusing to overwrite it; nothing was destroyed"},
		{"a directory that takes no file", exitError, []string{"-o", in("p.dsse.json"), "--bundle", "/proc/p.bundle.json"},
			"cannot create /proc/p.bundle.json: no file can be created in its directory /proc: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"shred", "run", "--case", "DPA-OUT", "--yes", "--sign-key", priv,
				"--vault-snapshot-retention", "720h", "--part-size", "1"}, c.flags...)
			r := expectCode(t, c.code, env.srv, env.roles.admin, args...)
			expectStderr(t, r, c.want)
			if strings.Contains(r.stderr, ".tmp") {
				t.Errorf("the message names a temporary file:\n%s", r.stderr)
			}
			keysStillThere(t, env, backups)
		})
	}
	// Parts are split by size as well as count, so with the default part
	// size every part name the plan's backups could take is checked.
	r := expectCode(t, exitError, env.srv, env.roles.admin, "shred", "run", "--case", "DPA-OUT", "--yes", "--sign-key", priv,
		"--vault-snapshot-retention", "720h", "-o", in("d.dsse.json"), "--bundle", in("d.bundle.json"))
	expectStderr(t, r, blocker+" already exists")
	keysStillThere(t, env, backups)
	if old, err := os.ReadFile(blocker); err != nil || string(old) != "old\n" {
		t.Fatalf("the existing part file was touched: %q %v", old, err)
	}
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	mustRun(t, env.srv, env.roles.admin, "shred", "run", "--case", "DPA-OUT", "--yes", "--sign-key", priv,
		"--vault-snapshot-retention", "720h", "--part-size", "1", "-o", in("d.dsse.json"), "--bundle", in("d.bundle.json"))
	for _, name := range []string{"d.dsse.json", "d.part-0002.dsse.json", "d.index.json", "d.bundle.json", "d.part-0002.bundle.json"} {
		if _, err := os.Stat(in(name)); err != nil {
			t.Error(err)
		}
	}
	if left, _ := filepath.Glob(in(".cryptoshred-check*")); len(left) > 0 {
		t.Errorf("the directory checks left %v behind", left)
	}
}

// keysStillThere fails t unless every backup's key is in Vault and the
// ledger records no key destroyed.
func keysStillThere(t *testing.T, env testEnv, backups []*catalog.Backup) {
	t.Helper()
	for _, b := range backups {
		if key, err := env.srv.Root(t).Logical().Read("cryptoshred-transit/keys/" + b.Key); err != nil || key == nil {
			t.Fatalf("the key of %s is gone: %v %v", b.ID, key, err)
		}
	}
	if show := mustRun(t, env.srv, env.roles.auditor, "ledger", "show").stdout; strings.Contains(show, "key.destroyed") {
		t.Fatalf("the ledger records a destruction:\n%s", show)
	}
}

// TestAttestGetPartsLeavesNoOutputBehind: attest get -o of an attestation
// in parts checks every name before it writes any (an existing part file
// stops it with nothing written, and it runs once that file is gone), and
// removes what it wrote when a later part cannot be read.
func TestAttestGetPartsLeavesNoOutputBehind(t *testing.T) {
	env := newTestEnv(t)
	priv, _ := signingKey(t, env)
	closedCaseOfCLI(t, env, "DPA-GET", 3)
	id := shredInPartsCLI(t, env, "DPA-GET", priv, "deletion", 2).AttestationID
	dir := t.TempDir()
	out := filepath.Join(dir, "g.dsse.json")
	files := []string{out, attest.PartFileName(out, 2), attest.IndexFileName(out)}
	blocker := files[1]
	if err := os.WriteFile(blocker, []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := expectCode(t, exitError, env.srv, env.roles.auditor, "attest", "get", id, "-o", out)
	expectStderr(t, r, blocker+" already exists: refusing to overwrite it")
	if strings.Contains(r.stderr, "removed") {
		t.Fatalf("attest get wrote files before it checked every name:\n%s", r.stderr)
	}
	for _, name := range []string{out, files[2]} {
		if _, err := os.Stat(name); !os.IsNotExist(err) {
			t.Fatalf("%s left behind: %v", name, err)
		}
	}
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	mustRun(t, env.srv, env.roles.auditor, "attest", "get", id, "-o", out)
	for _, name := range files {
		if _, err := os.Stat(name); err != nil {
			t.Fatal(err)
		}
	}

	// Part 2 unreadable in Vault: part 1 was written, and is removed.
	if _, err := env.srv.Root(t).Logical().Delete("cryptoshred/metadata/attestations/" + id + "-p0002/0"); err != nil {
		t.Fatal(err)
	}
	out2 := filepath.Join(dir, "h.dsse.json")
	r = expectCode(t, exitError, env.srv, env.roles.auditor, "attest", "get", id, "-o", out2)
	if !strings.Contains(r.stderr, "failed to read part 2 of 2") || !strings.Contains(r.stderr, "removed "+out2) {
		t.Fatalf("attest get with part 2 unreadable:\n%s", r.stderr)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "h.*")); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}
