package shred_test

// Attacks by the people cryptoshred constrains, made as they would make
// them: plain Vault HTTP calls with their own role's token, no
// cryptoshred code involved. Each test then shows the product refusing,
// detecting or ignoring the change, and that nothing held was lost.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/internal/fsutil"
	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
	"github.com/cryptoshred/cryptoshred/shred/storage"
	"github.com/cryptoshred/cryptoshred/shred/storage/local"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// insider is a role token used with plain Vault calls.
type insider struct {
	t *testing.T
	l *api.Logical
}

func asRole(t *testing.T, srv *vaulttest.Server, policy string) insider {
	return insider{t, srv.Client(t, srv.TokenWithPolicies(t, "insider-"+policy, policy)).Logical()}
}

// read returns the data of KV record path (under the cryptoshred mount).
func (in insider) read(path string) map[string]any {
	in.t.Helper()
	sec, err := in.l.Read("cryptoshred/data/" + path)
	if err != nil || sec == nil {
		in.t.Fatalf("read %s: %v", path, err)
	}
	return sec.Data["data"].(map[string]any)
}

// write overwrites KV record path with data.
func (in insider) write(path string, data map[string]any) error {
	_, err := in.l.Write("cryptoshred/data/"+path, map[string]any{"data": data})
	return err
}

func (in insider) mustWrite(path string, data map[string]any) {
	in.t.Helper()
	if err := in.write(path, data); err != nil {
		in.t.Fatalf("write %s: %v", path, err)
	}
}

func keyAlive(t *testing.T, srv *vaulttest.Server, key string) (alive, latched bool) {
	t.Helper()
	sec, err := srv.Root(t).Logical().Read("cryptoshred-transit/keys/" + key)
	if err != nil {
		t.Fatal(err)
	}
	if sec == nil {
		return false, false
	}
	return true, sec.Data["deletion_allowed"] != true
}

func roles(t *testing.T) (*vaulttest.Server, *shred.Service, *shred.Service) {
	srv, _ := newVault(t)
	return srv, roleVault(t, srv, vault.PolicyAdmin), roleVault(t, srv, vault.PolicyCompliance)
}

// Attack 1: the admin drops case B from a backup's heldBy; closing case A
// must still not release what B holds.
func TestAttackAdminRewritesHeldBy(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	b, _ := protect(t, adminV, []byte("held by two cases"))
	openCase(t, complianceV, "A")
	openCase(t, complianceV, "B")
	hold(t, complianceV, "A", b.ID)
	hold(t, complianceV, "B", b.ID)

	admin := asRole(t, srv, vault.PolicyAdmin)
	rec := admin.read("backups/" + b.ID)
	rec["heldBy"] = []string{"A"}
	admin.mustWrite("backups/"+b.ID, rec)
	if err := admin.write("holds/B/"+b.ID, map[string]any{"case": "B", "backup": b.ID, "releasedAt": "2026-01-01T00:00:00Z"}); err == nil {
		t.Fatal("the admin token rewrote a hold record")
	}

	res := closeCase(t, complianceV, "A")
	if !slices.Contains(res.StillHeld, b.ID) || slices.Contains(res.Released, b.ID) {
		t.Fatalf("closing A released a backup case B holds: %+v", res)
	}
	if alive, latched := keyAlive(t, srv, b.Key); !alive || !latched {
		t.Fatalf("key after closing A: alive %t, latched %t", alive, latched)
	}
	if _, err := admin.l.Delete("cryptoshred-transit/keys/" + b.Key); err == nil {
		t.Fatal("the admin deleted a key case B holds")
	}
}

// Attack 2: records that name files. The admin points a backup's status
// record at another backup's ciphertext and at the signing key, and
// plants a "protecting" record on a held ciphertext; no file but the
// backup's own ciphertext and original may be deleted.
func TestAttackRecordsNameOtherFiles(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	victim, _ := protect(t, adminV, []byte("held backup"))
	doomed, original := protect(t, adminV, []byte("released backup"))
	secret := writeFile(t, t.TempDir(), "signer.key", []byte("PRIVATE KEY"))
	openCase(t, complianceV, "KEEP")
	hold(t, complianceV, "KEEP", victim.ID)
	openCase(t, complianceV, "GO")
	hold(t, complianceV, "GO", doomed.ID)
	closeCase(t, complianceV, "GO")

	admin := asRole(t, srv, vault.PolicyAdmin)
	rec := admin.read("backups/" + doomed.ID)
	rec["ciphertext"].(map[string]any)["path"] = victim.Ciphertext.Path
	rec["original"].(map[string]any)["path"] = secret
	admin.mustWrite("backups/"+doomed.ID, rec)
	reg := admin.read("registrations/" + doomed.ID)
	reg["ciphertext"].(map[string]any)["path"] = victim.Ciphertext.Path
	if err := admin.write("registrations/"+doomed.ID, reg); err == nil {
		t.Fatal("the admin token rewrote a write-once registration")
	}

	if _, err := adminV.DisposeOriginal(context.Background(), admin0, shred.DisposeRequest{ID: doomed.ID, Method: "deleted", Note: "n"}); err != nil {
		t.Fatalf("dispose-original: %v", err)
	}
	res, err := adminV.RunShred(context.Background(), admin0, "GO", runOpts(t))
	if err != nil || len(res.Destroyed) != 1 {
		t.Fatalf("shred run: %+v %v", res, err)
	}
	mustExist(t, victim.Ciphertext.Path, secret)
	mustBeGone(t, doomed.Ciphertext.Path, original)
	if d := res.Destroyed[0].Destruction; !d.CiphertextDeleted {
		t.Fatalf("own ciphertext not deleted: %+v", d)
	}
}

