package shred

import (
	"context"
	"io"
	"sync/atomic"
)

type progressKey struct{}

// WithProgress returns ctx with report, which the bulk operations run
// under it (PlaceHolds, ReleaseHolds, CloseCase, PlanShred) call as each
// backup is done: how many of how many, from several goroutines at once.
// It is for a display; nothing depends on it.
func WithProgress(ctx context.Context, report func(done, total int)) context.Context {
	return context.WithValue(ctx, progressKey{}, report)
}

// counter returns a function that tells report (if not nil), each time it
// is called, how many of total are done; several goroutines may call it.
func counter(report func(done, total int), total int) func() {
	if report == nil {
		return func() {}
	}
	var done atomic.Int64
	return func() { report(int(done.Add(1)), total) }
}

// progressOf returns the report WithProgress put on ctx, or nil.
func progressOf(ctx context.Context) func(done, total int) {
	report, _ := ctx.Value(progressKey{}).(func(done, total int))
	return report
}

// progressReader reports the bytes read through it, and the total
// expected (-1 if unknown), to report.
type progressReader struct {
	r      io.Reader
	done   int64
	total  int64
	report func(done, total int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	p.report(p.done, p.total)
	return n, err
}

// withProgress returns r, reporting its progress towards total (-1 if
// unknown) to report when it is set.
func withProgress(r io.Reader, total int64, report func(done, total int64)) io.Reader {
	if report == nil {
		return r
	}
	return &progressReader{r: r, total: total, report: report}
}
