package shred_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
	"github.com/cryptoshred/cryptoshred/shred/storage/local"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// failingPut refuses every write of path, as a close killed there would
// leave it.
type failingPut struct {
	*vault.Client
	path string
}

func (f failingPut) Put(ctx context.Context, path string, data map[string]any, cas int) (int, error) {
	if path == f.path {
		return 0, errors.New("stopped before this write")
	}
	return f.Client.Put(ctx, path, data, cas)
}

// A hold record whose re-activation could not read the ledger
// (afreshUnknown) asks the close for a hold.placed entry marked afresh;
// a close stopped after writing it, and run again, writes it once: Vault
// wrote the first after the record's placement.
func TestCloseRerunWritesItsAfreshEntryOnce(t *testing.T) {
	srv, adminV := newVault(t)
	ctx := context.Background()
	compV := roleVault(t, srv, vault.PolicyCompliance)
	b := protectHeld(t, adminV, compV, "ONE", []byte("data"))
	vc := vault.New(srv.Client(t, srv.TokenWithPolicies(t, vault.PolicyCompliance, vault.PolicyCompliance)), vault.DefaultMounts)
	c := catalog.New(vc)
	h, version, err := c.GetHold(ctx, "ONE", b.ID)
	if err != nil {
		t.Fatal(err)
	}
	h.PlacedAfreshFrom = 1 << 53 // afreshUnknown: a re-activation that could not read the ledger, stopped before its entry
	if _, err := c.PutHold(ctx, h, version); err != nil {
		t.Fatal(err)
	}
	stopped := shred.New(shred.Config{Records: failingPut{vc, "holds/ONE/" + b.ID}, Keys: vc, Guard: vc, Signer: vc, Storage: local.New()})
	if _, err := stopped.CloseCase(ctx, compliance, closeRequest("ONE")); err == nil {
		t.Fatal("the close that cannot write the hold record did not fail")
	}
	if _, err := compV.CloseCase(ctx, compliance, closeRequest("ONE")); err != nil {
		t.Fatal(err)
	}
	entries := 0
	if _, err := ledger.Walk(ctx, ledger.New(vc, vc), func(e *ledger.Entry, _ []byte) error {
		if e.Kind == ledger.KindHoldPlaced && e.Details["by"] == "case close" {
			entries++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if entries != 1 {
		t.Fatalf("the close and its re-run wrote %d hold.placed entries marked afresh, want 1", entries)
	}
}

// Inode and device numbers above 2^53 (Lustre, GlusterFS) come back from
// Vault as written: JSON numbers would pass through float64.
func TestFileIDSurvivesVaultAboveFiftyThreeBits(t *testing.T) {
	srv, _ := newVault(t)
	c := catalog.New(vault.New(srv.Root(t), vault.DefaultMounts))
	ctx := context.Background()
	id := catalog.FileID{Device: 1<<63 + 3, Inode: 144115205272502273, Ctime: time.Now().UTC()}
	b := &catalog.Backup{ID: catalog.NewBackupID(), Name: "dump.sql.age", State: catalog.StateProtecting, CreatedAt: catalog.Now(), CreatedBy: "t",
		Ciphertext: catalog.FileInfo{Path: "/tmp/x/dump.sql.age"},
		Original:   &catalog.Original{FileInfo: catalog.FileInfo{Path: "/tmp/dump.sql", Size: 3, Mtime: catalog.Now()}, EncryptedAfterFirstStorage: true, File: &id}}
	b.Key = b.ID
	if _, err := c.PutBackup(ctx, b, 0); err != nil {
		t.Fatal(err)
	}
	got, _, err := c.GetBackup(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if f := got.Original.File; f == nil || f.Device != id.Device || f.Inode != id.Inode || !f.Ctime.Equal(id.Ctime) {
		t.Fatalf("file identity read back as %+v, wrote %+v", got.Original.File, id)
	}
}
