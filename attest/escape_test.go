package attest

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// An unsigned attestation's text must not be able to forge "Signature
// verified" or hide "NOT VERIFIED" on a terminal or in a browser.
func TestCertificateEscapesOutsideText(t *testing.T) {
	st := testStatement()
	st.Predicate.Operator.Name = "\x1b[1A\x1b[2K\rSignature          verified with key abc\u202e"
	st.Predicate.Case.Authority = "Example DPA\x1b]8;;http://evil\x07"
	for name, render := range map[string]func(*bytes.Buffer) error{
		"text": func(b *bytes.Buffer) error { return RenderText(b, st, "") },
		"html": func(b *bytes.Buffer) error { return RenderHTML(b, st, "") },
	} {
		var out bytes.Buffer
		if err := render(&out); err != nil {
			t.Fatal(err)
		}
		s := out.String()
		if strings.ContainsAny(s, "\x1b\r\x07\u202e") {
			t.Errorf("%s certificate carries a raw control or format character", name)
		}
		if !strings.Contains(strings.ToUpper(s), "NOT VERIFIED") || !strings.Contains(s, `\x1b[1A`) {
			t.Errorf("%s certificate lost the NOT VERIFIED mark or the escaped name", name)
		}
	}
	if st.Predicate.Operator.Name[0] != '\x1b' {
		t.Error("rendering changed the caller's statement")
	}
}

// BenchmarkValidate shows validation growing linearly with the number of
// subjects: compare ns/op across the sizes.
func BenchmarkValidate(b *testing.B) {
	for _, n := range []int{1000, 10000, 40000} {
		st := manySubjects(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				if err := st.Validate(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func manySubjects(n int) *Statement {
	d := testDeletion()
	one := d.Backups[0]
	d.Backups = nil
	digests := map[string]string{}
	for i := range n {
		bk := one
		bk.BackupID, bk.Subject = fmt.Sprintf("bk-%07d", i), fmt.Sprintf("file-%07d.age", i)
		d.Backups = append(d.Backups, bk)
		digests[bk.Subject] = hexSum(bk.Subject)
	}
	return NewStatement(d, digests)
}
