package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httputil"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
)

// writeTestFile writes data to dir/name and returns its path.
func writeTestFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A record Vault stores but cannot decode itself (a number past float64's
// range: Vault answers 500 to every read of it), created as the next
// ledger slot with the compliance officer's own token, is junk the next
// entry links to: the admin's protect appends after it, reading the slot
// without retrying Vault's 500, and `ledger verify` names the slot. Before,
// every append of every role failed, after 15 s of retries each, for good.
func TestRecordVaultCannotDecodeIsJunkNotABlock(t *testing.T) {
	env := newTestEnv(t)
	protectFile(t, env, "first.tar", []byte("first"))
	next := fmt.Sprintf("cryptoshred/data/ledger/%012d", lastLedgerSeq(t, env)+1)
	junk := map[string]any{"data": map[string]any{"n": json.Number("1e400")}}
	if _, err := env.srv.Client(t, env.roles.compliance).Logical().Write(next, junk); err != nil {
		t.Fatalf("the compliance officer creating the next slot: %v", err)
	}
	var reads atomic.Int32
	counting := vaultProxy(t, env.srv.Addr, func(proxy *httputil.ReverseProxy) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, next) {
				reads.Add(1)
			}
			proxy.ServeHTTP(w, r)
		})
	})
	mustRun(t, counting, env.roles.admin, "backup", "protect", writeTestFile(t, env.dir, "second.tar", "second"), "--out", env.dir)
	if n := reads.Load(); n > 2 {
		t.Errorf("the junk slot was read %d times by one protect: Vault's 500 for it was retried", n)
	}
	r := expectCode(t, exitVerifyKO, env.srv, env.roles.auditor, "ledger", "verify")
	if !strings.Contains(r.stdout, fmt.Sprintf("ledger slot %d holds something other than a ledger entry", lastLedgerSeq(t, env)-1)) {
		t.Fatalf("ledger verify:\n%s%s", r.stdout, r.stderr)
	}
}

// A head hint a role emptied (data null, which Vault stores) is replaced by
// the next append. Before, it read as missing, the append's create-only
// write over it conflicted, and `ledger verify` reported the head moved
// backwards for good while every append scanned the whole ledger.
func TestEmptiedHeadIsReplacedByTheNextAppend(t *testing.T) {
	env := newTestEnv(t)
	protectFile(t, env, "first.tar", []byte("first"))
	if _, err := env.srv.Client(t, env.roles.admin).Logical().Write("cryptoshred/data/ledger/head", map[string]any{"data": nil}); err != nil {
		t.Fatalf("emptying the head: %v", err)
	}
	protectFile(t, env, "second.tar", []byte("second"))
	mustRun(t, env.srv, env.roles.auditor, "ledger", "verify")
}

// `backup verify` checks a ciphertext against its registration: a status
// record the admin made junk does not make an intact ciphertext FAIL as
// "missing or changed".
func TestBackupVerifyIsNotFooledByAJunkStatus(t *testing.T) {
	env := newTestEnv(t)
	b := protectFile(t, env, "casework.tar", []byte("asylum case files"))
	if _, err := env.srv.Client(t, env.roles.admin).Logical().Write("cryptoshred/data/backups/"+b.ID, map[string]any{"data": map[string]any{"junk": true}}); err != nil {
		t.Fatal(err)
	}
	mustRun(t, env.srv, env.roles.auditor, "backup", "verify", b.ID)
}

// An error about a record Vault cannot decode quotes neither the request's
// URL, which carries any user:password in VAULT_ADDR, nor the record.
func TestUndecodableRecordErrorQuotesNoAddress(t *testing.T) {
	env := newTestEnv(t)
	mustRun(t, env.srv, env.roles.compliance, "case", "open", "NUM", "--authority", "Example DPA", "--reference", "J.nr. 1", "--controller", "Example Ministry")
	junk := map[string]any{"data": map[string]any{"n": json.Number("1e400")}}
	if _, err := env.srv.Client(t, env.roles.compliance).Logical().Write("cryptoshred/data/cases/NUM", junk); err != nil {
		t.Fatal(err)
	}
	withPassword := &vaulttest.Server{Addr: strings.Replace(env.srv.Addr, "http://", "http://alice:s3cret@", 1)}
	r := runCLI(t, withPassword, env.roles.auditor, "case", "show", "NUM")
	if out := r.stdout + r.stderr; strings.Contains(out, "s3cret") || !strings.Contains(out, "cannot be decoded") {
		t.Fatalf("case show of an undecodable case record: exit %d\n%s", r.code, out)
	}
}

// A plaintext-size mark the admin emptied (create-only, so it stays) does
// not stop every later protect of a file of that size: the mark counts as
// seen and the file is hashed for the duplicate check.
func TestEmptiedSizeMarkDoesNotStopProtect(t *testing.T) {
	env := newTestEnv(t)
	data := "twelve bytes"
	if _, err := env.srv.Client(t, env.roles.admin).Logical().Write(fmt.Sprintf("cryptoshred/data/plaintext-sizes/%d", len(data)), map[string]any{"data": nil}); err != nil {
		t.Fatal(err)
	}
	protectFile(t, env, "casework.tar", []byte(data))
}

