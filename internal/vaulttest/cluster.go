package vaulttest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/internal/testtools"
	"github.com/hashicorp/vault/api"
)

// Cluster is a Vault cluster on integrated storage (Raft): every node is
// the same binary with its own data directory, listening on loopback with
// TLS off on the API and request forwarding over the cluster port. It is
// initialised with one unseal key; Token is its root token.
type Cluster struct {
	Nodes []*Server
	Token string

	unsealKey string
}

// StartCluster starts an n-node Raft cluster for t, initialises and
// unseals it, waits until one node is active and the others are standbys,
// and stops every node when t ends.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c, err := NewCluster(t.TempDir(), n)
	if err != nil {
		t.Fatalf("vaulttest: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i, s := range c.Nodes {
				t.Logf("vault node %d log (tail):\n%s", i+1, testtools.Tail(s.Log(), 15))
			}
		}
		c.Stop()
	})
	return c
}

// NewCluster starts an n-node Raft cluster with its data under dir; the
// caller must Stop it. It starts afresh on new ports while another process
// takes a chosen port between choice and bind.
func NewCluster(dir string, n int) (*Cluster, error) {
	var err error
	for attempt := range 3 {
		var c *Cluster
		c, err = newClusterOnce(filepath.Join(dir, fmt.Sprintf("attempt%d", attempt+1)), n)
		if err == nil || !strings.Contains(err.Error(), "address already in use") {
			return c, err
		}
	}
	return nil, err
}

