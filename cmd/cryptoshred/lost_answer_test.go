package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cryptoshred/cryptoshred/internal/testtools"
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

// redirectingProxy forwards to Vault, but answers the requests redirect
// picks with a 307 to Location to, as a standby does when it could not
// forward a request to the active node. It forwards each such request to
// Vault first if carriedOut, and drops Vault's answer: the forward failed
// after the active node carried the request out.
func redirectingProxy(t *testing.T, vaultAddr string, redirect func(*http.Request) bool, carriedOut bool, to func(*http.Request) string) *vaulttest.Server {
	return vaultProxy(t, vaultAddr, func(proxy *httputil.ReverseProxy) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !redirect(r) {
				proxy.ServeHTTP(w, r)
				return
			}
			if carriedOut {
				proxy.ServeHTTP(httptest.NewRecorder(), r)
			}
			w.Header().Set("Location", to(r)) // no body, as Vault's respondStandby
			w.WriteHeader(http.StatusTemporaryRedirect)
		})
	})
}

// A standby whose forward of a decrypt failed after the active node
// unwrapped the key redirects the client to the active node. The client
// does not follow: the open fails and says why, and the audit log holds
// one unwrap, accounted for. Following it sent the decrypt a second time.
func TestRedirectedUnwrapIsNotSentAgain(t *testing.T) {
	env := newTestEnv(t)
	logPath := enableFileAudit(t, env)
	b := protectFile(t, env, "casework.tar", []byte("asylum case files"))
	var once atomic.Bool
	standby := redirectingProxy(t, env.srv.Addr, func(r *http.Request) bool {
		return strings.Contains(r.URL.Path, "/decrypt/") && once.CompareAndSwap(false, true)
	}, true, func(r *http.Request) string { return env.srv.Addr + r.URL.RequestURI() })
	out := filepath.Join(env.dir, "copy")
	r := runCLI(t, standby, env.roles.admin, "backup", "open", b.ID, "--purpose", "inspection", "-o", out)
	if _, err := os.Stat(out); r.code != exitError || !os.IsNotExist(err) ||
		!strings.Contains(r.stderr, "does not follow redirects") || !strings.Contains(r.stderr, "the unwrap was not sent again") {
		t.Fatalf("open through a redirect: exit %d, output %v\n%s", r.code, err, r.stderr)
	}
	report := expectCode(t, 0, env.srv, env.roles.auditor, "report", "access", "--vault-audit-log", logPath, "--fail-on-unrecorded")
	if !strings.Contains(report.stdout, "Backup key unwraps: 1 (0 without a recorded purpose)") {
		t.Fatalf("report:\n%s", report.stdout)
	}
}

// An answer cut off mid-body is no answer: `ledger verify` through a
// connection that broke while Vault sent the last slot fails as Vault
// unavailable. Before, it reported that entry "unreadable" (exit 5), a
// tampering that never was.
func TestCutAnswerIsNotTakenForATamperedLedger(t *testing.T) {
	env := newTestEnv(t)
	protectFile(t, env, "casework.tar", []byte("asylum case files"))
	last := lastLedgerSlot(t, env)
	var cut atomic.Bool
	broken := vaultProxy(t, env.srv.Addr, func(proxy *httputil.ReverseProxy) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, last) || !cut.CompareAndSwap(false, true) {
				proxy.ServeHTTP(w, r)
				return
			}
			if err := testtools.BreakOffAnswer(w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{\"data\":{\"data\":{\"entry\":\"{"); err != nil {
				t.Error(err)
			}
		})
	})
	r := runCLI(t, broken, env.roles.auditor, "ledger", "verify")
	if r.code != exitError || !strings.Contains(r.stderr, "did not arrive whole") {
		t.Fatalf("ledger verify through a cut answer: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// lastLedgerSeq returns the number of the ledger's last slot.
func lastLedgerSeq(t *testing.T, env testEnv) int {
	var seq int
	if _, err := fmt.Sscanf(path.Base(lastLedgerSlot(t, env)), "%d", &seq); err != nil {
		t.Fatal(err)
	}
	return seq
}

// lastLedgerSlot returns the path suffix of the ledger's last slot.
func lastLedgerSlot(t *testing.T, env testEnv) string {
	slots, err := env.srv.Root(t).Logical().List("cryptoshred/metadata/ledger/")
	if err != nil || slots == nil {
		t.Fatalf("listing the ledger: %v", err)
	}
	var last string
	for _, k := range slots.Data["keys"].([]any) {
		if k != "head" {
			last = "/data/ledger/" + k.(string)
		}
	}
	return last
}

// A redirect that persists is an error, never an answer. The API client
// follows one redirect and returned a second as an empty success, which a
// read took for "not found": `ledger verify` through a standby that kept
// redirecting the read of the last slot took the ledger to end before it
// and reported that entry removed (exit 5), a tampering that never was.
func TestPersistentRedirectIsNotTakenForAnAnswer(t *testing.T) {
	env := newTestEnv(t)
	protectFile(t, env, "casework.tar", []byte("asylum case files"))
	whole := mustRun(t, env.srv, env.roles.auditor, "ledger", "verify").stdout
	last := lastLedgerSlot(t, env)
	t.Setenv("VAULT_MAX_RETRIES", "1") // the redirect is sent again once before it is reported
	var standby *vaulttest.Server
	standby = redirectingProxy(t, env.srv.Addr, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, last) },
		false, func(r *http.Request) string { return standby.Addr + r.URL.RequestURI() })
	r := runCLI(t, standby, env.roles.auditor, "ledger", "verify")
	if r.code != exitError || !strings.Contains(r.stderr, "does not follow redirects") {
		t.Fatalf("ledger verify through a standby that keeps redirecting (the whole ledger: %s): exit %d\n%s%s", whole, r.code, r.stdout, r.stderr)
	}
}