// Attack 2, protect's resume: a planted "protecting" record naming a held
// backup's ciphertext must not make an operator's protect delete it.
func TestAttackPlantedProtectingRecord(t *testing.T) {
	srv, adminV, _ := roles(t)
	victim, _ := protect(t, adminV, []byte("held backup"))
	admin := asRole(t, srv, vault.PolicyAdmin)
	admin.mustWrite("backups/"+victim.ID, map[string]any{"id": victim.ID, "key": victim.ID, "name": victim.Name,
		"state": "protecting", "ciphertext": map[string]any{"path": victim.Ciphertext.Path}})
	src := writeFile(t, t.TempDir(), filepath.Base(strings.TrimSuffix(victim.Ciphertext.Path, ".age")), []byte("new data"))
	_, err := adminV.Protect(context.Background(), admin0, shred.ProtectRequest{Source: src, OutDir: filepath.Dir(victim.Ciphertext.Path)})
	if err == nil {
		t.Fatal("protect over a registered backup's ciphertext succeeded")
	}
	mustExist(t, victim.Ciphertext.Path)
	if got, err := open(t, adminV, victim.ID); err != nil || string(got) != "held backup" {
		t.Fatalf("held backup after the attack: %q %v", got, err)
	}
}

// Attack 3: a compliance token marks a held backup shredded; the
// attestation must not say its key was destroyed.
func TestAttackForgedShreddedRecord(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	gone, _ := protect(t, adminV, []byte("released"))
	kept, _ := protect(t, adminV, []byte("still held"))
	openCase(t, complianceV, "OTHER")
	hold(t, complianceV, "OTHER", kept.ID)
	openCase(t, complianceV, "CLOSE")
	hold(t, complianceV, "CLOSE", gone.ID, kept.ID)
	closeCase(t, complianceV, "CLOSE")

	comp := asRole(t, srv, vault.PolicyCompliance)
	rec := comp.read("backups/" + kept.ID)
	rec["state"] = "shredded"
	rec["destruction"] = map[string]any{"versionsDestroyed": []int{1}, "destroyedAt": "2026-11-28T10:00:00Z", "destroyedBy": "x",
		"verification": "forged", "verifiedAt": "2026-11-28T10:00:00Z", "mountPresent": true, "ciphertextDeleted": true, "recorded": true}
	comp.mustWrite("backups/"+kept.ID, rec)

	res, err := adminV.RunShred(context.Background(), admin0, "CLOSE", runOpts(t))
	if !errors.Is(err, shred.ErrPartial) || res == nil || res.Attestation == nil {
		t.Fatalf("shred run with a forged record: %v (want a partial attestation that leaves the forged backup out)", err)
	}
	st := attestedStatement(t, res.Attestation)
	if len(st.Predicate.Backups) != 1 || st.Predicate.Backups[0].BackupID != gone.ID {
		t.Fatalf("attested %+v, want only %s", st.Predicate.Backups, gone.ID)
	}
	if !strings.Contains(err.Error(), kept.ID) || !strings.Contains(err.Error(), "held by case(s) OTHER") {
		t.Fatalf("the error does not name the forged backup: %v", err)
	}
	if alive, latched := keyAlive(t, srv, kept.Key); !alive || !latched {
		t.Fatalf("held key: alive %t latched %t", alive, latched)
	}
}

