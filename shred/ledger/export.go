package ledger

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/cryptoshred/cryptoshred/shred/errs"
)

// ExportFormat names the export file format.
const ExportFormat = "https://cryptoshred.dev/ledger-export/v1"

// Export is a self-contained copy of a ledger that verifies with no
// Vault and no network: every slot (or, for one case, the case's entries
// and the chain hashes of the others), the head, and the roles' public
// keys.
type Export struct {
	Format     string                    `json:"format"`
	ExportedAt time.Time                 `json:"exportedAt"`
	Case       string                    `json:"case,omitempty"`
	Head       Head                      `json:"head"`
	Keys       map[string]map[int][]byte `json:"publicKeys"`
	Slots      []ExportSlot              `json:"slots"`
}

// ExportSlot is one slot of an export: its entry and signature, or, in
// an export of one case, only its chain hash for any other slot. Junk is
// then marked as such (Junk): carried as it is, a role could copy another
// case's entry into a slot to leak it into this case's export; as a plain
// hash it would pass for another case's entry, though it links to nothing.
type ExportSlot struct {
	Seq   int64  `json:"seq"`
	Entry string `json:"entry,omitempty"`
	Sig   string `json:"sig,omitempty"`
	Hash  string `json:"hash,omitempty"`
	Junk  bool   `json:"junk,omitempty"`
}

// WriteExport reads every slot of src and writes an export to w. With
// caseID set, it keeps the entries of that case and of the backups it
// held, and only the chain hash of every other slot.
func WriteExport(ctx context.Context, src Source, w io.Writer, caseID string, now time.Time) error {
	slots, err := readAll(ctx, src)
	if err != nil {
		return err
	}
	keys, err := src.PublicKeys(ctx)
	if err != nil {
		return err
	}
	x := Export{Format: ExportFormat, ExportedAt: now, Case: caseID, Keys: rawKeys(keys), Slots: exportSlots(slots, caseID, keys)}
	if n := len(slots); n > 0 {
		x.Head = Head{Seq: int64(n), Hash: HashEntry(slots[n-1].slot.Raw)}
	} else {
		x.Head = Head{Hash: Genesis}
	}
	bw := bufio.NewWriter(w)
	if err := json.NewEncoder(bw).Encode(x); err != nil {
		return fmt.Errorf("failed to write the export: %w", err)
	}
	return bw.Flush()
}

// readAll reads slots from 1 to the last filled one, each with how it
// was read (ErrMalformedSlot).
func readAll(ctx context.Context, src Source) ([]slot, error) {
	var out []slot
	for from := int64(1); ; from += window {
		got, err := readWindow(ctx, src, from, from+window-1)
		if err != nil {
			return nil, err
		}
		for _, s := range got {
			switch {
			case errors.Is(s.err, errs.ErrNotFound):
				return out, nil
			case s.slot.Raw == nil:
				return nil, s.err
			}
			out = append(out, s)
		}
	}
}

// exportSlots returns slots as exported: for a case, only the entries
// (linked and signed) of the case and of the backups they name, and the
// chain hash of every other slot, marked when it is junk.
func exportSlots(slots []slot, caseID string, keys PublicKeys) []ExportSlot {
	out := make([]ExportSlot, len(slots))
	for i, s := range slots {
		out[i] = ExportSlot{Seq: int64(i + 1), Entry: string(s.slot.Raw), Sig: s.slot.Sig}
	}
	if caseID == "" {
		return out
	}
	entries, linked := checkedEntries(slots, keys)
	keep := caseBackups(entries, caseID)
	for i, s := range slots {
		if !concerns(entries[i], caseID, keep) {
			out[i] = ExportSlot{Seq: int64(i + 1), Hash: HashEntry(s.slot.Raw), Junk: !linked[i]}
		}
	}
	return out
}

