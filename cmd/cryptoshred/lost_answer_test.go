package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
)

// vaultProxy starts a loopback HTTP server in front of Vault that
// serves each request through handler, given a proxy forwarding to Vault.
func vaultProxy(t *testing.T, vaultAddr string, handler func(*httputil.ReverseProxy) http.Handler) *vaulttest.Server {
	t.Helper()
	target, err := url.Parse(vaultAddr)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler(httputil.NewSingleHostReverseProxy(target)))
	t.Cleanup(srv.Close)
	return &vaulttest.Server{Addr: srv.URL}
}

// answerLosingProxy forwards to Vault and loses Vault's answer to the
// first request lose picks: the client gets a 502 after Vault carried the
// request out, as from a load balancer whose backend timed out.
func answerLosingProxy(t *testing.T, vaultAddr string, lose func(*http.Request) bool) *vaulttest.Server {
	var lost atomic.Bool
	return vaultProxy(t, vaultAddr, func(proxy *httputil.ReverseProxy) http.Handler {
		proxy.ModifyResponse = func(r *http.Response) error {
			if lose(r.Request) && lost.CompareAndSwap(false, true) {
				return errors.New("answer lost")
			}
			return nil
		}
		return proxy
	})
}

// A decrypt whose answer is lost after Vault unwrapped the key is not sent
// again: the open fails and writes nothing, and the audit log holds one
// unwrap, which the open's ledger entry accounts for. Sent again, it was
// a second unwrap under the same entry, which report access listed as an
// access no entry accounts for.
func TestLostUnwrapAnswerIsNotSentAgain(t *testing.T) {
	env := newTestEnv(t)
	logPath := enableFileAudit(t, env)
	b := protectFile(t, env, "casework.tar", []byte("asylum case files"))
	lossy := answerLosingProxy(t, env.srv.Addr, func(r *http.Request) bool { return strings.Contains(r.URL.Path, "/decrypt/") })
	out := filepath.Join(env.dir, "copy")
	r := runCLI(t, lossy, env.roles.admin, "backup", "open", b.ID, "--purpose", "inspection", "-o", out)
	if _, err := os.Stat(out); r.code != exitError || !os.IsNotExist(err) || !strings.Contains(r.stderr, "the unwrap was not sent again") {
		t.Fatalf("open through a lost answer: exit %d, output %v\n%s", r.code, err, r.stderr)
	}
	report := expectCode(t, 0, env.srv, env.roles.auditor, "report", "access", "--vault-audit-log", logPath, "--fail-on-unrecorded")
	if !strings.Contains(report.stdout, "Backup key unwraps: 1 (0 without a recorded purpose)") {
		t.Fatalf("report:\n%s", report.stdout)
	}
	mustRun(t, lossy, env.roles.admin, "backup", "open", b.ID, "--purpose", "inspection, again", "-o", out)
	report = expectCode(t, 0, env.srv, env.roles.auditor, "report", "access", "--vault-audit-log", logPath, "--fail-on-unrecorded")
	if !strings.Contains(report.stdout, "Backup key unwraps: 2 (0 without a recorded purpose)") {
		t.Fatalf("report after the second open:\n%s", report.stdout)
	}
}

// A ledger append whose answer is lost after Vault wrote the slot, and
// which the client then sends again, finds its own entry there and does
// not append the event a second time: one open, one backup.opened entry.
func TestLostLedgerAppendAnswerIsNotAppendedTwice(t *testing.T) {
	env := newTestEnv(t)
	b := protectFile(t, env, "casework.tar", []byte("asylum case files"))
	lossy := answerLosingProxy(t, env.srv.Addr, func(r *http.Request) bool {
		return r.Method != http.MethodGet && strings.Contains(r.URL.Path, "/ledger/0")
	})
	mustRun(t, lossy, env.roles.admin, "backup", "open", b.ID, "--purpose", "inspection", "-o", filepath.Join(env.dir, "copy"))
	show := mustRun(t, env.srv, env.roles.auditor, "ledger", "show").stdout
	if n := strings.Count(show, "backup.opened"); n != 1 {
		t.Fatalf("%d backup.opened entries for one open:\n%s", n, show)
	}
	mustRun(t, env.srv, env.roles.auditor, "ledger", "verify")
}

// busyOnceProxy forwards to Vault but answers the first request busy
// picks itself with a 429, as a Vault over a rate-limit quota does, so
// Vault never carries it out.
func busyOnceProxy(t *testing.T, vaultAddr string, busy func(*http.Request) bool) *vaulttest.Server {
	var answered atomic.Bool
	return vaultProxy(t, vaultAddr, func(proxy *httputil.ReverseProxy) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if busy(r) && answered.CompareAndSwap(false, true) {
				http.Error(w, `{"errors":["request path \"cryptoshred-transit/decrypt\": rate limit quota exceeded"]}`, http.StatusTooManyRequests)
				return
			}
			proxy.ServeHTTP(w, r)
		})
	})
}

// A decrypt Vault answered with a 429, which it did not carry out, is
// sent again: the open succeeds with one unwrap, accounted for.
func TestUnwrapVaultDidNotCarryOutIsSentAgain(t *testing.T) {
	env := newTestEnv(t)
	logPath := enableFileAudit(t, env)
	b := protectFile(t, env, "casework.tar", []byte("asylum case files"))
	busy := busyOnceProxy(t, env.srv.Addr, func(r *http.Request) bool { return strings.Contains(r.URL.Path, "/decrypt/") })
	mustRun(t, busy, env.roles.admin, "backup", "open", b.ID, "--purpose", "inspection", "-o", filepath.Join(env.dir, "copy"))
	report := expectCode(t, 0, env.srv, env.roles.auditor, "report", "access", "--vault-audit-log", logPath, "--fail-on-unrecorded")
	if !strings.Contains(report.stdout, "Backup key unwraps: 1 (0 without a recorded purpose)") {
		t.Fatalf("report:\n%s", report.stdout)
	}
}

// A record write whose answer was lost, sent again, meets the record it
// wrote: a case created (create-only) and a case updated (check-and-set)
// through such an answer go on as written, each with its ledger entry,
// instead of "case exists" and "case changed meanwhile" for writes that
// were carried out.
func TestLostRecordWriteAnswerMeetsItsOwnRecord(t *testing.T) {
	env := newTestEnv(t)
	for _, args := range [][]string{
		{"case", "open", "LOST", "--authority", "Example DPA", "--reference", "J.nr. 1", "--controller", "Example Ministry"},
		{"case", "controller", "add", "LOST", "Example Agency"},
	} {
		lossy := answerLosingProxy(t, env.srv.Addr, func(r *http.Request) bool {
			return r.Method != http.MethodGet && strings.Contains(r.URL.Path, "/cases/LOST")
		})
		mustRun(t, lossy, env.roles.compliance, args...)
	}
	show := mustRun(t, env.srv, env.roles.auditor, "ledger", "show").stdout
	if strings.Count(show, "case.opened") != 1 || strings.Count(show, "case.controller") != 1 {
		t.Fatalf("ledger:\n%s", show)
	}
}