// Attack 4: junk written at the next ledger slot, and the head moved
// backwards, by role tokens.
func TestAttackLedgerJunkAndHead(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	b, _ := protect(t, adminV, []byte("opened later"))
	openCase(t, complianceV, "J")
	rep, err := adminV.VerifyLedger(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	admin := asRole(t, srv, vault.PolicyAdmin)
	if err := admin.write("ledger/000000000001", map[string]any{"entry": "{}"}); err == nil {
		t.Fatal("the admin token overwrote a ledger entry")
	}
	junkSeq := rep.Entries + 1
	admin.mustWrite(slotPath(junkSeq), map[string]any{"garbage": true})
	if _, err := open(t, adminV, b.ID); err != nil {
		t.Fatalf("open after junk in the ledger: %v", err)
	}
	hold(t, complianceV, "J", b.ID)
	admin.mustWrite("ledger/head", map[string]any{"seq": 1, "hash": "sha256:" + strings.Repeat("0", 64)})

	rep, err = adminV.VerifyLedger(context.Background())
	if !errors.Is(err, shred.ErrLedgerBroken) || !strings.Contains(err.Error(), fmt.Sprintf("ledger slot %d ", junkSeq)) ||
		!strings.Contains(err.Error(), "moved backwards") {
		t.Fatalf("verify after junk and a moved head: %v", err)
	}
	access, err := adminV.AccessReport(context.Background(), time.Time{})
	if err != nil || len(access) != 1 || access[0].Backup != b.ID {
		t.Fatalf("access report with a moved head: %+v %v", access, err)
	}
	entries, err := adminV.Entries(context.Background())
	if err != nil || entries[len(entries)-1].Kind != ledger.KindHoldPlaced {
		t.Fatalf("entries after the junk: %v", err)
	}
}

// Attack 5: junk under backups/ and a shredded record without a
// destruction must not stop listing, holds or planning.
func TestAttackJunkCatalogRecords(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	a, _ := protect(t, adminV, []byte("a"))
	b, _ := protect(t, adminV, []byte("b"))
	admin := asRole(t, srv, vault.PolicyAdmin)
	admin.mustWrite("backups/bk-junk", map[string]any{"junk": 1})
	rec := admin.read("backups/" + b.ID)
	rec["state"] = "shredded"
	delete(rec, "destruction")
	admin.mustWrite("backups/"+b.ID, rec)

	list, skipped, err := adminV.ListBackups(context.Background(), catalog.BackupFilter{})
	if err != nil || len(list) != 2 || len(skipped) != 1 || !strings.Contains(skipped[0].Error(), "bk-junk") {
		t.Fatalf("list with a junk record: %d listed, skipped %v, %v", len(list), skipped, err)
	}
	openCase(t, complianceV, "S")
	held, err := complianceV.PlaceHolds(context.Background(), compliance, "S", shred.HoldSelector{System: "casework"})
	if len(held) != 2 || !slices.Contains(held, a.ID) || !slices.Contains(held, b.ID) {
		t.Fatalf("system hold with junk around: held %v, %v", held, err)
	}
	closeCase(t, complianceV, "S")
	plan, err := adminV.PlanShred(context.Background(), "S", time.Now())
	if err != nil || plan.Count(shred.ActionDestroy) != 2 {
		t.Fatalf("plan: %+v %v", plan, err)
	}
}

// Attack 6: a fabricated record naming the attestation signing key.
func TestAttackFabricatedRecordForSigningKey(t *testing.T) {
	srv, _, complianceV := roles(t)
	if _, err := srv.Root(t).Logical().Write("cryptoshred-transit/keys/attest-signer", map[string]any{"type": "ed25519"}); err != nil {
		t.Fatal(err)
	}
	admin := asRole(t, srv, vault.PolicyAdmin)
	fake := map[string]any{"id": "attest-signer", "key": "attest-signer", "name": "x.age", "system": "casework"}
	admin.mustWrite("registrations/attest-signer", fake)
	fake["state"] = "protected"
	admin.mustWrite("backups/attest-signer", fake)
	openCase(t, complianceV, "F")
	if _, err := complianceV.PlaceHolds(context.Background(), compliance, "F", shred.HoldSelector{IDs: []string{"attest-signer"}}); !errors.Is(err, shred.ErrRefused) {
		t.Fatalf("hold on the signing key: %v", err)
	}
	if held, err := complianceV.PlaceHolds(context.Background(), compliance, "F", shred.HoldSelector{System: "casework"}); len(held) != 0 {
		t.Fatalf("system hold took %v (%v)", held, err)
	}
	if alive, latched := keyAlive(t, srv, "attest-signer"); !alive || !latched {
		t.Fatalf("signing key: alive %t latched %t", alive, latched)
	}
}

// Attack 7: credentials in VAULT_ADDR never reach the attestation.
func TestAddressUserinfoIsRedacted(t *testing.T) {
	srv, _ := newVault(t)
	c := srv.Root(t)
	if err := c.SetAddress(strings.Replace(c.Address(), "http://", "http://operator:s3cret@", 1)); err != nil {
		t.Fatal(err)
	}
	ks, err := vault.New(c, vault.DefaultMounts).Describe(context.Background())
	if err != nil || strings.Contains(ks.Address, "s3cret") || strings.Contains(ks.Address, "operator") {
		t.Fatalf("key store address %q (%v)", ks.Address, err)
	}
}

var admin0 = admin

func slotPath(seq int64) string { return fmt.Sprintf("ledger/%012d", seq) }

// attestedStatement returns the statement of an issued envelope.
func attestedStatement(t *testing.T, a *shred.Attestation) *attest.Statement {
	t.Helper()
	st, err := attest.ParseUnverified(a.Envelope)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func mustExist(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s was deleted: %v", p, err)
		}
	}
}

func mustBeGone(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			t.Fatalf("%s is still there", p)
		}
	}
}

// A hold record that a compliance officer writes with a plain API call
// after the plan keeps that backup out of the run's attestation, whether
// it is another case's new record or the run's own case's record made
// active again: every hold record is read again at signing.
func TestAttestationReadsHoldsWrittenAfterThePlan(t *testing.T) {
	for _, holder := range []string{"OTHER", "LATE"} {
		t.Run(holder, func(t *testing.T) { checkLateHold(t, holder) })
	}
}

