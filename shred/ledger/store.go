package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
)

// Ledger appends to and reads the chain kept in a catalog.Store: one slot
// per path ledger/NNNNNNNNNNNN, created once and never updated (the role
// policies give create but not update on slots), and ledger/head, a hint
// of where the chain ends.
//
// Every slot is part of the chain whatever it holds: the next entry links
// to the hash of the slot's exact bytes. So a slot that a role token
// filled with junk is reported by verification but never stops anyone
// from appending after it, and the head, which any role may rewrite, is
// only where the search for the end starts.
type Ledger struct {
	store  catalog.Store
	signer Signer
}

// New returns the ledger kept in store, whose entries signer signs with
// the key of the role that writes each kind.
func New(store catalog.Store, signer Signer) *Ledger { return &Ledger{store: store, signer: signer} }

const headPath = "ledger/head"

func entryPath(seq int64) string { return fmt.Sprintf("ledger/%012d", seq) }

// ErrMalformedSlot marks a slot that does not hold one entry string; its
// bytes (the canonical JSON of what it holds) still chain.
var ErrMalformedSlot = errors.New("is not a ledger entry")

// ErrRewritten marks a slot written more than once: slots are create-only
// for every role, so only a Vault operator can have done it.
var ErrRewritten = errors.New("was rewritten")

// Append adds ev to the ledger as actor and returns the new entry. Writers
// race through check-and-set on the empty slot after the end, so
// concurrent writers never fork the chain or lose an entry.
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
	end, err := l.findEnd(ctx)
	if err != nil {
		return nil, err
	}
	return l.appendAt(ctx, end, actor, ev)
}

// appendAt writes ev as the entry after end, if that slot is still
// empty; otherwise it returns an error wrapping errs.ErrConflict.
func (l *Ledger) appendAt(ctx context.Context, end Head, actor string, ev Event) (*Entry, error) {
	e := &Entry{Seq: end.Seq + 1, Prev: end.Hash, Time: catalog.Now(), Actor: actor,
		Kind: ev.Kind, Case: ev.Case, Backups: ev.Backups, Details: ev.Details}
	raw, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	sig, err := l.sign(ctx, e.Kind, raw)
	if err != nil {
		return nil, err
	}
	if _, err := l.store.Put(ctx, entryPath(e.Seq), map[string]any{"entry": string(raw), "sig": sig}, 0); err != nil {
		return nil, err
	}
	e.Hash = HashEntry(raw)
	l.advanceHead(ctx, Head{Seq: e.Seq, Hash: e.Hash})
	return e, nil
}

// advanceHead moves the head forward to h unless a later append already
// moved it further, so that racing appenders never move it backwards. The
// head is a hint: a refused write or a crash leaves it behind, and the next
// append or verification finds the end anyway.
func (l *Ledger) advanceHead(ctx context.Context, h Head) {
	for range maxHeadAttempts {
		cur, version, err := l.readHead(ctx)
		if err == nil && cur.Seq >= h.Seq {
			return
		}
		if _, err := catalog.PutJSON(ctx, l.store, headPath, h, version); !errors.Is(err, errs.ErrConflict) {
			return
		}
	}
}

// maxHeadAttempts bounds advanceHead: each conflict means another writer
// moved the head, usually past h.
const maxHeadAttempts = 8

func (l *Ledger) sign(ctx context.Context, kind string, raw []byte) (string, error) {
	role, err := RoleOf(kind)
	if err != nil {
		return "", err
	}
	sig, err := l.signer.Sign(ctx, role, raw)
	if err != nil {
		return "", fmt.Errorf("failed to sign the ledger entry with the %s key: %w", role, err)
	}
	return sig, nil
}

