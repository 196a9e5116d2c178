package shred

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cryptoshred/cryptoshred/internal/parallel"
	"github.com/cryptoshred/cryptoshred/shred/errs"
)

// ItemError is the failure of one item of a batch.
type ItemError struct {
	ID  string
	Err error
}

func (e *ItemError) Error() string { return e.ID + ": " + e.Err.Error() }
func (e *ItemError) Unwrap() error { return e.Err }

// MarshalJSON writes the id and the error's text, as {"id", "error"}: an
// error value has no fields of its own to marshal.
func (e *ItemError) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID    string `json:"id"`
		Error string `json:"error"`
	}{e.ID, e.Err.Error()})
}

// forEach runs fn on every id, at most limit at once, without stopping at
// the first failure, and tells report (if not nil) how many are done as
// each is, from the goroutines that run fn. It returns the ids that
// succeeded, in input order, and one ItemError per failure.
func forEach(ctx context.Context, ids []string, limit int, report func(done, total int), fn func(context.Context, string) error) ([]string, []*ItemError) {
	var ok []string
	var failed []*ItemError
	count := counter(report, len(ids))
	for i, err := range parallel.Each(ctx, ids, limit, func(ctx context.Context, id string) error {
		defer count()
		return fn(ctx, id)
	}) {
		if err != nil {
			failed = append(failed, &ItemError{ID: ids[i], Err: err})
		} else {
			ok = append(ok, ids[i])
		}
	}
	return ok, failed
}

// BatchError reports the items of a batch that failed while the others
// were done. It is an errs.ErrPartial when at least one item succeeded.
type BatchError struct {
	Done   int
	Failed []*ItemError
}

// MaxListedFailures is how many failures a BatchError's text lists: a
// run of 100,000 backups that fails them all must not build (and print
// twice) a text of every one. Callers that list them all read Failed.
const MaxListedFailures = 20

func (e *BatchError) Error() string {
	if e.Done == 0 && len(e.Failed) == 1 {
		return e.Failed[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d done, %d failed", e.Done, len(e.Failed))
	for _, f := range e.Failed[:min(len(e.Failed), MaxListedFailures)] {
		b.WriteString("\n  ")
		b.WriteString(f.Error())
	}
	if more := len(e.Failed) - MaxListedFailures; more > 0 {
		fmt.Fprintf(&b, "\n  ... and %d more", more)
	}
	return b.String()
}

// Is makes a BatchError with some successes an errs.ErrPartial.
func (e *BatchError) Is(target error) bool { return target == errs.ErrPartial && e.Done > 0 }

// Unwrap exposes the item errors, so a batch whose items were all refused
// is itself errs.ErrRefused.
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
