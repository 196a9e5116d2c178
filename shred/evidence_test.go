package shred_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/internal/shredtest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// An admin token appends, with plain Vault calls, a well-linked entry that
// claims the compliance officer opened a case, signed with the only ledger
// key it may use (its own): ledger verify names the entry and exits as
// broken, and the forged entry is not taken as a fact.
func TestForgedEntryInAnotherRolesName(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	openCase(t, complianceV, "REAL")
	rep, err := adminV.VerifyLedger(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	admin := asRole(t, srv, vault.PolicyAdmin)
	entry, _ := json.Marshal(map[string]any{"seq": rep.Entries + 1, "prev": rep.Head, "time": "2026-11-28T10:00:00Z",
		"actor": "compliance-officer", "event": "case.closed", "case": "REAL"})
	if _, err := admin.l.Write("cryptoshred-ledger/sign/ledger-compliance", map[string]any{"input": base64.StdEncoding.EncodeToString(entry)}); err == nil {
		t.Fatal("the admin token signed with the compliance key")
	}
	sec, err := admin.l.Write("cryptoshred-ledger/sign/ledger-admin", map[string]any{"input": base64.StdEncoding.EncodeToString(entry)})
	if err != nil {
		t.Fatal(err)
	}
	admin.mustWrite(slotPath(rep.Entries+1), map[string]any{"entry": string(entry), "sig": sec.Data["signature"]})

	_, err = adminV.VerifyLedger(context.Background())
	want := fmt.Sprintf("ledger slot %d is a case.closed entry whose signature does not verify with the compliance key", rep.Entries+1)
	if !errors.Is(err, shred.ErrLedgerBroken) || !strings.Contains(err.Error(), want) {
		t.Fatalf("verify after a forged entry: %v\nwant it to name: %s", err, want)
	}
	entries, err := adminV.Entries(context.Background())
	if err != nil || entries[len(entries)-1].Kind == "case.closed" {
		t.Fatalf("the forged entry was taken as a fact: %v", err)
	}
	openCase(t, complianceV, "AFTER") // appends go on after it
}

// Signed entries planted with the roles' own Transit sign and KV create
// calls: the admin lists a held backup as destroyed by another case
// before its case closes; the compliance officer releases it for a case
// that never held it, and, dated 2099, for its own case before the real
// close. None may make the case's attestation invalid for good: it is
// issued, with one span for the case that held the backup and none for
// the other.
func TestAttackPlantedHoldEntriesCannotBlockTheAttestation(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	b := protectHeld(t, adminV, complianceV, "KD", []byte("held"))
	client := func(policy string) *vault.Client {
		return vault.New(srv.Client(t, srv.TokenWithPolicies(t, "insider-"+policy, policy)), vault.DefaultMounts)
	}
	admin, comp := client(vault.PolicyAdmin), client(vault.PolicyCompliance)
	plant := func(c *vault.Client, role, kind, caseID string, at time.Time) {
		shredtest.AppendDated(t, c, c, role, "insider", ledger.Event{Kind: kind, Case: caseID, Backups: []string{b.ID}}, at)
	}
	plant(admin, ledger.RoleAdmin, ledger.KindKeyDestroyed, "OTHER", catalog.Now())
	plant(comp, ledger.RoleCompliance, ledger.KindHoldReleased, "NEVER", catalog.Now())
	plant(comp, ledger.RoleCompliance, ledger.KindHoldReleased, "KD", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC))
	closeCase(t, complianceV, "KD")
	res, err := adminV.RunShred(context.Background(), admin0, "KD", runOpts(t))
	if err != nil || res.Attestation == nil {
		t.Fatalf("shred run: %v", err)
	}
	holds := attestedStatement(t, res.Attestation).Predicate.Backups[0].Holds
	if len(holds) != 1 || holds[0].Case != "KD" || holds[0].ReleasedAt.Year() == 2099 {
		t.Fatalf("attested holds %+v, want one span of KD dated by Vault", holds)
	}
}

