package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
)

// Ledger appends to and reads the chain kept in a catalog.Store: one
// entry per path ledger/NNNNNNNNNNNN, written once, and ledger/head.
type Ledger struct {
	store catalog.Store
}

// New returns the ledger kept in store.
func New(store catalog.Store) *Ledger { return &Ledger{store: store} }

const headPath = "ledger/head"

func entryPath(seq int64) string { return fmt.Sprintf("ledger/%012d", seq) }

// Append adds ev to the ledger as actor and returns the new entry. Writers
// race through check-and-set: an entry slot is written only if empty and
// the head only if unchanged, so concurrent writers never fork the chain or
// lose an entry.
func (l *Ledger) Append(ctx context.Context, actor string, ev Event) (*Entry, error) {
	for attempt := 0; attempt < 200; attempt++ {
		e, err := l.tryAppend(ctx, actor, ev)
		if !errors.Is(err, errs.ErrConflict) {
			return e, err
		}
		catalog.SleepJitter(ctx, attempt)
	}
	return nil, fmt.Errorf("failed to append to the ledger: %w (too many concurrent writers)", errs.ErrConflict)
}

func (l *Ledger) tryAppend(ctx context.Context, actor string, ev Event) (*Entry, error) {
	head, headVersion, err := l.readHead(ctx)
	if err != nil {
		return nil, err
	}
	e := &Entry{Seq: head.Seq + 1, Prev: head.Hash, Time: catalog.Now(), Actor: actor,
		Kind: ev.Kind, Case: ev.Case, Backups: ev.Backups, Details: ev.Details}
	raw, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	if _, err := l.store.Put(ctx, entryPath(e.Seq), map[string]any{"entry": string(raw)}, 0); err != nil {
		if errors.Is(err, errs.ErrConflict) {
			return nil, l.repairHead(ctx, head, headVersion)
		}
		return nil, err
	}
	// The slot is ours. If the head moved, another writer repaired it to
	// point at our entry; either way the entry is in the chain.
	_, err = catalog.PutJSON(ctx, l.store, headPath, Head{Seq: e.Seq, Hash: HashEntry(raw)}, headVersion)
	if err != nil && !errors.Is(err, errs.ErrConflict) {
		return nil, fmt.Errorf("ledger entry %d written but head not advanced (the next append repairs it): %w", e.Seq, err)
	}
	return e, nil
}

// repairHead advances a head left behind by a writer that stopped between
// writing its entry and the head. It always returns ErrConflict so the
// caller retries.
func (l *Ledger) repairHead(ctx context.Context, head Head, version int) error {
	raw, err := l.ReadEntry(ctx, head.Seq+1)
	if err != nil {
		return errs.ErrConflict
	}
	next, err := ParseEntry(raw)
	if err != nil || next.Prev != head.Hash {
		return errs.ErrConflict
	}
	_, _ = catalog.PutJSON(ctx, l.store, headPath, Head{Seq: next.Seq, Hash: HashEntry(raw)}, version)
	return errs.ErrConflict
}

// ReadHead returns the head as stored; an empty ledger has a genesis head.
func (l *Ledger) ReadHead(ctx context.Context) (Head, error) {
	h, _, err := l.readHead(ctx)
	return h, err
}

func (l *Ledger) readHead(ctx context.Context) (Head, int, error) {
	var h Head
	version, err := catalog.GetJSON(ctx, l.store, headPath, &h)
	if errors.Is(err, errs.ErrNotFound) {
		return Head{Hash: Genesis}, 0, nil
	}
	return h, version, err
}

// ReadEntry returns entry seq's exact bytes. An entry slot written more
// than once is reported as rewritten, with its bytes.
func (l *Ledger) ReadEntry(ctx context.Context, seq int64) ([]byte, error) {
	rec, err := l.store.Get(ctx, entryPath(seq))
	if err != nil {
		return nil, err
	}
	s, ok := rec.Data["entry"].(string)
	if !ok || len(rec.Data) != 1 {
		return nil, errors.New("is malformed")
	}
	if rec.Version != 1 {
		return []byte(s), fmt.Errorf("was rewritten (KV version %d)", rec.Version)
	}
	return []byte(s), nil
}

// Verify walks the whole chain; see Verify.
func (l *Ledger) Verify(ctx context.Context) (*Report, error) { return Verify(ctx, l) }

// Entries returns every entry in order, after verifying the chain.
func (l *Ledger) Entries(ctx context.Context) ([]*Entry, error) { return Entries(ctx, l) }
