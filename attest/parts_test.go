package attest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/sigstore/sigstore/pkg/signature"
)

// signedParts splits a deletion of n backups into parts of size, signs
// and verifies each, and returns the verified statements and envelopes.
func signedParts(t *testing.T, n, size int, id string) ([]*Statement, [][]byte) {
	t.Helper()
	base := manySubjects(n)
	base.Predicate.AttestationID = id
	digests := map[string]string{}
	for _, s := range base.Subject {
		digests[s.Name] = s.Digest["sha256"]
	}
	s, v, _ := newFileSigner(t, ECDSAP256, nil)
	var out []*Statement
	var envs [][]byte
	for _, st := range SplitStatements(base.Predicate, digests, size) {
		env, err := Sign(context.Background(), st, s)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Verify(context.Background(), env, v, VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out, envs = append(out, rep.Statement), append(envs, env)
	}
	return out, envs
}

func TestSplitStatementsWholeCaseHasNoPart(t *testing.T) {
	st := manySubjects(3)
	digests := map[string]string{}
	for _, s := range st.Subject {
		digests[s.Name] = s.Digest["sha256"]
	}
	got := SplitStatements(st.Predicate, digests, 3)
	if len(got) != 1 || got[0].Predicate.Part != nil || !reflect.DeepEqual(got[0], st) {
		t.Fatalf("a case that fits one part must be issued as before: %d statement(s), part %+v", len(got), got[0].Predicate.Part)
	}
}

func TestPartsVerifyTogether(t *testing.T) {
	parts, _ := signedParts(t, 10, 3, "att-one")
	if len(parts) != 4 {
		t.Fatalf("10 backups in parts of 3: %d parts", len(parts))
	}
	p := parts[1].Predicate.Part
	if p.Index != 2 || p.Of != 4 || p.First != "bk-0000003" || p.Last != "bk-0000005" || len(parts[3].Subject) != 1 {
		t.Fatalf("part 2: %+v; last part %d subjects", p, len(parts[3].Subject))
	}
	set, err := CheckParts([]*Statement{parts[3], parts[0], parts[2], parts[1]})
	if err != nil || set.Backups != 10 || set.Parts != 4 || set.AttestationID != "att-one" {
		t.Fatalf("all parts: %+v, %v", set, err)
	}
}

func TestCheckPartsRejects(t *testing.T) {
	parts, _ := signedParts(t, 9, 3, "att-one")
	other, _ := signedParts(t, 9, 3, "att-two")
	whole, _ := signedParts(t, 2, 3, "att-whole")
	for name, tc := range map[string]struct {
		stmts []*Statement
		want  string
	}{
		"missing":    {[]*Statement{parts[0], parts[2]}, "part(s) 2 were not given"},
		"swapped":    {[]*Statement{parts[0], other[1], parts[2]}, "parts of 2 different attestations"},
		"duplicated": {[]*Statement{parts[0], parts[1], parts[1], parts[2]}, "part 2 of 3 is given twice"},
		"whole":      {[]*Statement{parts[0], whole[0]}, "is a whole attestation"},
		"none":       {nil, "no part given"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := CheckParts(tc.stmts)
			if !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
}

// TestCheckPartsRejectsDifferentSharedFields: parts that agree on id,
// case, ledger and time but not on what every part carries alike (here the
// operator) are not one attestation.
func TestCheckPartsRejectsDifferentSharedFields(t *testing.T) {
	parts, _ := signedParts(t, 9, 3, "att-one")
	parts[1].Predicate.Operator.Name = "someone else" // as a signer could have written it
	if _, err := CheckParts(parts); err == nil || !strings.Contains(err.Error(), "differ in what every part carries alike") {
		t.Fatalf("parts with different operators: %v", err)
	}
}

func TestCheckPartsRejectsOverlap(t *testing.T) {
	parts, _ := signedParts(t, 9, 3, "att-one")
	parts[1].Predicate.Part.First = "bk-0000002" // as a signer could have written it
	if _, err := CheckParts(parts); err == nil || !strings.Contains(err.Error(), "overlap") {
		t.Fatalf("overlapping ranges: %v", err)
	}
}

func TestValidateChecksPart(t *testing.T) {
	parts, _ := signedParts(t, 6, 3, "att-one")
	st := parts[0]
	st.Predicate.Part.Last = "bk-0000001"
	if err := st.Validate(); err == nil || !strings.Contains(err.Error(), "outside the part's range") {
		t.Fatalf("backup outside the range: %v", err)
	}
	st.Predicate.Part = &Part{Index: 3, Of: 2, First: "bk-0000000", Last: "bk-0000002"}
	if err := st.Validate(); err == nil || !strings.Contains(err.Error(), "part.index") {
		t.Fatalf("index beyond of: %v", err)
	}
	st.Predicate.Part = &Part{Index: 1, Of: 1, First: "bk-0000000", Last: "bk-0000002"}
	if err := st.Validate(); err == nil || !strings.Contains(err.Error(), "part.of") {
		t.Fatalf("a part of 1: %v", err)
	}
}

func TestPartFileNames(t *testing.T) {
	for _, tc := range [][3]string{
		{"deletion.dsse.json", "deletion.part-0002.dsse.json", "deletion.index.json"},
		{"out/b.bundle.json", "out/b.part-0002.bundle.json", "out/b.index.json"},
		{"d.v1/att", "d.v1/att.part-0002", "d.v1/att.index.json"},
		{"x.json", "x.part-0002.json", "x.index.json"},
	} {
		if got := PartFileName(tc[0], 2); got != tc[1] || PartFileName(tc[0], 1) != tc[0] {
			t.Errorf("PartFileName(%q, 2) = %q, want %q", tc[0], got, tc[1])
		}
		if got := IndexFileName(tc[0]); got != tc[2] {
			t.Errorf("IndexFileName(%q) = %q, want %q", tc[0], got, tc[2])
		}
	}
}

// BenchmarkVerifyParts signs a statement of 20,000 subjects in parts of
// DefaultPartSize and times verifying every part and CheckParts.
func BenchmarkVerifyParts(b *testing.B) {
	st := manySubjects(20000)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	s, err := signature.LoadECDSASignerVerifier(key, crypto.SHA256)
	if err != nil {
		b.Fatal(err)
	}
	v := s
	var envs [][]byte
	for _, p := range SplitStatements(st.Predicate, digestsOf(st), DefaultPartSize) {
		env, err := Sign(context.Background(), p, s)
		if err != nil {
			b.Fatal(err)
		}
		envs = append(envs, env)
	}
	for b.Loop() {
		var stmts []*Statement
		for _, env := range envs {
			rep, err := Verify(context.Background(), env, v, VerifyOptions{})
			if err != nil {
				b.Fatal(err)
			}
			stmts = append(stmts, rep.Statement)
		}
		if set, err := CheckParts(stmts); err != nil || set.Backups != 20000 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(envs[0]))/1024, "KiB/part")
}
