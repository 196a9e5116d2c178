package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/cryptoshred/cryptoshred/internal/parallel"
	"github.com/cryptoshred/cryptoshred/shred/errs"
)

// caseRecords reads every record in dir, the directory of caseID's
// records of one kind (what names it in errors), in name order. A record
// that is gone, malformed or whose recordCase is another case reads as an
// empty T: such records can only keep a destruction from being found or
// recorded, never cause one. One whose read failed is nil, and the error
// says why.
func caseRecords[T any](ctx context.Context, c *Catalog, dir, caseID, what string, recordCase func(*T) string) ([]*T, error) {
	if err := CheckID("case", caseID); err != nil {
		return nil, err
	}
	names, err := c.store.List(ctx, dir)
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	return parallel.Map(ctx, names, parallel.DefaultLimit, func(ctx context.Context, name string) (*T, error) {
		rec, err := c.store.Get(ctx, dir+name)
		switch {
		case errors.Is(err, errs.ErrNotFound) || errors.Is(err, ErrMalformed):
			return new(T), nil
		case err != nil:
			return nil, fmt.Errorf("failed to read the %s %s%s: %w", what, dir, name, err)
		}
		var out T
		if FromMap(rec.Data, &out) != nil || recordCase(&out) != caseID {
			return new(T), nil
		}
		return &out, nil
	})
}