// checkLateHold has holder's hold record on one of case LATE's two
// released backups written after the plan, then runs that plan.
func checkLateHold(t *testing.T, holder string) {
	srv, adminV, complianceV := roles(t)
	ctx := context.Background()
	kept, _ := protect(t, adminV, []byte("kept out"))
	other, _ := protect(t, adminV, []byte("attested"))
	openCase(t, complianceV, "LATE")
	hold(t, complianceV, "LATE", kept.ID, other.ID)
	closeCase(t, complianceV, "LATE")
	plan, err := adminV.PlanShred(ctx, "LATE", time.Now())
	if err != nil || plan.Count(shred.ActionDestroy) != 2 {
		t.Fatalf("plan: %+v %v", plan, err)
	}
	comp := asRole(t, srv, vault.PolicyCompliance)
	comp.mustWrite("holds/"+holder+"/"+kept.ID, map[string]any{"case": holder, "backup": kept.ID,
		"placedAt": catalog.Now().Format(time.RFC3339Nano), "placedBy": "plain API call"})
	res, err := adminV.Run(ctx, admin0, plan, runOpts(t))
	if !errors.Is(err, shred.ErrPartial) || res == nil || res.Attestation == nil {
		t.Fatalf("run: %v (want a partial attestation that leaves %s out)", err, kept.ID)
	}
	if got := attestedStatement(t, res.Attestation).Predicate.Backups; len(got) != 1 || got[0].BackupID != other.ID {
		t.Fatalf("attested %+v, want only %s", got, other.ID)
	}
	if !strings.Contains(err.Error(), kept.ID) || !strings.Contains(err.Error(), "held by case(s) "+holder) {
		t.Fatalf("the error does not name the held backup: %v", err)
	}
}

// A status record an admin forges to say shredded, for a released backup
// whose key Vault still holds and no ledger entry lists, is named for what
// it is: the attestation says its key is still in Vault, not that a run
// has yet to record it.
func TestAttackShreddedRecordOfALiveKey(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	b := protectHeld(t, adminV, complianceV, "ALIVE", []byte("released, key alive"))
	closeCase(t, complianceV, "ALIVE")
	writeShreddedRecord(asRole(t, srv, vault.PolicyAdmin), b.ID, "forged")
	_, err := adminV.Attest(context.Background(), admin0, "ALIVE", runOpts(t).Attest)
	if !errors.Is(err, shred.ErrRefused) || !strings.Contains(err.Error(), "its key "+b.Key+" is still in Vault") {
		t.Fatalf("attest over a forged shredded record: %v", err)
	}
	if alive, _ := keyAlive(t, srv, b.Key); !alive {
		t.Fatal("the key is gone")
	}
}

// writeShreddedRecord rewrites backup id's status record with in's token,
// through a plain Vault call, to say shredded, with a destruction whose
// verification text is verification.
func writeShreddedRecord(in insider, id, verification string) {
	in.t.Helper()
	writeDestruction(in, id, destructionRecord("plain API call", verification))
}

// destructionRecord is a destruction as a status record holds it, by
// whom, verified as verification says, its ciphertext deleted.
func destructionRecord(by, verification string) map[string]any {
	now := catalog.Now().Format(time.RFC3339Nano)
	return map[string]any{"versionsDestroyed": []int{1}, "destroyedAt": now, "destroyedBy": by,
		"verification": verification, "verifiedAt": now, "mountPresent": true, "ciphertextDeleted": true}
}

// recordedDestruction returns what the destruction records of caseID,
// read with plain calls, say of backup id's destruction.
func recordedDestruction(t *testing.T, in insider, caseID, id string) map[string]any {
	t.Helper()
	sec, err := in.l.List("cryptoshred/metadata/destructions/" + caseID + "/")
	if err != nil || sec == nil {
		t.Fatalf("list the destruction records of %s: %v", caseID, err)
	}
	for _, name := range sec.Data["keys"].([]any) {
		rec := in.read("destructions/" + caseID + "/" + name.(string))
		if d, ok := rec["backups"].(map[string]any)[id].(map[string]any); ok {
			return d
		}
	}
	t.Fatalf("no destruction record of %s names %s", caseID, id)
	return nil
}

// writeDestruction overwrites backup id's status record as shredded with
// destruction d.
func writeDestruction(in insider, id string, d map[string]any) {
	in.t.Helper()
	rec := in.read("backups/" + id)
	rec["state"] = string(catalog.StateShredded)
	rec["destruction"] = d
	in.mustWrite("backups/"+id, rec)
}