// The compliance officer creates, with a plain KV write, a released hold
// record of case A on a backup that case B held and shredded, so that A's
// attestation takes it in although the ledger has no hold of A on it. The
// backup is left out, naming why, and A's own backup is attested: an
// entry that would make the statement invalid keeps no other from it.
func TestAttackPlantedHoldRecordCannotBlockTheAttestation(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	own := protectHeld(t, adminV, complianceV, "A", []byte("held by A"))
	other := heldAndShredded(t, adminV, complianceV, "B", []byte("held by B"))
	comp := asRole(t, srv, vault.PolicyCompliance)
	rec := comp.read("holds/B/" + other.ID)
	rec["case"] = "A"
	comp.mustWrite("holds/A/"+other.ID, rec)
	closeCase(t, complianceV, "A")
	res, err := adminV.RunShred(context.Background(), admin0, "A", runOpts(t))
	if res == nil {
		t.Fatalf("run of A: %v", err)
	}
	attestsOnly(t, res.Attestation, err, own.ID, "would not be valid")
}

// heldAndShredded protects data as a backup that a new case caseID holds
// and closes on, and shreds it in a run of the case.
func heldAndShredded(t *testing.T, adminV, complianceV *shred.Service, caseID string, data []byte) *catalog.Backup {
	t.Helper()
	b := protectHeld(t, adminV, complianceV, caseID, data)
	closeCase(t, complianceV, caseID)
	if res, err := adminV.RunShred(context.Background(), admin0, caseID, runOpts(t)); err != nil || len(res.Destroyed) != 1 {
		t.Fatalf("run of %s: %v", caseID, err)
	}
	return b
}

// attestsOnly fails t unless a covers backup want alone and err, what the
// run or attest returned with it, says why another was left out.
func attestsOnly(t *testing.T, a *shred.Attestation, err error, want, why string) {
	t.Helper()
	if a == nil {
		t.Fatalf("no attestation: %v", err)
	}
	backups := attestedStatement(t, a).Predicate.Backups
	if len(backups) != 1 || backups[0].BackupID != want || err == nil || !strings.Contains(err.Error(), why) {
		t.Fatalf("attested %d backup(s), error %v; want %s alone and another left out (%q)", len(backups), err, want, why)
	}
	if len(a.LeftOut) != 1 || !strings.Contains(a.LeftOut[0].Error(), why) {
		t.Fatalf("the attestation lists %v as left out; want one, %q", a.LeftOut, why)
	}
}

// Times written in another zone, the same instants: the admin plants a
// copy of the run's destruction record sorted before it, with destroyedAt
// in +02:00 (it still matches the digest the ledger recorded), and the
// compliance officer writes a disposal of the original dated in +02:00
// into the status. The attestation is issued, every time in UTC.
func TestAttackTimesInAnotherZoneCannotBlockTheAttestation(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	b := heldAndShredded(t, adminV, complianceV, "ZONE", []byte("zoned"))
	adm, comp := asRole(t, srv, vault.PolicyAdmin), asRole(t, srv, vault.PolicyCompliance)
	zone := time.FixedZone("", 2*3600)
	rec := adm.read("destructions/ZONE/" + destructionRecords(t, srv, "ZONE")[0].(string))
	d := rec["backups"].(map[string]any)[b.ID].(map[string]any)
	at, _ := time.Parse(time.RFC3339Nano, d["destroyedAt"].(string))
	d["destroyedAt"] = at.In(zone).Format(time.RFC3339Nano)
	adm.mustWrite("destructions/ZONE/00000000", rec)
	status := comp.read("backups/" + b.ID)
	disposed := catalog.Now()
	status["original"] = map[string]any{"encryptedAfterFirstStorage": true, "path": "/srv/x",
		"disposal": map[string]any{"method": "deleted", "at": disposed.In(zone).Format(time.RFC3339Nano), "by": "someone"}}
	comp.mustWrite("backups/"+b.ID, status)
	if got, _, err := adminV.GetBackup(context.Background(), b.ID); err != nil || !inZone(got.Destruction.DestroyedAt, 2*3600) {
		t.Fatalf("the planted record, sorted first, was not read: %+v %v", got, err)
	}
	a, err := adminV.Attest(context.Background(), admin0, "ZONE", runOpts(t).Attest)
	if err != nil {
		t.Fatalf("attest with times in another zone: %v", err)
	}
	stated := attestedStatement(t, a).Predicate.Backups[0]
	if !stated.DestroyedAt.Equal(at) || !inZone(stated.DestroyedAt, 0) {
		t.Fatalf("destroyedAt stated as %s, want %s in UTC", stated.DestroyedAt, at.UTC())
	}
	if o := stated.Original; o == nil || o.By != "someone" || o.At == nil || !o.At.Equal(disposed) || !inZone(*o.At, 0) {
		t.Fatalf("original stated as %+v, want the planted disposal at %s in UTC", o, disposed.UTC())
	}
}

