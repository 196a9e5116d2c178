package shred

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Ledger event names.
const (
	EventBackupProtected   = "backup.protected"
	EventBackupOpened      = "backup.opened"
	EventOriginalDisposed  = "backup.original-disposed"
	EventCaseOpened        = "case.opened"
	EventHoldPlaced        = "hold.placed"
	EventCaseClosed        = "case.closed"
	EventHoldReleased      = "hold.released"
	EventShredScheduled    = "shred.scheduled"
	EventShredCancelled    = "shred.cancelled"
	EventKeyDestroyed      = "key.destroyed"
	EventAttestationIssued = "attestation.issued"
)

// Entry is one ledger record. Prev is the hash of the previous entry's
// exact bytes, so editing, removing or reordering any entry breaks the
// chain.
type Entry struct {
	Seq     int64             `json:"seq"`
	Prev    string            `json:"prev"`
	Time    time.Time         `json:"time"`
	Actor   string            `json:"actor"`
	Event   string            `json:"event"`
	Case    string            `json:"case,omitempty"`
	Backups []string          `json:"backups,omitempty"`
	Details map[string]string `json:"details,omitempty"`
}

// Event is what a caller appends; the ledger fills in Seq, Prev and Time.
type Event struct {
	Event   string
	Case    string
	Backups []string
	Details map[string]string
}

// genesis is the Prev of the first entry.
const genesis = "sha256:" + "0000000000000000000000000000000000000000000000000000000000000000"

// Head is the ledger's last entry: its sequence number and hash.
type Head struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

const ledgerHeadPath = "ledger/head"

func ledgerEntryPath(seq int64) string { return fmt.Sprintf("ledger/%012d", seq) }

// HashEntry returns the chain hash of an entry's exact bytes.
func HashEntry(raw []byte) string {
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Append adds ev to the ledger as actor and returns the new entry. Writers
// race through KV check-and-set: an entry slot is written only if empty and
// the head only if unchanged, so concurrent writers never fork the chain or
// lose an entry.
func (v *Vault) Append(ctx context.Context, actor string, ev Event) (*Entry, error) {
	for attempt := 0; attempt < 200; attempt++ {
		e, err := v.tryAppend(ctx, actor, ev)
		if !errors.Is(err, ErrConflict) {
			return e, err
		}
		sleepJitter(ctx, attempt)
	}
	return nil, fmt.Errorf("failed to append to the ledger: %w (too many concurrent writers)", ErrConflict)
}

func (v *Vault) tryAppend(ctx context.Context, actor string, ev Event) (*Entry, error) {
	head, headVersion, err := v.readHead(ctx)
	if err != nil {
		return nil, err
	}
	e := &Entry{Seq: head.Seq + 1, Prev: head.Hash, Time: now(), Actor: actor,
		Event: ev.Event, Case: ev.Case, Backups: ev.Backups, Details: ev.Details}
	raw, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	if _, err := v.kvPut(ctx, ledgerEntryPath(e.Seq), map[string]any{"entry": string(raw)}, 0); err != nil {
		if errors.Is(err, ErrConflict) {
			return nil, v.repairHead(ctx, head, headVersion)
		}
		return nil, err
	}
	// The slot is ours. If the head moved, another writer repaired it to
	// point at our entry; either way the entry is in the chain.
	_, err = v.putJSON(ctx, ledgerHeadPath, Head{Seq: e.Seq, Hash: HashEntry(raw)}, headVersion)
	if err != nil && !errors.Is(err, ErrConflict) {
		return nil, fmt.Errorf("ledger entry %d written but head not advanced (the next append repairs it): %w", e.Seq, err)
	}
	return e, nil
}

// repairHead advances a head left behind by a writer that stopped between
// writing its entry and the head. It always returns ErrConflict so the
// caller retries.
func (v *Vault) repairHead(ctx context.Context, head Head, version int) error {
	next, raw, err := v.readEntry(ctx, head.Seq+1)
	if err != nil || next.Prev != head.Hash {
		return ErrConflict
	}
	_, _ = v.putJSON(ctx, ledgerHeadPath, Head{Seq: next.Seq, Hash: HashEntry(raw)}, version)
	return ErrConflict
}

func (v *Vault) readHead(ctx context.Context) (Head, int, error) {
	var h Head
	version, err := v.getJSON(ctx, ledgerHeadPath, &h)
	if errors.Is(err, ErrNotFound) {
		return Head{Hash: genesis}, 0, nil
	}
	return h, version, err
}

// readEntry returns entry seq and its exact bytes.
func (v *Vault) readEntry(ctx context.Context, seq int64) (*Entry, []byte, error) {
	rec, err := v.kvGet(ctx, ledgerEntryPath(seq))
	if err != nil {
		return nil, nil, err
	}
	s, ok := rec.Data["entry"].(string)
	if !ok || len(rec.Data) != 1 {
		return nil, nil, errors.New("is malformed")
	}
	e, err := ParseEntry([]byte(s))
	if err != nil {
		return nil, nil, err
	}
	if rec.Version != 1 {
		return e, []byte(s), fmt.Errorf("was rewritten (KV version %d)", rec.Version)
	}
	return e, []byte(s), nil
}

// ParseEntry decodes one ledger entry, rejecting unknown fields.
func ParseEntry(raw []byte) (*Entry, error) {
	var e Entry
	if err := strictUnmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("malformed ledger entry: %w", err)
	}
	if e.Seq < 1 || e.Event == "" {
		return nil, errors.New("malformed ledger entry: missing seq or event")
	}
	return &e, nil
}

func sleepJitter(ctx context.Context, attempt int) {
	d := time.Duration(1+rand.IntN(1+min(attempt, 20))) * time.Millisecond
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// now is the clock, in UTC and whole microseconds so it survives JSON.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