// checkedEntries returns, by slot, its entry if it links to the slot
// before it and its signature verifies (else nil), and whether it links.
func checkedEntries(slots []slot, keys PublicKeys) ([]*Entry, []bool) {
	entries, linked := make([]*Entry, len(slots)), make([]bool, len(slots))
	prev := Genesis
	for i, s := range slots {
		e, kind, _ := checkSlot(int64(i+1), prev, s, keys)
		linked[i] = kind != slotJunk
		if kind == slotEntry {
			entries[i] = e
		}
		prev = HashEntry(s.slot.Raw)
	}
	return entries, linked
}

// caseBackups returns the backups the case's entries name.
func caseBackups(entries []*Entry, caseID string) map[string]bool {
	ids := map[string]bool{}
	for _, e := range entries {
		if e != nil && e.Case == caseID {
			for _, id := range e.Backups {
				ids[id] = true
			}
		}
	}
	return ids
}

// concerns reports whether e, a checked entry or nil, is of caseID or
// names one of its backups.
func concerns(e *Entry, caseID string, backups map[string]bool) bool {
	return e != nil && (e.Case == caseID || slices.ContainsFunc(e.Backups, func(id string) bool { return backups[id] }))
}

func rawKeys(keys PublicKeys) map[string]map[int][]byte {
	out := map[string]map[int][]byte{}
	for role, versions := range keys {
		out[role] = map[int][]byte{}
		for v, k := range versions {
			out[role][v] = k
		}
	}
	return out
}

// ReadExport parses an export for verification; it implements Source. A
// slot carried as a hash alone is accepted only in an export of one case,
// and Verify counts it in Report.Redacted.
func ReadExport(r io.Reader) (*Export, error) {
	var x Export
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&x); err != nil {
		return nil, fmt.Errorf("not a ledger export: %w", err)
	}
	if x.Format != ExportFormat {
		return nil, fmt.Errorf("not a ledger export: format %q", x.Format)
	}
	if x.Case != "" && len(x.Slots) > 0 && !slices.ContainsFunc(x.Slots, func(s ExportSlot) bool { return s.Entry != "" }) {
		return nil, fmt.Errorf("ledger export: the export of case %q carries hashes alone and no entry: there is nothing to verify", x.Case)
	}
	for i, s := range x.Slots {
		switch {
		case s.Seq != int64(i+1):
			return nil, fmt.Errorf("ledger export: slot %d is numbered %d", i+1, s.Seq)
		case s.Entry == "" && x.Case == "":
			return nil, fmt.Errorf("ledger export: slot %d carries a hash alone, which only an export of one case does for other cases' entries; a whole-ledger export carries every entry", s.Seq)
		case s.Junk && s.Entry != "":
			return nil, fmt.Errorf("ledger export: slot %d carries an entry and is marked as junk carried as a hash alone", s.Seq)
		}
	}
	return &x, nil
}

// ReadHead implements Source.
func (x *Export) ReadHead(context.Context) (Head, error) { return x.Head, nil }

// ReadSlot implements Source.
func (x *Export) ReadSlot(_ context.Context, seq int64) (Slot, error) {
	if seq < 1 || seq > int64(len(x.Slots)) {
		return Slot{}, fmt.Errorf("slot %d: %w", seq, errs.ErrNotFound)
	}
	s := x.Slots[seq-1]
	if s.Entry == "" {
		return Slot{Hash: s.Hash, Junk: s.Junk}, nil
	}
	return Slot{Raw: []byte(s.Entry), Sig: s.Sig}, nil
}

// PublicKeys implements Source: the keys the export carries. Compare
// their fingerprints with the ones the operator published.
func (x *Export) PublicKeys(context.Context) (PublicKeys, error) {
	out := PublicKeys{}
	for role, versions := range x.Keys {
		out[role] = map[int]ed25519.PublicKey{}
		for v, k := range versions {
			if len(k) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("ledger export: malformed %s public key version %d", role, v)
			}
			out[role][v] = ed25519.PublicKey(k)
		}
	}
	return out, nil
}
