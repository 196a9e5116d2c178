package main

import (
	"net/http"
	"net/http/httputil"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// A shred run whose admin token expires after the keys are deleted and
// read back as gone, before their destruction record is written, exits 3
// (partial), not 4 (refused, which says nothing was destroyed), and says
// how many keys it destroyed and that they are not yet recorded; the
// re-run with a fresh token records and attests them. A proxy in front of
// Vault holds the destruction record's write until the token has expired.
func TestShredRunTokenExpiringMidRunExitsPartial(t *testing.T) {
	env := newTestEnv(t)
	b := closedCaseCLI(t, env, "TTL", []byte("old casework"))
	priv, _ := signingKey(t, env)
	const ttl = 4 * time.Second
	expires := time.Now().Add(ttl)
	token := env.srv.ShortToken(t, vault.PolicyAdmin, ttl, false)
	var held atomic.Bool
	slow := vaultProxy(t, env.srv.Addr, func(proxy *httputil.ReverseProxy) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/data/destructions/") && !held.Swap(true) {
				time.Sleep(time.Until(expires) + time.Second)
			}
			proxy.ServeHTTP(w, r)
		})
	})
	run := []string{"shred", "run", "--case", "TTL", "--yes", "--sign-key", priv, "--vault-snapshot-retention", "720h"}
	r := expectCode(t, exitPartial, slow, token, append(run, "-o", filepath.Join(env.dir, "first.dsse.json"))...)
	if !strings.Contains(r.stderr, "case TTL: 0 destroyed, 0 skipped, 1 failed; this run destroyed 1 key(s) (verified gone), 1 of them not yet recorded (run again") {
		t.Fatalf("stderr: %s", r.stderr)
	}
	again := mustRun(t, env.srv, env.roles.admin, append(run, "-o", filepath.Join(env.dir, "again.dsse.json"))...)
	if !strings.Contains(again.stdout, "destroyed "+b.ID) || !strings.Contains(again.stderr, "covering 1 backup(s)") {
		t.Fatalf("re-run:\n%s%s", again.stdout, again.stderr)
	}
}
