package attest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrInvalidStatement marks a statement that does not follow the schema in
// SCHEMA.md. Validate returns a *SchemaError, which is an ErrInvalidStatement.
var ErrInvalidStatement = errors.New("invalid statement")

// SchemaError lists every problem Validate found, each as "path: problem".
type SchemaError struct {
	Problems []string
}

func (e *SchemaError) Error() string {
	return "invalid statement: " + strings.Join(e.Problems, "; ")
}

// Is reports that a SchemaError is an ErrInvalidStatement.
func (e *SchemaError) Is(target error) bool { return target == ErrInvalidStatement }

// Validate checks s against the schema: the type URIs, required fields,
// digests of 64 lowercase hex digits, UTC times in a sensible order, and one
// backups[] entry for each subject. It returns a *SchemaError or nil.
func (s *Statement) Validate() error {
	c := &checker{}
	c.statement(s)
	if len(c.problems) == 0 {
		return nil
	}
	return &SchemaError{Problems: c.problems}
}

// MaxCaseSize is the most bytes a case takes in a statement that
// ValidateCase accepts: every part of an attestation states its case,
// and what is left of an envelope must hold the part's backups.
const MaxCaseSize = 64 << 10

// ValidateCase checks k as Validate checks the statement's case, and that
// it takes at most MaxCaseSize bytes. An issuer calls it before acting on
// a case whose attestation it will have to issue. It returns a
// *SchemaError or nil.
func ValidateCase(k Case) error {
	c := &checker{}
	c.caseInfo("case", k)
	if encoded, err := json.Marshal(k); err == nil && len(encoded) > MaxCaseSize {
		c.fail("case", "takes %d bytes, more than an issuer states (%d)", len(encoded), MaxCaseSize)
	}
	if len(c.problems) == 0 {
		return nil
	}
	return &SchemaError{Problems: c.problems}
}

// ValidateBackup checks one backups[] entry b, and the SHA-256 its
// subject will carry, as Validate would within d (its case, issue time
// and key store). An issuer calls it to leave out a backup whose entry
// would make the whole statement invalid. It returns a *SchemaError or
// nil.
func (d *Deletion) ValidateBackup(b *Backup, subjectSHA256 string) error {
	c := &checker{}
	c.backup("backup "+b.BackupID, b, d)
	c.sha256("backup "+b.BackupID+" subject digest", subjectSHA256)
	if len(c.problems) == 0 {
		return nil
	}
	return &SchemaError{Problems: c.problems}
}

type checker struct {
	problems []string
}

func (c *checker) fail(path, format string, args ...any) {
	c.problems = append(c.problems, path+": "+fmt.Sprintf(format, args...))
}

func (c *checker) str(path, v string) {
	if strings.TrimSpace(v) == "" {
		c.fail(path, "is required")
	}
}

// constant requires v to be exactly want, the one value the schema allows.
func (c *checker) constant(path, v, want string) {
	if v != want {
		c.fail(path, "must be %q, not %q", want, v)
	}
}

func (c *checker) strs(path string, vs []string, min int) {
	if len(vs) < min {
		c.fail(path, "needs at least %d entries", min)
	}
	for i, v := range vs {
		c.str(fmt.Sprintf("%s[%d]", path, i), v)
	}
}

func (c *checker) time(path string, t time.Time) {
	if t.IsZero() {
		c.fail(path, "is required")
	} else if _, off := t.Zone(); off != 0 {
		c.fail(path, "must be in UTC")
	}
}

// order checks that the time at path a is not after the time at path b.
func (c *checker) order(a string, ta time.Time, b string, tb time.Time) {
	if !ta.IsZero() && !tb.IsZero() && ta.After(tb) {
		c.fail(b, "is before %s", a)
	}
}

func (c *checker) sha256(path, v string) {
	if !isSHA256Hex(v) {
		c.fail(path, "must be 64 lowercase hex digits")
	}
}

func isSHA256Hex(v string) bool {
	return len(v) == 64 && isLowerHex(v)
}

