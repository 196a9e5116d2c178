// Package ledger is cryptoshred's hash-chained record of every state
// change: entries, their hashes, appending to a Store, verification over
// any Source of entries, and the access report. Verification needs no
// Vault: an authority can run it over an exported ledger.
package ledger

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

// Entry kinds.
const (
	KindBackupProtected   = "backup.protected"
	KindBackupRegistered  = "backup.registered"
	KindBackupOpened      = "backup.opened"
	KindOriginalDisposed  = "backup.original-disposed"
	KindRestoreDisposed   = "backup.restore-disposed"
	KindCaseOpened        = "case.opened"
	KindCaseController    = "case.controller-added"
	KindHoldPlaced        = "hold.placed"
	KindCaseClosed        = "case.closed"
	KindHoldReleased      = "hold.released"
	KindShredScheduled    = "shred.scheduled"
	KindShredCancelled    = "shred.cancelled"
	KindKeyDestroyed      = "key.destroyed"
	KindAttestationIssued = "attestation.issued"
)

// Entry is one ledger record. Prev is the hash of the previous entry's
// exact bytes, so editing, removing or reordering any entry breaks the
// chain.
type Entry struct {
	Seq     int64             `json:"seq"`
	Prev    string            `json:"prev"`
	Time    time.Time         `json:"time"`
	Actor   string            `json:"actor"`
	Kind    string            `json:"event"`
	Case    string            `json:"case,omitempty"`
	Backups []string          `json:"backups,omitempty"`
	Details map[string]string `json:"details,omitempty"`
	// Hash is the chain hash of the entry's exact bytes (HashEntry), the
	// value that names this entry elsewhere (in Vault's audit log, say).
	// Append and Walk fill it in; it is not part of the entry's bytes.
	Hash string `json:"-"`
	// Written is when the store wrote the entry's slot, by the store's
	// own clock (Vault's), unlike Time, which its writer chose. Walk fills
	// it in from a store that says; it is zero from an export.
	Written time.Time `json:"-"`
}

// At is when Vault wrote e's slot, which no role can set, or, from a
// source that does not say (an export), the time e's writer put in it.
// What is taken from the ledger as a fact is dated by it, so a role that
// signs a planted entry cannot date it before or after the facts it adds
// to.
func (e *Entry) At() time.Time {
	return cmp.Or(e.Written, e.Time)
}

// Event is what a caller appends; the ledger fills in Seq, Prev and Time.
type Event struct {
	Kind    string
	Case    string
	Backups []string
	Details map[string]string
}

// Genesis is the Prev of the first entry.
const Genesis = "sha256:" + "0000000000000000000000000000000000000000000000000000000000000000"

// Head is the ledger's last entry: its sequence number and hash.
type Head struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// HashEntry returns the chain hash of an entry's exact bytes.
func HashEntry(raw []byte) string {
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ParseEntry decodes one ledger entry, rejecting unknown fields.
func ParseEntry(raw []byte) (*Entry, error) {
	var e Entry
	if err := catalog.StrictUnmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("malformed ledger entry: %w", err)
	}
	if e.Seq < 1 || e.Kind == "" {
		return nil, errors.New("malformed ledger entry: missing seq or event")
	}
	return &e, nil
}
