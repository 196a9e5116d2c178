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

// ExportSlot is one slot of an export: its entry and signature, or only
// its chain hash when the entry belongs to another case.
type ExportSlot struct {
	Seq   int64  `json:"seq"`
	Entry string `json:"entry,omitempty"`
	Sig   string `json:"sig,omitempty"`
	Hash  string `json:"hash,omitempty"`
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
	x := Export{Format: ExportFormat, ExportedAt: now, Case: caseID, Keys: rawKeys(keys), Slots: exportSlots(slots, caseID)}
	if n := len(slots); n > 0 {
		x.Head = Head{Seq: int64(n), Hash: HashEntry(slots[n-1].Raw)}
	} else {
		x.Head = Head{Hash: Genesis}
	}
	bw := bufio.NewWriter(w)
	if err := json.NewEncoder(bw).Encode(x); err != nil {
		return fmt.Errorf("failed to write the export: %w", err)
	}
	return bw.Flush()
}

// readAll reads slots from 1 to the last filled one.
func readAll(ctx context.Context, src Source) ([]Slot, error) {
	var out []Slot
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
			out = append(out, s.slot)
		}
	}
}

// exportSlots returns slots as exported: for a case, another case's entry
// as its hash alone. Junk, and an entry that does not link to the slot
// before it, are never left out: as a hash alone they would pass for
// another case's entry, and junk links to nothing, so an attested head
// after it commits to no slot before it (see VerifyCheckpoints).
func exportSlots(slots []Slot, caseID string) []ExportSlot {
	keep := caseBackups(slots, caseID)
	out := make([]ExportSlot, len(slots))
	prev := Genesis
	for i, s := range slots {
		seq := int64(i + 1)
		out[i] = ExportSlot{Seq: seq, Entry: string(s.Raw), Sig: s.Sig}
		if caseID != "" && othersLinked(s.Raw, seq, prev, caseID, keep) {
			out[i] = ExportSlot{Seq: seq, Hash: HashEntry(s.Raw)}
		}
		prev = HashEntry(s.Raw)
	}
	return out
}

// caseBackups returns the backups the case's entries name.
func caseBackups(slots []Slot, caseID string) map[string]bool {
	ids := map[string]bool{}
	for _, s := range slots {
		if e, err := ParseEntry(s.Raw); err == nil && caseID != "" && e.Case == caseID {
			for _, id := range e.Backups {
				ids[id] = true
			}
		}
	}
	return ids
}

// othersLinked reports whether raw, slot seq, is an entry that links to
// prev and concerns neither caseID nor its backups.
func othersLinked(raw []byte, seq int64, prev, caseID string, backups map[string]bool) bool {
	e, err := ParseEntry(raw)
	if err != nil || e.Seq != seq || e.Prev != prev {
		return false
	}
	return e.Case != caseID && !slices.ContainsFunc(e.Backups, func(id string) bool { return backups[id] })
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
		return Slot{Hash: s.Hash}, nil
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
