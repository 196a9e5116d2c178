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

// A shred run whose admin token expires after a key was deleted and read
// back as not found, before the mount check that confirms its absence,
// exits 3 (partial), not 4 (refused, which says nothing was destroyed),
// and says the key was deleted but its absence not confirmed; the re-run
// with a fresh token records and attests it. A proxy in front of Vault
// holds the first key-mount read after the delete until the token has
// expired.
func TestShredRunTokenExpiringBeforeTheMountCheckExitsPartial(t *testing.T) {
	env := newTestEnv(t)
	b := closedCaseCLI(t, env, "TTL", []byte("old casework"))
	priv, _ := signingKey(t, env)
	const ttl = 4 * time.Second
	expires := time.Now().Add(ttl)
	token := env.srv.ShortToken(t, vault.PolicyAdmin, ttl, false)
	var deleted, held atomic.Bool
	slow := vaultProxy(t, env.srv.Addr, func(proxy *httputil.ReverseProxy) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodDelete && strings.Contains(r.URL.Path, "/keys/") {
				deleted.Store(true)
			}
			if deleted.Load() && strings.HasSuffix(r.URL.Path, "/config/keys") && !held.Swap(true) {
				time.Sleep(time.Until(expires) + time.Second)
			}
			proxy.ServeHTTP(w, r)
		})
	})
	run := []string{"shred", "run", "--case", "TTL", "--yes", "--sign-key", priv, "--vault-snapshot-retention", "720h"}
	r := expectCode(t, exitPartial, slow, token, append(run, "-o", filepath.Join(env.dir, "first.dsse.json"))...)
	if !strings.Contains(r.stderr, "case TTL: 0 destroyed, 0 skipped, 1 failed; 1 key(s) deleted and read back as not found, but their absence is not confirmed") {
		t.Fatalf("stderr: %s", r.stderr)
	}
	again := mustRun(t, env.srv, env.roles.admin, append(run, "-o", filepath.Join(env.dir, "again.dsse.json"))...)
	if !strings.Contains(again.stdout, "destroyed "+b.ID) || !strings.Contains(again.stderr, "covering 1 backup(s)") {
		t.Fatalf("re-run:\n%s%s", again.stdout, again.stderr)
	}
}

// A token that expires within half an hour is renewed before shred run
// destroys keys (here one living 10 minutes lives about an hour after the
// run); one that cannot be renewed gets a warning naming when it expires,
// at hold place and case close too, and the command goes on. Before,
// nothing looked at the token's TTL, and a long run stopped halfway.
func TestShortTokenIsRenewedOrWarned(t *testing.T) {
	env := newTestEnv(t)
	closedCaseCLI(t, env, "RENEW", []byte("old casework"))
	priv, _ := signingKey(t, env)
	renewable := env.srv.ShortToken(t, vault.PolicyAdmin, 10*time.Minute, true)
	r := mustRun(t, env.srv, renewable, "shred", "run", "--case", "RENEW", "--yes", "--sign-key", priv, "--vault-snapshot-retention", "720h",
		"-o", filepath.Join(env.dir, "renew.dsse.json"))
	if !strings.Contains(r.stderr, "note: renewed the Vault token") || strings.Contains(r.stderr, renewable) {
		t.Fatalf("stderr: %s", r.stderr)
	}
	if ttl := tokenTTL(t, env, renewable); ttl < 50*time.Minute {
		t.Fatalf("the token's TTL after the run: %s", ttl)
	}
	b := protectFile(t, env, "held.tar", []byte("still held"))
	mustRun(t, env.srv, env.roles.compliance, "case", "open", "WARN", "--authority", "Example DPA", "--reference", "r", "--controller", "Example Ministry")
	fixed := env.srv.ShortToken(t, vault.PolicyCompliance, 10*time.Minute, false)
	for _, args := range [][]string{{"hold", "place", "--case", "WARN", b.ID},
		{"case", "close", "WARN", "--decision-ref", "r", "--decision-file", decisionFile(t, env), "--yes"}} {
		r := mustRun(t, env.srv, fixed, args...)
		if !strings.Contains(r.stderr, "warning: the Vault token expires at ") || !strings.Contains(r.stderr, "cannot be renewed") {
			t.Fatalf("%s: stderr: %s", args[0], r.stderr)
		}
	}
	if ttl := tokenTTL(t, env, fixed); ttl > 10*time.Minute {
		t.Fatalf("the non-renewable token's TTL: %s", ttl)
	}
}

// tokenTTL looks token up with the root token and returns its TTL.
func tokenTTL(t *testing.T, env testEnv, token string) time.Duration {
	t.Helper()
	sec, err := env.srv.Root(t).Auth().Token().Lookup(token)
	if err != nil {
		t.Fatal(err)
	}
	ttl, err := sec.TokenTTL()
	if err != nil {
		t.Fatal(err)
	}
	return ttl
}