// A ledger append whose answer was lost, sent again, meets its slot taken;
// if reading the slot back then fails too (the read that tells a taken
// slot from a refusal, or the one that compares the entry there with its
// own), the append does not know whether the entry is its own. It fails,
// rather than taking the slot for another writer's and appending the event
// again after it (two entries for one open), or taking the 403 for a
// missing capability: one open that failed, one backup.opened entry, which
// over-reports the access and never under-reports it.
func TestLostAppendWhoseReadBackFailsIsNotAppendedAgain(t *testing.T) {
	for _, readsBefore := range []int32{0, 1} {
		t.Run(fmt.Sprintf("after %d reads", readsBefore), func(t *testing.T) {
			env := newTestEnv(t)
			b := protectFile(t, env, "casework.tar", []byte("asylum case files"))
			t.Setenv("VAULT_MAX_RETRIES", "1") // one resend of the append, and of each read back
			flaky := readBackFailingProxy(t, env.srv.Addr, readsBefore)
			r := runCLI(t, flaky, env.roles.admin, "backup", "open", b.ID, "--purpose", "inspection", "-o", filepath.Join(env.dir, "copy"))
			if r.code != exitError || !strings.Contains(r.stderr, "reading it back failed") {
				t.Fatalf("open whose append could not be read back: exit %d\n%s", r.code, r.stderr)
			}
			show := mustRun(t, env.srv, env.roles.auditor, "ledger", "show").stdout
			if n := strings.Count(show, "backup.opened"); n != 1 {
				t.Fatalf("%d backup.opened entries for one open:\n%s", n, show)
			}
			mustRun(t, env.srv, env.roles.auditor, "ledger", "verify")
		})
	}
}

// readBackFailingProxy loses Vault's answer to the first ledger append,
// and then, after readsBefore reads of that slot, answers the next two
// with a 502.
func readBackFailingProxy(t *testing.T, vaultAddr string, readsBefore int32) *vaulttest.Server {
	var lostSlot atomic.Value
	var reads atomic.Int32
	return vaultProxy(t, vaultAddr, func(proxy *httputil.ReverseProxy) http.Handler {
		proxy.ModifyResponse = func(r *http.Response) error {
			if r.Request.Method != http.MethodGet && strings.Contains(r.Request.URL.Path, "/ledger/0") && lostSlot.CompareAndSwap(nil, r.Request.URL.Path) {
				return errors.New("answer lost")
			}
			return nil
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && r.URL.Path == lostSlot.Load() {
				if n := reads.Add(1); n > readsBefore && n <= readsBefore+2 {
					http.Error(w, `{"errors":["upstream timed out"]}`, http.StatusBadGateway)
					return
				}
			}
			proxy.ServeHTTP(w, r)
		})
	})
}

