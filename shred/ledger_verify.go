package shred

import (
	"context"
	"errors"
	"fmt"
)

// LedgerReport is the outcome of walking the whole chain.
type LedgerReport struct {
	Entries int64  `json:"entries"`
	Head    string `json:"head"`
	// FirstBad is the sequence number of the first entry that does not
	// verify, 0 if the chain is intact.
	FirstBad int64  `json:"firstBad,omitempty"`
	Problem  string `json:"problem,omitempty"`
}

// LedgerError names the first entry that breaks the chain. It wraps
// ErrLedgerBroken.
type LedgerError struct {
	Seq    int64
	Reason string
}

func (e *LedgerError) Error() string {
	if e.Seq == 0 {
		return "ledger: " + e.Reason
	}
	return fmt.Sprintf("ledger entry %d %s", e.Seq, e.Reason)
}

// Unwrap makes a LedgerError an ErrLedgerBroken.
func (e *LedgerError) Unwrap() error { return ErrLedgerBroken }

// VerifyLedger walks the chain from the first entry to the head and checks
// every link. It returns a *LedgerError for the first bad entry.
func (v *Vault) VerifyLedger(ctx context.Context) (*LedgerReport, error) {
	rep := &LedgerReport{}
	err := v.walkLedger(ctx, func(e *Entry, raw []byte) error {
		rep.Entries = e.Seq
		rep.Head = HashEntry(raw)
		return nil
	})
	var le *LedgerError
	if errors.As(err, &le) {
		rep.FirstBad, rep.Problem = le.Seq, le.Reason
	}
	return rep, err
}

// Entries returns every ledger entry in order, after verifying the chain.
func (v *Vault) Entries(ctx context.Context) ([]*Entry, error) {
	var out []*Entry
	err := v.walkLedger(ctx, func(e *Entry, _ []byte) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

// walkLedger calls fn for each entry in order, checking each link.
func (v *Vault) walkLedger(ctx context.Context, fn func(*Entry, []byte) error) error {
	head, _, err := v.readHead(ctx)
	if err != nil && !errors.Is(err, ErrVaultUnavailable) && !errors.Is(err, ErrRefused) {
		return &LedgerError{Seq: 0, Reason: "the ledger head is unreadable: " + err.Error()}
	}
	if err != nil {
		return err
	}
	prev := genesis
	for from := int64(1); from <= head.Seq; from += ledgerWindow {
		window, err := v.readWindow(ctx, from, min(from+ledgerWindow-1, head.Seq))
		if err != nil {
			return err
		}
		for i, r := range window {
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
		return &LedgerError{Seq: head.Seq, Reason: "does not match the ledger head's hash (edited or replaced)"}
	}
	return v.checkNothingPastHead(ctx, head)
}

func linkError(seq int64, e *Entry, prev string, err error) error {
	switch {
	case errors.Is(err, ErrNotFound):
		return &LedgerError{Seq: seq, Reason: "is missing (removed)"}
	case errors.Is(err, ErrVaultUnavailable):
		return err
	case err != nil:
		return &LedgerError{Seq: seq, Reason: "is unreadable: " + err.Error()}
	case e.Seq != seq:
		return &LedgerError{Seq: seq, Reason: fmt.Sprintf("holds entry %d (reordered)", e.Seq)}
	case e.Prev != prev:
		return &LedgerError{Seq: seq, Reason: "has a previous-hash link that does not match entry " + fmt.Sprint(seq-1) + " (an earlier entry was edited, or this one was moved)"}
	}
	return nil
}

// checkNothingPastHead accepts one entry past the head only if it links to
// the head: a writer stopped before advancing it, and the next append
// repairs that.
func (v *Vault) checkNothingPastHead(ctx context.Context, head Head) error {
	e, _, err := v.readEntry(ctx, head.Seq+1)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return &LedgerError{Seq: head.Seq + 1, Reason: "lies past the head and is unreadable: " + err.Error()}
	case e.Prev != head.Hash:
		return &LedgerError{Seq: head.Seq + 1, Reason: "lies past the head and does not link to it"}
	}
	return nil
}

// ledgerWindow is how many entries walkLedger reads at once; the links are
// still checked one by one, in order.
const ledgerWindow = 64

// readResult is one entry as read, or why it could not be.
type readResult struct {
	entry *Entry
	raw   []byte
	err   error
}

func (v *Vault) readWindow(ctx context.Context, from, to int64) ([]readResult, error) {
	seqs := make([]int64, 0, to-from+1)
	for seq := from; seq <= to; seq++ {
		seqs = append(seqs, seq)
	}
	return parallelMap(ctx, seqs, DefaultParallel, func(ctx context.Context, seq int64) (readResult, error) {
		e, raw, err := v.readEntry(ctx, seq)
		return readResult{entry: e, raw: raw, err: err}, nil
	})
}
