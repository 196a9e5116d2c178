package attest

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidStatement(t *testing.T) {
	if err := testStatement().Validate(); err != nil {
		t.Fatal(err)
	}
	st := testStatement()
	st.Predicate.Backups[1].EncryptedAfterFirstStorage = false
	st.Predicate.Backups[1].Original = nil
	if err := st.Validate(); err != nil {
		t.Fatalf("backup encrypted before first storage: %v", err)
	}
	if w := st.Predicate.Warnings(); len(w) != 0 {
		t.Errorf("warnings = %q, want none", w)
	}
}

// mutation breaks one rule of the schema; want is part of the path in the
// error that must result.
type mutation struct {
	name, want string
	mutate     func(st *Statement)
}

func b0(st *Statement) *Backup { return &st.Predicate.Backups[0] }

var mutations = []mutation{
	{"storage hold on a local file", "a local file has no storage hold", func(st *Statement) {
		ct := &st.Predicate.Backups[0].Ciphertext
		ct.Storage, ct.StorageHold = "file", &Span{From: ts("2026-11-20T10:00:00Z"), To: ts("2026-11-21T10:00:00Z")}
	}},
	{"_type", "_type:", func(st *Statement) { st.Type = "https://in-toto.io/Statement/v0.1" }},
	{"predicateType", "predicateType:", func(st *Statement) { st.PredicateType = "x" }},
	{"no subjects", "subject:", func(st *Statement) { st.Subject = nil }},
	{"uppercase digest", "subject[0].digest.sha256", func(st *Statement) { st.Subject[0].Digest["sha256"] = strings.ToUpper(st.Subject[0].Digest["sha256"]) }},
	{"short digest", "subject[0].digest.sha256", func(st *Statement) { st.Subject[0].Digest["sha256"] = "abcd" }},
	{"no sha256", "subject[1].digest.sha256", func(st *Statement) { st.Subject[1].Digest = map[string]string{"sha512": "ab"} }},
	{"duplicate subject", "subject[1].name: duplicates", func(st *Statement) { st.Subject[1].Name = st.Subject[0].Name }},
	{"subject without backup", "needs exactly 1 predicate.backups entry", func(st *Statement) { st.Subject[1].Name = "other.age" }},
	{"backup without subject", "predicate.backups[1].subject: names no subject", func(st *Statement) { st.Subject = st.Subject[:1] }},
	{"annotation mismatch", "subject[0].annotations.backupId", func(st *Statement) { st.Subject[0].Annotations["backupId"] = "bk-other" }},
	{"duplicate backup id", "predicate.backups[1].backupId: duplicates", func(st *Statement) { st.Predicate.Backups[1].BackupID = b0(st).BackupID }},
	{"no attestation id", "predicate.attestationId", func(st *Statement) { st.Predicate.AttestationID = " " }},
	{"zero time", "predicate.issuedAt: is required", func(st *Statement) { st.Predicate.IssuedAt = time.Time{} }},
	{"local time", "predicate.issuedAt: must be in UTC", func(st *Statement) {
		st.Predicate.IssuedAt = st.Predicate.IssuedAt.In(time.FixedZone("CET", 3600))
	}},
	{"no controllers", "predicate.controllers", func(st *Statement) { st.Predicate.Controllers = nil }},
	{"closed before opened", "predicate.case.closedAt: is before", func(st *Statement) { st.Predicate.Case.ClosedAt = ts("2020-01-01T00:00:00Z") }},
	{"decision digest", "predicate.case.decision.document.sha256", func(st *Statement) { st.Predicate.Case.Decision.Document.SHA256 = "" }},
	{"weak key", "predicate.method.keyStrengthBits", func(st *Statement) { st.Predicate.Method.KeyStrengthBits = 64 }},
	{"key store kind", "predicate.keyStore.kind", func(st *Statement) { st.Predicate.KeyStore.Kind = "hsm" }},
	{"retention", "predicate.keyStore.snapshotRetention", func(st *Statement) { st.Predicate.KeyStore.SnapshotRetention = "30 days" }},
	{"operator", "predicate.operator.vaultIdentity.displayName", func(st *Statement) { st.Predicate.Operator = Operator{} }},
	{"no backups", "predicate.backups: needs", func(st *Statement) { st.Predicate.Backups = nil }},
	{"original missing", "backups[0].original: is required", func(st *Statement) { b0(st).Original = nil }},
	{"original not expected", "backups[0].original: must be absent", func(st *Statement) { b0(st).EncryptedAfterFirstStorage = false }},
	{"disposal", "backups[0].original.disposal", func(st *Statement) { b0(st).Original.Disposal = "shredded" }},
	{"disposal time", "backups[0].original.at", func(st *Statement) { b0(st).Original.At = nil }},
	{"unknown with details", "backups[0].original: has at", func(st *Statement) { b0(st).Original.Disposal = DisposalUnknown }},
	{"evidence digest", "backups[0].original.evidence.sha256", func(st *Statement) { b0(st).Original.Evidence.SHA256 = "x" }},
	{"unwraps without last", "backups[0].keyUnwraps.last", func(st *Statement) { b0(st).KeyUnwraps.Last = nil }},
	{"negative unwraps", "backups[0].keyUnwraps.count", func(st *Statement) { b0(st).KeyUnwraps.Count = -1 }},
	{"no hold for case", "backups[0].holds: has no hold", func(st *Statement) { b0(st).Holds[0].Case = "other" }},
	{"hold released before placed", "backups[0].holds[0].releasedAt: is before", func(st *Statement) { b0(st).Holds[0].PlacedAt = ts("2026-11-27T00:00:00Z") }},
	{"exportable key", "backups[0].key: was exportable", func(st *Statement) { b0(st).Key.Exportable = true }},
	{"plaintext backup", "backups[0].key: was exportable", func(st *Statement) { b0(st).Key.AllowPlaintextBackup = true }},
	{"no versions", "backups[0].key.versionsDestroyed", func(st *Statement) { b0(st).Key.VersionsDestroyed = nil }},
	{"version 0", "backups[0].key.versionsDestroyed[0]", func(st *Statement) { b0(st).Key.VersionsDestroyed = []int{0} }},
	{"destroyed after issue", "predicate.issuedAt: is before", func(st *Statement) { st.Predicate.IssuedAt = ts("2026-11-26T14:00:00Z") }},
	{"verified before destroyed", "backups[0].verification.at: is before", func(st *Statement) { b0(st).Verification.At = ts("2026-11-26T14:03:00Z") }},
	{"verification result", "backups[0].verification.result", func(st *Statement) { b0(st).Verification.Result = "" }},
	{"deleted without location", "backups[0].ciphertext.locations", func(st *Statement) { b0(st).Ciphertext.Locations = nil }},
	{"residual copies", "backups[0].residualCopiesUntil: must be destroyedAt plus", func(st *Statement) { b0(st).ResidualCopiesUntil = b0(st).DestroyedAt }},
	{"ledger head", "predicate.ledger.head", func(st *Statement) { st.Predicate.Ledger.Head = hexSum("x") }},
	{"ledger entries", "predicate.ledger.entries", func(st *Statement) { st.Predicate.Ledger.Entries = 0 }},
	{"ledger slots", "predicate.ledger.slots", func(st *Statement) { st.Predicate.Ledger.Slots = hexSum("x") }},
	{"tool", "predicate.tool.version", func(st *Statement) { st.Predicate.Tool.Version = "" }},
}