// Attack: the admin gives a stream backup, which has no original, one in
// its status record: made far in the future, so that a hold of what a
// system made before a date passes it over, and at another file with
// that file's digest, so that dispose-original would delete that file.
// The registration records no original, and that is what counts.
func TestAttackAdminInventsAnOriginal(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	ctx := context.Background()
	stream, err := adminV.Protect(ctx, admin, shred.ProtectRequest{Input: strings.NewReader("pg_dump output"), Name: "db.sql",
		OutDir: t.TempDir(), System: "payroll"})
	if err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(t.TempDir(), "payroll.db")
	if err := os.WriteFile(victim, []byte("the live database"), 0o600); err != nil {
		t.Fatal(err)
	}
	insider := asRole(t, srv, vault.PolicyAdmin)
	rec := insider.read("backups/" + stream.ID)
	rec["original"] = map[string]any{"path": victim, "size": 17, "sha256": fileSHA256(t, victim),
		"mtime": "2099-01-01T00:00:00Z", "encryptedAfterFirstStorage": true}
	insider.mustWrite("backups/"+stream.ID, rec)

	_, err = adminV.DisposeOriginal(ctx, admin, shred.DisposeRequest{ID: stream.ID, Method: attest.DisposalDeleted, Note: "deleted after protect"})
	if err == nil {
		t.Fatal("dispose-original accepted an original only the status record names")
	}
	if _, err := os.Stat(victim); err != nil {
		t.Fatalf("dispose-original deleted the file the status record named: %v", err)
	}
	openCase(t, complianceV, "L")
	held, err := complianceV.PlaceHolds(ctx, compliance, "L", shred.HoldSelector{System: "payroll", CreatedBefore: time.Now().Add(time.Hour)})
	if err != nil || !slices.Contains(held, stream.ID) {
		t.Fatalf("hold of what payroll made before the next hour: %v %v, want %s held", held, err, stream.ID)
	}
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	sum, _, err := fsutil.FileSHA256(path)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// Attack: after a run, the compliance officer, who may write status
// records but not the runs' destruction records, writes with plain Vault
// calls into one shredded backup's status an account of its key's
// destruction a millisecond earlier (which would move its
// residualCopiesUntil earlier too), and into another's its ciphertext as
// deleted while it is back at its location. The next attestation of the
// case states the first's destruction as the ledger recorded it, and the
// second's ciphertext as not deleted; a third's location that
// another backup's file took since is not taken for its ciphertext; and
// two whose location holds something with no age header to tell (a
// directory; the ciphertext put back with its header spoilt) are left
// out, naming why, rather than stated deleted or not.
func TestAttackComplianceRewritesADestruction(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	rewritten, _ := protect(t, adminV, []byte("destroyed, then rewritten"))
	leftBehind, _ := protect(t, adminV, []byte("destroyed, file back"))
	reused, _ := protect(t, adminV, []byte("destroyed, name reused"))
	blocked, _ := protect(t, adminV, []byte("destroyed, a directory there"))
	spoilt, _ := protect(t, adminV, []byte("destroyed, back with its header spoilt"))
	copyBack, err := os.ReadFile(leftBehind.Ciphertext.Path)
	if err != nil {
		t.Fatal(err)
	}
	spoiltBack, err := os.ReadFile(spoilt.Ciphertext.Path)
	if err != nil {
		t.Fatal(err)
	}
	spoiltBack[0] ^= 0xff
	planOf(t, adminV, complianceV, "REWRITE", rewritten, leftBehind, reused, blocked, spoilt)
	if _, err := adminV.RunShred(context.Background(), admin, "REWRITE", runOpts(t)); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(blocked.Ciphertext.Path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(spoilt.Ciphertext.Path, spoiltBack, 0o600); err != nil {
		t.Fatal(err)
	}
	later, _ := protect(t, adminV, []byte("a later backup of the same name"))
	if err := os.Rename(later.Ciphertext.Path, reused.Ciphertext.Path); err != nil {
		t.Fatal(err)
	}
	officer := asRole(t, srv, vault.PolicyCompliance)
	recorded := recordedDestruction(t, officer, "REWRITE", rewritten.ID)
	at, err := time.Parse(time.RFC3339Nano, recorded["destroyedAt"].(string))
	if err != nil {
		t.Fatal(err)
	}
	backdated := maps.Clone(recorded)
	backdated["destroyedAt"] = at.Add(-time.Millisecond).Format(time.RFC3339Nano)
	writeDestruction(officer, rewritten.ID, backdated)
	if err := os.WriteFile(leftBehind.Ciphertext.Path, copyBack, 0o600); err != nil {
		t.Fatal(err)
	}
	claimed := recordedDestruction(t, officer, "REWRITE", leftBehind.ID)
	claimed["ciphertextDeleted"] = true
	writeDestruction(officer, leftBehind.ID, claimed)

	a, err := adminV.Attest(context.Background(), admin, "REWRITE", runOpts(t).Attest)
	if err == nil || strings.Contains(err.Error(), rewritten.ID) {
		t.Fatalf("attest: %v; want %s attested with the destruction the ledger recorded", err, rewritten.ID)
	}
	for _, unchecked := range []string{blocked.ID, spoilt.ID} {
		if !strings.Contains(err.Error(), unchecked+": left out of the attestation: whether its ciphertext is still at") {
			t.Fatalf("attest: %v; want %s left out as unchecked", err, unchecked)
		}
	}
	got := attestedStatement(t, a).Predicate.Backups
	slices.SortFunc(got, func(x, y attest.Backup) int { return strings.Compare(x.BackupID, y.BackupID) })
	want := []string{leftBehind.ID, reused.ID, rewritten.ID}
	slices.Sort(want)
	if ids := backupIDsOf(got); !slices.Equal(ids, want) {
		t.Fatalf("attested %v, want %v", ids, want)
	}
	for _, b := range got {
		ct := b.Ciphertext
		switch b.BackupID {
		case rewritten.ID:
			if !b.DestroyedAt.Equal(at) {
				t.Fatalf("destroyedAt stated as %s, want %s as the run recorded it", b.DestroyedAt, at)
			}
		case leftBehind.ID:
			if ct.Deleted || ct.AbsentBeforeShred || len(ct.Removed) != 0 {
				t.Fatalf("ciphertext stated as %+v while it is at its location", ct)
			}
		case reused.ID:
			if !ct.Deleted {
				t.Fatalf("ciphertext stated as %+v: another file at its location taken for it", ct)
			}
		}
	}
}

// Attack: the admin makes status records unreadable with plain Vault
// calls. A hold, by id or by system, is still placed on such a backup
// and reported as not shown in its status, which is left as it is (it
// may be a newer version's record, or evidence); the case still closes;
// an attestation leaves out, naming why, a destroyed backup whose record
// it cannot read, and attests the others.
func TestAttackUnreadableStatusRecords(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	ctx := context.Background()
	insider := asRole(t, srv, vault.PolicyAdmin)
	held, _ := protect(t, adminV, []byte("to be held"))
	insider.mustWrite("backups/"+held.ID, map[string]any{"junk": true})
	for _, c := range []struct {
		caseID string
		sel    shred.HoldSelector
	}{{"GARBLED", shred.HoldSelector{IDs: []string{held.ID}}}, {"SYSTEM", shred.HoldSelector{System: "casework"}}, {"EARLY", shred.HoldSelector{IDs: []string{held.ID}}}} {
		openCase(t, complianceV, c.caseID)
		ids, err := complianceV.PlaceHolds(ctx, compliance, c.caseID, c.sel)
		if !slices.Contains(ids, held.ID) || err == nil || !strings.Contains(err.Error(), "hold recorded, but its status record does not show it") {
			t.Fatalf("hold for %s: %v %v, want %s held and its status reported", c.caseID, ids, err, held.ID)
		}
	}
	if alive, latched := keyAlive(t, srv, held.Key); !alive || !latched {
		t.Fatalf("held key: alive %t, latched %t", alive, latched)
	}
	released, err := complianceV.ReleaseHolds(ctx, compliance, "EARLY", []string{held.ID}, "placed by mistake")
	if !slices.Equal(released, []string{held.ID}) || err == nil || !strings.Contains(err.Error(), "hold released, but its status record does not show it") {
		t.Fatalf("early release: %v %v, want %s released and its status reported", released, err, held.ID)
	}
	if rec := insider.read("backups/" + held.ID); rec["junk"] != true {
		t.Fatalf("the unreadable status record was written over: %v", rec)
	}
	if res := closeCase(t, complianceV, "GARBLED"); !slices.Equal(res.StatusUnreadable, []string{held.ID}) {
		t.Fatalf("close of GARBLED names %v as unreadable, want %s", res.StatusUnreadable, held.ID)
	}

	a, _ := protect(t, adminV, []byte("destroyed, record garbled"))
	b, _ := protect(t, adminV, []byte("destroyed, record intact"))
	planOf(t, adminV, complianceV, "ATTEST", a, b)
	if _, err := adminV.RunShred(ctx, admin, "ATTEST", runOpts(t)); err != nil {
		t.Fatal(err)
	}
	insider.mustWrite("backups/"+a.ID, map[string]any{"id": b.ID, "key": b.Key, "state": "shredded"})
	att, err := adminV.Attest(ctx, admin, "ATTEST", runOpts(t).Attest)
	if err == nil || !strings.Contains(err.Error(), a.ID) || !strings.Contains(err.Error(), "its status record cannot be read") {
		t.Fatalf("attest: %v; want %s left out as unreadable", err, a.ID)
	}
	if got := attestedStatement(t, att).Predicate.Backups; len(got) != 1 || got[0].BackupID != b.ID {
		t.Fatalf("attested %+v, want only %s", got, b.ID)
	}
}

// A backup whose key was destroyed outside the CLI (the compliance token
// opened its latch and the admin's deleted the key, both with plain
// calls), and whose status the admin then made unreadable: closing the
// case that held it leaves that record as it is, as evidence, rather
// than writing a fresh one from the registration.
func TestCloseLeavesADestroyedBackupsUnreadableRecord(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	x, _ := protect(t, adminV, []byte("destroyed behind the case's back"))
	openCase(t, complianceV, "BYPASS")
	hold(t, complianceV, "BYPASS", x.ID)
	officer, insider := asRole(t, srv, vault.PolicyCompliance), asRole(t, srv, vault.PolicyAdmin)
	if _, err := officer.l.Write("cryptoshred-transit/keys/"+x.Key+"/config", map[string]any{"deletion_allowed": true}); err != nil {
		t.Fatal(err)
	}
	if _, err := insider.l.Delete("cryptoshred-transit/keys/" + x.Key); err != nil {
		t.Fatal(err)
	}
	insider.mustWrite("backups/"+x.ID, map[string]any{"junk": true})
	closeCase(t, complianceV, "BYPASS")
	if rec := insider.read("backups/" + x.ID); rec["junk"] != true {
		t.Fatalf("the close wrote the record of a destroyed backup again: %v", rec)
	}
}

func backupIDsOf(backups []attest.Backup) []string {
	ids := make([]string, len(backups))
	for i, b := range backups {
		ids[i] = b.BackupID
	}
	return ids
}

// vanishingStorage is the local back end whose file is deleted as the
// storage is asked whether it is there (another run's retry).
type vanishingStorage struct{ *local.Backend }

func (v vanishingStorage) For(string) (storage.Backend, error) { return v, nil }

func (v vanishingStorage) Find(ctx context.Context, obj storage.Object) ([]string, error) {
	if err := os.Remove(obj.Loc); err != nil {
		return nil, err
	}
	return v.Backend.Find(ctx, obj)
}

// A ciphertext put back and gone when the storage is asked at signing is
// gone: the backup is attested as its record says, not left out as
// unchecked.
func TestAttestationTakesACiphertextGoneWhenCheckedAsGone(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	b, _ := protect(t, adminV, []byte("deleted twice over"))
	back, err := os.ReadFile(b.Ciphertext.Path)
	if err != nil {
		t.Fatal(err)
	}
	planOf(t, adminV, complianceV, "VANISH", b)
	if _, err := adminV.RunShred(context.Background(), admin, "VANISH", runOpts(t)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.Ciphertext.Path, back, 0o600); err != nil {
		t.Fatal(err)
	}
	v := vault.New(srv.Client(t, srv.TokenWithPolicies(t, "admin", vault.PolicyAdmin)), vault.DefaultMounts)
	attester := shred.New(shred.Config{Records: v, Keys: v, Guard: v, Signer: v, Storage: vanishingStorage{local.New()}})
	a, err := attester.Attest(context.Background(), admin, "VANISH", runOpts(t).Attest)
	if err != nil {
		t.Fatalf("attest: %v", err)
	}
	if got := attestedStatement(t, a).Predicate.Backups; len(got) != 1 || !got[0].Ciphertext.Deleted {
		t.Fatalf("attested %+v, want the backup with its ciphertext deleted", got)
	}
}

// A status record the admin made undecodable (JSON nested past the
// client's depth limit, which Vault stores) is an unreadable status like
// any other: the hold is placed and reported, and the close releases the
// backup from its registration and names the record. Before, reading it
// failed as an error of its own that no rule knew.
func TestAttackUndecodableStatusRecord(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	ctx := context.Background()
	held, _ := protect(t, adminV, []byte("to be held"))
	var nested any = map[string]any{}
	for range 9997 {
		nested = map[string]any{"a": nested}
	}
	asRole(t, srv, vault.PolicyAdmin).mustWrite("backups/"+held.ID, map[string]any{"a": nested})
	openCase(t, complianceV, "DEEP")
	ids, err := complianceV.PlaceHolds(ctx, compliance, "DEEP", shred.HoldSelector{IDs: []string{held.ID}})
	if !slices.Contains(ids, held.ID) || err == nil || !strings.Contains(err.Error(), "hold recorded, but its status record does not show it") {
		t.Fatalf("hold: %v %v, want %s held and its status reported", ids, err, held.ID)
	}
	if alive, latched := keyAlive(t, srv, held.Key); !alive || !latched {
		t.Fatalf("held key: alive %t, latched %t", alive, latched)
	}
	if res := closeCase(t, complianceV, "DEEP"); !slices.Equal(res.StatusUnreadable, []string{held.ID}) || !slices.Contains(res.Released, held.ID) {
		t.Fatalf("close: %+v, want %s released and named unreadable", res, held.ID)
	}
}

// Undecodable records the admin creates among a case's destruction records
// and among the attestations (both create-only for it, and no role may
// delete them) are junk like any other: the case's attestation is issued
// and every attestation is listed. Before, each read failed, for good.
func TestAttackUndecodableRecordsBlockNoReader(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	ctx := context.Background()
	insider := asRole(t, srv, vault.PolicyAdmin)
	a, _ := protect(t, adminV, []byte("destroyed"))
	planOf(t, adminV, complianceV, "DEEP", a)
	if _, err := adminV.RunShred(ctx, admin, "DEEP", runOpts(t)); err != nil {
		t.Fatal(err)
	}
	var nested any = map[string]any{}
	for range 9997 {
		nested = map[string]any{"a": nested}
	}
	insider.mustWrite("destructions/DEEP/zz-junk", map[string]any{"a": nested})
	insider.mustWrite("attestations/att-zz-junk", map[string]any{"a": nested})
	if _, err := adminV.Attest(ctx, admin, "DEEP", runOpts(t).Attest); err != nil {
		t.Fatalf("attest beside an undecodable destruction record: %v", err)
	}
	list, err := adminV.ListAttestations(ctx, "")
	if err != nil || len(list) != 3 {
		t.Fatalf("attestations listed beside an undecodable one: %d %v", len(list), err)
	}
}

// A status record the admin empties (data null, which Vault stores) does
// not hide its backup from a hold: a hold by system holds it and closes its
// latch, reporting the record. Before, the record read as "not found", the
// listing by system passed over the backup without a word, and after the
// admin restored the record the first case's close released it and a run
// destroyed its key.
func TestAttackEmptiedStatusCannotHideABackupFromAHold(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	ctx := context.Background()
	b, _ := protect(t, adminV, []byte("to be held"))
	if _, err := asRole(t, srv, vault.PolicyAdmin).l.Write("cryptoshred/data/backups/"+b.ID, map[string]any{"data": nil}); err != nil {
		t.Fatalf("emptying the status record: %v", err)
	}
	openCase(t, complianceV, "NULL")
	ids, err := complianceV.PlaceHolds(ctx, compliance, "NULL", shred.HoldSelector{System: "casework"})
	if !slices.Contains(ids, b.ID) || err == nil || !strings.Contains(err.Error(), "its status record does not show it") {
		t.Fatalf("hold by system: %v %v, want %s held and its status reported", ids, err, b.ID)
	}
	if alive, latched := keyAlive(t, srv, b.Key); !alive || !latched {
		t.Fatalf("key: alive %t, latched %t", alive, latched)
	}
}

// A mount whose versions are deleted after a while (delete_version_after,
// an operator's setting) answers every present record with a deletion time
// still to come: an emptied status record is junk there too, not a record
// that is not there, and does not hide its backup from a hold.
func TestAttackEmptiedStatusCannotHideABackupUnderDeleteVersionAfter(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	if _, err := srv.Root(t).Logical().Write("cryptoshred/config", map[string]any{"delete_version_after": "24h"}); err != nil {
		t.Fatal(err)
	}
	b, _ := protect(t, adminV, []byte("to be held"))
	if _, err := asRole(t, srv, vault.PolicyAdmin).l.Write("cryptoshred/data/backups/"+b.ID, map[string]any{"data": nil}); err != nil {
		t.Fatalf("emptying the status record: %v", err)
	}
	openCase(t, complianceV, "LATER")
	ids, _ := complianceV.PlaceHolds(context.Background(), compliance, "LATER", shred.HoldSelector{System: "casework"})
	if !slices.Contains(ids, b.ID) {
		t.Fatalf("hold by system: %v, want %s held", ids, b.ID)
	}
}

// Attack: an original that is another backup's ciphertext. Every role can
// read a registration, so the admin creates, with two plain KV writes, a
// registration and a status record of a backup whose key never existed,
// naming a held backup's ciphertext and its digest as the original; and a
// backup protected from a ciphertext names that ciphertext as its
// original. dispose-original --method deleted must delete neither: the
// held backup's ciphertext would be gone while its key lives.
func TestAttackOriginalThatIsAnotherBackupsCiphertext(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	ctx := context.Background()
	victim, _ := protect(t, adminV, []byte("held backup"))
	openCase(t, complianceV, "KEEP")
	hold(t, complianceV, "KEEP", victim.ID)

	insider := asRole(t, srv, vault.PolicyAdmin)
	forged := catalog.NewBackupID()
	for _, path := range []string{"registrations/", "backups/"} {
		rec := insider.read(path + victim.ID)
		rec["id"], rec["key"] = forged, forged
		original := rec["original"].(map[string]any)
		original["path"], original["size"], original["sha256"] = victim.Ciphertext.Path, victim.Ciphertext.Size, victim.Ciphertext.SHA256
		rec["ciphertext"].(map[string]any)["path"] = filepath.Join(t.TempDir(), forged+".age")
		if path == "backups/" {
			rec["state"] = "protected"
		}
		insider.mustWrite(path+forged, rec)
	}
	again, err := adminV.Protect(ctx, admin0, shred.ProtectRequest{Source: victim.Ciphertext.Path, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	// The forged backup's key never existed and no run recorded destroying
	// it: that refuses it before its original is read.
	refusal := map[string]string{forged: "no run recorded destroying it", again.ID: "cryptoshred ciphertext"}
	for _, id := range []string{forged, again.ID} {
		_, err := adminV.DisposeOriginal(ctx, admin0, shred.DisposeRequest{ID: id, Method: attest.DisposalDeleted, Note: "deleted after protect"})
		if !errors.Is(err, errs.ErrRefused) || !strings.Contains(err.Error(), refusal[id]) {
			t.Fatalf("dispose-original of %s: %v", id, err)
		}
		mustExist(t, victim.Ciphertext.Path)
	}
	if alive, latched := keyAlive(t, srv, victim.Key); !alive || !latched {
		t.Fatalf("held key: alive %t, latched %t", alive, latched)
	}
}
