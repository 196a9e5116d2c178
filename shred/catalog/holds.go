package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/cryptoshred/cryptoshred/internal/parallel"
	"github.com/cryptoshred/cryptoshred/shred/errs"
)

// ActiveHolds returns, for each of ids that an unreleased hold of a case
// other than except covers, the ids of those cases. Hold records are the
// only source: the role policies let the compliance role write them and
// no other, unlike a backup's status record. A hold record that exists
// but cannot be read counts as active, so a hold is never lifted on a
// guess.
func (c *Catalog) ActiveHolds(ctx context.Context, ids []string, except string) (map[string][]string, error) {
	pairs, err := c.holdPairs(ctx, ids, except)
	if err != nil {
		return nil, err
	}
	active, _, err := c.activePairs(ctx, pairs, "")
	return active, err
}

// ActiveHoldsIn is ActiveHolds for one backup, reading only the hold
// records of cases (but except): the cases its status names, say, a hint
// that says where to look; a name without a hold record adds nothing.
func (c *Catalog) ActiveHoldsIn(ctx context.Context, id string, cases []string, except string) ([]string, error) {
	var pairs [][2]string
	for _, caseID := range cases {
		if caseID != except && CheckID("case", caseID) == nil {
			pairs = append(pairs, [2]string{caseID, id})
		}
	}
	active, _, err := c.activePairs(ctx, pairs, "")
	return active[id], err
}

// ActiveHoldsAndOwn is ActiveHolds of every case, that also returns the
// hold records of caseID it read on the way, so a plan reads each hold
// record once. A record of caseID that cannot be read is an error, as in
// CaseHolds.
func (c *Catalog) ActiveHoldsAndOwn(ctx context.Context, ids []string, caseID string) (map[string][]string, []*Hold, error) {
	pairs, err := c.holdPairs(ctx, ids, "")
	if err != nil {
		return nil, nil, err
	}
	return c.activePairs(ctx, pairs, caseID)
}

// holdPairs lists the (case, backup) hold records on ids of every case
// but except.
func (c *Catalog) holdPairs(ctx context.Context, ids []string, except string) ([][2]string, error) {
	dirs, err := c.store.List(ctx, "holds/")
	if err != nil {
		return nil, err
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	var pairs [][2]string
	for _, d := range dirs {
		caseID, isDir := strings.CutSuffix(d, "/")
		if !isDir || caseID == except {
			continue
		}
		held, err := c.store.List(ctx, "holds/"+caseID+"/")
		if err != nil {
			return nil, err
		}
		for _, id := range held {
			if want[id] {
				pairs = append(pairs, [2]string{caseID, id})
			}
		}
	}
	return pairs, nil
}

// activePairs reads the hold records pairs and returns, by backup, the
// cases whose hold is active, and the records of own, in pairs' order.
func (c *Catalog) activePairs(ctx context.Context, pairs [][2]string, own string) (map[string][]string, []*Hold, error) {
	out := map[string][]string{}
	var mu sync.Mutex
	holds, err := parallel.Map(ctx, pairs, parallel.DefaultLimit, func(ctx context.Context, p [2]string) (*Hold, error) {
		h, _, err := c.GetHold(ctx, p[0], p[1])
		if errors.Is(err, errs.ErrUnavailable) || errors.Is(err, errs.ErrRefused) || err != nil && own != "" && p[0] == own {
			return nil, err
		}
		if !errors.Is(err, errs.ErrNotFound) && (err != nil || h.ReleasedAt.IsZero()) {
			mu.Lock()
			out[p[1]] = append(out[p[1]], p[0])
			mu.Unlock()
		}
		if own == "" || p[0] != own {
			return nil, nil
		}
		return h, nil
	})
	return out, slices.DeleteFunc(holds, func(h *Hold) bool { return h == nil }), err
}

// HoldCaseIDs returns, sorted, the cases that have hold records, whether
// or not their case record exists or can be read: the hold records
// decide. A folder of hold records whose name is no case id (the
// compliance role may create one by hand; its records count as holds
// where holds decide) is returned as a RecordError.
func (c *Catalog) HoldCaseIDs(ctx context.Context) ([]string, []*RecordError, error) {
	dirs, err := c.store.List(ctx, "holds/")
	var ids []string
	var odd []*RecordError
	for _, d := range dirs {
		id, isDir := strings.CutSuffix(d, "/")
		switch {
		case !isDir:
		case CheckID("case", id) != nil:
			odd = append(odd, &RecordError{Path: "holds/" + d, Err: errors.New("its name is no case id, so its hold records are not listed, but they count as active holds of the backups they name")})
		default:
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, odd, err
}

// ReadHolds returns caseID's hold records, and those it skipped because
// they cannot be read as one (junk the compliance role wrote; such a
// record counts as an active hold wherever holds decide).
func (c *Catalog) ReadHolds(ctx context.Context, caseID string) ([]*Hold, []*RecordError, error) {
	ids, err := c.HeldIDs(ctx, caseID)
	if err != nil {
		return nil, nil, err
	}
	holds, bad, err := readEach(ctx, ids, func(id string) string { return holdPath(caseID, id) }, func(ctx context.Context, id string) (*Hold, error) {
		h, _, err := c.GetHold(ctx, caseID, id)
		return h, err
	})
	bad = slices.DeleteFunc(bad, gone)
	for _, e := range bad {
		e.Err = fmt.Errorf("%w (it counts as an active hold)", e.Err)
	}
	return holds, bad, err
}
