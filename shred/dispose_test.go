package shred_test

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

func TestDisposeOriginalDeleted(t *testing.T) {
	_, v := newVault(t)
	ctx := context.Background()
	b, src := protect(t, v, []byte("plaintext original"))
	got, err := v.DisposeOriginal(ctx, admin, shred.DisposeRequest{ID: b.ID, Method: "deleted", Note: "removed from the staging disk"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(src); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("original still there: %v", err)
	}
	if d := got.Original.Disposal; d == nil || d.Method != "deleted" || d.By != admin.String() {
		t.Fatalf("disposal: %+v", d)
	}
	if _, err := v.DisposeOriginal(ctx, admin, shred.DisposeRequest{ID: b.ID, Method: "deleted", Note: "again"}); !errors.Is(err, shred.ErrRefused) {
		t.Fatalf("second disposal: %v", err)
	}
}

func TestDisposeOriginalRefusesChangedFile(t *testing.T) {
	_, v := newVault(t)
	b, src := protect(t, v, []byte("plaintext original"))
	if err := os.WriteFile(src, []byte("something else now"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := v.DisposeOriginal(context.Background(), admin, shred.DisposeRequest{ID: b.ID, Method: "deleted", Note: "n"})
	if !errors.Is(err, shred.ErrRefused) {
		t.Fatalf("disposal of a changed file: %v", err)
	}
	if _, err := os.Stat(src); err != nil {
		t.Fatal("a changed original was deleted")
	}
}

// TestDisposeOriginalSaysWhatItDidNotFind: an original that is not there,
// or that another name still links to, is not recorded as deleted by
// cryptoshred: the first is recorded with the note that nothing was
// there to delete, the second refused with the file left as it is.
func TestDisposeOriginalSaysWhatItDidNotFind(t *testing.T) {
	_, v := newVault(t)
	ctx := context.Background()
	moved, src := protect(t, v, []byte("moved away before its disposal"))
	if err := os.Rename(src, src+".elsewhere"); err != nil {
		t.Fatal(err)
	}
	got, err := v.DisposeOriginal(ctx, admin, shred.DisposeRequest{ID: moved.ID, Method: "deleted", Note: "removed"})
	if err != nil || !strings.Contains(got.Original.Disposal.Note, "found nothing at "+src+" to delete") {
		t.Fatalf("disposal of a missing original: %+v %v", got, err)
	}
	linked, src := protect(t, v, []byte("kept under a second name"))
	if err := os.Link(src, src+".snapshot"); err != nil {
		t.Fatal(err)
	}
	_, err = v.DisposeOriginal(ctx, admin, shred.DisposeRequest{ID: linked.ID, Method: "deleted", Note: "removed"})
	if !errors.Is(err, shred.ErrRefused) || !strings.Contains(err.Error(), "hard links") {
		t.Fatalf("disposal of an original with a second name: %v", err)
	}
	if _, err := os.Stat(src); err != nil {
		t.Fatal("an original with a second name was deleted")
	}
}

// TestDisposeOriginalKeepsTheLastCopy: with its ciphertext gone while Vault
// still has the key, a backup's original may be the only copy left, and
// is not deleted.
func TestDisposeOriginalKeepsTheLastCopy(t *testing.T) {
	_, v := newVault(t)
	b, src := protect(t, v, []byte("the ciphertext of this was lost"))
	if err := os.Remove(b.Ciphertext.Path); err != nil {
		t.Fatal(err)
	}
	_, err := v.DisposeOriginal(context.Background(), admin, shred.DisposeRequest{ID: b.ID, Method: "deleted", Note: "removed"})
	if !errors.Is(err, shred.ErrRefused) || !strings.Contains(err.Error(), "may be the only copy left") {
		t.Fatalf("disposal of the original of a backup whose ciphertext is gone: %v", err)
	}
	if _, err := os.Stat(src); err != nil {
		t.Fatal("the last copy was deleted")
	}
}

// TestDisposeOriginalRefusesAStatusRecordWithNoRegistration: the admin,
// with a plain Vault call, writes a status record for a new id that
// copies another backup's original (its path and digest are in that
// backup's registration, which every role may read), whose ciphertext was
// lost. Disposing of the planted id's original is refused, and the last
// copy of the other backup's data stays.
func TestDisposeOriginalRefusesAStatusRecordWithNoRegistration(t *testing.T) {
	srv, adminV, _ := roles(t)
	b, src := protect(t, adminV, []byte("the ciphertext of this was lost"))
	if err := os.Remove(b.Ciphertext.Path); err != nil {
		t.Fatal(err)
	}
	in := asRole(t, srv, vault.PolicyAdmin)
	orig := in.read("registrations/" + b.ID)["original"].(map[string]any)
	orig["encryptedAfterFirstStorage"] = true
	planted := catalog.NewBackupID()
	in.mustWrite("backups/"+planted, map[string]any{"id": planted, "key": planted, "name": "x.age", "state": "protected",
		"ciphertext": map[string]any{"path": "/nonexistent/x.age", "size": 1, "sha256": ""},
		"plaintext":  map[string]any{"path": "", "size": 1, "sha256": ""},
		"original":   orig, "createdAt": "2026-01-01T00:00:00Z", "createdBy": "x"})
	_, err := adminV.DisposeOriginal(context.Background(), admin, shred.DisposeRequest{ID: planted, Method: "deleted", Note: "removed"})
	if !errors.Is(err, shred.ErrRefused) || !strings.Contains(err.Error(), "has no registration") {
		t.Errorf("disposal of the original a status record with no registration names: %v", err)
	}
	if _, err := os.Stat(src); err != nil {
		t.Fatalf("the last copy of %s's data was deleted through a record with no registration: %v", b.ID, err)
	}
}

// plantRegistration writes, as the admin with plain Vault calls, a
// registration and a status record for a new id that name original, the
// registered original of another backup, with the ciphertext given, and
// returns the new id (also its key's name).
func plantRegistration(t *testing.T, in insider, ciphertext, original map[string]any) string {
	t.Helper()
	planted := catalog.NewBackupID()
	rec := map[string]any{"id": planted, "key": planted, "name": "x.age", "ciphertext": ciphertext,
		"plaintext": map[string]any{"path": "", "size": 1, "sha256": ""},
		"original":  original, "createdAt": "2026-01-01T00:00:00Z", "createdBy": "x"}
	in.mustWrite("registrations/"+planted, rec)
	st := maps.Clone(rec)
	st["state"] = "protected"
	in.mustWrite("backups/"+planted, st)
	return planted
}

// lostCiphertext protects data as the admin and removes its ciphertext, so
// the original is the last copy; it returns the backup, its original and
// the original as its registration records it.
func lostCiphertext(t *testing.T, srv *vaulttest.Server, adminV *shred.Service) (*catalog.Backup, string, map[string]any) {
	t.Helper()
	b, src := protect(t, adminV, []byte("the ciphertext of this was lost"))
	if err := os.Remove(b.Ciphertext.Path); err != nil {
		t.Fatal(err)
	}
	orig := asRole(t, srv, vault.PolicyAdmin).read("registrations/" + b.ID)["original"].(map[string]any)
	return b, src, orig
}

// TestDisposeOriginalRefusesThroughAPlantedRegistrationWithoutKey: the
// admin creates a registration (create is allowed) and a status record
// for a new id, with no key in Vault, copying the original of a backup
// whose ciphertext was lost. Disposing of the new id with deleted is
// refused, and the last copy stays: the new id's key is gone with no
// destruction recorded, and the digest index still names the backup
// whose ciphertext was lost.
func TestDisposeOriginalRefusesThroughAPlantedRegistrationWithoutKey(t *testing.T) {
	srv, adminV, _ := roles(t)
	b, src, orig := lostCiphertext(t, srv, adminV)
	if _, err := adminV.DisposeOriginal(context.Background(), admin, shred.DisposeRequest{ID: b.ID, Method: "deleted", Note: "removed"}); !errors.Is(err, shred.ErrRefused) {
		t.Fatalf("disposal of the backup's own original: %v", err)
	}
	planted := plantRegistration(t, asRole(t, srv, vault.PolicyAdmin),
		map[string]any{"path": "/nonexistent/x.age", "size": 1, "sha256": ""}, orig)
	_, err := adminV.DisposeOriginal(context.Background(), admin, shred.DisposeRequest{ID: planted, Method: "deleted", Note: "removed"})
	if !errors.Is(err, shred.ErrRefused) || !strings.Contains(err.Error(), "may be the only copy left") {
		t.Errorf("disposal of the original a planted registration names: %v", err)
	}
	if _, err := os.Stat(src); err != nil {
		t.Fatalf("the last copy of %s's data was deleted through a planted registration: %v", b.ID, err)
	}
}

// TestDisposeOriginalRefusesWhileAnotherBackupOfItHasLostItsCiphertext:
// the planted registration names the intact ciphertext of another backup
// of the admin's, and the admin creates its key in Vault (the admin role
// may create Transit keys), so its own checks pass; the digest index
// still names the backup whose ciphertext was lost, with its key in
// Vault, and the original is kept as that backup's last copy.
func TestDisposeOriginalRefusesWhileAnotherBackupOfItHasLostItsCiphertext(t *testing.T) {
	srv, adminV, _ := roles(t)
	b, src, orig := lostCiphertext(t, srv, adminV)
	in := asRole(t, srv, vault.PolicyAdmin)
	intact, _ := protect(t, adminV, []byte("another backup, intact"))
	planted := plantRegistration(t, in, in.read("registrations/" + intact.ID)["ciphertext"].(map[string]any), orig)
	if _, err := in.l.Write("cryptoshred-transit/keys/"+planted, map[string]any{"type": "aes256-gcm96"}); err != nil {
		t.Fatal(err)
	}
	_, err := adminV.DisposeOriginal(context.Background(), admin, shred.DisposeRequest{ID: planted, Method: "deleted", Note: "removed"})
	if !errors.Is(err, shred.ErrRefused) || !strings.Contains(err.Error(), "backup "+b.ID+" has the same plaintext") {
		t.Errorf("disposal of an original whose other backup lost its ciphertext: %v", err)
	}
	if _, err := os.Stat(src); err != nil {
		t.Fatalf("the last copy of %s's data was deleted: %v", b.ID, err)
	}
}

// TestDisposeOriginalAfterItsShredDeletesIt: a backup whose key a run
// destroyed, and recorded destroying, has its original deleted, though
// its key is gone and its ciphertext with it.
func TestDisposeOriginalAfterItsShredDeletesIt(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	b, src := protect(t, adminV, []byte("shredded, then its staging copy removed"))
	openCase(t, complianceV, "GONE")
	hold(t, complianceV, "GONE", b.ID)
	closeCase(t, complianceV, "GONE")
	if res, err := adminV.RunShred(context.Background(), admin, "GONE", runOpts(t)); err != nil || len(res.Destroyed) != 1 {
		t.Fatalf("shred run: %+v %v", res, err)
	}
	if alive, _ := keyAlive(t, srv, b.Key); alive {
		t.Fatal("the key outlived its shred")
	}
	if _, err := adminV.DisposeOriginal(context.Background(), admin, shred.DisposeRequest{ID: b.ID, Method: "deleted", Note: "removed"}); err != nil {
		t.Fatalf("disposal of a shredded backup's original: %v", err)
	}
	if _, err := os.Stat(src); !os.IsNotExist(err) {
		t.Fatalf("the original is still there: %v", err)
	}
}

// TestAttestationStatesProvenance: one original disposed of with deleted,
// one declared media-sanitized with evidence, one never accounted for.
func TestAttestationStatesProvenance(t *testing.T) {
	_, v := newVault(t)
	ctx := context.Background()
	backups := closedCase(t, v, "PROV", 3)
	evidence := filepath.Join(t.TempDir(), "sanitisation-certificate.pdf")
	_ = os.WriteFile(evidence, []byte("%PDF certificate"), 0o600)
	if _, err := v.DisposeOriginal(ctx, admin, shred.DisposeRequest{ID: backups[0].ID, Method: "deleted", Note: "deleted"}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.DisposeOriginal(ctx, admin, shred.DisposeRequest{ID: backups[1].ID, Method: "media-sanitized",
		Note: "tapes sanitised by the supplier", Evidence: evidence}); err != nil {
		t.Fatal(err)
	}
	if _, err := open(t, v, backups[2].ID); err != nil {
		t.Fatal(err)
	}
	plan, _ := v.PlanShred(ctx, "PROV", time.Now())
	warned := 0
	for _, it := range plan.Items {
		warned += len(it.Warnings)
	}
	if warned != 1 {
		t.Fatalf("plan warned %d times, want 1", warned)
	}
	if _, err := v.RunShred(ctx, admin, "PROV", runOpts(t)); err != nil {
		t.Fatal(err)
	}
	signer := testSigner(t)
	a, err := v.Attest(ctx, admin, "PROV", shred.AttestOptions{Signer: signer, SnapshotRetention: time.Hour, ToolVersion: "t"})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := attest.Verify(ctx, a.Envelope, signer, attest.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]attest.Backup{}
	for _, b := range rep.Statement.Predicate.Backups {
		byID[b.BackupID] = b
	}
	if o := byID[backups[0].ID].Original; o == nil || o.Disposal != "deleted" || o.At == nil {
		t.Fatalf("deleted original: %+v", o)
	}
	if o := byID[backups[1].ID].Original; o == nil || o.Disposal != "media-sanitized" || o.Evidence == nil || o.Evidence.Name != "sanitisation-certificate.pdf" {
		t.Fatalf("sanitised original: %+v", o)
	}
	if u := byID[backups[2].ID]; u.Original.Disposal != attest.DisposalUnknown || u.KeyUnwraps.Count != 1 || u.KeyUnwraps.Last == nil {
		t.Fatalf("unknown original: %+v, unwraps %+v", u.Original, u.KeyUnwraps)
	}
	// One warning for the unknown original, one for the restored copy
	// the open wrote, whose disposal nobody recorded.
	if u := byID[backups[2].ID]; len(u.RestoredCopies) != 1 || u.RestoredCopies[0].DisposedAt != nil {
		t.Fatalf("restored copies: %+v", u.RestoredCopies)
	}
	if len(rep.Warnings) != 2 || !strings.Contains(rep.Warnings[1], "was restored to") {
		t.Fatalf("verify warnings: %v", rep.Warnings)
	}
}

func TestRequireOriginalsDisposedSkipsUndisposed(t *testing.T) {
	_, v := newVault(t)
	ctx := context.Background()
	backups := closedCase(t, v, "REQ", 2)
	if _, err := v.DisposeOriginal(ctx, admin, shred.DisposeRequest{ID: backups[0].ID, Method: "not-ours", Note: "held by the supplier"}); err != nil {
		t.Fatal(err)
	}
	res, err := v.RunShred(ctx, admin, "REQ", withAttest(t, shred.RunOptions{RequireOriginalsDisposed: true}))
	if err != nil || len(res.Destroyed) != 1 || res.Destroyed[0].ID != backups[0].ID || len(res.Skipped) != 1 {
		t.Fatalf("run: %+v %v", res, err)
	}
	if key, _ := v.KeyInfo(ctx, backups[1].Key); key == nil {
		t.Fatal("the backup whose original is unaccounted for lost its key")
	}
}

// TestDisposeOriginalOfABackupShreddedByAnOlderVersion: a backup a version
// before the destruction records shredded (its status says shredded with
// its destruction, its key is gone, the ledger lists it), which plans and
// attestations count as shredded, has its original deleted.
func TestDisposeOriginalOfABackupShreddedByAnOlderVersion(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	b, src := protect(t, adminV, []byte("shredded by an older version"))
	openCase(t, complianceV, "OLD")
	hold(t, complianceV, "OLD", b.ID)
	closeCase(t, complianceV, "OLD")
	legacyShredded(t, srv, "OLD", b, "")
	if _, err := adminV.DisposeOriginal(context.Background(), admin, shred.DisposeRequest{ID: b.ID, Method: "deleted", Note: "removed"}); err != nil {
		t.Fatalf("disposal of the original of a backup an older version shredded: %v", err)
	}
	if _, err := os.Stat(src); !os.IsNotExist(err) {
		t.Fatalf("the original is still there: %v", err)
	}
}

// TestDisposeOriginalIgnoresAFolderInItsDigestIndex: a folder the admin
// creates under the original's digest (create-only, so no role can remove
// it) names no backup and does not block the disposal.
func TestDisposeOriginalIgnoresAFolderInItsDigestIndex(t *testing.T) {
	srv, adminV, _ := roles(t)
	b, src := protect(t, adminV, []byte("an ordinary backup"))
	asRole(t, srv, vault.PolicyAdmin).mustWrite("digests/"+b.Original.SHA256+"/junk/x", map[string]any{"x": 1})
	if _, err := adminV.DisposeOriginal(context.Background(), admin, shred.DisposeRequest{ID: b.ID, Method: "deleted", Note: "removed"}); err != nil {
		t.Fatalf("disposal with a folder in the digest index: %v", err)
	}
	if _, err := os.Stat(src); !os.IsNotExist(err) {
		t.Fatalf("the original is still there: %v", err)
	}
}

// TestDisposeOriginalIgnoresAnIndexEntryOfAnotherPlaintext: an entry the
// admin creates under the original's digest naming an unrelated backup
// (one whose ciphertext was lost, so checking it would refuse) names no
// copy of this original: that backup's registration records another
// digest, and the disposal goes ahead.
func TestDisposeOriginalIgnoresAnIndexEntryOfAnotherPlaintext(t *testing.T) {
	srv, adminV, _ := roles(t)
	unrelated, _, _ := lostCiphertext(t, srv, adminV)
	b, src := protect(t, adminV, []byte("an ordinary backup"))
	asRole(t, srv, vault.PolicyAdmin).mustWrite("digests/"+b.Original.SHA256+"/"+unrelated.ID, map[string]any{"id": unrelated.ID})
	if _, err := adminV.DisposeOriginal(context.Background(), admin, shred.DisposeRequest{ID: b.ID, Method: "deleted", Note: "removed"}); err != nil {
		t.Fatalf("disposal with an index entry naming an unrelated backup: %v", err)
	}
	if _, err := os.Stat(src); !os.IsNotExist(err) {
		t.Fatalf("the original is still there: %v", err)
	}
}
