package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A batch in which two files of one name would be written to one output
// (backup protect --parallel 4 /srv/*/dump.sql) is refused before
// anything is written or registered: the two protects would meet at one
// NAME.age.
func TestProtectBatchOfTwoFilesOfOneNameIsRefusedBeforeAnything(t *testing.T) {
	env := newTestEnv(t)
	var files []string
	for _, sys := range []string{"a", "b"} {
		dir := filepath.Join(env.dir, sys)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		files = append(files, filepath.Join(dir, "dump.sql"))
		if err := os.WriteFile(files[len(files)-1], []byte("dump of "+sys), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	args := append([]string{"backup", "protect", "--parallel", "2", "--out", out}, files...)
	r := expectCode(t, exitUsage, env.srv, env.roles.admin, args...)
	if !strings.Contains(r.stderr, files[0]) || !strings.Contains(r.stderr, files[1]) || !strings.Contains(r.stderr, "dump.sql.age") {
		t.Fatalf("stderr: %s", r.stderr)
	}
	if left, _ := os.ReadDir(out); len(left) != 0 {
		t.Fatalf("the refused batch wrote %v", left)
	}
	if list := mustRun(t, env.srv, env.roles.auditor, "--format", "json", "backup", "list"); strings.TrimSpace(list.stdout) != "[]" {
		t.Fatalf("catalog after the refused batch: %s", list.stdout)
	}
}
