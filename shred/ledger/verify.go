package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"
	"time"

	"github.com/cryptoshred/cryptoshred/internal/parallel"
	"github.com/cryptoshred/cryptoshred/shred/errs"
)

// Source gives a ledger's slots to Walk: Vault through a Ledger, or an
// exported file.
type Source interface {
	// ReadHead returns the head as recorded: a hint of where the chain
	// ends.
	ReadHead(ctx context.Context) (Head, error)
	// ReadSlot returns slot seq, or an error wrapping errs.ErrNotFound
	// when the slot is empty. A slot that holds something other than one
	// entry returns its bytes with an error wrapping ErrMalformedSlot; a
	// rewritten slot, with ErrRewritten.
	ReadSlot(ctx context.Context, seq int64) (Slot, error)
	// PublicKeys returns the roles' public keys that entries are
	// verified with.
	PublicKeys(ctx context.Context) (PublicKeys, error)
}

// Slot is one ledger slot as stored.
type Slot struct {
	// Raw is the entry's exact bytes; nil where an export of one case
	// left out an entry of another, keeping only its Hash.
	Raw []byte
	// Sig is the writing role's signature over Raw.
	Sig string
	// Hash is the slot's chain hash when Raw is left out.
	Hash string
	// Written is when the store wrote the slot, by its own clock; zero
	// where the source does not say (an export).
	Written time.Time
	// Junk marks a slot an export of one case carries as its Hash alone
	// that holds junk, or an entry that does not link, rather than
	// another case's entry.
	Junk bool
}

// ErrBroken marks a ledger that does not verify. The CLI maps it to exit
// code 5.
var ErrBroken = errors.New("ledger verification failed")

// BrokenError names the first slot that breaks the chain, or with Seq 0 a
// problem of the head. It wraps ErrBroken.
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

// Finding is a slot or head that verification found written outside
// cryptoshred. It does not break the chain: entries after it still link.
type Finding struct {
	Seq     int64  `json:"seq"`
	Problem string `json:"problem"`
}

// Report is the outcome of walking the whole chain.
type Report struct {
	Entries int64  `json:"entries"`
	Head    string `json:"head"`
	// FirstBad is the sequence number of the first slot that breaks the
	// chain, 0 if the chain is intact.
	FirstBad int64  `json:"firstBad,omitempty"`
	Problem  string `json:"problem,omitempty"`
	// Findings are junk slots and head edits the chain survived.
	Findings []Finding `json:"findings,omitempty"`
	// Redacted counts the slots a case's export carries as their chain
	// hash alone (other cases' entries): their content, signature and
	// link to the slot before them are not checked.
	Redacted int64 `json:"redacted,omitempty"`

	slots slotDigest
}

// SlotsDigest returns the digest of every slot the walk passed (see
// slotDigest).
func (r *Report) SlotsDigest() string { return r.slots.sum() }

// AllChecked reports whether every slot the walk passed held an entry
// whose link and signature it checked. Only then does the head's hash
// commit to every slot before it: a slot of junk links to nothing, so a
// hash after it commits to nothing before it.
func (r *Report) AllChecked() bool {
	return r.Redacted == 0 && !slices.ContainsFunc(r.Findings, func(f Finding) bool { return f.Seq > 0 })
}

// FindingsError is a chain that held together but has findings: slots
// and head hints written outside cryptoshred. It wraps ErrBroken.
type FindingsError struct {
	Findings []Finding
}

func (e *FindingsError) Error() string {
	parts := make([]string, len(e.Findings))
	for i, f := range e.Findings {
		parts[i] = f.String()
	}
	return ErrBroken.Error() + ": " + strings.Join(parts, "; ")
}

// Unwrap makes a FindingsError an ErrBroken.
func (e *FindingsError) Unwrap() error { return ErrBroken }

// Verify walks src's chain and checks every link. It returns a
// *BrokenError for the first slot that breaks the chain, and otherwise a
// *FindingsError naming every finding, if there are any.
func Verify(ctx context.Context, src Source) (*Report, error) { return verify(ctx, src, nil) }

func verify(ctx context.Context, src Source, onSlot slotFunc) (*Report, error) {
	rep, err := walk(ctx, src, func(*Entry, []byte) error { return nil }, onSlot)
	var be *BrokenError
	if errors.As(err, &be) {
		rep.FirstBad, rep.Problem = be.Seq, be.Reason
	}
	if err == nil && len(rep.Findings) > 0 {
		err = &FindingsError{Findings: rep.Findings}
	}
	return rep, err
}