func newClusterOnce(dir string, n int) (*Cluster, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	ports, err := testtools.FreePorts(2 * n)
	if err != nil {
		return nil, err
	}
	c := &Cluster{}
	for i := range n {
		cfg := filepath.Join(dir, fmt.Sprintf("node%d.hcl", i+1))
		if err := writeRaftConfig(cfg, filepath.Join(dir, fmt.Sprintf("raft%d", i+1)), i+1, ports[2*i], ports[2*i+1], ports[0]); err != nil {
			return nil, err
		}
		s, err := launch(bin, fmt.Sprintf("127.0.0.1:%d", ports[2*i]), anyAnswer, "server", "-config="+cfg)
		if err != nil {
			c.Stop()
			return nil, err
		}
		c.Nodes = append(c.Nodes, s)
	}
	if err := c.initialise(); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// writeRaftConfig writes node i's configuration: Raft storage in data,
// the API on port and the cluster listener on clusterPort; every node but
// the first joins the first node's API address.
func writeRaftConfig(path, data string, i, port, clusterPort, leaderPort int) error {
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	join := ""
	if i > 1 {
		join = fmt.Sprintf("  retry_join { leader_api_addr = \"http://127.0.0.1:%d\" }\n", leaderPort)
	}
	cfg := fmt.Sprintf(`storage "raft" {
  path    = %q
  node_id = "n%d"
  performance_multiplier = 1
%s}
listener "tcp" {
  address         = "127.0.0.1:%d"
  cluster_address = "127.0.0.1:%d"
  tls_disable     = true
}
api_addr      = "http://127.0.0.1:%d"
cluster_addr  = "https://127.0.0.1:%d"
disable_mlock = true
`, data, i, join, port, clusterPort, port, clusterPort)
	return os.WriteFile(path, []byte(cfg), 0o600)
}

// initialise initialises the cluster on the first node, unseals every
// node and waits until the first is active and the others are standbys.
func (c *Cluster) initialise() error {
	first, err := c.Nodes[0].NewClient("")
	if err != nil {
		return err
	}
	resp, err := first.Sys().Init(&api.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		return fmt.Errorf("failed to initialise the cluster: %w", err)
	}
	c.unsealKey, c.Token = resp.KeysB64[0], resp.RootToken
	for _, s := range c.Nodes {
		s.Token = c.Token
	}
	if err := c.unsealUntil(c.Nodes[0], healthy); err != nil {
		return err
	}
	first.SetToken(c.Token)
	// Autopilot promotes a joined node to a voter once it has been healthy
	// this long (10 s by default); until then a kill of the leader leaves
	// no quorum.
	if _, err := first.Logical().Write("sys/storage/raft/autopilot/configuration",
		map[string]any{"server_stabilization_time": "1s"}); err != nil {
		return fmt.Errorf("autopilot configuration: %w", err)
	}
	for _, s := range c.Nodes[1:] {
		if err := c.unsealUntil(s, isStandby); err != nil {
			return err
		}
	}
	return c.waitVoters(first, len(c.Nodes))
}

// waitVoters waits until the Raft configuration has n voters.
func (c *Cluster) waitVoters(cl *api.Client, n int) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		voters := 0
		sec, err := cl.Logical().Read("sys/storage/raft/configuration")
		if err == nil && sec != nil {
			cfg, _ := sec.Data["config"].(map[string]any)
			servers, _ := cfg["servers"].([]any)
			for _, srv := range servers {
				if m, _ := srv.(map[string]any); m["voter"] == true {
					voters++
				}
			}
		}
		if voters == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("raft has %d voters after 60s, want %d (%v)", voters, n, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func isStandby(code int) bool { return code == http.StatusTooManyRequests }

// unsealUntil unseals s, again while it is sealed (a joining node forgets
// its unseal progress when its join attempt restarts), until its health
// answers a code ready accepts.
func (c *Cluster) unsealUntil(s *Server, ready func(int) bool) error {
	deadline := time.Now().Add(60 * time.Second)
	cl, err := s.NewClient("")
	if err != nil {
		return err
	}
	for time.Now().Before(deadline) {
		code := healthCode(s.Addr)
		if ready(code) {
			return nil
		}
		if code == http.StatusServiceUnavailable {
			_, _ = cl.Sys().Unseal(c.unsealKey)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("node %s: not ready after unseal (health %d)\n%s", s.Addr, healthCode(s.Addr), testtools.Tail(s.Log(), 20))
}

// healthCode returns the status of sys/health, or 0 when the node does not
// answer.
func healthCode(addr string) int {
	cl := http.Client{Timeout: 2 * time.Second}
	resp, err := cl.Get(addr + "/v1/sys/health")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Active waits up to limit for a running node to report itself active and
// returns it.
func (c *Cluster) Active(limit time.Duration) (*Server, error) {
	deadline := time.Now().Add(limit)
	for {
		for _, s := range c.Running() {
			if healthCode(s.Addr) == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, errors.New("no active vault node")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Standbys returns the running nodes that answer as standbys.
func (c *Cluster) Standbys() []*Server {
	var out []*Server
	for _, s := range c.Running() {
		if isStandby(healthCode(s.Addr)) {
			out = append(out, s)
		}
	}
	return out
}

// Running returns the nodes whose process is alive.
func (c *Cluster) Running() []*Server {
	var out []*Server
	for _, s := range c.Nodes {
		if s.Running() {
			out = append(out, s)
		}
	}
	return out
}

// KillActive kills the active node with SIGKILL, as a crash would, and
// returns it once the process is gone.
func (c *Cluster) KillActive() (*Server, error) {
	s, err := c.Active(30 * time.Second)
	if err != nil {
		return nil, err
	}
	s.Kill()
	return s, nil
}

// WaitElected waits until a surviving node is active again and every
// other running node is a standby.
func (c *Cluster) WaitElected(ctx context.Context) (*Server, error) {
	for {
		s, err := c.Active(0)
		if err == nil && len(c.Standbys()) == len(c.Running())-1 {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no leader elected: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Addrs returns the API addresses of the running nodes, comma-separated.
func (c *Cluster) Addrs() string {
	var out []string
	for _, s := range c.Running() {
		out = append(out, s.Addr)
	}
	return strings.Join(out, ",")
}

// Stop stops every node.
func (c *Cluster) Stop() {
	for _, s := range c.Nodes {
		s.Stop()
	}
}

// Kill kills the server with SIGKILL and waits until the process is gone.
func (s *Server) Kill() {
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// Running reports whether the server process is alive.
func (s *Server) Running() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}
