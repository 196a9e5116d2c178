package attest

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// summaryFrom is the number of backups from which a certificate opens
// with a summary and lists each kind of warning once, with its count,
// instead of once per backup (each backup stays marked below).
const summaryFrom = 10

// tally is one row of a certificate summary.
type tally struct {
	Name string
	N    int
}

// certSummary counts a large certificate's backups by data category, by
// storage location and by kind of warning.
type certSummary struct {
	Backups    int
	Categories []tally
	Storage    []tally
	Unwrapped  int
	Warnings   []tally
}

// summarize returns the summary of v's backups, or nil for a certificate
// small enough to read whole.
func summarize(v *certView) *certSummary {
	if len(v.Backups) < summaryFrom {
		return nil
	}
	s := &certSummary{Backups: len(v.Backups)}
	cats, store, warns := map[string]int{}, map[string]int{}, map[string]int{}
	for _, b := range v.Backups {
		if len(b.Categories) == 0 {
			cats["none declared"]++
		}
		for _, c := range b.Categories {
			cats[c]++
		}
		store[storageOf(b.Backup)]++
		if b.KeyUnwraps.Count > 0 {
			s.Unwrapped++
		}
		if b.OriginalWarning {
			warns[originalKind]++
		}
		if len(b.UndisposedCopies()) > 0 {
			warns[restoredKind]++
		}
		if len(b.SameDataStillIn) > 0 {
			warns[duplicateKind]++
		}
		if b.AuditWarning {
			warns[auditKind]++
		}
	}
	s.Categories, s.Storage, s.Warnings = sorted(cats), sorted(store), sorted(warns)
	return s
}

// The kinds of warning a backup can carry, as the summary counts them.
const (
	originalKind  = "original not accounted for"
	restoredKind  = "restored copy not disposed of"
	duplicateKind = "same data in another backup"
	auditKind     = "unwrap without a recorded purpose"
)

// warningText states a kind of warning for the grouped list.
var warningText = map[string]string{
	originalKind: "were encrypted after first being stored, and the disposal of the unencrypted original is not recorded: " +
		"a plaintext copy may still exist (marked !! below)",
	duplicateKind: "hold the same plaintext as a backup that was not destroyed: the data stays readable there (marked !! below)",
	restoredKind: "were restored by an authorised open to a plaintext copy whose disposal is not recorded: " +
		"crypto-shredding does not erase it (marked !! below)",
	auditKind: "had their key unwrapped, as Vault's audit log shows, with no recorded purpose: " +
		"the plaintext may have been copied outside cryptoshred (marked !! below)",
}

// countVerification counts, first among the summary's warnings, the n
// that verification raised (CertExtras.Warnings), listed each in full.
func (s *certSummary) countVerification(n int) {
	if n > 0 {
		s.Warnings = append([]tally{{Name: "raised by verification", N: n}}, s.Warnings...)
	}
}

// groupedWarnings states each kind of warning once with its count.
func (s *certSummary) groupedWarnings() []string {
	out := make([]string, len(s.Warnings))
	for i, w := range s.Warnings {
		out[i] = fmt.Sprintf("%d of %d backups %s", w.N, s.Backups, warningText[w.Name])
	}
	return out
}

// storageOf names where a backup's ciphertext was kept: its directory or
// S3 bucket and prefix.
func storageOf(b Backup) string {
	if len(b.Ciphertext.Locations) == 0 {
		return "unknown"
	}
	loc := b.Ciphertext.Locations[0]
	if scheme, rest, ok := strings.Cut(loc, "://"); ok {
		return scheme + "://" + path.Dir(rest)
	}
	return path.Dir(loc)
}

func sorted(m map[string]int) []tally {
	out := make([]tally, 0, len(m))
	for k, n := range m {
		out = append(out, tally{k, n})
	}
	slices.SortFunc(out, func(a, b tally) int {
		if a.N != b.N {
			return b.N - a.N
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}
