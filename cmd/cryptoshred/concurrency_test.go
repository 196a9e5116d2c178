package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/internal/shredtest"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

// runAll runs the commands at once and returns their exit codes and output.
func runAll(cmds []*exec.Cmd) ([]int, []string) {
	codes, outs := make([]int, len(cmds)), make([]string, len(cmds))
	var wg sync.WaitGroup
	for i, c := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], outs[i] = outcome(c)
		}()
	}
	wg.Wait()
	return codes, outs
}

// TestConcurrentOperators: twenty protect processes at once, then two
// shred run processes on the same case at once. Both succeed and attest
// every backup, every backup ends in exactly one known state, each
// destruction is recorded once, and the ledger verifies.
func TestConcurrentOperators(t *testing.T) {
	env := newTestEnv(t)
	const n = 20
	var protects []*exec.Cmd
	for i := range n {
		src := writeSource(t, env.dir, fmt.Sprintf("backup-%02d.tar", i), 4096)
		protects = append(protects, child(env.srv, env.roles.admin, "backup", "protect", src, "--out", env.dir, "--system", "casework"))
	}
	codes, outs := runAll(protects)
	for i, c := range codes {
		if c != 0 {
			t.Fatalf("protect %d: exit %d\n%s", i, c, outs[i])
		}
	}
	root := shredRoot(t, env)
	backups, _, err := root.ListBackups(context.Background(), catalog.BackupFilter{State: catalog.StateProtected})
	if err != nil || len(backups) != n {
		t.Fatalf("%d protected backups, want %d (%v)", len(backups), n, err)
	}
	mustRun(t, env.srv, env.roles.compliance, "case", "open", "CC", "--authority", "A", "--reference", "R", "--controller", "M")
	mustRun(t, env.srv, env.roles.compliance, "hold", "place", "--case", "CC", "--system", "casework")
	mustRun(t, env.srv, env.roles.compliance, "case", "close", "CC", "--decision-ref", "r", "--decision-file", decisionFile(t, env), "--yes")
	key := filepath.Join(env.dir, "signer")
	if err := attest.WriteKeyPair(key+".key", key+".pub", attest.Ed25519, nil); err != nil {
		t.Fatal(err)
	}
	var shreds []*exec.Cmd
	for i := range 2 {
		shreds = append(shreds, child(env.srv, env.roles.admin, "shred", "run", "--case", "CC", "--yes", "--parallel", "4",
			"--sign-key", key+".key", "--vault-snapshot-retention", "1h", "-o", filepath.Join(env.dir, fmt.Sprintf("att-%d.json", i))))
	}
	codes, outs = runAll(shreds)
	for i, c := range codes {
		if c != 0 || !strings.Contains(outs[i], fmt.Sprintf("covering %d backup(s)", n)) {
			t.Fatalf("shred run %d: exit %d, want 0 and an attestation of all %d\n%s", i, c, n, outs[i])
		}
	}
	recorded := shredtest.DestroyedInLedger(t, root)
	for _, b := range backups {
		got, key := backupAndKey(t, root, b)
		if got.State != catalog.StateShredded || key != nil || recorded[b.ID] != 1 {
			t.Fatalf("%s: state %s, key present %t, recorded %d times", b.ID, got.State, key != nil, recorded[b.ID])
		}
	}
	mustRun(t, env.srv, env.roles.auditor, "ledger", "verify")
}
