package ledger_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/shred/ledger"
)

// hashAlone replaces slot seq of x with its chain hash, as an export of
// one case carries another case's entry.
func hashAlone(x *ledger.Export, seq int64) {
	s := &x.Slots[seq-1]
	*s = ledger.ExportSlot{Seq: seq, Hash: ledger.HashEntry([]byte(s.Entry))}
}

// reread writes x and reads it back as a verifier does.
func reread(t *testing.T, x *ledger.Export) (*ledger.Export, error) {
	t.Helper()
	return ledger.ReadExport(bytes.NewReader(marshalExport(t, x)))
}

// A whole-ledger export must carry every entry: a slot there that carries
// a hash alone would be taken on trust, so it is refused. In a case's
// export such slots are other cases' entries, and the report counts them
// as not checked.
func TestExportSlotsCarryingAHashAlone(t *testing.T) {
	x := newSigner(t).export(t, 5, "test")
	hashAlone(x, 3)
	if _, err := reread(t, x); err == nil || !strings.Contains(err.Error(), "slot 3 carries a hash alone") {
		t.Fatalf("a whole-ledger export with a hash alone: %v", err)
	}
	x.Case = "C"
	got, err := reread(t, x)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ledger.Verify(context.Background(), got)
	if err != nil || rep.Entries != 5 || rep.Redacted != 1 {
		t.Fatalf("a case's export: %+v %v", rep, err)
	}
	for seq := range int64(5) {
		if x.Slots[seq].Entry != "" {
			hashAlone(x, seq+1)
		}
	}
	if _, err := reread(t, x); err == nil || !strings.Contains(err.Error(), "no entry") {
		t.Fatalf("a case's export of hashes alone: %v", err)
	}
}

// An attested head is in the chain only if every slot after it is an
// entry whose link and signature were checked. Otherwise anyone can write
// the attested hash into a case's export over a chain rewritten since (a
// restored snapshot), or splice in an entry of the older chain that links
// to it: the attacks this check exists for.
func TestAttestedHeadNeedsCheckedEntriesAfterIt(t *testing.T) {
	keys := newSigner(t)
	before := keys.export(t, 5, "before the snapshot was restored")
	attested := []ledger.Checkpoint{{Name: "attestation att-1", Head: ledger.Head{Seq: 3, Hash: hashOf(before, 3)}}}

	hidden := caseExport(before, 5)
	hashAlone(hidden, 2)
	hashAlone(hidden, 3)
	mustVerify(t, hidden, attested)

	after := keys.export(t, 5, "after the snapshot was restored")
	forged := caseExport(after, 5)
	hashAlone(forged, 4)
	forged.Slots[2] = ledger.ExportSlot{Seq: 3, Hash: attested[0].Head.Hash}
	mustNotShow(t, forged, attested, "slot 4 after it is not an entry")

	spliced := caseExport(after, 5)
	spliced.Slots[2] = ledger.ExportSlot{Seq: 3, Hash: attested[0].Head.Hash}
	spliced.Slots[3] = before.Slots[3]
	hashAlone(spliced, 5)
	spliced.Head = ledger.Head{Seq: 5, Hash: hashOf(after, 5)}
	mustNotShow(t, spliced, attested, "slot 5 after it is not an entry")

	last := caseExport(before, 3)
	hashAlone(last, 3)
	mustNotShow(t, last, attested, "its slot 3, the last, is a hash alone")
}

// A head after junk commits to no slot before the junk (junk links to
// nothing): an export whose slots before it were made up holds the head
// too. An attestation issued over such a ledger names the digest of the
// slots, which the made-up export fails; one without it (an earlier
// version's) shows nothing, the real export included. Before, an export
// was let off with the slots after the head.
func TestAttestedHeadAfterJunkNeedsTheSlotsDigest(t *testing.T) {
	keys := newSigner(t)
	real := keys.export(t, 2, "before the junk")
	real.Slots = append(real.Slots, ledger.ExportSlot{Seq: 3, Entry: `{"not":"an entry"}`})
	keys.extend(t, real, 2, "after the junk")
	issued, err := ledger.Walk(context.Background(), real, func(*ledger.Entry, []byte) error { return nil })
	if err != nil || issued.AllChecked() {
		t.Fatalf("the issuer's walk over junk: %v, all checked %t", err, issued.AllChecked())
	}
	head := ledger.Head{Seq: 5, Hash: issued.Head}
	digested := []ledger.Checkpoint{{Name: "attestation att-new", Head: head, Slots: issued.SlotsDigest()}}
	undigested := []ledger.Checkpoint{{Name: "attestation att-old", Head: head}}
	madeUp := keys.export(t, 2, "made up after a restore")
	madeUp.Slots, madeUp.Head = append(madeUp.Slots, real.Slots[2:]...), real.Head
	unsigned := keys.export(t, 2, "before")
	keys.extend(t, unsigned, 3, "after")
	unsigned.Slots[2].Sig = unsigned.Slots[1].Sig

	for _, c := range []struct {
		name string
		x    *ledger.Export
		cps  []ledger.Checkpoint
		why  string
	}{
		{"the real slots, with the digest", real, digested, ""},
		{"made-up slots, with the digest", madeUp, digested, "are not those it was issued on"},
		{"made-up slots, without it", madeUp, undigested, "names no digest of the slots"},
		{"the real slots, without it", real, undigested, "names no digest of the slots"},
		{"an entry whose signature fails but that links, without it", unsigned, []ledger.Checkpoint{{Name: "attestation att-old", Head: unsigned.Head}}, ""},
	} {
		got, err := reread(t, c.x)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ledger.VerifyCheckpoints(context.Background(), got, c.cps)
		var broken *ledger.BrokenError
		if isBroken := errors.As(err, &broken); isBroken != (c.why != "") || c.why != "" && !strings.Contains(err.Error(), c.why) {
			t.Errorf("%s: %v, want %q", c.name, err, c.why)
		}
	}
}

