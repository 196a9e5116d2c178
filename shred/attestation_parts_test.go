package shred_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/shred"
)

// shredInParts runs a closed case of n backups with parts of size and
// returns the attestation and the verified statement of each part.
func shredInParts(t *testing.T, v *shred.Service, caseID string, n, size int) (*shred.Attestation, []*attest.Statement) {
	t.Helper()
	closedCase(t, v, caseID, n)
	opts := runOpts(t)
	signer := testSigner(t)
	opts.Attest.Signer, opts.Attest.PartSize = signer, size
	res, err := v.RunShred(context.Background(), admin, caseID, opts)
	if err != nil {
		t.Fatal(err)
	}
	a := res.Attestation
	var stmts []*attest.Statement
	for _, p := range a.Parts {
		rep, err := attest.Verify(context.Background(), p.Envelope, signer, attest.VerifyOptions{})
		if err != nil {
			t.Fatalf("part %d: %v", p.Index, err)
		}
		stmts = append(stmts, rep.Statement)
	}
	return a, stmts
}

func TestShredRunAttestsInParts(t *testing.T) {
	_, v := newVault(t)
	ctx := context.Background()
	a, parts := shredInParts(t, v, "PARTS", 7, 3)
	if len(a.Parts) != 3 || a.Backups != 7 || a.Parts[2].Backups != 1 || a.Parts[1].StoredID != a.ID+"-p0002" {
		t.Fatalf("7 backups in parts of 3: %d parts, %d backups, last %d, stored as %s", len(a.Parts), a.Backups, a.Parts[2].Backups, a.Parts[1].StoredID)
	}
	set, err := attest.CheckParts(parts)
	if err != nil || set.Backups != 7 || set.Parts != 3 || set.AttestationID != a.ID {
		t.Fatalf("all parts: %+v, %v", set, err)
	}
	_, other := shredInParts(t, v, "OTHER", 4, 3)
	for name, tc := range map[string]struct {
		stmts []*attest.Statement
		want  string
	}{
		"missing":    {[]*attest.Statement{parts[0], parts[2]}, "part(s) 2 were not given"},
		"swapped":    {[]*attest.Statement{parts[0], other[1], parts[2]}, "parts of 2 different attestations"},
		"duplicated": {[]*attest.Statement{parts[0], parts[1], parts[1], parts[2]}, "part 2 of 3 is given twice"},
	} {
		if _, err := attest.CheckParts(tc.stmts); !errors.Is(err, attest.ErrVerification) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want %q, got %v", name, tc.want, err)
		}
	}
	checkStoredParts(t, v, a)
	if _, err := v.VerifyLedger(ctx); err != nil {
		t.Fatal(err)
	}
}

// checkStoredParts checks that Vault holds every part, listed as such, and
// that the ledger names each part's envelope.
func checkStoredParts(t *testing.T, v *shred.Service, a *shred.Attestation) {
	t.Helper()
	ctx := context.Background()
	stored, err := v.GetAttestationParts(ctx, a.ID)
	if err != nil || len(stored) != len(a.Parts) {
		t.Fatalf("stored parts: %d, %v", len(stored), err)
	}
	var export bytes.Buffer
	if err := v.ExportLedger(ctx, &export, "PARTS"); err != nil {
		t.Fatal(err)
	}
	for i, p := range a.Parts {
		sum := sha256.Sum256(p.Envelope)
		if !bytes.Equal(stored[i], p.Envelope) || !strings.Contains(export.String(), hex.EncodeToString(sum[:])) {
			t.Errorf("part %d is not stored as issued or not in the ledger", p.Index)
		}
	}
	list, err := v.ListAttestations(ctx, "PARTS")
	if err != nil || len(list) != 3 || list[1].ID != a.ID+"-p0002" || list[1].Attestation != a.ID || list[1].Part != 2 || list[1].Of != 3 {
		t.Fatalf("list: %v %+v", err, list)
	}
}

// A case that fits in one part is issued as before: no part field, stored
// under the attestation's own id.
func TestShredRunOnePartIsWhole(t *testing.T) {
	_, v := newVault(t)
	a, parts := shredInParts(t, v, "WHOLE", 3, 3)
	if len(a.Parts) != 1 || parts[0].Predicate.Part != nil || a.Parts[0].StoredID != a.ID {
		t.Fatalf("whole case: %d parts, part %+v", len(a.Parts), parts[0].Predicate.Part)
	}
	stored, err := v.GetAttestationParts(context.Background(), a.ID)
	if err != nil || len(stored) != 1 || !bytes.Equal(stored[0], a.Envelope) {
		t.Fatalf("stored: %v", err)
	}
	if _, err := v.GetAttestationParts(context.Background(), "att-none"); !errors.Is(err, shred.ErrNotFound) {
		t.Fatalf("unknown attestation: %v", err)
	}
	for _, size := range []int{-1, attest.MaxPartSize + 1} {
		opts := shred.AttestOptions{Signer: testSigner(t), SnapshotRetention: time.Hour, PartSize: size}
		if _, err := v.Attest(context.Background(), admin, "WHOLE", opts); err == nil || !strings.Contains(err.Error(), "part size") {
			t.Errorf("attest with part size %d: %v", size, err)
		}
	}
}

