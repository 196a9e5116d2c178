package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// dispose-restore --output names one file, even one named "*" or
// "stdout": only --all covers every copy and only - the stream open -o -
// wrote. An open whose output path is longer than the ledger records is
// refused before anything is recorded or written, so every recorded copy
// can be named exactly.
func TestDisposeRestoreNamesOnlyTheCopyGiven(t *testing.T) {
	env := newTestEnv(t)
	t.Chdir(env.dir)
	b := protectFile(t, env, "d.tar", []byte("restore me"))
	a := env.roles.admin
	for _, out := range []string{"*", "stdout", "-"} {
		mustRun(t, env.srv, a, "backup", "open", b.ID, "--purpose", "inspection", "-o", out)
	}
	long := filepath.Join(env.dir, strings.Repeat("d", 200), strings.Repeat("e", 200), strings.Repeat("f", 200), strings.Repeat("g", 200), strings.Repeat("h", 200))
	if err := os.MkdirAll(long, 0o700); err != nil {
		t.Fatal(err)
	}
	r := expectCode(t, exitError, env.srv, a, "backup", "open", b.ID, "--purpose", "inspection", "-o", filepath.Join(long, "copy.tar"))
	expectStderr(t, r, "more than the 1024 the ledger records of it: give a shorter one")
	if _, err := os.Stat(filepath.Join(long, "copy.tar")); err == nil {
		t.Fatal("the refused open wrote its output")
	}
	for _, c := range [][2]string{{"*", filepath.Join(env.dir, "*")}, {"stdout", filepath.Join(env.dir, "stdout")}, {"-", "stdout"}} {
		if got := disposed(t, env, b.ID, "--output", c[0]); !slices.Equal(got, []string{c[1]}) {
			t.Errorf("dispose-restore --output %s covered %v, want %s", c[0], got, c[1])
		}
	}
	r = expectCode(t, exitRefused, env.srv, a, "backup", "dispose-restore", b.ID, "--all", "--note", "n")
	expectStderr(t, r, "(copies not yet disposed of: none)")
}

// disposed runs dispose-restore with args and returns the copies it says
// it covered.
func disposed(t *testing.T, env testEnv, id string, args ...string) []string {
	t.Helper()
	args = append([]string{"--format", "json", "backup", "dispose-restore", id, "--note", "deleted"}, args...)
	r := mustRun(t, env.srv, env.roles.admin, args...)
	var out struct{ Disposed []string }
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("dispose-restore output %q: %v", r.stdout, err)
	}
	return out.Disposed
}
