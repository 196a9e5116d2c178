package attest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// PartSet is what CheckParts found: every part of one attestation.
type PartSet struct {
	AttestationID string `json:"attestationId"`
	Case          string `json:"case"`
	Parts         int    `json:"parts"`
	Backups       int    `json:"backups"`
}

// PartSummary is what CheckPartSummaries needs of a verified part. A
// verifier of many parts keeps it instead of the part's statement, so its
// memory does not grow with the backups of the parts already verified.
type PartSummary struct {
	AttestationID string
	Case          string
	Ledger        Ledger
	IssuedAt      time.Time
	Part          *Part // nil: a whole attestation
	Backups       int
	// Shared is the digest of what every part of one attestation carries
	// alike (sharedDigest).
	Shared string
}

// Summarize returns the PartSummary of a verified statement.
func Summarize(st *Statement) PartSummary {
	p := &st.Predicate
	return PartSummary{AttestationID: p.AttestationID, Case: p.Case.ID, Ledger: p.Ledger, IssuedAt: p.IssuedAt,
		Part: p.Part, Backups: len(p.Backups), Shared: sharedDigest(*p)}
}

// sharedDigest is the SHA-256 of p without its backups and its place
// among the parts: controllers, case, method, key store, operator,
// residual risks, tool, ledger, id and time, which SplitStatements gives
// every part alike.
func sharedDigest(p Deletion) string {
	p.Part, p.Backups = nil, nil
	raw, err := json.Marshal(p)
	if err != nil {
		return "unencodable: " + err.Error()
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// CheckParts is CheckPartSummaries over whole statements.
func CheckParts(stmts []*Statement) (*PartSet, error) {
	parts := make([]PartSummary, len(stmts))
	for i, st := range stmts {
		parts[i] = Summarize(st)
	}
	return CheckPartSummaries(parts)
}

// CheckPartSummaries checks that parts, each of a statement already
// verified (Verify), are every part of one attestation: one
// attestationId, case, ledger head and issuedAt, the same shared fields
// (sharedDigest), each index from 1 to of
// exactly once, and id ranges that do not overlap. It takes time linear in
// the number of parts. The error is a *VerificationError naming
// CheckPartSet.
func CheckPartSummaries(parts []PartSummary) (*PartSet, error) {
	if err := oneAttestation(parts); err != nil {
		return nil, &VerificationError{Check: CheckPartSet, Err: err}
	}
	first := &parts[0]
	byIndex := make([]*PartSummary, first.Part.Of+1)
	set := &PartSet{AttestationID: first.AttestationID, Case: first.Case, Parts: first.Part.Of}
	for i := range parts {
		p := &parts[i]
		if err := samePartOf(p, first, byIndex); err != nil {
			return nil, &VerificationError{Check: CheckPartSet, Err: err}
		}
		byIndex[p.Part.Index] = p
		set.Backups += p.Backups
	}
	if err := completeRanges(first.AttestationID, byIndex); err != nil {
		return nil, &VerificationError{Check: CheckPartSet, Err: err}
	}
	return set, nil
}

// oneAttestation refuses an empty list, a whole attestation among parts,
// and parts of several attestations, naming them.
func oneAttestation(parts []PartSummary) error {
	if len(parts) == 0 {
		return fmt.Errorf("no part given")
	}
	counts := map[string]int{}
	var ids []string
	for _, p := range parts {
		if p.Part == nil {
			return fmt.Errorf("attestation %s is a whole attestation, not a part: verify it on its own", p.AttestationID)
		}
		if counts[p.AttestationID] == 0 {
			ids = append(ids, p.AttestationID)
		}
		counts[p.AttestationID]++
	}
	if len(ids) == 1 {
		return nil
	}
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = fmt.Sprintf("%s (%d part(s))", id, counts[id])
	}
	return fmt.Errorf("parts of %d different attestations were given: %s; verify each attestation's parts together", len(ids), strings.Join(names, ", "))
}

// samePartOf checks that p is another part of first's attestation, not
// one already seen.
func samePartOf(p, first *PartSummary, byIndex []*PartSummary) error {
	switch {
	case p.Part.Of != first.Part.Of:
		return fmt.Errorf("attestation %s: part %d says there are %d parts, part %d says %d", p.AttestationID, p.Part.Index, p.Part.Of, first.Part.Index, first.Part.Of)
	case p.Case != first.Case || p.Ledger != first.Ledger || !p.IssuedAt.Equal(first.IssuedAt):
		return fmt.Errorf("attestation %s: part %d and part %d differ in case, ledger head or issuedAt", p.AttestationID, p.Part.Index, first.Part.Index)
	case p.Shared != first.Shared:
		return fmt.Errorf("attestation %s: part %d and part %d differ in what every part carries alike (controllers, case, method, key store, operator, residual risks or tool)", p.AttestationID, p.Part.Index, first.Part.Index)
	case byIndex[p.Part.Index] != nil:
		return fmt.Errorf("attestation %s: part %d of %d is given twice", p.AttestationID, p.Part.Index, p.Part.Of)
	}
	return nil
}

// completeRanges checks that byIndex[1:] has every part and that their id
// ranges rise with the index without overlapping.
func completeRanges(id string, byIndex []*PartSummary) error {
	var missing []string
	for i := 1; i < len(byIndex); i++ {
		if byIndex[i] == nil {
			missing = append(missing, fmt.Sprint(i))
		}
	}
	if len(missing) > 0 {
		if len(missing) > 10 {
			missing = append(missing[:10], "...")
		}
		return fmt.Errorf("attestation %s has %d parts but part(s) %s were not given: it is complete only with all of them", id, len(byIndex)-1, strings.Join(missing, ", "))
	}
	for i := 2; i < len(byIndex); i++ {
		prev, cur := byIndex[i-1].Part, byIndex[i].Part
		if prev.Last >= cur.First {
			return fmt.Errorf("attestation %s: the id ranges of parts %d (%s to %s) and %d (%s to %s) overlap or are out of order",
				id, prev.Index, prev.First, prev.Last, cur.Index, cur.First, cur.Last)
		}
	}
	return nil
}

// PartFileName is the file of part index of an attestation written to
// base: base itself for part 1, else base with ".part-NNNN" before its
// extension (".dsse.json", ".sigstore.json", ".bundle.json",
// ".intoto.json" or the last one): deletion.dsse.json,
// deletion.part-0002.dsse.json...
func PartFileName(base string, index int) string {
	if index <= 1 {
		return base
	}
	stem, ext := splitExt(base)
	return fmt.Sprintf("%s.part-%04d%s", stem, index, ext)
}

// IndexFileName is the index written next to the parts written to base:
// deletion.dsse.json gives deletion.index.json.
func IndexFileName(base string) string {
	stem, _ := splitExt(base)
	return stem + ".index.json"
}

func splitExt(name string) (string, string) {
	for _, ext := range []string{".dsse.json", ".sigstore.json", ".bundle.json", ".intoto.json"} {
		if strings.HasSuffix(name, ext) && len(name) > len(ext) {
			return strings.TrimSuffix(name, ext), ext
		}
	}
	dir, file := splitDir(name)
	if i := strings.LastIndexByte(file, '.'); i > 0 {
		return dir + file[:i], file[i:]
	}
	return name, ""
}

func splitDir(name string) (string, string) {
	i := strings.LastIndexAny(name, `/\`)
	return name[:i+1], name[i+1:]
}

// PartIndex is the unsigned index of a multi-part attestation's files,
// written beside them as ATTESTATION.index.json. It is a hint, for finding
// the part that names a backup: the signed parts prove completeness.
type PartIndex struct {
	AttestationID string       `json:"attestationId"`
	Case          string       `json:"case"`
	Backups       int          `json:"backups"`
	Parts         []IndexEntry `json:"parts"`
}

// IndexEntry is one part in a PartIndex.
type IndexEntry struct {
	Index   int    `json:"index"`
	File    string `json:"file"`
	SHA256  string `json:"sha256"`
	Bundle  string `json:"bundle,omitempty"`
	First   string `json:"first"`
	Last    string `json:"last"`
	Backups int    `json:"backups"`
}