func TestValidateRejects(t *testing.T) {
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			st := testStatement()
			m.mutate(st)
			err := st.Validate()
			var se *SchemaError
			if !errors.Is(err, ErrInvalidStatement) || !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *SchemaError", err)
			}
			if !strings.Contains(err.Error(), m.want) {
				t.Errorf("err = %v\nwant it to mention %q", err, m.want)
			}
		})
	}
}

func TestResidualCopiesUntil(t *testing.T) {
	ks := KeyStore{SnapshotRetention: "720h"}
	got, err := ks.ResidualCopiesUntil(ts("2026-11-26T14:03:10Z"))
	if err != nil || !got.Equal(ts("2026-12-26T14:03:10Z")) {
		t.Errorf("got %v, %v", got, err)
	}
	for _, bad := range []string{"", "-1h", "P30D"} {
		if _, err := (KeyStore{SnapshotRetention: bad}).ResidualCopiesUntil(got); err == nil {
			t.Errorf("retention %q accepted", bad)
		}
	}
}

func TestWarnings(t *testing.T) {
	d := testDeletion()
	if w := d.Warnings(); len(w) != 1 || !strings.Contains(w[0], d.Backups[1].BackupID) {
		t.Errorf("warnings = %q", w)
	}
	d.Backups[0].Original = nil
	if w := d.Warnings(); len(w) != 2 {
		t.Errorf("missing original: warnings = %q, want 2", w)
	}
	d.Backups[0].EncryptedAfterFirstStorage = false
	d.Backups[1].Original.Disposal = DisposalNotOurs
	if w := d.Warnings(); len(w) != 0 {
		t.Errorf("warnings = %q, want none", w)
	}
}