// partRecorder is a PartWriter that keeps each part's envelope as it
// arrives, and fails on part failOn.
type partRecorder struct {
	failOn    int
	envelopes [][]byte
	stored    []int // parts stored in Vault when each part arrived
	v         *shred.Service
}

func (r *partRecorder) WritePart(p *shred.AttestationPart) error {
	stored, err := r.v.ListAttestations(context.Background(), "")
	if err != nil {
		return err
	}
	r.stored = append(r.stored, len(stored))
	if p.Index == r.failOn {
		return errors.New("disk full")
	}
	r.envelopes = append(r.envelopes, bytes.Clone(p.Envelope))
	return nil
}

// Each part reaches the writer as soon as it is stored, before the next
// is made, and the attestation then keeps no later part's bytes but those
// of a part the writer could not take. A writer
// that fails on one part stops neither the storing of the rest nor the
// writing of the others, and the run says the files are incomplete.
func TestShredRunStreamsPartsToTheWriter(t *testing.T) {
	_, v := newVault(t)
	ctx := context.Background()
	closedCase(t, v, "STREAM", 7)
	rec := &partRecorder{failOn: 2, v: v}
	opts := runOpts(t)
	opts.Attest.PartSize, opts.Attest.Parts = 3, rec
	res, err := v.RunShred(ctx, admin, "STREAM", opts)
	if err == nil || !strings.Contains(err.Error(), "not all its files were written: disk full") || len(res.Destroyed) != 7 {
		t.Fatalf("run with a failing writer: %d destroyed, %v", len(res.Destroyed), err)
	}
	a := res.Attestation
	if fmt.Sprint(rec.stored) != "[1 2 3]" || len(rec.envelopes) != 2 {
		t.Fatalf("parts stored when each reached the writer: %v; %d written", rec.stored, len(rec.envelopes))
	}
	if len(a.Parts) != 3 || a.Parts[1].Envelope == nil || a.Parts[2].Envelope != nil || !bytes.Equal(a.Envelope, rec.envelopes[0]) {
		t.Fatalf("the attestation must keep the bytes of the first part and of the part not written, and drop the others: %d parts", len(a.Parts))
	}
	stored, err := v.GetAttestationParts(ctx, a.ID)
	if err != nil || len(stored) != 3 || !bytes.Equal(stored[2], rec.envelopes[1]) {
		t.Fatalf("stored parts: %d, %v", len(stored), err)
	}
}

// payloadSize is the size of the statement an envelope signs.
func payloadSize(t *testing.T, env []byte) int {
	t.Helper()
	var e struct{ Payload string }
	if err := json.Unmarshal(env, &e); err != nil {
		t.Fatal(err)
	}
	payload, err := base64.StdEncoding.DecodeString(e.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return len(payload)
}

// Parts are split by size as well as by count: with room for fewer
// entries than the part size, a case is attested in more parts, each
// within the budget, and they verify as one complete attestation. With
// room for none, nothing is signed and the refusal says why.
func TestPartsAreSplitToFitAnEnvelope(t *testing.T) {
	_, v := newVault(t)
	whole, _ := shredInParts(t, v, "FITS", 5, attest.DefaultPartSize)
	budget := payloadSize(t, whole.Envelope)
	defer shred.SetPartBudget(budget)()
	a, parts := shredInParts(t, v, "SPLIT", 5, attest.DefaultPartSize)
	if len(a.Parts) < 2 {
		t.Fatalf("%d part(s) for what took %d bytes in one, with a budget of as many", len(a.Parts), budget)
	}
	for _, p := range a.Parts {
		if n := payloadSize(t, p.Envelope); n > budget {
			t.Errorf("part %d takes %d bytes, over the budget of %d", p.Index, n, budget)
		}
	}
	if set, err := attest.CheckParts(parts); err != nil || set.Backups != 5 {
		t.Fatalf("all parts: %+v, %v", set, err)
	}
	if stored, err := v.GetAttestationParts(context.Background(), a.ID); err != nil || len(stored) != len(a.Parts) {
		t.Fatalf("stored: %d parts, %v", len(stored), err)
	}
	defer shred.SetPartBudget(budget / 4)()
	before, _ := v.ListAttestations(context.Background(), "SPLIT")
	_, err := v.Attest(context.Background(), admin, "SPLIT", runOpts(t).Attest)
	after, _ := v.ListAttestations(context.Background(), "SPLIT")
	if !errors.Is(err, shred.ErrRefused) || !strings.Contains(err.Error(), "more than one part of an attestation holds") || len(after) != len(before) {
		t.Fatalf("with room for no entry: %v; %d stored parts, %d before", err, len(after), len(before))
	}
}