func isLowerHex(v string) bool {
	for _, r := range v {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return v != ""
}

func (c *checker) statement(s *Statement) {
	if s.Type != StatementType {
		c.fail("_type", "must be %q, not %q", StatementType, s.Type)
	}
	if s.PredicateType != PredicateType {
		c.fail("predicateType", "must be %q, not %q", PredicateType, s.PredicateType)
	}
	if len(s.Subject) == 0 {
		c.fail("subject", "needs at least 1 entry")
	}
	for i, sub := range s.Subject {
		c.subject(fmt.Sprintf("subject[%d]", i), sub)
	}
	c.deletion("predicate", &s.Predicate)
	c.subjectsMatchBackups(s)
}

func (c *checker) subject(path string, s Subject) {
	c.str(path+".name", s.Name)
	c.sha256(path+".digest.sha256", s.Digest["sha256"])
	for alg, d := range s.Digest {
		if alg == "" || !isLowerHex(d) {
			c.fail(path+".digest."+alg, "must be lowercase hex digits")
		}
	}
	for k := range s.Annotations {
		c.str(path+".annotations key", k)
	}
}

func (c *checker) subjectsMatchBackups(s *Statement) {
	bySubject := map[string]int{}
	idsBySubject := map[string][]string{}
	for _, b := range s.Predicate.Backups {
		bySubject[b.Subject]++
		idsBySubject[b.Subject] = append(idsBySubject[b.Subject], b.BackupID)
	}
	seen := map[string]bool{}
	for i, sub := range s.Subject {
		path := fmt.Sprintf("subject[%d]", i)
		if seen[sub.Name] {
			c.fail(path+".name", "duplicates subject %q", sub.Name)
		}
		seen[sub.Name] = true
		if n := bySubject[sub.Name]; n != 1 {
			c.fail(path, "needs exactly 1 predicate.backups entry with subject %q, found %d", sub.Name, n)
		}
		c.annotationMatches(path, sub, idsBySubject[sub.Name])
	}
	for i, b := range s.Predicate.Backups {
		if !seen[b.Subject] {
			c.fail(fmt.Sprintf("predicate.backups[%d].subject", i), "names no subject: %q", b.Subject)
		}
	}
}

// annotationMatches checks a subject's backupId annotation against the
// ids of the backup entries naming that subject (looked up once, so
// validation stays linear in the number of subjects).
func (c *checker) annotationMatches(path string, sub Subject, ids []string) {
	id, ok := sub.Annotations["backupId"]
	if !ok || len(ids) != 1 {
		return // a subject without exactly one entry is reported already
	}
	for _, got := range ids {
		if got != id {
			c.fail(path+".annotations.backupId", "is %q but the backup entry says %q", id, got)
		}
	}
}

func (c *checker) deletion(path string, d *Deletion) {
	c.str(path+".attestationId", d.AttestationID)
	c.time(path+".issuedAt", d.IssuedAt)
	c.strs(path+".controllers", d.Controllers, 1)
	c.caseInfo(path+".case", d.Case)
	c.method(path+".method", d.Method)
	c.keyStore(path+".keyStore", d.KeyStore)
	c.str(path+".operator.vaultIdentity.displayName", d.Operator.VaultIdentity.DisplayName)
	if len(d.Backups) == 0 {
		c.fail(path+".backups", "needs at least 1 entry")
	}
	ids := map[string]bool{}
	for i, b := range d.Backups {
		bp := fmt.Sprintf("%s.backups[%d]", path, i)
		if ids[b.BackupID] {
			c.fail(bp+".backupId", "duplicates backup %q", b.BackupID)
		}
		ids[b.BackupID] = true
		c.backup(bp, &b, d)
	}
	c.part(path+".part", d)
	c.strs(path+".residualRisks", d.ResidualRisks, 0)
	c.str(path+".tool.name", d.Tool.Name)
	c.str(path+".tool.version", d.Tool.Version)
	c.ledger(path+".ledger", d.Ledger)
}

func (c *checker) caseInfo(path string, k Case) {
	c.str(path+".id", k.ID)
	c.str(path+".authority", k.Authority)
	c.str(path+".reference", k.Reference)
	c.time(path+".openedAt", k.OpenedAt)
	c.time(path+".closedAt", k.ClosedAt)
	c.order(path+".openedAt", k.OpenedAt, path+".closedAt", k.ClosedAt)
	c.str(path+".decision.reference", k.Decision.Reference)
	c.document(path+".decision.document", k.Decision.Document)
	c.str(path+".decision.recordedBy", k.Decision.RecordedBy)
	c.time(path+".decision.recordedAt", k.Decision.RecordedAt)
}

func (c *checker) document(path string, d Document) {
	c.str(path+".name", d.Name)
	c.sha256(path+".sha256", d.SHA256)
}

// method requires the NIST SP 800-88 Cryptographic Erase the tool
// performs: a statement naming another standard, category or technique
// does not say the keys were destroyed the way an auditor relies on.
func (c *checker) method(path string, m Method) {
	c.constant(path+".standard", m.Standard, MethodStandard)
	c.constant(path+".category", m.Category, MethodCategory)
	c.constant(path+".technique", m.Technique, MethodTechnique)
	c.str(path+".cipher", m.Cipher)
	if m.KeyStrengthBits < 128 {
		c.fail(path+".keyStrengthBits", "must be at least 128")
	}
}

func (c *checker) keyStore(path string, k KeyStore) {
	if k.Kind != "vault" && k.Kind != "openbao" {
		c.fail(path+".kind", "must be \"vault\" or \"openbao\"")
	}
	c.str(path+".address", k.Address)
	c.str(path+".transitMount", k.TransitMount)
	c.str(path+".version", k.Version)
	if _, err := parseRetention(k.SnapshotRetention); err != nil {
		c.fail(path+".snapshotRetention", "%v", err)
	}
}

func parseRetention(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("must be a non-negative duration such as \"720h\", not %q", s)
	}
	return d, nil
}

func (c *checker) ledger(path string, l Ledger) {
	head, ok := strings.CutPrefix(l.Head, "sha256:")
	if !ok || !isSHA256Hex(head) {
		c.fail(path+".head", "must be \"sha256:\" and 64 lowercase hex digits")
	}
	if l.Entries < 1 {
		c.fail(path+".entries", "must be at least 1")
	}
	if slots, ok := strings.CutPrefix(l.Slots, "sha256:"); l.Slots != "" && (!ok || !isSHA256Hex(slots)) {
		c.fail(path+".slots", "must be \"sha256:\" and 64 lowercase hex digits")
	}
}
