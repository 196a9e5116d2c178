package shred

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
)

// RestoredCopies names the restored copies DisposeRestore covers: every
// copy of the backup not yet disposed of (All), or those an open wrote to
// Output, a file path or "-" for the stream open -o - wrote to stdout.
// Only All covers every copy and only "-" the stream: a file named "*" or
// "stdout" is a file, as open recorded it, so no declaration about one
// copy is recorded as one about others.
type RestoredCopies struct {
	All    bool
	Output string
}

// allRestoredCopies and streamOutput are the ledger's names for every
// restored copy of a backup and for an open's stream to stdout; a file is
// recorded by its absolute path, which is neither.
const (
	allRestoredCopies = "*"
	streamOutput      = "stdout"
)

// DisposeRestore records that the plaintext copies named by copies, which
// opens of backup id wrote, were disposed of, as note says. It is a
// declaration, like dispose-original's media-sanitized: cryptoshred does
// not delete the copy. It refuses when no undisposed copy matches, and
// returns the outputs it covers. Attestations warn about each copy until
// then.
func (s *Service) DisposeRestore(ctx context.Context, actor Actor, id string, copies RestoredCopies, note string) ([]string, error) {
	if note == "" {
		return nil, errors.New("a note saying what was done with the restored copy is required")
	}
	if err := catalog.CheckText("note", note, 1024); err != nil {
		return nil, err
	}
	output, err := copies.ledgerOutput()
	if err != nil {
		return nil, err
	}
	if _, _, err := s.catalog.GetBackup(ctx, id); err != nil {
		return nil, err
	}
	facts, err := s.ledgerFacts(ctx, map[string]bool{id: true})
	if err != nil {
		return nil, err
	}
	covered, pending := matchRestored(facts.restored[id], output)
	if len(covered) == 0 {
		return nil, errs.Refusedf("no restored copy of %s at %s awaits disposal (copies not yet disposed of: %s)", id, output, orNone(pending))
	}
	_, err = s.ledger.Append(ctx, actor.String(), ledger.Event{Kind: ledger.KindRestoreDisposed, Backups: []string{id},
		Details: map[string]string{"output": output, "note": note}})
	return covered, err
}

// matchRestored returns the outputs of the undisposed copies output
// covers, and of all undisposed copies.
func matchRestored(copies []attest.RestoredCopy, output string) (covered, pending []string) {
	for _, c := range copies {
		if c.DisposedAt != nil {
			continue
		}
		pending = append(pending, c.Output)
		if output == allRestoredCopies || c.Output == output {
			covered = append(covered, c.Output)
		}
	}
	return covered, pending
}

// ledgerOutput names the copies as the ledger records them: "*", "stdout"
// or a file's absolute path.
func (r RestoredCopies) ledgerOutput() (string, error) {
	switch {
	case r.All && r.Output != "":
		return "", errors.New("name one restored copy or all of them, not both")
	case r.All:
		return allRestoredCopies, nil
	case r.Output == "":
		return "", errors.New("no restored copy named: give its output, or all")
	case r.Output == "-":
		return streamOutput, nil
	}
	abs, err := filepath.Abs(r.Output)
	if err != nil {
		return "", fmt.Errorf("cannot resolve %s: %w", r.Output, err)
	}
	return abs, nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
