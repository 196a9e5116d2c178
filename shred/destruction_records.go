package shred

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

// maxClosedCases is how many of a backup's closedCases are looked in: the
// field is in the status record, which the admin and the compliance
// officer may write, so a long list must not turn into as many reads. A
// backup released by more cases than this is left to those cases' own
// plans and attestations.
const maxClosedCases = 8

// destructionRecords reads the runs' destruction records of each case at
// most once (catalog.CaseDestructions); it is safe for concurrent use.
type destructionRecords struct {
	catalog *catalog.Catalog
	mu      sync.Mutex
	cases   map[string]func() (map[string][]*catalog.Destruction, error)
}

func (s *Service) destructionRecords() *destructionRecords {
	return &destructionRecords{catalog: s.catalog, cases: map[string]func() (map[string][]*catalog.Destruction, error){}}
}

// of returns, merged (catalog.MergeDestructions), the accounts of b's
// destruction that the records of caseID hold or, if they name none, the
// records of the other cases whose close released b: a run of any of
// those cases may have destroyed it. closedCases only says where to look:
// an account decides nothing unless Vault answers that the key is gone,
// and an attestation takes only the one the ledger recorded.
func (r *destructionRecords) of(ctx context.Context, b *catalog.Backup, caseID string) ([]*catalog.Destruction, error) {
	var out []*catalog.Destruction
	for _, c := range casesToSearch(b, caseID) {
		if len(out) > 0 {
			break
		}
		byID, err := r.read(ctx, c)()
		if err != nil {
			return nil, fmt.Errorf("failed to read the destruction records of case %s: %w", c, err)
		}
		out = catalog.MergeDestructions(out, byID[b.ID]...)
	}
	return out, nil
}

// read returns the reader of caseID's records, made with the ctx of its
// first caller: the records are read for one operation.
func (r *destructionRecords) read(ctx context.Context, caseID string) func() (map[string][]*catalog.Destruction, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f, ok := r.cases[caseID]; ok {
		return f
	}
	f := sync.OnceValues(func() (map[string][]*catalog.Destruction, error) {
		return r.catalog.CaseDestructions(ctx, caseID)
	})
	r.cases[caseID] = f
	return f
}

// casesToSearch returns caseID (if set) and then at most maxClosedCases
// of b's closed cases, each once, leaving out names that are not case ids.
func casesToSearch(b *catalog.Backup, caseID string) []string {
	var out []string
	if caseID != "" {
		out = append(out, caseID)
	}
	for _, c := range b.ClosedCases {
		if len(out) == maxClosedCases+1 {
			break
		}
		if catalog.ValidID(c) && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}
