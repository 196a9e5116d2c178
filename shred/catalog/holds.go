package catalog

import (
	"context"
	"errors"
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
	return c.activePairs(ctx, pairs)
}

func (c *Catalog) activePairs(ctx context.Context, pairs [][2]string) (map[string][]string, error) {
	out := map[string][]string{}
	var mu sync.Mutex
	_, err := parallel.Map(ctx, pairs, parallel.DefaultLimit, func(ctx context.Context, p [2]string) (bool, error) {
		h, _, err := c.GetHold(ctx, p[0], p[1])
		if errors.Is(err, errs.ErrUnavailable) || errors.Is(err, errs.ErrRefused) {
			return false, err
		}
		active := !errors.Is(err, errs.ErrNotFound) && (err != nil || h.ReleasedAt.IsZero())
		if active {
			mu.Lock()
			out[p[1]] = append(out[p[1]], p[0])
			mu.Unlock()
		}
		return active, nil
	})
	return out, err
}
