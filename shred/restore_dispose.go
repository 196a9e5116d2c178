package shred

import (
	"context"
	"errors"
	"path/filepath"
	"strings"

	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
)

// AllRestoredCopies names every restored copy of a backup in
// DisposeRestore.
const AllRestoredCopies = "*"

// DisposeRestore records that the plaintext copies an open of backup id
// wrote to output (a file path, "-" or "stdout", or AllRestoredCopies)
// were disposed of, as note says. It is a declaration, like
// dispose-original's media-sanitized: cryptoshred does not delete the
// copy. It refuses when no undisposed copy matches, and returns the
// outputs it covers. Attestations warn about each copy until then.
func (s *Service) DisposeRestore(ctx context.Context, actor Actor, id, output, note string) ([]string, error) {
	if note == "" {
		return nil, errors.New("a note saying what was done with the restored copy is required")
	}
	if err := catalog.CheckText("note", note, 1024); err != nil {
		return nil, err
	}
	output = restoreOutput(output)
	if _, _, err := s.catalog.GetBackup(ctx, id); err != nil {
		return nil, err
	}
	facts, err := s.ledgerFacts(ctx, map[string]bool{id: true})
	if err != nil {
		return nil, err
	}
	var covered, pending []string
	for _, c := range facts.restored[id] {
		if c.DisposedAt != nil {
			continue
		}
		pending = append(pending, c.Output)
		if output == AllRestoredCopies || c.Output == output {
			covered = append(covered, c.Output)
		}
	}
	if len(covered) == 0 {
		return nil, errs.Refusedf("no restored copy of %s at %s awaits disposal (copies not yet disposed of: %s)", id, output, orNone(pending))
	}
	_, err = s.ledger.Append(ctx, actor.String(), ledger.Event{Kind: ledger.KindRestoreDisposed, Backups: []string{id},
		Details: map[string]string{"output": output, "note": note}})
	return covered, err
}

// restoreOutput names an output as the ledger recorded it: an absolute
// path, or "stdout".
func restoreOutput(output string) string {
	switch output {
	case AllRestoredCopies, "stdout":
		return output
	case "-":
		return "stdout"
	}
	if abs, err := filepath.Abs(output); err == nil {
		return abs
	}
	return output
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