func (f Finding) String() string {
	if f.Seq == 0 {
		return "ledger/head " + f.Problem
	}
	return fmt.Sprintf("ledger slot %d %s", f.Seq, f.Problem)
}

// Entries returns every entry of src in order, after verifying the chain;
// junk slots are left out.
func Entries(ctx context.Context, src Source) ([]*Entry, error) {
	var out []*Entry
	_, err := Walk(ctx, src, func(e *Entry, _ []byte) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

// Walk calls fn for each entry of src in order, from the first slot to
// the last filled one whatever the head says, checking each link. Slots
// that hold junk are skipped and reported as findings, as is a head that
// does not name the end. It returns a *BrokenError for a slot that was
// removed or rewritten.
func Walk(ctx context.Context, src Source, fn func(*Entry, []byte) error) (*Report, error) {
	return walk(ctx, src, fn, nil)
}

func walk(ctx context.Context, src Source, fn func(*Entry, []byte) error, onSlot slotFunc) (*Report, error) {
	rep := &Report{Head: Genesis}
	head, headErr := src.ReadHead(ctx)
	if errors.Is(headErr, errs.ErrUnavailable) || errors.Is(headErr, errs.ErrRefused) {
		return rep, headErr
	}
	if headErr != nil {
		rep.Findings = append(rep.Findings, Finding{Problem: "is unreadable: " + headErr.Error()})
	}
	keys, err := src.PublicKeys(ctx)
	if err != nil {
		return rep, fmt.Errorf("failed to read the ledger's public keys: %w", err)
	}
	w := walker{rep: rep, prev: Genesis, fn: fn, keys: keys, onSlot: onSlot}
	for from := int64(1); !w.done; from += window {
		slots, err := readWindow(ctx, src, from, from+window-1)
		if err != nil {
			return rep, err
		}
		if err := w.window(from, slots); err != nil {
			return rep, err
		}
	}
	if err := checkGap(ctx, src, rep.Entries); err != nil {
		return rep, err
	}
	checkHead(rep, head, headErr == nil)
	return rep, nil
}

// walker carries the chain state across windows.
type walker struct {
	rep  *Report
	prev string
	fn   func(*Entry, []byte) error
	keys PublicKeys
	done bool
	// onSlot, if set, sees every slot's chain hash, junk included.
	onSlot slotFunc
}

// slotFunc sees slot seq's chain hash and what the walk could check of
// the slot.
type slotFunc func(seq int64, hash string, kind slotKind)

// slotKind is what the walk could check of a slot.
type slotKind int

const (
	// slotEntry is an entry that links to the slot before it and carries
	// its role's signature.
	slotEntry slotKind = iota
	// slotRedacted is a hash alone, for an entry a case's export leaves out.
	slotRedacted
	// slotUnsigned is an entry that links to the slot before it but whose
	// signature fails.
	slotUnsigned
	// slotJunk is junk, or an entry that does not link to the slot before
	// it: a hash after it commits to no slot before it.
	slotJunk
)

func (w *walker) window(from int64, slots []slot) error {
	for i, s := range slots {
		seq := from + int64(i)
		switch {
		case errors.Is(s.err, errs.ErrNotFound):
			w.done = true
			return nil
		case errors.Is(s.err, errs.ErrUnavailable) || errors.Is(s.err, errs.ErrRefused):
			return s.err
		case s.slot.Raw == nil && s.slot.Hash == "" || errors.Is(s.err, ErrRewritten):
			return &BrokenError{Seq: seq, Reason: "is unreadable: " + errString(s.err)}
		}
		if err := w.slot(seq, s); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) slot(seq int64, s slot) error {
	switch {
	case s.slot.Raw == nil && s.slot.Junk:
		w.junk(seq, "holds junk, carried as its hash alone")
		w.advance(seq, s.slot.Hash, slotJunk)
		return nil
	case s.slot.Raw == nil:
		w.rep.Redacted++
		w.advance(seq, s.slot.Hash, slotRedacted)
		return nil
	}
	e, kind, problem := checkSlot(seq, w.prev, s, w.keys)
	switch kind {
	case slotJunk:
		w.junk(seq, problem)
	case slotUnsigned:
		w.rep.Findings = append(w.rep.Findings, Finding{Seq: seq, Problem: problem})
	default:
		e.Hash, e.Written = HashEntry(s.slot.Raw), s.slot.Written
		if err := w.fn(e, s.slot.Raw); err != nil {
			return err
		}
	}
	w.advance(seq, HashEntry(s.slot.Raw), kind)
	return nil
}

// checkSlot returns the entry slot seq holds (nil for junk), what of it
// could be checked against prev, the hash of the slot before it, and the
// role keys, and why it is not a checked entry ("" when it is).
func checkSlot(seq int64, prev string, s slot, keys PublicKeys) (*Entry, slotKind, string) {
	e, problem := linkedEntry(seq, prev, s.slot, s.err)
	if problem != "" {
		return nil, slotJunk, problem
	}
	if err := checkSigned(keys, e, s.slot.Raw, s.slot.Sig); err != nil {
		return e, slotUnsigned, err.Error()
	}
	return e, slotEntry, ""
}

// linkedEntry returns the entry slot seq holds, or what else it holds: an
// entry must parse, carry its slot's number and link to prev, the hash
// of the slot before it; readErr is how the slot was read.
func linkedEntry(seq int64, prev string, slot Slot, readErr error) (*Entry, string) {
	e, err := ParseEntry(slot.Raw)
	switch {
	case errors.Is(readErr, ErrMalformedSlot):
		return nil, "holds something other than a ledger entry"
	case err != nil:
		return nil, "holds junk that is not a ledger entry: " + err.Error()
	case e.Seq != seq:
		return nil, fmt.Sprintf("holds an entry numbered %d", e.Seq)
	case e.Prev != prev:
		return nil, "holds an entry that does not link to the slot before it"
	}
	return e, ""
}

func (w *walker) advance(seq int64, hash string, kind slotKind) {
	w.rep.slots.add(hash)
	if w.onSlot != nil {
		w.onSlot(seq, hash, kind)
	}
	w.prev = hash
	w.rep.Entries, w.rep.Head = seq, hash
}

func (w *walker) junk(seq int64, problem string) {
	w.rep.Findings = append(w.rep.Findings, Finding{Seq: seq, Problem: problem + " (written outside cryptoshred; later entries still link)"})
}

// checkGap refuses a chain with a filled slot past an empty one: a slot
// was removed.
func checkGap(ctx context.Context, src Source, end int64) error {
	slot, err := src.ReadSlot(ctx, end+2)
	switch {
	case slot.Raw != nil || slot.Hash != "":
		return &BrokenError{Seq: end + 1, Reason: "is missing (removed)"}
	case err != nil && !errors.Is(err, errs.ErrNotFound):
		return err
	}
	return nil
}

// checkHead compares the head hint with the end the walk found. A head
// one slot behind is a writer that stopped before moving it.
func checkHead(rep *Report, head Head, readable bool) {
	end := rep.Entries
	switch {
	case !readable:
	case head.Seq > end:
		// A finding, not a break: any role may write the head, so it must
		// not stop every walk (attestations, access reports) for good; it
		// stays in every verification, as the trace of entries removed.
		rep.Findings = append(rep.Findings, Finding{Problem: fmt.Sprintf("names entry %d but the chain ends at %d: entries were removed, or the head was written past the end", head.Seq, end)})
	case head.Seq < end-1:
		rep.Findings = append(rep.Findings, Finding{Problem: fmt.Sprintf("names entry %d but the chain continues to %d (moved backwards)", head.Seq, end)})
	case head.Seq == end && head.Hash != rep.Head:
		rep.Findings = append(rep.Findings, Finding{Problem: fmt.Sprintf("names entry %d with a hash that is not its hash (edited)", head.Seq)})
	}
}

func errString(err error) string {
	if err == nil {
		return "empty"
	}
	return err.Error()
}

// window is how many slots Walk reads at once; the links are still
// checked one by one, in order.
const window = 64

// slot is one slot as read, or why it could not be.
type slot struct {
	slot Slot
	err  error
}

func readWindow(ctx context.Context, src Source, from, to int64) ([]slot, error) {
	seqs := make([]int64, 0, to-from+1)
	for seq := from; seq <= to; seq++ {
		seqs = append(seqs, seq)
	}
	return parallel.Map(ctx, seqs, parallel.DefaultLimit, func(ctx context.Context, seq int64) (slot, error) {
		s, err := src.ReadSlot(ctx, seq)
		return slot{slot: s, err: err}, nil
	})
}

// slotDigest is the digest of a chain's slots: SHA-256 over each slot's
// chain hash and a newline, in order from slot 1. It commits to every
// slot, junk included, where the chain's links do not.
type slotDigest struct {
	h hash.Hash
}

func (d *slotDigest) add(slotHash string) {
	if d.h == nil {
		d.h = sha256.New()
	}
	d.h.Write([]byte(slotHash + "\n"))
}

func (d *slotDigest) sum() string {
	if d.h == nil {
		d.h = sha256.New()
	}
	return "sha256:" + hex.EncodeToString(d.h.Sum(nil))
}
