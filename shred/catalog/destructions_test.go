package catalog_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// A destruction record larger than one should be is stored as several,
// each below the limit, and read back whole.
func TestLargeDestructionRecordIsSplit(t *testing.T) {
	srv := vaulttest.Start(t)
	ctx := context.Background()
	if _, err := vault.New(srv.Root(t), vault.DefaultMounts).Init(ctx); err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(vault.New(srv.Client(t, srv.TokenWithPolicies(t, "admin", vault.PolicyAdmin)), vault.DefaultMounts))
	defer catalog.SetMaxDestructionsBytes(8 << 10)()
	rec := &catalog.Destructions{Case: "BIG", By: "run", At: catalog.Now(), Backups: map[string]*catalog.Destruction{}}
	for i := range 100 {
		rec.Backups[fmt.Sprintf("bk-%026d", i)] = &catalog.Destruction{VersionsDestroyed: []int{1}, DestroyedAt: rec.At,
			CiphertextNote: strings.Repeat("n", 200) + fmt.Sprint(i)}
	}
	if err := cat.PutDestructions(ctx, rec); err != nil {
		t.Fatal(err)
	}
	sec, err := srv.Root(t).Logical().List("cryptoshred/metadata/destructions/BIG/")
	if err != nil || sec == nil {
		t.Fatalf("list: %v", err)
	}
	if names := sec.Data["keys"].([]any); len(names) < 4 {
		t.Fatalf("%d record(s), want the 100 accounts of about 300 bytes split over records of at most 8 KiB", len(names))
	}
	got, err := cat.CaseDestructions(ctx, "BIG")
	if err != nil || len(got) != 100 {
		t.Fatalf("read back %d accounts, %v; want 100", len(got), err)
	}
	for id, d := range rec.Backups {
		if len(got[id]) != 1 || got[id][0].CiphertextNote != d.CiphertextNote {
			t.Fatalf("%s read back as %+v", id, got[id])
		}
	}
}
