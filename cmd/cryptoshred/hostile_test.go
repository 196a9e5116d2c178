package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// TestHostileFilesAndCatalogEdits: ciphertexts swapped between backups, a
// catalog entry edited to name another key or to carry unknown fields.
// Each gives a clear error and leaves no output.
func TestHostileFilesAndCatalogEdits(t *testing.T) {
	env := newTestEnv(t)
	a := protectFile(t, env, "a.tar", []byte("backup a"))
	b := protectFile(t, env, "b.tar", []byte("backup b"))
	out := filepath.Join(env.dir, "restored")
	open := func(id string) result {
		return expectCode(t, exitError, env.srv, env.roles.admin, "backup", "open", id, "--purpose", "p", "-o", out)
	}
	aBytes, _ := os.ReadFile(a.Ciphertext.Path)
	bBytes, _ := os.ReadFile(b.Ciphertext.Path)
	_ = os.WriteFile(b.Ciphertext.Path, aBytes, 0o600)
	if r := open(b.ID); !strings.Contains(r.stderr, "wrapped to a different key") {
		t.Fatalf("open of a file wrapped to another backup's key: %s", r.stderr)
	}
	_ = os.WriteFile(b.Ciphertext.Path, bBytes, 0o600)

	kv := rawCatalog{t: t, env: env}
	rec := kv.read("backups/" + b.ID)
	rec["key"] = a.Key
	kv.write("backups/"+b.ID, rec)
	if r := open(b.ID); !strings.Contains(r.stderr, "the catalog was edited") {
		t.Fatalf("open after the key was edited in KV: %s", r.stderr)
	}
	rec["key"], rec["shredEverything"] = b.Key, true
	kv.write("backups/"+b.ID, rec)
	if r := open(b.ID); !strings.Contains(r.stderr, "malformed catalog entry") {
		t.Fatalf("open of an entry with unknown fields: %s", r.stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatal("a refused open left output")
	}
}

// TestHostileNames: ids, labels and system names with path separators,
// control characters or 10 KB of text are refused and change nothing.
func TestHostileNames(t *testing.T) {
	env := newTestEnv(t)
	src := filepath.Join(env.dir, "f.tar")
	_ = os.WriteFile(src, []byte("x"), 0o600)
	long := strings.Repeat("A", 10<<10)
	before := mustRun(t, env.srv, env.roles.auditor, "ledger", "verify").stdout
	for _, bad := range []string{"../../backups/x", "a/b", "evil\x1b[2J", "line\nbreak", long} {
		names := [][]string{
			{"case", "open", bad, "--authority", "A", "--reference", "R", "--controller", "Example Ministry"},
			{"hold", "place", "--case", bad, "bk-x"},
			{"backup", "show", bad},
			{"backup", "protect", src, "--system", bad, "--out", env.dir},
			{"backup", "protect", src, "--label", bad + "=v", "--out", env.dir},
		}
		if !strings.Contains(bad, "/") { // free text may name a path, never hold control characters
			names = append(names, []string{"case", "open", "OK", "--authority", bad, "--reference", "R", "--controller", "Example Ministry"},
				[]string{"backup", "protect", src, "--label", "k=" + bad, "--out", env.dir})
		}
		for _, args := range names {
			token := env.roles.compliance
			if args[0] != "case" && args[0] != "hold" {
				token = env.roles.admin
			}
			r := runCLI(t, env.srv, token, args...)
			if r.code == exitOK || r.code == exitRefused && !strings.Contains(r.stderr, "invalid") || strings.Contains(r.stderr, "goroutine") {
				t.Errorf("%q: exit %d: %s", args, r.code, r.stderr)
			}
			if len(r.stderr) > 600 {
				t.Errorf("%q: error message of %d bytes echoes the input", args[:2], len(r.stderr))
			}
		}
	}
	if after := mustRun(t, env.srv, env.roles.auditor, "ledger", "verify").stdout; after != before {
		t.Fatal("refused commands changed the ledger")
	}
	if entries, _ := filepath.Glob(filepath.Join(env.dir, "*.age")); len(entries) != 0 {
		t.Fatalf("refused protects wrote %v", entries)
	}
}

// rawCatalog edits the catalog behind cryptoshred's back with plain KV
// calls and the backup administrator's own token, which may update a
// backup's status record.
type rawCatalog struct {
	t   *testing.T
	env testEnv
}

func (r rawCatalog) read(path string) map[string]any {
	return r.env.srv.KVData(r.t, "cryptoshred/data/"+path)
}

func (r rawCatalog) write(path string, d map[string]any) {
	admin := r.env.srv.Client(r.t, r.env.roles.admin).Logical()
	if _, err := admin.Write("cryptoshred/data/"+path, map[string]any{"data": d}); err != nil {
		r.t.Fatalf("the admin token's write of %s: %v", path, err)
	}
}

// TestLedgerShowEscapesActors: an entry appended with plain Vault calls by
// the admin token (of a kind the admin writes, signed with the admin's
// ledger key), whose actor carries terminal escapes, prints escaped.
func TestLedgerShowEscapesActors(t *testing.T) {
	env := newTestEnv(t)
	protectFile(t, env, "a.tar", []byte("a"))
	adminKV := env.srv.Client(t, env.roles.admin).Logical()
	seq, prev := ledgerEnd(t, env)
	entry, _ := json.Marshal(map[string]any{"seq": seq + 1, "prev": prev, "time": "2026-11-28T10:00:00Z",
		"actor": "\x1b[2K\rcompliance-officer\x1b[8m", "event": "backup.opened"})
	sig, err := adminKV.Write("cryptoshred-ledger/sign/ledger-admin", map[string]any{"input": base64.StdEncoding.EncodeToString(entry)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adminKV.Write(fmt.Sprintf("cryptoshred/data/ledger/%012d", seq+1),
		map[string]any{"data": map[string]any{"entry": string(entry), "sig": sig.Data["signature"]}}); err != nil {
		t.Fatal(err)
	}
	r := mustRun(t, env.srv, env.roles.auditor, "ledger", "show")
	if strings.ContainsAny(r.stdout, "\x1b\r") || !strings.Contains(r.stdout, `\x1b[2K\x0dcompliance-officer`) {
		t.Fatalf("ledger show printed a raw escape:\n%q", r.stdout)
	}
}

// ledgerEnd returns the last entry's sequence number and hash.
func ledgerEnd(t *testing.T, env testEnv) (int64, string) {
	t.Helper()
	v := newService(vault.New(env.srv.Root(t), vault.DefaultMounts))
	rep, err := v.VerifyLedger(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep.Entries, rep.Head
}

// TestRegisterRefusesFIFO: a FIFO is refused before it is opened, so the
// command cannot hang waiting for a writer.
func TestRegisterRefusesFIFO(t *testing.T) {
	env := newTestEnv(t)
	fifo := filepath.Join(env.dir, "pipe.age")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan result, 1)
	go func() { done <- runCLI(t, env.srv, env.roles.admin, "backup", "register", fifo) }()
	select {
	case r := <-done:
		if r.code == 0 || !strings.Contains(r.stderr, "not a regular file") {
			t.Fatalf("register of a FIFO: exit %d, %s", r.code, r.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("register of a FIFO hangs")
	}
}