// A read Vault keeps refusing with a 429 (a rate-limit quota) is Vault
// unavailable: `ledger verify` does not take the slot it could not read for
// an unreadable one and report the ledger broken (exit 5).
func TestRateLimitedReadIsNotABrokenLedger(t *testing.T) {
	env := newTestEnv(t)
	protectFile(t, env, "casework.tar", []byte("asylum case files"))
	last := lastLedgerSlot(t, env)
	t.Setenv("VAULT_MAX_RETRIES", "0")
	limited := vaultProxy(t, env.srv.Addr, func(proxy *httputil.ReverseProxy) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, last) {
				http.Error(w, `{"errors":["request path \"cryptoshred/data/ledger\": rate limit quota exceeded"]}`, http.StatusTooManyRequests)
				return
			}
			proxy.ServeHTTP(w, r)
		})
	})
	r := runCLI(t, limited, env.roles.auditor, "ledger", "verify")
	if r.code != exitError || !strings.Contains(r.stderr, "limiting requests") {
		t.Fatalf("ledger verify while rate-limited: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// A head hint a role wrote past the end of the ledger is a finding of
// `ledger verify` (exit 5), kept as the trace of entries removed, but it
// stops no walk: the access report and a shred run with its attestation
// go on. Before, every walk failed on it until an operator rewrote the head.
func TestHeadPastTheEndBlocksNoWalk(t *testing.T) {
	env := newTestEnv(t)
	closedCaseCLI(t, env, "PAST", []byte("old casework"))
	past := map[string]any{"data": map[string]any{"seq": 999999999, "hash": "sha256:" + strings.Repeat("0", 64)}}
	if _, err := env.srv.Client(t, env.roles.admin).Logical().Write("cryptoshred/data/ledger/head", past); err != nil {
		t.Fatal(err)
	}
	r := expectCode(t, exitVerifyKO, env.srv, env.roles.auditor, "ledger", "verify")
	if !strings.Contains(r.stdout+r.stderr, "names entry 999999999 but the chain ends at") {
		t.Fatalf("ledger verify:\n%s%s", r.stdout, r.stderr)
	}
	mustRun(t, env.srv, env.roles.auditor, "report", "access")
	priv, _ := signingKey(t, env)
	mustRun(t, env.srv, env.roles.admin, "shred", "run", "--case", "PAST", "--yes", "--sign-key", priv, "--vault-snapshot-retention", "1h",
		"-o", filepath.Join(env.dir, "past.dsse.json"))
}

// A case record the compliance role overwrites with junk (a plain write
// with its own token) hides no other case: `case list` lists the others
// and warns of it, and `hold list` still lists the holds of every case,
// that one's included, since its hold records, not its case record, hold
// the backups. Before, both listings failed for every case. `hold list`
// also lists a hold written under a case that has no case record (it
// holds the backup wherever holds decide), and warns of a hold record
// that cannot be read instead of failing for every case.
func TestJunkCaseRecordHidesNoOtherCase(t *testing.T) {
	env := newTestEnv(t)
	kept, junked := protectFile(t, env, "kept.tar", []byte("kept casework")), protectFile(t, env, "junked.tar", []byte("junked casework"))
	for c, b := range map[string]string{"KEPT": kept.ID, "JUNKED": junked.ID} {
		mustRun(t, env.srv, env.roles.compliance, "case", "open", c, "--authority", "Example DPA", "--reference", "J.nr. "+c, "--controller", "Example Ministry")
		mustRun(t, env.srv, env.roles.compliance, "hold", "place", "--case", c, b)
	}
	if _, err := env.srv.Client(t, env.roles.compliance).Logical().Write("cryptoshred/data/cases/JUNKED", map[string]any{"data": map[string]any{"id": 7}}); err != nil {
		t.Fatalf("the compliance officer overwriting a case record: %v", err)
	}
	r := mustRun(t, env.srv, env.roles.auditor, "case", "list")
	if !strings.Contains(r.stdout, "KEPT") || strings.Contains(r.stdout, "JUNKED") || !strings.Contains(r.stderr, "warning: skipped cases/JUNKED") {
		t.Fatalf("case list beside a junk case record:\n%s%s", r.stdout, r.stderr)
	}
	if holds := mustRun(t, env.srv, env.roles.auditor, "hold", "list", "--case", "JUNKED").stdout; !strings.Contains(holds, junked.ID) {
		t.Fatalf("hold list --case of a case whose record is junk:\n%s", holds)
	}
	officer := env.srv.Client(t, env.roles.compliance).Logical()
	ghost := map[string]any{"case": "GHOST", "backup": kept.ID, "placedAt": time.Now().UTC().Format(time.RFC3339), "placedBy": "token:compliance"}
	if _, err := officer.Write("cryptoshred/data/holds/GHOST/"+kept.ID, map[string]any{"data": ghost}); err != nil {
		t.Fatalf("the compliance officer writing a hold of a case with no record: %v", err)
	}
	if _, err := officer.Write("cryptoshred/data/holds/KEPT/"+junked.ID, map[string]any{"data": map[string]any{"case": 5}}); err != nil {
		t.Fatalf("the compliance officer writing a junk hold record: %v", err)
	}
	if _, err := officer.Write("cryptoshred/data/holds/_GHOST/"+kept.ID, map[string]any{"data": ghost}); err != nil {
		t.Fatalf("the compliance officer writing a hold under a name that is no case id: %v", err)
	}
	r = mustRun(t, env.srv, env.roles.auditor, "hold", "list")
	for _, want := range []string{"KEPT    " + kept.ID, "JUNKED  " + junked.ID, "GHOST   " + kept.ID} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("hold list beside junk case and hold records lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "warning: skipped holds/KEPT/"+junked.ID) || !strings.Contains(r.stderr, "counts as an active hold") ||
		!strings.Contains(r.stderr, "warning: skipped holds/_GHOST/: its name is no case id") {
		t.Fatalf("hold list does not warn of the junk hold record:\n%s", r.stderr)
	}
	if r := mustRun(t, env.srv, env.roles.auditor, "case", "show", "KEPT"); !strings.Contains(r.stdout, kept.ID) || !strings.Contains(r.stderr, "warning: skipped holds/KEPT/"+junked.ID) {
		t.Fatalf("case show beside a junk hold record:\n%s%s", r.stdout, r.stderr)
	}
}