// A case's export carries junk as its hash alone, marked as junk: carried
// as it is, a copy of another case's entry in a new slot would leak that
// entry into this case's export, and as a plain hash junk would pass for
// another case's entry, letting an attested head after it through without
// the slots' digest. Only checked entries (linked and signed) say which
// backups the case's export carries: junk naming the case and another
// case's backup carries nothing of that case. A slot Vault hands over as
// malformed (an entry's fields written as the slot's data) is junk too.
func TestCaseExportMarksJunkAndCarriesNoneOfIt(t *testing.T) {
	keys := newSigner(t)
	whole := keys.export(t, 0, "")
	whole.Case = "D"
	keys.extend(t, whole, 1, "case D")
	copied := whole.Slots[0]
	copied.Seq = 2
	naming, err := json.Marshal(ledger.Entry{Seq: 3, Prev: ledger.Genesis, Time: time.Now().UTC(), Actor: "a role", Kind: ledger.KindBackupOpened,
		Case: "C", Backups: []string{"bk-0000001"}, Details: map[string]string{"purpose": "p"}})
	if err != nil {
		t.Fatal(err)
	}
	whole.Slots = append(whole.Slots, copied, ledger.ExportSlot{Seq: 3, Entry: string(naming)})
	whole.Case = "C"
	keys.extend(t, whole, 1, "case C")
	whole.Case = "D"
	keys.extend(t, whole, 1, "case D, malformed in Vault")
	whole.Case = "C"
	keys.extend(t, whole, 1, "case C")
	whole.Case = ""
	var buf bytes.Buffer
	if err := ledger.WriteExport(context.Background(), malformedAt{whole, 5}, &buf, "C", time.Now()); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("bk-0000001")) || bytes.Contains(buf.Bytes(), []byte("bk-0000005")) {
		t.Fatalf("the export of case C carries case D's entries:\n%s", buf.String())
	}
	x, err := ledger.ReadExport(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{false, true, true, false, true, false} {
		if s := x.Slots[i]; s.Junk != want || (s.Entry != "") != (i == 3 || i == 5) {
			t.Errorf("slot %d of the case's export: %+v, want junk %t", i+1, s, want)
		}
	}
	_, err = ledger.VerifyCheckpoints(context.Background(), x, []ledger.Checkpoint{{Name: "attestation att-old", Head: whole.Head}})
	if err == nil || !strings.Contains(err.Error(), "names no digest of the slots") {
		t.Fatalf("an attested head after junk in a case's export, without the digest: %v", err)
	}
}

// malformedAt is an export as a source whose slot seq reads as Vault
// reads a slot that holds something other than one entry.
type malformedAt struct {
	*ledger.Export
	seq int64
}

func (m malformedAt) ReadSlot(ctx context.Context, seq int64) (ledger.Slot, error) {
	s, err := m.Export.ReadSlot(ctx, seq)
	if seq == m.seq {
		return s, fmt.Errorf("slot %d: %w", seq, ledger.ErrMalformedSlot)
	}
	return s, err
}

// caseExport returns the first n slots of x as an export of case C.
func caseExport(x *ledger.Export, n int) *ledger.Export {
	out := *x
	out.Case = "C"
	out.Slots = append([]ledger.ExportSlot(nil), x.Slots[:n]...)
	out.Head = ledger.Head{Seq: int64(n), Hash: hashOf(x, int64(n))}
	return &out
}

func hashOf(x *ledger.Export, seq int64) string {
	return ledger.HashEntry([]byte(x.Slots[seq-1].Entry))
}

func mustVerify(t *testing.T, x *ledger.Export, cps []ledger.Checkpoint) {
	t.Helper()
	got, err := reread(t, x)
	if err == nil {
		_, err = ledger.VerifyCheckpoints(context.Background(), got, cps)
	}
	if err != nil {
		t.Fatalf("a head every later entry was checked after: %v", err)
	}
}

func mustNotShow(t *testing.T, x *ledger.Export, cps []ledger.Checkpoint, why string) {
	t.Helper()
	got, err := reread(t, x)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ledger.VerifyCheckpoints(context.Background(), got, cps)
	var broken *ledger.BrokenError
	if !errors.As(err, &broken) || !strings.Contains(err.Error(), "cannot show") || !strings.Contains(err.Error(), why) || rep.Problem == "" {
		t.Fatalf("a head shown by a hash alone (%s): %+v %v", why, rep, err)
	}
}
