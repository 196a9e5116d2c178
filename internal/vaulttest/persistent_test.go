package vaulttest

import (
	"testing"

	"github.com/hashicorp/vault/api"
)

func TestPersistentSurvivesRestartAndSeal(t *testing.T) {
	p := StartPersistent(t)
	c := p.Root(t)
	if err := c.Sys().Mount("kv", &api.MountInput{Type: "kv"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().Write("kv/x", map[string]any{"v": "1"}); err != nil {
		t.Fatal(err)
	}
	if err := p.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := p.Seal(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Root(t).Logical().Read("kv/x"); err == nil {
		t.Fatal("read from a sealed vault succeeded")
	}
	if err := p.Unseal(); err != nil {
		t.Fatal(err)
	}
	sec, err := p.Root(t).Logical().Read("kv/x")
	if err != nil || sec == nil || sec.Data["v"] != "1" {
		t.Fatalf("after restart and unseal: %v %v", sec, err)
	}
}