// findEnd returns the last slot's sequence number and hash, starting from
// the head's hint and reading forward past every filled slot. A head that
// names a missing slot, or cannot be read, costs a scan from the start.
func (l *Ledger) findEnd(ctx context.Context) (Head, error) {
	hint, _, err := l.readHead(ctx)
	if err != nil && !errors.Is(err, errs.ErrNotFound) {
		if errors.Is(err, errs.ErrUnavailable) || errors.Is(err, errs.ErrRefused) {
			return Head{}, err
		}
		hint = Head{}
	}
	end, err := l.slotHead(ctx, hint.Seq)
	if errors.Is(err, errs.ErrNotFound) {
		end, err = l.slotHead(ctx, 0)
	}
	if err != nil {
		return Head{}, err
	}
	for {
		slot, err := l.ReadSlot(ctx, end.Seq+1)
		switch {
		case errors.Is(err, errs.ErrNotFound):
			return end, nil
		case slot.Raw == nil:
			return Head{}, err
		}
		end = Head{Seq: end.Seq + 1, Hash: HashEntry(slot.Raw)}
	}
}

// slotHead returns slot seq as a head: its number and the hash of its
// bytes; slot 0 is the genesis.
func (l *Ledger) slotHead(ctx context.Context, seq int64) (Head, error) {
	if seq <= 0 {
		return Head{Hash: Genesis}, nil
	}
	slot, err := l.ReadSlot(ctx, seq)
	if slot.Raw == nil {
		return Head{}, err
	}
	return Head{Seq: seq, Hash: HashEntry(slot.Raw)}, nil
}

// ReadHead returns the head as stored: only a hint of where the chain
// ends. An empty ledger has a genesis head.
func (l *Ledger) ReadHead(ctx context.Context) (Head, error) {
	h, _, err := l.readHead(ctx)
	if errors.Is(err, errs.ErrNotFound) {
		return Head{Hash: Genesis}, nil
	}
	return h, err
}

func (l *Ledger) readHead(ctx context.Context) (Head, int, error) {
	var h Head
	version, err := catalog.GetJSON(ctx, l.store, headPath, &h)
	return h, version, err
}

// ReadSlot returns slot seq: the entry's exact bytes and its signature.
// A slot that does not hold one entry string (and a signature) returns
// the canonical JSON of what it holds with ErrMalformedSlot; a slot
// written more than once returns its bytes with ErrRewritten.
func (l *Ledger) ReadSlot(ctx context.Context, seq int64) (Slot, error) {
	rec, err := l.store.Get(ctx, entryPath(seq))
	if errors.Is(err, catalog.ErrMalformed) && rec != nil {
		return undecodableSlot(rec)
	}
	if err != nil {
		return Slot{}, err
	}
	entry, ok := rec.Data["entry"].(string)
	sig, _ := rec.Data["sig"].(string)
	slot := Slot{Raw: []byte(entry), Sig: sig, Written: rec.Written}
	wellFormed := ok && len(rec.Data) == 1 || ok && sig != "" && len(rec.Data) == 2
	if !wellFormed {
		slot.Raw, _ = json.Marshal(rec.Data)
		slot.Sig = ""
	}
	switch {
	case rec.Version != 1:
		return slot, fmt.Errorf("%w (KV version %d)", ErrRewritten, rec.Version)
	case !wellFormed:
		return slot, ErrMalformedSlot
	}
	return slot, nil
}

// undecodableBytes stand, in the chain, for a slot whose data the store
// cannot decode at all (catalog.ErrMalformed with no data): every reader
// hashes these same bytes, so the slot is junk that the next entry links
// to, like any other, and never a gap no one can append past.
const undecodableBytes = `{"undecodable":"the slot's data could not be decoded"}`

func undecodableSlot(rec *catalog.Record) (Slot, error) {
	slot := Slot{Raw: []byte(undecodableBytes), Written: rec.Written}
	if rec.Version != 1 {
		return slot, fmt.Errorf("%w (KV version %d)", ErrRewritten, rec.Version)
	}
	return slot, ErrMalformedSlot
}

// PublicKeys returns the roles' public keys from the signer.
func (l *Ledger) PublicKeys(ctx context.Context) (PublicKeys, error) { return l.signer.PublicKeys(ctx) }

// Verify walks the whole chain; see Verify.
func (l *Ledger) Verify(ctx context.Context) (*Report, error) { return Verify(ctx, l) }

// Entries returns every entry in order, after verifying the chain.
func (l *Ledger) Entries(ctx context.Context) ([]*Entry, error) { return Entries(ctx, l) }
