package shred

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
)

// partBudget is the most bytes one part's encoded statement may take:
// what attest.Sign accepts, so every part's envelope is one that
// attest.Verify reads. Tests lower it to split parts by size with a few
// backups.
var partBudget = attest.MaxStatementSize

// entry returns b's backups[] entry as the statement states it.
func (d *deletion) entry(b *catalog.Backup) (attest.Backup, error) {
	ab, err := attestBackup(b, d.facts, d.predicate.KeyStore, subjectName(b, d.nameCounts))
	ab.SameDataStillIn = d.sameDataStillIn[b.ID]
	return ab, err
}

// validBackups keeps the backups whose entries would be valid and fit in
// a part, noting in d.sizes how many bytes each adds to a statement, and
// returns why each other one is left out. One such backup (a hold of the
// case the ledger has no span of, after an interrupted hold place, say)
// must not keep every other from being attested, for good.
func (d *deletion) validBackups(backups []*catalog.Backup) ([]*catalog.Backup, []*ItemError) {
	sizes, problems := make([]int, len(backups)), make([]error, len(backups))
	for i, b := range backups {
		sizes[i], problems[i] = d.checkEntry(b)
	}
	stated := statedControllers(d.caseControllers, backups, func(i int) bool { return problems[i] == nil })
	budget := partBudget - d.shellSize(slices.Collect(maps.Keys(stated)))
	caseErr := checkControllers(d.caseControllers)
	d.sizes = make([]int, 0, len(backups))
	return leaveOut(backups, func(i int) error {
		err := cmp.Or(caseErr, problems[i], unstated(backups[i].Controllers, stated), fits(sizes[i], budget))
		if err != nil {
			return errs.Refusedf("left out of the attestation: %v", err)
		}
		d.sizes = append(d.sizes, sizes[i]) // leaveOut asks in order, so sizes line up with the backups kept
		return nil
	})
}

// checkStatable reports why c could not be stated in an attestation: a
// record the schema refuses, one too large, or more data controllers of
// its own than an attestation names (controllersBudget).
func checkStatable(c *catalog.Case) error {
	if err := attest.ValidateCase(attestCase(c)); err != nil {
		return err
	}
	return checkControllers(c.Controllers)
}

// checkEntry returns how many bytes b's subject and entry add to a
// statement, or why b cannot be stated: an entry that would not be
// valid, or more controllers of its own than one backup may name.
func (d *deletion) checkEntry(b *catalog.Backup) (int, error) {
	ab, err := d.entry(b)
	if err == nil {
		err = d.predicate.ValidateBackup(&ab, b.Ciphertext.SHA256)
	}
	if err != nil {
		return 0, fmt.Errorf("its entry would not be valid: %w", err)
	}
	if n := catalog.ControllerBytes(b.Controllers); n > catalog.MaxControllerBytes {
		return 0, fmt.Errorf("its data controllers' names take %d bytes, more than an attestation states for one backup (%d)", n, catalog.MaxControllerBytes)
	}
	return entrySize(ab, b.Ciphertext.SHA256)
}

// fits reports why an entry of size bytes is in no part whose entries may
// take budget bytes.
func fits(size, budget int) error {
	if size > budget {
		return fmt.Errorf("its entry takes %d bytes, more than one part of an attestation holds (%d)", size, budget)
	}
	return nil
}

// entrySize is how many bytes ab and its subject add to an encoded
// statement, with the commas between them.
func entrySize(ab attest.Backup, sha256 string) (int, error) {
	entry, err := json.Marshal(ab)
	if err != nil {
		return 0, fmt.Errorf("failed to encode its entry: %w", err)
	}
	subject, err := json.Marshal(attest.SubjectOf(ab, sha256))
	if err != nil {
		return 0, fmt.Errorf("failed to encode its subject: %w", err)
	}
	return len(entry) + len(subject) + 2, nil
}

// shellSize bounds the encoding of a part's statement without its
// subjects and entries: d's predicate naming controllers, with the
// largest part fields.
func (d *deletion) shellSize(controllers []string) int {
	p := *d.predicate
	p.Backups, p.Controllers = nil, controllers
	longestID := strings.Repeat("x", 128)
	p.Part = &attest.Part{Index: attest.MaxParts, Of: attest.MaxParts, First: longestID, Last: longestID}
	shell, _ := json.Marshal(attest.NewStatement(p, nil))
	return len(shell) + 1<<10
}

// parts splits d.backups, in order, into parts of at most size backups
// whose subjects and entries fit in partBudget beside the predicate.
// validBackups left out every backup that fits in no part.
func (d *deletion) parts(size int) [][]*catalog.Backup {
	budget := partBudget - d.shellSize(d.predicate.Controllers)
	var parts [][]*catalog.Backup
	start, bytes := 0, 0
	for i, n := range d.sizes {
		if i > start && (i-start == size || bytes+n > budget) {
			parts = append(parts, d.backups[start:i])
			start, bytes = i, 0
		}
		bytes += n
	}
	if start < len(d.backups) {
		parts = append(parts, d.backups[start:])
	}
	return parts
}

// checkStatements makes, validates and encodes the statement of every
// part before any is signed: a part that could not be issued stops the
// attestation before its first part is stored, not after.
func (d *deletion) checkStatements(parts [][]*catalog.Backup) error {
	for i, part := range parts {
		err := d.checkStatement(part, i+1, len(parts))
		switch {
		case err != nil && len(parts) == 1:
			return fmt.Errorf("the attestation could not be issued, so nothing was signed: %w", err)
		case err != nil:
			return fmt.Errorf("part %d of %d of the attestation could not be issued, so no part was signed: %w", i+1, len(parts), err)
		}
	}
	return nil
}

func (d *deletion) checkStatement(backups []*catalog.Backup, index, of int) error {
	st, err := d.statement(backups, index, of)
	if err == nil {
		err = st.Validate()
	}
	if err != nil {
		return err
	}
	encoded, err := json.Marshal(st)
	if err == nil && len(encoded) > partBudget {
		err = fmt.Errorf("its statement takes %d bytes, more than one envelope may hold (%d)", len(encoded), partBudget)
	}
	return err
}