// inZone reports whether t is written with the offset offset (0 for UTC).
func inZone(t time.Time, offset int) bool {
	name, off := t.Zone()
	return off == offset && (offset != 0 || name == "UTC")
}

// A case whose record could not be stated (an authority of blanks, which
// a typo or a record written by hand may give) is refused by case close,
// and by its preview, before any hold is released, and, written so by hand once closed, by
// shred run before any key is destroyed: found out only by the
// attestation, it could never be issued.
func TestCaseThatCannotBeStatedIsRefusedBeforeDestroying(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	b, _ := protect(t, adminV, []byte("kept"))
	if _, err := complianceV.OpenCase(context.Background(), compliance, catalog.Case{ID: "BLANK", Authority: " ", Reference: "r",
		Controllers: []string{"Ministry"}}); err != nil {
		t.Fatal(err)
	}
	hold(t, complianceV, "BLANK", b.ID)
	if _, err := complianceV.PreviewClose(context.Background(), "BLANK"); !errors.Is(err, shred.ErrRefused) || !strings.Contains(err.Error(), "case.authority") {
		t.Fatalf("preview of the close of a case that cannot be stated: %v", err)
	}
	if _, err := complianceV.CloseCase(context.Background(), compliance, closeRequest("BLANK")); !errors.Is(err, shred.ErrRefused) || !strings.Contains(err.Error(), "case.authority") {
		t.Fatalf("close of a case that cannot be stated: %v", err)
	}
	if _, latched := keyAlive(t, srv, b.Key); !latched {
		t.Fatal("the refused close opened the key's latch")
	}
	// Left closing (by an older version, say) with that record, it is
	// not finished either.
	comp := asRole(t, srv, vault.PolicyCompliance)
	closing := comp.read("cases/BLANK")
	req := closeRequest("BLANK")
	closing["state"], closing["decision"] = "closing", map[string]any{"reference": req.Reference, "recordedBy": "older version",
		"recordedAt": catalog.Now().Format(time.RFC3339Nano), "document": map[string]any{"name": req.Document.Name, "sha256": req.Document.SHA256}}
	comp.mustWrite("cases/BLANK", closing)
	if _, err := complianceV.CloseCase(context.Background(), compliance, req); !errors.Is(err, shred.ErrRefused) || !strings.Contains(err.Error(), "case.authority") {
		t.Fatalf("finishing the close of a case that cannot be stated: %v", err)
	}
	if _, latched := keyAlive(t, srv, b.Key); !latched {
		t.Fatal("the refused close opened the key's latch")
	}
	other := protectHeld(t, adminV, complianceV, "HAND", []byte("closed, then its record blanked"))
	closeCase(t, complianceV, "HAND")
	rec := comp.read("cases/HAND")
	rec["authority"] = " "
	comp.mustWrite("cases/HAND", rec)
	_, err := adminV.RunShred(context.Background(), admin0, "HAND", runOpts(t))
	if !errors.Is(err, shred.ErrRefused) || !strings.Contains(err.Error(), "case.authority") {
		t.Fatalf("run of a case that cannot be stated: %v", err)
	}
	if alive, _ := keyAlive(t, srv, other.Key); !alive {
		t.Fatal("the key was destroyed")
	}
}

