package vaulttest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// Persistent is a Vault server with file storage, initialised with one
// unseal key, so a test can stop, seal, pause and restart it and find its
// data again. Addr and Token stay the same across restarts.
type Persistent struct {
	*Server
	bin, config, addr, unsealKey string
}

// StartPersistent starts a persistent server for t and stops it when t
// ends.
func StartPersistent(t testing.TB) *Persistent {
	t.Helper()
	p, err := startPersistent(t.TempDir())
	if err != nil {
		t.Fatalf("vaulttest: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("vault server log (tail):\n%s", tail(p.Log(), 30))
		}
		p.Resume()
		p.Stop()
	})
	return p
}

func startPersistent(dir string) (*Persistent, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p := &Persistent{bin: bin, config: filepath.Join(dir, "vault.hcl"), addr: fmt.Sprintf("127.0.0.1:%d", port)}
	if err := writeConfig(p.config, filepath.Join(dir, "data"), port); err != nil {
		return nil, err
	}
	if err := p.start(); err != nil {
		return nil, err
	}
	return p, p.initialise()
}

func writeConfig(path, data string, port int) error {
	cfg := fmt.Sprintf(`storage "file" { path = %q }
listener "tcp" {
  address     = "127.0.0.1:%d"
  tls_disable = true
}
api_addr      = "http://127.0.0.1:%d"
disable_mlock = true
`, data, port, port)
	return os.WriteFile(path, []byte(cfg), 0o600)
}

// anyAnswer accepts every health answer: not initialised (501) and sealed
// (503) servers are up, just not ready for use.
func anyAnswer(int) bool { return true }

func (p *Persistent) start() error {
	token := ""
	if p.Server != nil {
		token = p.Token
	}
	s, err := launch(p.bin, p.addr, anyAnswer, "server", "-config="+p.config)
	if err != nil {
		return err
	}
	s.Token, p.Server = token, s
	return nil
}

func (p *Persistent) initialise() error {
	c, err := p.NewClient("")
	if err != nil {
		return err
	}
	resp, err := c.Sys().Init(&api.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		return fmt.Errorf("failed to initialise vault: %w", err)
	}
	p.unsealKey, p.Token = resp.KeysB64[0], resp.RootToken
	return p.Unseal()
}

// Unseal unseals the server and waits until it is active.
func (p *Persistent) Unseal() error {
	c, err := p.NewClient("")
	if err != nil {
		return err
	}
	if _, err := c.Sys().Unseal(p.unsealKey); err != nil {
		return fmt.Errorf("failed to unseal vault: %w", err)
	}
	return p.waitReady(30*time.Second, healthy)
}

// Restart stops the server (if it runs) and starts it again, unsealed.
func (p *Persistent) Restart() error {
	p.Resume()
	p.Stop()
	if err := p.start(); err != nil {
		return err
	}
	return p.Unseal()
}

// Seal seals the server with the root token.
func (p *Persistent) Seal() error {
	return p.Server.Seal(context.Background())
}

// Pause freezes the server process (SIGSTOP): requests hang, as with a
// Vault that has become very slow.
func (p *Persistent) Pause() { _ = p.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume lets a paused server run again.
func (p *Persistent) Resume() { _ = p.cmd.Process.Signal(syscall.SIGCONT) }
