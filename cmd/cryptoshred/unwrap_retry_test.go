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

// answerLosingProxy forwards to Vault and loses Vault's answer to the
// first request whose path holds lose: the client gets a 502 after Vault
// carried the request out, as from a load balancer whose backend timed
// out.
func answerLosingProxy(t *testing.T, vaultAddr, lose string) *vaulttest.Server {
	t.Helper()
	target, err := url.Parse(vaultAddr)
	if err != nil {
		t.Fatal(err)
	}
	var lost atomic.Bool
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(r *http.Response) error {
		if strings.Contains(r.Request.URL.Path, lose) && lost.CompareAndSwap(false, true) {
			return errors.New("answer lost")
		}
		return nil
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return &vaulttest.Server{Addr: srv.URL}
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
	lossy := answerLosingProxy(t, env.srv.Addr, "/decrypt/")
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