// A case record too large for every part of its attestation to state it,
// written by hand with the compliance officer's token (a 70 KB reference;
// 300 data controllers of 1 KB; case open refuses both), is refused by
// case close before any hold is released.
func TestOversizedCaseIsRefusedBeforeItsHoldsAreReleased(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	comp := asRole(t, srv, vault.PolicyCompliance)
	var many []any
	for i := range 300 {
		many = append(many, fmt.Sprintf("%04d %s", i, strings.Repeat("x", 1000)))
	}
	for caseID, tc := range map[string]struct {
		field string
		value any
		why   string
	}{
		"LONG":    {"reference", strings.Repeat("r", 70_000), "more than an issuer states"},
		"CROWDED": {"controllers", many, "more than an attestation names"},
	} {
		b := protectHeld(t, adminV, complianceV, caseID, []byte("held by "+caseID))
		rec := comp.read("cases/" + caseID)
		rec[tc.field] = tc.value
		comp.mustWrite("cases/"+caseID, rec)
		if _, err := complianceV.CloseCase(context.Background(), compliance, closeRequest(caseID)); !errors.Is(err, shred.ErrRefused) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("close of %s: %v", caseID, err)
		}
		if _, latched := keyAlive(t, srv, b.Key); !latched {
			t.Errorf("the refused close of %s opened the key's latch", caseID)
		}
	}
	var names []string
	for i := range 1100 {
		names = append(names, fmt.Sprintf("%04d %s", i, strings.Repeat("z", 240)))
	}
	openCase(t, complianceV, "ADDED")
	if _, err := complianceV.AddControllers(context.Background(), compliance, "ADDED", names); !errors.Is(err, shred.ErrRefused) || !strings.Contains(err.Error(), "more than an attestation names") {
		t.Errorf("adding controllers past what an attestation names: %v", err)
	}
}

// The compliance officer writes, after a case's run, hold records under
// the case that hold no backup: one in a sub-folder and one for an id no
// backup has (no role may delete either). The case's attestation is
// issued again all the same.
func TestAttackJunkHoldRecordsCannotBlockTheAttestation(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	b := heldAndShredded(t, adminV, complianceV, "JUNK", []byte("attested"))
	comp := asRole(t, srv, vault.PolicyCompliance)
	rec := comp.read("holds/JUNK/" + b.ID)
	comp.mustWrite("holds/JUNK/sub/x", rec)
	comp.mustWrite("holds/JUNK/"+catalog.NewBackupID(), rec)
	a, err := adminV.Attest(context.Background(), admin0, "JUNK", runOpts(t).Attest)
	if err != nil || len(attestedStatement(t, a).Predicate.Backups) != 1 {
		t.Fatalf("attest with junk hold records: %v", err)
	}
}

// The admin registers a backup by hand whose ciphertext digest is no
// lowercase SHA-256 (the registration is create-only, so it stays); it is
// held with an honest backup and its case closes. The honest backup is
// attested and the other left out, naming its digest: a subject the
// statement could not carry keeps no other from it.
func TestAttackMalformedDigestCannotBlockTheAttestation(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	honest := protectHeld(t, adminV, complianceV, "DIGEST", []byte("honest"))
	forged := forgeRegistrationOf(t, asRole(t, srv, vault.PolicyAdmin), honest, catalog.NewBackupID(), func(reg map[string]any) {
		ct := reg["ciphertext"].(map[string]any)
		ct["sha256"] = strings.ToUpper(ct["sha256"].(string))
	})
	_, _ = complianceV.PlaceHolds(context.Background(), compliance, "DIGEST", shred.HoldSelector{IDs: []string{forged}}) // its ciphertext check fails; the hold stands
	closeCase(t, complianceV, "DIGEST")
	res, err := adminV.RunShred(context.Background(), admin0, "DIGEST", runOpts(t))
	if res == nil {
		t.Fatalf("run: %v", err)
	}
	attestsOnly(t, res.Attestation, err, honest.ID, forged+": left out of the attestation: its entry would not be valid: invalid statement: backup "+forged+" subject digest")
	if len(res.LeftOut) != 1 || res.LeftOut[0].ID != forged {
		t.Fatalf("the run's result lists %v as left out of its attestation; want %s", res.LeftOut, forged)
	}
}

