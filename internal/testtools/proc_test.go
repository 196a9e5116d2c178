package testtools

import "testing"

func TestFreePortsAreDistinct(t *testing.T) {
	ports, err := FreePorts(64)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Fatalf("port %d chosen twice in %v", p, ports)
		}
		seen[p] = true
	}
}