// A case open stopped between writing the case and appending its
// case.opened entry (here: every append of the first open failed) is
// finished by running it again: the entry is appended once. Before, the
// re-run said the case exists and the ledger never recorded the opening.
// A different case under the same id, or a second re-run, still finds that
// the case exists.
func TestInterruptedCaseOpenIsFinishedByARerun(t *testing.T) {
	env := newTestEnv(t)
	open := []string{"case", "open", "HALF", "--authority", "Example DPA", "--reference", "J.nr. 9", "--controller", "Example Ministry"}
	t.Setenv("VAULT_MAX_RETRIES", "0")
	noLedger := vaultProxy(t, env.srv.Addr, func(proxy *httputil.ReverseProxy) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && strings.Contains(r.URL.Path, "/ledger/0") {
				http.Error(w, `{"errors":["upstream timed out"]}`, http.StatusBadGateway)
				return
			}
			proxy.ServeHTTP(w, r)
		})
	})
	expectCode(t, exitError, noLedger, env.roles.compliance, open...)
	other := append(slices.Clone(open[:len(open)-3]), "J.nr. 10", "--controller", "Example Ministry")
	expectCode(t, exitRefused, env.srv, env.roles.compliance, other...)
	mustRun(t, env.srv, env.roles.compliance, open...)
	r := expectCode(t, exitRefused, env.srv, env.roles.compliance, open...)
	if !strings.Contains(r.stderr, "case HALF already exists") {
		t.Fatalf("second re-run: %s", r.stderr)
	}
	show := mustRun(t, env.srv, env.roles.auditor, "ledger", "show").stdout
	if n := strings.Count(show, "case.opened"); n != 1 {
		t.Fatalf("%d case.opened entries:\n%s", n, show)
	}
}

// A record a role wrote that the client cannot parse (JSON nested past the
// decoder's depth limit, which Vault 1.19 stores) is a damaged record, not
// Vault unavailable: written over the ledger's head hint with the
// compliance officer's own token, it does not stop the next append, which
// replaces it (every append after it read the whole ledger before), and
// `ledger verify` then passes.
func TestUnparsableRecordIsNotAnOutage(t *testing.T) {
	for name, junk := range map[string]map[string]any{"undecodable": deeplyNested(), "not a head": {"data": map[string]any{"seq": "x"}}} {
		t.Run(name, func(t *testing.T) {
			env := newTestEnv(t)
			if _, err := env.srv.Client(t, env.roles.compliance).Logical().Write("cryptoshred/data/ledger/head", junk); err != nil {
				t.Fatalf("writing the head hint: %v", err)
			}
			mustRun(t, env.srv, env.roles.compliance, "case", "open", "DEEP", "--authority", "Example DPA", "--reference", "J.nr. 1", "--controller", "Example Ministry")
			head, err := env.srv.Root(t).Logical().Read("cryptoshred/data/ledger/head")
			if err != nil || head == nil || head.Data["data"].(map[string]any)["hash"] == nil {
				t.Fatalf("the head after an append: %v %v", head, err)
			}
			mustRun(t, env.srv, env.roles.auditor, "ledger", "verify")
		})
	}
}

// deeplyNested is JSON a role can write to a KV record that Vault 1.19
// stores but the client cannot decode: Vault's answer wraps it past the
// decoder's 10,000-level depth limit.
func deeplyNested() map[string]any {
	var nested any = map[string]any{}
	for range 9998 {
		nested = map[string]any{"a": nested}
	}
	return map[string]any{"data": nested}
}

// A ledger slot a role filled with data the client cannot decode is junk
// that the next entry links to, like any other junk slot: the admin
// creates the next slot with its own token, and the compliance officer's
// next append goes on after it; `ledger verify` names that slot. Before,
// every append of every role stopped at it, for good (no role may delete
// a slot).
func TestUndecodableLedgerSlotIsJunkNotABlock(t *testing.T) {
	env := newTestEnv(t)
	protectFile(t, env, "casework.tar", []byte("asylum case files"))
	next := fmt.Sprintf("cryptoshred/data/ledger/%012d", lastLedgerSeq(t, env)+1)
	if _, err := env.srv.Client(t, env.roles.admin).Logical().Write(next, deeplyNested()); err != nil {
		t.Fatalf("the admin creating the next slot: %v", err)
	}
	mustRun(t, env.srv, env.roles.compliance, "case", "open", "DEEP", "--authority", "Example DPA", "--reference", "J.nr. 1", "--controller", "Example Ministry")
	r := expectCode(t, exitVerifyKO, env.srv, env.roles.auditor, "ledger", "verify")
	if !strings.Contains(r.stdout, "ledger slot 2 holds something other than a ledger entry") {
		t.Fatalf("ledger verify:\n%s%s", r.stdout, r.stderr)
	}
	if show := mustRun(t, env.srv, env.roles.auditor, "ledger", "show").stdout; !strings.Contains(show, "case.opened") {
		t.Fatalf("ledger show:\n%s", show)
	}
}

