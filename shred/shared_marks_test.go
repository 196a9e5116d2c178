package shred_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// Backups of one plaintext protected at the same moment still mark their
// digest shared, so a plan, which reads the marks instead of every
// digest, names the other copy; a digest one backup has stays unmarked.
func TestConcurrentDuplicatesAreMarkedShared(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	const pairs = 8
	firsts, seconds := make([]*catalog.Backup, pairs), make([]*catalog.Backup, pairs)
	var g errgroup.Group
	for i := range pairs {
		data := []byte(strings.Repeat("d", 20+i))
		g.Go(func() (err error) { firsts[i], err = protectCopy(adminV, t.TempDir(), data); return err })
		g.Go(func() (err error) { seconds[i], err = protectCopy(adminV, t.TempDir(), data); return err })
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	single := protectIn(t, adminV, "single", []byte("nobody else has this"))
	for _, b := range firsts {
		if !marked(t, srv, b.Plaintext.SHA256) {
			t.Fatalf("digest of %s not marked shared", b.ID)
		}
	}
	if marked(t, srv, single.Plaintext.SHA256) {
		t.Fatal("a digest only one backup has is marked shared")
	}
	plan := planOf(t, adminV, complianceV, "SHARED", append(slices.Clone(firsts), single)...)
	for i, b := range firsts {
		if w := warningsOf(plan, b.ID); !strings.Contains(w, "backup "+seconds[i].ID+" ") {
			t.Fatalf("plan of %s does not name %s: %q", b.ID, seconds[i].ID, w)
		}
	}
	if w := warningsOf(plan, single.ID); strings.Contains(w, "same plaintext") {
		t.Fatalf("plan warns of a copy of a single backup: %q", w)
	}
}

// Two registrations of one plaintext written at the same instant, with
// the backup-admin token: each lists the digest after writing its own
// entry, so the later one sees both and every pair is marked.
func TestRacingRegistrationsMarkTheirDigest(t *testing.T) {
	srv, _ := newVault(t)
	cat := catalog.New(vault.New(srv.Client(t, srv.TokenWithPolicies(t, "admin", vault.PolicyAdmin)), vault.DefaultMounts))
	const pairs = 40
	start := make(chan struct{})
	var g errgroup.Group
	for i := range pairs * 2 {
		sum := fmt.Sprintf("%064x", 1000+i/2)
		g.Go(func() error {
			<-start
			return cat.PutRegistration(context.Background(), &catalog.Registration{ID: fmt.Sprintf("bk-race%04d", i), Key: fmt.Sprintf("bk-race%04d", i),
				Plaintext: catalog.FileInfo{Size: int64(i / 2), SHA256: sum}})
		})
	}
	close(start)
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	for i := range pairs {
		if sum := fmt.Sprintf("%064x", 1000+i); !marked(t, srv, sum) {
			t.Fatalf("pair %d registered at once left digest %s unmarked", i, sum)
		}
	}
}

// The backup-admin token, with plain Vault calls, may plant a shared mark
// (which only costs a listing) but can neither remove one nor declare the
// marks complete. A mark left out (as a raw API registration may leave
// it) hides the copy from plans until init marks it again; a catalog
// whose marks init has not completed is planned by looking up every
// digest.
func TestSharedMarksCannotHideACopy(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	a := mustProtectCopy(t, adminV, []byte("kept twice"))
	b := mustProtectCopy(t, adminV, []byte("kept twice"))
	insider := asRole(t, srv, vault.PolicyAdmin)
	for _, path := range []string{"cryptoshred/data/shared/", "cryptoshred/metadata/shared/"} {
		if _, err := insider.l.Delete(path + a.Plaintext.SHA256); err == nil {
			t.Fatalf("the admin token deleted %s", path+a.Plaintext.SHA256)
		}
	}
	other := protectIn(t, adminV, "other", []byte("only once"))
	insider.mustWrite("shared/"+other.Plaintext.SHA256, map[string]any{"digest": other.Plaintext.SHA256})
	planOf(t, adminV, complianceV, "MARKS", a, other)
	namesCopy := func(when string, want bool) {
		t.Helper()
		plan, err := adminV.PlanShred(context.Background(), "MARKS", catalog.Now())
		if err != nil {
			t.Fatal(err)
		}
		if w := warningsOf(plan, a.ID); strings.Contains(w, "backup "+b.ID+" ") != want {
			t.Fatalf("%s: plan names %s: %v, want %v (%q)", when, b.ID, !want, want, w)
		}
		if w := warningsOf(plan, other.ID); strings.Contains(w, "same plaintext") {
			t.Fatalf("%s: a planted mark made a warning: %q", when, w)
		}
	}
	namesCopy("marked", true)

	srv.KVDelete(t, "cryptoshred/metadata/shared/"+a.Plaintext.SHA256) // root: the mark a raw API call left out
	namesCopy("mark left out", false)
	root := vault.New(srv.Root(t), vault.DefaultMounts)
	if changes, err := root.Init(context.Background()); err != nil || !strings.Contains(fmt.Sprint(changes), "added 1 catalog index entries") {
		t.Fatalf("init: %v %v", changes, err)
	}
	namesCopy("marked again by init", true)

	srv.KVDelete(t, "cryptoshred/metadata/shared/"+a.Plaintext.SHA256) // root: as a catalog from before the marks
	srv.KVDelete(t, "cryptoshred/metadata/indexes/shared")
	if err := insider.write("indexes/shared", map[string]any{"complete": true}); err == nil {
		t.Fatal("the admin token declared the shared marks complete")
	}
	namesCopy("catalog from before the marks", true)
	changes, err := root.Init(context.Background())
	if err != nil || !strings.Contains(fmt.Sprint(changes), "recorded that every shared plaintext digest is marked") || !marked(t, srv, a.Plaintext.SHA256) {
		t.Fatalf("init of an old catalog: %v %v", changes, err)
	}
	if again, err := root.Init(context.Background()); err != nil || len(again) != 0 {
		t.Fatalf("second init: %v %v", again, err)
	}
}

// A copy is marked even when the size marker says no backup has its size:
// the size is a field of the registration the admin writes, and the
// markers of the first version's path are no longer the admin's to write.
func TestMarkDoesNotDependOnTheSizeMarker(t *testing.T) {
	srv, adminV, _ := roles(t)
	a := mustProtectCopy(t, adminV, []byte("a plaintext of 25 bytes.."))
	srv.KVDelete(t, fmt.Sprintf("cryptoshred/metadata/plaintext-sizes/%d", a.Plaintext.Size)) // root
	mustProtectCopy(t, adminV, []byte("a plaintext of 25 bytes.."))
	if !marked(t, srv, a.Plaintext.SHA256) {
		t.Fatal("a copy protected after its size marker went missing left its digest unmarked")
	}
	if err := asRole(t, srv, vault.PolicyAdmin).write("sizes/25", map[string]any{"id": a.ID}); err == nil {
		t.Fatal("the admin token wrote a size marker under the first version's path")
	}
}

func mustProtectCopy(t *testing.T, v *shred.Service, data []byte) *catalog.Backup {
	t.Helper()
	b, err := protectCopy(v, t.TempDir(), data)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// protectCopy protects data with --allow-duplicate; it may run off the
// test goroutine.
func protectCopy(v *shred.Service, dir string, data []byte) (*catalog.Backup, error) {
	src := filepath.Join(dir, "copy.tar")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		return nil, err
	}
	return v.Protect(context.Background(), admin, shred.ProtectRequest{Source: src, OutDir: dir, AllowDuplicate: true})
}

func marked(t *testing.T, srv *vaulttest.Server, sum string) bool {
	t.Helper()
	sec, err := srv.Root(t).Logical().Read("cryptoshred/data/shared/" + sum)
	if err != nil {
		t.Fatal(err)
	}
	return sec != nil && sec.Data["data"] != nil
}

// planOf holds backups for a new case, closes it and plans its shred.
func planOf(t *testing.T, adminV, complianceV *shred.Service, caseID string, backups ...*catalog.Backup) *shred.Plan {
	t.Helper()
	openCase(t, complianceV, caseID)
	for _, b := range backups {
		hold(t, complianceV, caseID, b.ID)
	}
	closeCase(t, complianceV, caseID)
	plan, err := adminV.PlanShred(context.Background(), caseID, catalog.Now())
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

func warningsOf(p *shred.Plan, id string) string {
	for _, it := range p.Items {
		if it.Backup.ID == id {
			return strings.Join(it.Warnings, "; ")
		}
	}
	return ""
}

// Whether another copy of the data stays readable is Vault's to say, not
// the status record's: the admin's token rewrites one copy's status as
// shredded and another's as a record of some other backup, with plain
// Vault calls; the plan's warnings and the attestation still name both,
// and not a copy whose key another case's run destroyed.
func TestStatusRecordsCannotHideACopy(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	data := []byte("kept four times")
	a, forged, garbled, destroyed := mustProtectCopy(t, adminV, data), mustProtectCopy(t, adminV, data),
		mustProtectCopy(t, adminV, data), mustProtectCopy(t, adminV, data)
	planOf(t, adminV, complianceV, "EARLIER", destroyed)
	if _, err := adminV.RunShred(context.Background(), admin, "EARLIER", runOpts(t)); err != nil {
		t.Fatal(err)
	}
	insider := asRole(t, srv, vault.PolicyAdmin)
	rec := insider.read("backups/" + forged.ID)
	rec["state"], rec["destruction"] = "shredded", map[string]any{"versionsDestroyed": []int{1}, "destroyedBy": "nobody"}
	insider.mustWrite("backups/"+forged.ID, rec)
	insider.mustWrite("backups/"+garbled.ID, map[string]any{"id": destroyed.ID, "key": destroyed.ID, "state": "shredded"})

	plan := planOf(t, adminV, complianceV, "COPIES", a)
	want := []string{forged.ID, garbled.ID}
	w := warningsOf(plan, a.ID)
	for _, id := range want {
		if !strings.Contains(w, "backup "+id+" ") {
			t.Errorf("plan does not name %s, still readable: %q", id, w)
		}
	}
	if strings.Contains(w, destroyed.ID) {
		t.Errorf("plan names %s, whose key is gone: %q", destroyed.ID, w)
	}
	res, err := adminV.Run(context.Background(), admin, plan, runOpts(t))
	if err != nil {
		t.Fatal(err)
	}
	got := attestedStatement(t, res.Attestation).Predicate.Backups
	if len(got) != 1 || !slices.Equal(slices.Sorted(slices.Values(got[0].SameDataStillIn)), slices.Sorted(slices.Values(want))) {
		t.Fatalf("attestation names %v as still holding the data, want %v", got[0].SameDataStillIn, want)
	}
}
