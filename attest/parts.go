package attest

import (
	"fmt"
	"iter"
	"slices"
	"strings"
)

// DefaultPartSize is the most subjects one part of an attestation holds
// unless told otherwise: about 7 MiB of envelope at 1.4 KiB a backup.
const DefaultPartSize = 5000

// MaxPartSize is the largest part size allowed: 10,000 subjects of the
// usual 1.4 KiB stay within MaxEnvelopeSize (about 12,000 would reach
// it). An issuer closes a part earlier when its entries are larger.
const MaxPartSize = 10000

// MaxParts is the most parts one attestation may have.
const MaxParts = 9999

// CheckPartSet is the name of the check that the parts given are every
// part of one attestation (CheckParts).
const CheckPartSet = "parts"

// SplitStatements returns the statements attesting d (see Statements).
func SplitStatements(d Deletion, digests map[string]string, size int) []*Statement {
	return slices.Collect(Statements(d, digests, size))
}

// Statements yields the statements attesting d, one at a time, so that a
// caller signing and storing each in turn never holds them all. When d's
// backups fit in one part of size subjects (DefaultPartSize if size <= 0)
// that is one statement without Part, exactly as NewStatement makes it.
// Otherwise the backups, sorted by id (a sorted copy unless they already
// are), are split into parts of at most size, each a statement whose Part
// gives its index, the count and its id range. digests are as for
// NewStatement.
func Statements(d Deletion, digests map[string]string, size int) iter.Seq[*Statement] {
	if size <= 0 {
		size = DefaultPartSize
	}
	return func(yield func(*Statement) bool) {
		if len(d.Backups) <= size {
			yield(NewStatement(d, digests))
			return
		}
		backups := sortedByID(d.Backups)
		of := (len(backups) + size - 1) / size
		index := 0
		for chunk := range slices.Chunk(backups, size) {
			index++
			p := d
			p.Backups = chunk
			if !yield(PartStatement(p, digests, index, of)) {
				return
			}
		}
	}
}

// PartStatement returns the statement of part index of an attestation in
// of parts, whose subjects are d's backups; the caller must give them
// sorted by id, each part's after the previous part's, so that the parts'
// ranges do not overlap. With of 1 it is NewStatement(d, digests), a
// whole attestation without Part. A caller that builds each part's
// backups only when it signs that part holds one part at a time.
func PartStatement(d Deletion, digests map[string]string, index, of int) *Statement {
	if of > 1 {
		d.Part = &Part{Index: index, Of: of, First: d.Backups[0].BackupID, Last: d.Backups[len(d.Backups)-1].BackupID}
	}
	return NewStatement(d, digests)
}

// sortedByID returns backups sorted by id: backups itself if it is.
func sortedByID(backups []Backup) []Backup {
	byID := func(a, b Backup) int { return strings.Compare(a.BackupID, b.BackupID) }
	if slices.IsSortedFunc(backups, byID) {
		return backups
	}
	sorted := slices.Clone(backups)
	slices.SortFunc(sorted, byID)
	return sorted
}

// part checks d's Part, if any: its index within 1..of, and a range whose
// first and last are backups of the part and holds every other.
func (c *checker) part(path string, d *Deletion) {
	p := d.Part
	if p == nil {
		return
	}
	if p.Of < 2 || p.Of > MaxParts {
		c.fail(path+".of", "must be 2 to %d (a whole case has no part)", MaxParts)
	}
	if p.Index < 1 || p.Index > p.Of {
		c.fail(path+".index", "must be 1 to %d", p.Of)
	}
	c.str(path+".first", p.First)
	c.str(path+".last", p.Last)
	if p.First > p.Last {
		c.fail(path+".last", "is before first")
	}
	ends := 0
	for i, b := range d.Backups {
		if b.BackupID < p.First || b.BackupID > p.Last {
			c.fail(fmt.Sprintf("predicate.backups[%d].backupId", i), "%q is outside the part's range %q to %q", b.BackupID, p.First, p.Last)
		}
		if b.BackupID == p.First || b.BackupID == p.Last {
			ends++
		}
	}
	if ends < 1 || (p.First != p.Last && ends < 2) {
		c.fail(path, "first and last must be backups of the part")
	}
}
