package shred

import (
	"context"

	"golang.org/x/sync/errgroup"
)

// parallelMap applies fn to each item with at most limit calls at once and
// returns the results in input order, or the first error.
func parallelMap[T, R any](ctx context.Context, items []T, limit int, fn func(context.Context, T) (R, error)) ([]R, error) {
	out := make([]R, len(items))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for i, item := range items {
		g.Go(func() error {
			r, err := fn(ctx, item)
			out[i] = r
			return err
		})
	}
	return out, g.Wait()
}