// An answer that arrived whole but is not Vault's JSON (a proxy's page
// with status 200) is no answer: `ledger verify` fails as Vault
// unavailable, and takes no signed entry for junk.
func TestPageThatIsNotVaultsIsNoAnswer(t *testing.T) {
	env := newTestEnv(t)
	protectFile(t, env, "casework.tar", []byte("asylum case files"))
	last := lastLedgerSlot(t, env)
	page := vaultProxy(t, env.srv.Addr, func(proxy *httputil.ReverseProxy) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, last) {
				proxy.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html><body>Please sign in to the corporate proxy</body></html>"))
		})
	})
	r := runCLI(t, page, env.roles.auditor, "ledger", "verify")
	if r.code != exitError || !strings.Contains(r.stderr, "is not Vault's JSON") {
		t.Fatalf("ledger verify through a proxy's page: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// An append that meets, in the slot it writes, an undecodable record
// another role created a moment before (the admin racing the compliance
// officer with its own token) takes it for a lost race and appends after
// it. Before, the 403 of the create-only write was taken for a missing
// capability and the compliance officer's case open failed.
func TestAppendRacingAnUndecodableSlotGoesOnAfterIt(t *testing.T) {
	env := newTestEnv(t)
	admin := env.srv.Client(t, env.roles.admin).Logical()
	var raced atomic.Bool
	racing := vaultProxy(t, env.srv.Addr, func(proxy *httputil.ReverseProxy) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && strings.Contains(r.URL.Path, "/ledger/0") && raced.CompareAndSwap(false, true) {
				if _, err := admin.Write(strings.TrimPrefix(r.URL.Path, "/v1/"), deeplyNested()); err != nil {
					t.Errorf("the admin's racing write: %v", err)
				}
			}
			proxy.ServeHTTP(w, r)
		})
	})
	mustRun(t, racing, env.roles.compliance, "case", "open", "RACE", "--authority", "Example DPA", "--reference", "J.nr. 1", "--controller", "Example Ministry")
	if show := mustRun(t, env.srv, env.roles.auditor, "ledger", "show").stdout; !strings.Contains(show, "case.opened") {
		t.Fatalf("ledger show:\n%s", show)
	}
}

// A 404 that is not Vault's (a load balancer's empty answer, a gateway's
// own JSON) is no answer: here a proxy in front of Vault takes a backup's
// key delete itself and then answers the key's read-back with such a 404.
// The run must not take that for Vault saying the key is gone: it fails
// that backup as Vault unavailable (exit 1) and records and attests
// nothing of it, and the key is still in Vault. Before, the API client
// read any 404 as "not found" and the run recorded the key as destroyed
// and verified gone; and a run that destroyed nothing then said "keys
// destroyed and recorded, but the attestation failed" (exit 4).
func TestNotFoundThatIsNotVaultsIsNoAnswer(t *testing.T) {
	for name, answer := range map[string]string{"empty": "", "a gateway's JSON": `{"message":"no Route matched with those values"}`} {
		t.Run(name, func(t *testing.T) {
			env := newTestEnv(t)
			b := closedCaseCLI(t, env, "GONE", []byte("old casework"))
			t.Setenv("VAULT_MAX_RETRIES", "1")
			keyPath := "/v1/cryptoshred-transit/keys/" + b.Key
			var deleted atomic.Bool
			gateway := vaultProxy(t, env.srv.Addr, func(proxy *httputil.ReverseProxy) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					switch {
					case r.URL.Path == keyPath && r.Method == http.MethodDelete:
						deleted.Store(true)
						w.WriteHeader(http.StatusNoContent)
					case r.URL.Path == keyPath && r.Method == http.MethodGet && deleted.Load():
						w.WriteHeader(http.StatusNotFound)
						w.Write([]byte(answer))
					default:
						proxy.ServeHTTP(w, r)
					}
				})
			})
			priv, _ := signingKey(t, env)
			r := runCLI(t, gateway, env.roles.admin, "--format", "json", "shred", "run", "--case", "GONE", "--yes", "--sign-key", priv,
				"--vault-snapshot-retention", "720h", "-o", filepath.Join(env.dir, "a.dsse.json"))
			if r.code != exitError || !strings.Contains(r.stderr, "without Vault's JSON") || strings.Contains(r.stdout, `"destroyed":[{`) ||
				strings.Contains(r.stderr, "keys destroyed") {
				t.Fatalf("shred run through the gateway: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			if key, err := env.srv.Root(t).Logical().Read("cryptoshred-transit/keys/" + b.Key); err != nil || key == nil {
				t.Fatalf("the key is gone: %v %v", key, err)
			}
			if show := mustRun(t, env.srv, env.roles.auditor, "ledger", "show").stdout; strings.Contains(show, "key.destroyed") {
				t.Fatalf("the ledger records a destruction:\n%s", show)
			}
		})
	}
}
