package vaulttest_test

import (
	"context"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// TestClusterFailover starts a 3-node Raft cluster, runs cryptoshred's
// init through a standby, kills the active node and finds the data on
// the newly elected leader through the surviving standby.
func TestClusterFailover(t *testing.T) {
	c := vaulttest.StartCluster(t, 3)
	standbys := c.Standbys()
	if len(standbys) != 2 {
		t.Fatalf("%d standbys, want 2", len(standbys))
	}
	ctx := context.Background()
	if _, err := vault.New(standbys[0].Root(t), vault.DefaultMounts).Init(ctx); err != nil {
		t.Fatalf("init through a standby: %v", err)
	}
	root := standbys[1].Root(t)
	if _, err := root.Logical().Write("cryptoshred-transit/keys/k", nil); err != nil {
		t.Fatal(err)
	}
	killed, err := c.KillActive()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	leader, err := c.WaitElected(wctx)
	if err != nil {
		t.Fatal(err)
	}
	if leader == killed || len(c.Running()) != 2 {
		t.Fatalf("leader %s, %d running", leader.Addr, len(c.Running()))
	}
	t.Logf("new leader %s elected %v after SIGKILL of %s", leader.Addr, time.Since(start).Round(time.Millisecond), killed.Addr)
	for _, s := range c.Running() {
		keyAnswered(t, s, 30*time.Second)
	}
}

// keyAnswered fails unless s answers the key k within limit: a standby
// answers a redirect until it forwards to the new leader, which the
// client sends again to the same node a few times only.
func keyAnswered(t *testing.T, s *vaulttest.Server, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		sec, err := s.Root(t).Logical().Read("cryptoshred-transit/keys/k")
		if err == nil && sec != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("key through %s after failover: %v %v", s.Addr, sec, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
