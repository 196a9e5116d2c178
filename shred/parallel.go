package shred

import (
	"context"
	"fmt"

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

// ItemError is the failure of one item of a batch.
type ItemError struct {
	ID  string
	Err error
}

func (e *ItemError) Error() string { return e.ID + ": " + e.Err.Error() }
func (e *ItemError) Unwrap() error { return e.Err }

// forEach runs fn on every id, at most limit at once, without stopping at
// the first failure. It returns the ids that succeeded, in input order, and
// one ItemError per failure.
func forEach(ctx context.Context, ids []string, limit int, fn func(context.Context, string) error) ([]string, []*ItemError) {
	errs := make([]error, len(ids))
	var g errgroup.Group
	g.SetLimit(limit)
	for i, id := range ids {
		g.Go(func() error {
			errs[i] = fn(ctx, id)
			return nil
		})
	}
	_ = g.Wait()
	var ok []string
	var failed []*ItemError
	for i, err := range errs {
		if err != nil {
			failed = append(failed, &ItemError{ID: ids[i], Err: err})
		} else {
			ok = append(ok, ids[i])
		}
	}
	return ok, failed
}

// BatchError reports the items of a batch that failed while the others
// were done. It is an ErrPartial when at least one item succeeded.
type BatchError struct {
	Done   int
	Failed []*ItemError
}

func (e *BatchError) Error() string {
	msg := fmt.Sprintf("%d done, %d failed", e.Done, len(e.Failed))
	for _, f := range e.Failed {
		msg += "\n  " + f.Error()
	}
	return msg
}

// Is makes a BatchError with some successes an ErrPartial.
func (e *BatchError) Is(target error) bool { return target == ErrPartial && e.Done > 0 }

// Unwrap exposes the item errors, so a batch whose items were all refused
// is itself ErrRefused.
func (e *BatchError) Unwrap() []error {
	if e.Done > 0 {
		return nil
	}
	out := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		out[i] = f
	}
	return out
}

func batchError(done int, failed []*ItemError) error {
	if len(failed) == 0 {
		return nil
	}
	return &BatchError{Done: done, Failed: failed}
}
