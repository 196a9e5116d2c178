package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/cryptoshred/cryptoshred/internal/parallel"
	"github.com/cryptoshred/cryptoshred/shred/errs"
)

// Source gives a ledger's entries to Verify: Vault through a Ledger, or an
// exported file.
type Source interface {
	// ReadHead returns the head as recorded.
	ReadHead(ctx context.Context) (Head, error)
	// ReadEntry returns entry seq's exact bytes, or an error wrapping
	// errs.ErrNotFound when there is none.
	ReadEntry(ctx context.Context, seq int64) ([]byte, error)
}

// ErrBroken marks a ledger whose hash chain does not verify. The CLI maps
// it to exit code 5.
var ErrBroken = errors.New("ledger verification failed")

// BrokenError names the first entry that breaks the chain. It wraps
// ErrBroken.
type BrokenError struct {
	Seq    int64
	Reason string
}

func (e *BrokenError) Error() string {
	if e.Seq == 0 {
		return "ledger: " + e.Reason
	}
	return fmt.Sprintf("ledger entry %d %s", e.Seq, e.Reason)
}

// Unwrap makes a BrokenError an ErrBroken.
func (e *BrokenError) Unwrap() error { return ErrBroken }

// Report is the outcome of walking the whole chain.
type Report struct {
	Entries int64  `json:"entries"`
	Head    string `json:"head"`
	// FirstBad is the sequence number of the first entry that does not
	// verify, 0 if the chain is intact.
	FirstBad int64  `json:"firstBad,omitempty"`
	Problem  string `json:"problem,omitempty"`
}

// Verify walks src's chain from the first entry to the head and checks
// every link. It returns a *BrokenError for the first bad entry.
func Verify(ctx context.Context, src Source) (*Report, error) {
	rep := &Report{}
	err := Walk(ctx, src, func(e *Entry, raw []byte) error {
		rep.Entries = e.Seq
		rep.Head = HashEntry(raw)
		return nil
	})
	var be *BrokenError
	if errors.As(err, &be) {
		rep.FirstBad, rep.Problem = be.Seq, be.Reason
	}
	return rep, err
}

// Entries returns every entry of src in order, after verifying the chain.
func Entries(ctx context.Context, src Source) ([]*Entry, error) {
	var out []*Entry
	err := Walk(ctx, src, func(e *Entry, _ []byte) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

// Walk calls fn for each entry of src in order, checking each link, and
// returns a *BrokenError for the first entry that does not verify.
func Walk(ctx context.Context, src Source, fn func(*Entry, []byte) error) error {
	head, err := src.ReadHead(ctx)
	if err != nil && !errors.Is(err, errs.ErrUnavailable) && !errors.Is(err, errs.ErrRefused) {
		return &BrokenError{Seq: 0, Reason: "the ledger head is unreadable: " + err.Error()}
	}
	if err != nil {
		return err
	}
	prev := Genesis
	for from := int64(1); from <= head.Seq; from += window {
		entries, err := readWindow(ctx, src, from, min(from+window-1, head.Seq))
		if err != nil {
			return err
		}
		for i, r := range entries {
			seq := from + int64(i)
			if err := linkError(seq, r.entry, prev, r.err); err != nil {
				return err
			}
			prev = HashEntry(r.raw)
			if err := fn(r.entry, r.raw); err != nil {
				return err
			}
		}
	}
	if prev != head.Hash {
		return &BrokenError{Seq: head.Seq, Reason: "does not match the ledger head's hash (edited or replaced)"}
	}
	return checkNothingPastHead(ctx, src, head)
}

func linkError(seq int64, e *Entry, prev string, err error) error {
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return &BrokenError{Seq: seq, Reason: "is missing (removed)"}
	case errors.Is(err, errs.ErrUnavailable):
		return err
	case err != nil:
		return &BrokenError{Seq: seq, Reason: "is unreadable: " + err.Error()}
	case e.Seq != seq:
		return &BrokenError{Seq: seq, Reason: fmt.Sprintf("holds entry %d (reordered)", e.Seq)}
	case e.Prev != prev:
		return &BrokenError{Seq: seq, Reason: "has a previous-hash link that does not match entry " + fmt.Sprint(seq-1) + " (an earlier entry was edited, or this one was moved)"}
	}
	return nil
}

// checkNothingPastHead accepts one entry past the head only if it links to
// the head: a writer stopped before advancing it, and the next append
// repairs that.
func checkNothingPastHead(ctx context.Context, src Source, head Head) error {
	e, _, err := readParsed(ctx, src, head.Seq+1)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return nil
	case err != nil:
		return &BrokenError{Seq: head.Seq + 1, Reason: "lies past the head and is unreadable: " + err.Error()}
	case e.Prev != head.Hash:
		return &BrokenError{Seq: head.Seq + 1, Reason: "lies past the head and does not link to it"}
	}
	return nil
}

// window is how many entries Walk reads at once; the links are still
// checked one by one, in order.
const window = 64

// readResult is one entry as read, or why it could not be.
type readResult struct {
	entry *Entry
	raw   []byte
	err   error
}

func readWindow(ctx context.Context, src Source, from, to int64) ([]readResult, error) {
	seqs := make([]int64, 0, to-from+1)
	for seq := from; seq <= to; seq++ {
		seqs = append(seqs, seq)
	}
	return parallel.Map(ctx, seqs, parallel.DefaultLimit, func(ctx context.Context, seq int64) (readResult, error) {
		e, raw, err := readParsed(ctx, src, seq)
		return readResult{entry: e, raw: raw, err: err}, nil
	})
}

// readParsed reads and parses entry seq. A parse error comes before any
// read error that still returned bytes (a rewritten slot).
func readParsed(ctx context.Context, src Source, seq int64) (*Entry, []byte, error) {
	raw, err := src.ReadEntry(ctx, seq)
	if raw == nil {
		return nil, nil, err
	}
	e, perr := ParseEntry(raw)
	if perr != nil {
		return nil, nil, perr
	}
	return e, raw, err
}