// The admin writes, with its own token, registrations whose controllers
// every part's predicate would name: one naming 300 of 1 KB each, and 66
// naming one of 4,027 bytes each, all under ids sorted before every
// other. The first is left out for naming too many, the last two of the
// others for what the list of controllers had no room for, and the honest
// backup, whose controller of 200 bytes no other backup names, is
// attested: counted in id order, the forged names crowded it out, after
// the keys were gone.
func TestAttackControllersCannotCrowdOutEveryBackup(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	dir := t.TempDir()
	honest, err := adminV.Protect(context.Background(), admin, shred.ProtectRequest{Source: writeFile(t, dir, "honest.tar", []byte("honest")),
		OutDir: dir, System: "casework", Controllers: []string{strings.Repeat("Regional Health Authority ", 8)[:200]}})
	if err != nil {
		t.Fatal(err)
	}
	openCase(t, complianceV, "CROWD")
	hold(t, complianceV, "CROWD", honest.ID)
	admin := asRole(t, srv, vault.PolicyAdmin)
	named := func(names ...string) func(reg map[string]any) {
		return func(reg map[string]any) { reg["controllers"] = names }
	}
	var many []string
	for i := range 300 {
		many = append(many, fmt.Sprintf("%04d %s", i, strings.Repeat("x", 1000)))
	}
	forged := []string{forgeRegistrationOf(t, admin, honest, "bk-00000000000000000000000000", named(many...))}
	for i := range 66 {
		forged = append(forged, forgeRegistrationOf(t, admin, honest, fmt.Sprintf("bk-000000000000000000000001%02d", i), named(fmt.Sprintf("%04d %s", i, strings.Repeat("y", 4022)))))
	}
	_, _ = complianceV.PlaceHolds(context.Background(), compliance, "CROWD", shred.HoldSelector{IDs: forged}) // their ciphertext checks fail; the holds stand
	closeCase(t, complianceV, "CROWD")
	res, err := adminV.RunShred(context.Background(), admin0, "CROWD", runOpts(t))
	if res == nil {
		t.Fatalf("run: %v", err)
	}
	statement := attestedStatement(t, res.Attestation)
	if !slices.ContainsFunc(statement.Predicate.Backups, func(b attest.Backup) bool { return b.BackupID == honest.ID }) ||
		!strings.Contains(err.Error(), forged[0]+": left out of the attestation: its data controllers' names take") ||
		!strings.Contains(err.Error(), forged[66]+": left out of the attestation: its data controllers do not all fit") {
		t.Fatalf("attested %d backup(s); %v", len(statement.Predicate.Backups), err)
	}
}

// After a case's run, the compliance officer empties a shredded backup's
// status record with a plain KV write ({"data": null}, which Vault reads
// back as missing). A new attestation of the case still covers the
// other backup and names this one as left out, not silently dropped.
func TestAttackEmptiedStatusIsReportedNotDropped(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	kept := protectHeld(t, adminV, complianceV, "EMPTY", []byte("kept in the attestation"))
	emptied, _ := protect(t, adminV, []byte("its status emptied"))
	hold(t, complianceV, "EMPTY", emptied.ID)
	closeCase(t, complianceV, "EMPTY")
	if res, err := adminV.RunShred(context.Background(), admin0, "EMPTY", runOpts(t)); err != nil || len(res.Destroyed) != 2 {
		t.Fatalf("run: %v", err)
	}
	asRole(t, srv, vault.PolicyCompliance).mustWrite("backups/"+emptied.ID, nil)
	a, err := adminV.Attest(context.Background(), admin0, "EMPTY", runOpts(t).Attest)
	attestsOnly(t, a, err, kept.ID, emptied.ID)
}

// A run whose attestation is refused because no backup of the case checks
// out (case A's only hold record is one the compliance officer planted,
// copied from case B's on a backup B shredded) still lists every backup
// left out, and why, in its result: the refusal's text lists only the
// first twenty, and nothing else named the rest.
func TestRunRefusedAttestationListsEveryBackupLeftOut(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	openCase(t, complianceV, "A")
	other := heldAndShredded(t, adminV, complianceV, "B", []byte("held by B"))
	comp := asRole(t, srv, vault.PolicyCompliance)
	rec := comp.read("holds/B/" + other.ID)
	rec["case"] = "A"
	comp.mustWrite("holds/A/"+other.ID, rec)
	closeCase(t, complianceV, "A")
	res, err := adminV.RunShred(context.Background(), admin0, "A", runOpts(t))
	if res == nil || res.Attestation != nil || !errors.Is(err, shred.ErrRefused) || !strings.Contains(err.Error(), "no key destruction that checks out to attest") {
		t.Fatalf("run of A: %+v %v", res, err)
	}
	if len(res.LeftOut) != 1 || res.LeftOut[0].ID != other.ID || !strings.Contains(res.LeftOut[0].Error(), "would not be valid") {
		t.Fatalf("the run's result lists %v as left out of its attestation; want %s", res.LeftOut, other.ID)
	}
}
