// Package vaulttest starts real Vault dev servers for tests.
//
// There is no mock: every test that needs Vault talks to a `vault server -dev`
// process listening on a free loopback port. The binary is found through
// VAULT_BIN, then the cache that `make vault` fills, then PATH. A test that
// cannot start Vault fails; it never skips.
package vaulttest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/cryptoshred/cryptoshred/internal/testtools"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// Version is the Vault server version pinned in tools/vault.
const Version = "1.19.0"

// Server is a running Vault dev server. Stop it with Stop, or let the test's
// cleanup do it.
type Server struct {
	Addr  string // http://127.0.0.1:PORT
	Token string // root token

	cmd    *exec.Cmd
	done   chan struct{}
	logBuf *testtools.LockedBuffer
}

// Binary returns the path of the Vault server binary to use.
func Binary() (string, error) {
	if p := os.Getenv("VAULT_BIN"); p != "" {
		return p, nil
	}
	if p := CachedBinary(); fileExists(p) {
		return p, nil
	}
	if p, err := exec.LookPath("vault"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("no vault binary: set VAULT_BIN, run `make vault`, or put vault on PATH")
}

// CachedBinary is where `make vault` puts the pinned server.
func CachedBinary() string {
	return filepath.Join(testtools.CacheDir(), "vault-"+Version)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// Start starts a fresh dev server for t and stops it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := StartServer()
	if err != nil {
		t.Fatalf("vaulttest: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("vault server log (tail):\n%s", testtools.Tail(s.Log(), 30))
		}
		s.Stop()
	})
	return s
}

// StartServer starts a fresh dev server; the caller must Stop it.
func StartServer() (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range 3 {
		s, err := startOnce(bin)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func startOnce(bin string) (*Server, error) {
	port, err := testtools.FreePort()
	if err != nil {
		return nil, err
	}
	token := "root-" + testtools.RandomHex(12)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	s, err := launch(bin, addr, healthy, "server", "-dev",
		"-dev-root-token-id="+token,
		"-dev-listen-address="+addr,
		"-dev-no-store-token")
	if s != nil {
		s.Token = token
	}
	return s, err
}

func healthy(code int) bool { return code == http.StatusOK }

// launch starts a Vault server process listening on addr and waits until
// its health endpoint answers with a code ready accepts.
func launch(bin, addr string, ready func(int) bool, args ...string) (*Server, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "VAULT_DISABLE_MLOCK=true", "HOME="+os.TempDir())
	buf := &testtools.LockedBuffer{}
	cmd.Stdout, cmd.Stderr = buf, buf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("failed to start %s: %w", bin, err)
	}
	s := &Server{Addr: "http://" + addr, cmd: cmd, done: make(chan struct{}), logBuf: buf}
	go func() { _ = cmd.Wait(); close(s.done) }()
	if err := s.waitReady(30*time.Second, ready); err != nil {
		s.Stop()
		return nil, fmt.Errorf("%w\n%s", err, buf.String())
	}
	return s, nil
}

func (s *Server) waitReady(limit time.Duration, ready func(int) bool) error {
	err := testtools.WaitReady(s.done, limit, func() bool {
		resp, err := http.Get(s.Addr + "/v1/sys/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return ready(resp.StatusCode)
	})
	if err != nil {
		return fmt.Errorf("vault server %w", err)
	}
	return nil
}

// Client returns an API client for the server authenticated with token.
func (s *Server) Client(t testing.TB, token string) *api.Client {
	t.Helper()
	c, err := s.NewClient(token)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// NewClient returns an API client for the server authenticated with token.
func (s *Server) NewClient(token string) (*api.Client, error) {
	cfg, err := vault.ClientConfig(s.Addr)
	if err != nil {
		return nil, err
	}
	cfg.MaxRetries = 0
	c, err := api.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	c.SetToken(token)
	return c, nil
}

// Root returns an API client with the root token.
func (s *Server) Root(t testing.TB) *api.Client { return s.Client(t, s.Token) }

// TokenWithPolicies creates a token carrying only the given policies,
// without Vault's default policy, as examples/vault/production.md creates
// the role tokens.
func (s *Server) TokenWithPolicies(t testing.TB, displayName string, policies ...string) string {
	t.Helper()
	return s.token(t, displayName, policies, true)
}

// TokenWithDefaultPolicy is TokenWithPolicies with Vault's default policy
// added, as `vault token create` does unless told not to.
func (s *Server) TokenWithDefaultPolicy(t testing.TB, displayName string, policies ...string) string {
	t.Helper()
	return s.token(t, displayName, policies, false)
}

func (s *Server) token(t testing.TB, displayName string, policies []string, noDefault bool) string {
	t.Helper()
	sec, err := s.Root(t).Auth().Token().Create(&api.TokenCreateRequest{
		Policies:        policies,
		DisplayName:     displayName,
		NoParent:        true,
		NoDefaultPolicy: noDefault,
		TTL:             "4h",
	})
	if err != nil {
		t.Fatalf("create token: %v", err)
	}
	return sec.Auth.ClientToken
}

// Env returns VAULT_ADDR and VAULT_TOKEN settings for a child process.
func (s *Server) Env(token string) []string {
	return []string{"VAULT_ADDR=" + s.Addr, "VAULT_TOKEN=" + token}
}

// Log returns what the server printed so far.
func (s *Server) Log() string { return s.logBuf.String() }

// Stop terminates the server and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// Seal seals the server with the root token.
func (s *Server) Seal(ctx context.Context) error {
	c, err := s.NewClient(s.Token)
	if err != nil {
		return err
	}
	return c.Sys().SealWithContext(ctx)
}

// KVData reads the data of a KV v2 entry with the root token, as someone
// editing the catalog behind cryptoshred's back would. path includes the
// mount, e.g. "cryptoshred/data/backups/ID".
func (s *Server) KVData(t testing.TB, path string) map[string]any {
	t.Helper()
	sec, err := s.Root(t).Logical().Read(path)
	if err != nil || sec == nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return sec.Data["data"].(map[string]any)
}

// KVWrite overwrites a KV v2 entry's data with the root token.
func (s *Server) KVWrite(t testing.TB, path string, data map[string]any) {
	t.Helper()
	if _, err := s.Root(t).Logical().Write(path, map[string]any{"data": data}); err != nil {
		t.Fatal(err)
	}
}

// KVDelete deletes a KV v2 entry's latest version with the root token.
func (s *Server) KVDelete(t testing.TB, path string) {
	t.Helper()
	if _, err := s.Root(t).Logical().Delete(path); err != nil {
		t.Fatal(err)
	}
}

// ShortToken returns a token with only policy that expires after ttl (a
// Go duration), renewable or not, for tests of a token running out.
func (s *Server) ShortToken(t testing.TB, policy string, ttl time.Duration, renewable bool) string {
	t.Helper()
	sec, err := s.Root(t).Auth().Token().Create(&api.TokenCreateRequest{
		Policies: []string{policy}, DisplayName: policy, NoParent: true, NoDefaultPolicy: true,
		TTL: ttl.String(), ExplicitMaxTTL: "4h", Renewable: &renewable,
	})
	if err != nil {
		t.Fatalf("create token: %v", err)
	}
	return sec.Auth.ClientToken
}
