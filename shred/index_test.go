package shred_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// protectIn protects data as a backup of system.
func protectIn(t *testing.T, v *shred.Service, system string, data []byte) *catalog.Backup {
	t.Helper()
	dir := t.TempDir()
	b, err := v.Protect(context.Background(), admin, shred.ProtectRequest{
		Source: writeFile(t, dir, system+".tar", data), OutDir: dir, System: system})
	if err != nil {
		t.Fatalf("protect: %v", err)
	}
	return b
}

func listIDs(t *testing.T, v *shred.Service, f catalog.BackupFilter) []string {
	t.Helper()
	list, skipped, err := v.ListBackups(context.Background(), f)
	if err != nil || len(skipped) > 0 {
		t.Fatalf("list %+v: skipped %v, %v", f, skipped, err)
	}
	var ids []string
	for _, b := range list {
		ids = append(ids, b.ID)
	}
	return ids
}

// Listings by system and by case read the system index and the case's
// hold records. The admin's own token may add an index entry but neither
// change nor delete one, and an entry planted for another system's backup
// or for no backup lists nothing: each record is matched itself.
func TestSystemIndexCannotHideOrAddBackups(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	a := protectIn(t, adminV, "casework", []byte("a"))
	b := protectIn(t, adminV, "payroll", []byte("b"))
	if got := listIDs(t, adminV, catalog.BackupFilter{System: "casework"}); !slices.Equal(got, []string{a.ID}) {
		t.Fatalf("casework lists %v, want %s", got, a.ID)
	}
	insider := asRole(t, srv, vault.PolicyAdmin)
	insider.mustWrite("systems/casework/"+b.ID, map[string]any{"id": b.ID})
	insider.mustWrite("systems/casework/bk-none", map[string]any{"id": "bk-none"})
	if err := insider.write("systems/casework/"+a.ID, map[string]any{"id": "x"}); err == nil {
		t.Fatal("the admin token updated an index entry")
	}
	if _, err := insider.l.Delete("cryptoshred/data/systems/casework/" + a.ID); err == nil {
		t.Fatal("the admin token deleted an index entry")
	}
	if _, err := insider.l.Delete("cryptoshred/metadata/systems/casework/" + a.ID); err == nil {
		t.Fatal("the admin token deleted an index entry's metadata")
	}
	if got := listIDs(t, adminV, catalog.BackupFilter{System: "casework"}); !slices.Equal(got, []string{a.ID}) {
		t.Fatalf("after planted entries casework lists %v, want %s", got, a.ID)
	}
	if systems, err := adminV.Systems(context.Background()); err != nil || !slices.Equal(systems, []string{"casework", "payroll"}) {
		t.Fatalf("systems %v %v", systems, err)
	}
	openCase(t, complianceV, "IDX")
	held, err := complianceV.PlaceHolds(context.Background(), compliance, "IDX", shred.HoldSelector{System: "casework"})
	if err != nil || !slices.Equal(held, []string{a.ID}) {
		t.Fatalf("system hold: %v %v", held, err)
	}
	if got := listIDs(t, adminV, catalog.BackupFilter{Case: "IDX"}); !slices.Equal(got, []string{a.ID}) {
		t.Fatalf("case IDX lists %v, want %s", got, a.ID)
	}

	// The duplicate check finds a's content through the size and digest
	// indexes; b planted under a's digest is not named, and a's entry
	// cannot be deleted to let a duplicate through.
	insider.mustWrite("digests/"+a.Plaintext.SHA256+"/"+b.ID, map[string]any{"id": b.ID})
	if _, err := insider.l.Delete("cryptoshred/metadata/digests/" + a.Plaintext.SHA256 + "/" + a.ID); err == nil {
		t.Fatal("the admin token deleted a digest index entry")
	}
	dir := t.TempDir()
	_, err = adminV.Protect(context.Background(), admin, shred.ProtectRequest{Source: writeFile(t, dir, "again.tar", []byte("a")), OutDir: dir})
	if !errors.Is(err, errs.ErrRefused) || !strings.Contains(err.Error(), a.ID) || strings.Contains(err.Error(), b.ID) {
		t.Fatalf("protect of a's content again: %v", err)
	}
}

// A catalog written before the index existed gets its entries from init,
// once.
func TestInitIndexesAnOldCatalog(t *testing.T) {
	srv, adminV, _ := roles(t)
	a := protectIn(t, adminV, "casework", []byte("a"))
	srv.KVDelete(t, "cryptoshred/metadata/systems/casework/"+a.ID) // root: as if written before the index
	if got := listIDs(t, adminV, catalog.BackupFilter{System: "casework"}); len(got) != 0 {
		t.Fatalf("unindexed backup listed: %v", got)
	}
	root := vault.New(srv.Root(t), vault.DefaultMounts)
	for _, want := range []string{"added 1 catalog index entries", ""} { // the second run finds nothing missing
		changes, err := root.Init(context.Background())
		if err != nil || want != "" && !strings.Contains(fmt.Sprint(changes), want) || want == "" && len(changes) > 0 {
			t.Fatalf("init: %v %v, want %q", changes, err, want)
		}
	}
	if got := listIDs(t, adminV, catalog.BackupFilter{System: "casework"}); !slices.Equal(got, []string{a.ID}) {
		t.Fatalf("after init: %v", got)
	}
}

// TestPlantedSystemFolderHoldsNothing: a folder the admin plants in the
// system index (create is allowed there, delete is not) is no backup id;
// it names nothing, and holds and listings by system go on without it.
func TestPlantedSystemFolderHoldsNothing(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	a := protectIn(t, adminV, "casework", []byte("a"))
	asRole(t, srv, vault.PolicyAdmin).mustWrite("systems/casework/junk/x", map[string]any{"id": "x"})
	if got := listIDs(t, complianceV, catalog.BackupFilter{System: "casework"}); !slices.Equal(got, []string{a.ID}) {
		t.Fatalf("casework lists %v, want %s", got, a.ID)
	}
	openCase(t, complianceV, "F")
	held, err := complianceV.PlaceHolds(context.Background(), compliance, "F", shred.HoldSelector{System: "casework"})
	if err != nil || !slices.Equal(held, []string{a.ID}) {
		t.Fatalf("hold by system with a planted folder in the index: held %v, %v", held, err)
	}
}

// TestListByCaseGoesByTheHoldRecords: the admin rewrites a held backup's
// status record (theirs to write) so that it names no case; `backup list
// --case` still lists it, since the case's hold record, which only the
// compliance role writes, names it.
func TestListByCaseGoesByTheHoldRecords(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	b, _ := protect(t, adminV, []byte("held"))
	openCase(t, complianceV, "LIT")
	hold(t, complianceV, "LIT", b.ID)
	in := asRole(t, srv, vault.PolicyAdmin)
	rec := in.read("backups/" + b.ID)
	rec["heldBy"], rec["state"] = []string{}, "protected"
	in.mustWrite("backups/"+b.ID, rec)
	if got := listIDs(t, complianceV, catalog.BackupFilter{Case: "LIT"}); !slices.Equal(got, []string{b.ID}) {
		t.Fatalf("list --case LIT after the status dropped the case: %v, want %s", got, b.ID)
	}
}
