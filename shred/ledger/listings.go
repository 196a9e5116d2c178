package ledger

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
)

// Listings appends entries of one kind and case that list backups, each
// backup at most once from a known point of the chain on, though other
// writers list some of the same backups meanwhile: two shred runs of one
// case at once both destroy a backup and both list it, and a run that
// takes a working one for stopped lists that one's backups. Before each
// append it reads every slot written since the last one it read and
// leaves out what they list; the append then takes the slot after the
// last one read, so an entry written in between makes it check again.
// Only entries that link and carry their role's signature count as
// listing a backup: a slot a role token filled by hand at worst makes a
// backup listed twice, never not at all.
//
// A Listings is not safe for concurrent use.
type Listings struct {
	ledger *Ledger
	kind   string
	caseID string
	end    Head
	listed map[string]bool
	keys   PublicKeys
	// details, if set, gives each entry's details from the backups it
	// lists.
	details func(listed []string) map[string]string
}

// Listings returns the listings of kind and caseID after since, which the
// caller must have read before anything that made it decide to list a
// backup: a shred run's plan reads the ledger's end before it reads any
// backup's record.
func (l *Ledger) Listings(since Head, kind, caseID string) *Listings {
	if since.Seq == 0 {
		since = Head{Hash: Genesis}
	}
	return &Listings{ledger: l, kind: kind, caseID: caseID, end: since, listed: map[string]bool{}}
}

// WithDetails makes each entry carry details(the backups it lists) and
// returns f.
func (f *Listings) WithDetails(details func(listed []string) map[string]string) *Listings {
	f.details = details
	return f
}

// End returns the ledger's last slot: its number and the hash of its
// bytes, found from the head's hint.
func (l *Ledger) End(ctx context.Context) (Head, error) { return l.findEnd(ctx) }

// AppendUnlisted appends one entry as actor listing those of backups that
// no entry read so far lists, and returns it (nil if every backup was
// listed already) and the backups it left out for that reason.
func (f *Listings) AppendUnlisted(ctx context.Context, actor string, backups []string) (*Entry, []string, error) {
	for attempt := 0; attempt < 200; attempt++ {
		if err := f.catchUp(ctx); err != nil {
			return nil, nil, err
		}
		unlisted := slices.DeleteFunc(slices.Clone(backups), func(id string) bool { return f.listed[id] })
		if len(unlisted) == 0 {
			return nil, backups, nil
		}
		ev := Event{Kind: f.kind, Case: f.caseID, Backups: unlisted}
		if f.details != nil {
			ev.Details = f.details(unlisted)
		}
		e, err := f.ledger.appendAt(ctx, f.end, actor, ev)
		if err == nil {
			f.end = Head{Seq: e.Seq, Hash: e.Hash}
			others := listedOf(backups, f.listed)
			for _, id := range unlisted {
				f.listed[id] = true
			}
			return e, others, nil
		}
		if !errors.Is(err, errs.ErrConflict) {
			return nil, nil, err
		}
		catalog.SleepJitter(ctx, attempt)
	}
	return nil, nil, fmt.Errorf("failed to append to the ledger: %w (too many concurrent writers)", errs.ErrConflict)
}

func listedOf(backups []string, listed map[string]bool) []string {
	var out []string
	for _, id := range backups {
		if listed[id] {
			out = append(out, id)
		}
	}
	return out
}

// catchUp reads the slots after f.end up to the last filled one and notes
// what their entries of f's kind and case list. It reads one slot, and
// while those are filled, twice as many at once, up to Walk's window.
func (f *Listings) catchUp(ctx context.Context) error {
	for size := int64(1); ; size = min(2*size, window) {
		slots, err := readWindow(ctx, f.ledger, f.end.Seq+1, f.end.Seq+size)
		if err != nil {
			return err
		}
		for _, s := range slots {
			switch {
			case errors.Is(s.err, errs.ErrNotFound):
				return nil
			case s.slot.Raw == nil:
				return s.err
			}
			if err := f.note(ctx, f.end.Seq+1, s.slot, s.err); err != nil {
				return err
			}
			f.end = Head{Seq: f.end.Seq + 1, Hash: HashEntry(s.slot.Raw)}
		}
	}
}

// note adds what slot seq lists, if it holds an entry of f's kind and
// case that links to f.end and is signed; readErr is how it was read.
func (f *Listings) note(ctx context.Context, seq int64, slot Slot, readErr error) error {
	e, problem := linkedEntry(seq, f.end.Hash, slot, readErr)
	if readErr != nil || problem != "" || e.Kind != f.kind || e.Case != f.caseID {
		return nil
	}
	if f.keys == nil {
		var err error
		if f.keys, err = f.ledger.signer.PublicKeys(ctx); err != nil || f.keys == nil {
			return fmt.Errorf("failed to read the ledger's public keys: %w", cmp.Or(err, errors.New("none returned")))
		}
	}
	if checkSigned(f.keys, e, slot.Raw, slot.Sig) != nil {
		return nil
	}
	for _, id := range e.Backups {
		f.listed[id] = true
	}
	return nil
}
