package shred_test

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"

	"github.com/cryptoshred/cryptoshred/internal/shredtest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
	"github.com/cryptoshred/cryptoshred/shred/storage"
	"github.com/cryptoshred/cryptoshred/shred/storage/local"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// firstOpen is a storage back end that calls onOpen once, when the first
// ciphertext is opened for reading.
type firstOpen struct {
	storage.Backend
	once   sync.Once
	onOpen func()
}

func (f *firstOpen) For(string) (storage.Backend, error) { return f, nil }

func (f *firstOpen) Open(ctx context.Context, loc string) (io.ReadCloser, error) {
	f.once.Do(f.onOpen)
	return f.Backend.Open(ctx, loc)
}

// TestHoldPlaceHoldsEveryBackupBeforeReadingAny checks the order of hold
// place: by the time it reads the first ciphertext to re-hash it, every
// backup has its hold record, as a compliance officer's token reads it,
// and the ledger's hold.placed entry lists them all. Re-hashing a large
// case takes as long as reading all of it; no hold may wait for that.
func TestHoldPlaceHoldsEveryBackupBeforeReadingAny(t *testing.T) {
	srv, setup := newVault(t)
	ctx := context.Background()
	dir := t.TempDir()
	var ids []string
	for i := range 40 {
		b, err := setup.Protect(ctx, admin, shred.ProtectRequest{Source: writeFile(t, dir, fmt.Sprintf("b%02d.tar", i), []byte(fmt.Sprint("data ", i))), OutDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, b.ID)
	}
	if _, err := setup.OpenCase(ctx, compliance, catalog.Case{ID: "ORDER", Authority: "DPA", Reference: "r", Controllers: []string{"M"}}); err != nil {
		t.Fatal(err)
	}
	officer := asRole(t, srv, vault.PolicyCompliance)
	v := vault.New(srv.Root(t), vault.DefaultMounts)
	var heldAtFirstRead, listedAtFirstRead []string
	var readErr error
	store := &firstOpen{Backend: local.New(), onOpen: func() { // on one of PlaceHolds' goroutines
		heldAtFirstRead, readErr = holdRecords(officer, "ORDER")
		if readErr == nil {
			var counts map[string]int
			counts, readErr = shredtest.InLedger(newService(v), ledger.KindHoldPlaced)
			for id, n := range counts { // each listed once, as the test compares lists
				listedAtFirstRead = append(listedAtFirstRead, slices.Repeat([]string{id}, n)...)
			}
		}
	}}
	svc := shred.New(shred.Config{Records: v, Keys: v, Guard: v, Signer: v, Storage: store})
	if _, err := svc.PlaceHolds(ctx, compliance, "ORDER", shred.HoldSelector{IDs: ids}); err != nil || readErr != nil {
		t.Fatalf("hold place: %v; reading what it had done at its first ciphertext read: %v", err, readErr)
	}
	slices.Sort(ids)
	slices.Sort(heldAtFirstRead)
	slices.Sort(listedAtFirstRead)
	if !slices.Equal(heldAtFirstRead, ids) || !slices.Equal(listedAtFirstRead, ids) {
		t.Fatalf("at the first ciphertext read: %d of %d hold records, %d backups in hold.placed entries", len(heldAtFirstRead), len(ids), len(listedAtFirstRead))
	}
}

// holdRecords lists caseID's hold records with in's own token.
func holdRecords(in insider, caseID string) ([]string, error) {
	sec, err := in.l.List("cryptoshred/metadata/holds/" + caseID + "/")
	if err != nil || sec == nil {
		return nil, err
	}
	var out []string
	for _, k := range sec.Data["keys"].([]any) {
		out = append(out, k.(string))
	}
	return out, nil
}
