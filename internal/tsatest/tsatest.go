// Package tsatest starts real sigstore timestamp-authority servers for
// tests.
//
// There is no mock: every test that needs a timestamping authority talks to
// a `timestamp-server serve` process (v2.1.3, memory signer, NTP monitoring
// off) on a free loopback port. The binary is found through TSA_BIN, then
// the cache that `make tools` fills, GOPATH/bin and PATH. A test that cannot
// start it fails; it never skips.
//
// The server always opens its metrics listener on the fixed port 2112, so
// only one can run on a host at a time: Start holds a lock file for the
// server's lifetime, and waits for the port when another process has it.
package tsatest

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/internal/testtools"
)

// Version is the timestamp-authority release the tests are written against.
const Version = "v2.1.3"

// startLimit bounds the wait for the lock, the metrics port and start-up.
const startLimit = 5 * time.Minute

// Server is a running timestamp-server.
type Server struct {
	// URL is the RFC 3161 endpoint, http://127.0.0.1:PORT/api/v1/timestamp.
	URL string
	// ChainPEM is the authority's chain as served, leaf first.
	ChainPEM []byte

	base string
	cmd  *exec.Cmd
	done chan struct{}
	log  *testtools.LockedBuffer
	lock *os.File
	once sync.Once
}

// Binary returns the timestamp-server to run, or fails t.
func Binary(t testing.TB) string {
	return testtools.Find(t, "TSA_BIN", "timestamp-server", Version, "`make tools`")
}

// Start starts a timestamp-server for t and stops it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t)
	lock, err := acquireLock(startLimit)
	if err != nil {
		t.Fatalf("tsatest: %v", err)
	}
	s, err := startRetrying(bin, lock)
	if err != nil {
		releaseLock(lock)
		t.Fatalf("tsatest: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("timestamp-server log (tail):\n%s", testtools.Tail(s.log.String(), 20))
		}
		s.Stop()
	})
	return s
}

// acquireLock takes the host-wide lock that serialises servers, since they
// all bind port 2112.
func acquireLock(limit time.Duration) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "cryptoshred-tsatest.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(limit)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("waited %s for the timestamp-server lock: %w", limit, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func releaseLock(f *os.File) {
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	_ = f.Close()
}

// startRetrying starts a server, retrying while another process (not
// holding our lock) has the metrics port.
func startRetrying(bin string, lock *os.File) (*Server, error) {
	deadline := time.Now().Add(startLimit)
	for {
		s, err := startOnce(bin)
		if err == nil {
			s.lock = lock
			return s, nil
		}
		if !strings.Contains(err.Error(), ":2112") || time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(time.Second)
	}
}

func startOnce(bin string) (*Server, error) {
	port, err := testtools.FreePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--host", "127.0.0.1", "--port", fmt.Sprint(port),
		"--timestamp-signer", "memory", "--disable-ntp-monitoring", "--log-type", "prod", "--graceful-timeout", "1s")
	cmd.Env = append(os.Environ(), "HOME="+os.TempDir())
	buf := &testtools.LockedBuffer{}
	cmd.Stdout, cmd.Stderr = buf, buf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("failed to start %s: %w", bin, err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	s := &Server{URL: base + "/api/v1/timestamp", base: base, cmd: cmd, done: make(chan struct{}), log: buf}
	go func() { _ = cmd.Wait(); close(s.done) }()
	if err := s.waitReady(30 * time.Second); err != nil {
		s.kill()
		return nil, fmt.Errorf("%w\n%s", err, testtools.Tail(buf.String(), 20))
	}
	return s, nil
}

// waitReady polls the chain endpoint until it answers, and then makes sure
// the process stays up (it exits shortly after start when port 2112 is
// taken).
func (s *Server) waitReady(limit time.Duration) error {
	err := testtools.WaitReady(s.done, limit, func() bool {
		chain, err := s.get("/api/v1/timestamp/certchain")
		s.ChainPEM = chain
		return err == nil
	})
	if err != nil {
		return fmt.Errorf("timestamp-server %w", err)
	}
	return s.stillRunning()
}

func (s *Server) stillRunning() error {
	select {
	case <-s.done:
		return errors.New("timestamp-server exited during start-up")
	case <-time.After(300 * time.Millisecond):
		return nil
	}
}

func (s *Server) get(path string) ([]byte, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(s.base + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}

// Base returns the server's root URL, http://127.0.0.1:PORT.
func (s *Server) Base() string { return s.base }

// WriteChain writes the chain PEM into dir and returns its path.
func (s *Server) WriteChain(t testing.TB, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "tsa-chain.pem")
	if err := os.WriteFile(p, s.ChainPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// WriteTrustedRoot writes a Sigstore trusted_root.json naming this
// authority alone (leaf first, valid from a day ago) into dir and returns
// its path, for cosign --trusted-root and attest verify --trusted-root.
func (s *Server) WriteTrustedRoot(t testing.TB, dir string) string {
	t.Helper()
	b, err := TrustedRoot(s.ChainPEM, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "trusted_root.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TrustedRoot returns a Sigstore trusted root (media type v0.1) whose only
// content is one timestamping authority with chainPEM.
func TrustedRoot(chainPEM []byte, uri string) (_ []byte, err error) {
	var certs []map[string]string
	var leaf *x509.Certificate
	for rest := chainPEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if leaf == nil {
			if leaf, err = x509.ParseCertificate(block.Bytes); err != nil {
				return nil, err
			}
		}
		certs = append(certs, map[string]string{"rawBytes": base64.StdEncoding.EncodeToString(block.Bytes)})
	}
	if leaf == nil {
		return nil, errors.New("no certificate in the chain")
	}
	subject := map[string]string{"commonName": leaf.Subject.CommonName}
	if len(leaf.Subject.Organization) > 0 {
		subject["organization"] = leaf.Subject.Organization[0]
	}
	root := map[string]any{
		"mediaType":              "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
		"tlogs":                  []any{},
		"certificateAuthorities": []any{},
		"ctlogs":                 []any{},
		"timestampAuthorities": []any{map[string]any{
			"subject":   subject,
			"uri":       uri,
			"certChain": map[string]any{"certificates": certs},
			"validFor":  map[string]string{"start": time.Now().Add(-24 * time.Hour).UTC().Format(time.RFC3339)},
		}},
	}
	return json.MarshalIndent(root, "", "  ")
}

// Stop terminates the server, waits for it to exit and releases the lock.
func (s *Server) Stop() {
	s.once.Do(func() {
		s.kill()
		if s.lock != nil {
			releaseLock(s.lock)
		}
	})
}

func (s *Server) kill() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}
