package attest

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// TestLargeCertificateOpensWithSummary: from summaryFrom backups on, the
// certificate opens with counts and states each kind of warning once.
func TestLargeCertificateOpensWithSummary(t *testing.T) {
	st := largeStatement(12, func(i int, b *Backup) {
		if i == 0 {
			*b = testBackup1()
			b.Categories = []string{"health"}
		}
	})
	var txt, html bytes.Buffer
	if err := RenderText(&txt, st, "SHA256:x"); err != nil {
		t.Fatal(err)
	}
	out := txt.String()
	for _, want := range []string{"SUMMARY\nBackups            12", "national-id 11, health 1",
		"unknown (11)\n                   file:///backups (1)", "11 original not accounted for",
		"! 11 of 12 backups were encrypted after first being stored"} {
		if !strings.Contains(out, want) {
			t.Errorf("text certificate lacks %q", want)
		}
	}
	if n := strings.Count(out, "\n  ! "); n != 1 {
		t.Errorf("%d warning lines, want 1 grouped line:\n%s", n, out)
	}
	if err := RenderHTML(&html, st, ""); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html.String(), `<section class="summary">`) {
		t.Error("html certificate lacks the summary")
	}
	var small bytes.Buffer
	if err := RenderText(&small, testStatement(), "SHA256:x"); err != nil || strings.Contains(small.String(), "SUMMARY") {
		t.Errorf("a two-backup certificate has a summary (%v)", err)
	}
}

// TestLargeCertificateCountsUnrecordedUnwraps: a large certificate's
// grouped warnings count the backups whose key Vault's audit log shows
// unwrapped with no recorded purpose, and marks each of them, as a small
// one states each.
func TestLargeCertificateCountsUnrecordedUnwraps(t *testing.T) {
	st := largeStatement(summaryFrom, func(i int, b *Backup) {
		if i < 2 {
			b.KeyUnwraps.Audit = &AuditUnwraps{Count: 3, Unrecorded: 1}
		}
	})
	var txt, html bytes.Buffer
	if err := RenderText(&txt, st, "SHA256:x"); err != nil {
		t.Fatal(err)
	}
	out := txt.String()
	if !strings.Contains(out, "2 of 10 backups had their key unwrapped, as Vault's audit log shows, with no recorded purpose") {
		t.Errorf("the summary does not count the unrecorded unwraps:\n%s", out)
	}
	if n := strings.Count(out, "Key unwraps        !! "); n != 2 {
		t.Errorf("%d backups marked for an unrecorded unwrap, want 2:\n%s", n, out)
	}
	if err := RenderHTML(&html, st, ""); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(html.String(), `<th>Key unwraps</th><td class="unknown">`); n != 2 {
		t.Errorf("%d backups marked in the html certificate, want 2", n)
	}
}

// TestCertificateStatesVerificationWarnings: what verification warned of
// beyond the statement is listed, escaped, and counted in the summary, so
// the summary never says "none" above a warning.
func TestCertificateStatesVerificationWarnings(t *testing.T) {
	st := manySubjects(summaryFrom)
	var txt bytes.Buffer
	warning := "issuedAt and the trusted time differ\u2028PASS forged line"
	if err := RenderTextWith(&txt, st, "SHA256:x", CertExtras{Warnings: []string{warning}}); err != nil {
		t.Fatal(err)
	}
	out := txt.String()
	for _, want := range []string{"Warnings           1 raised by verification", `  ! issuedAt and the trusted time differ\u2028PASS forged line`} {
		if !strings.Contains(out, want) {
			t.Errorf("certificate lacks %q:\n%s", want, out)
		}
	}
}

// largeStatement returns a statement of n backups like testBackup2, each
// with its own id and subject, after edit has changed backup i.
func largeStatement(n int, edit func(i int, b *Backup)) *Statement {
	d := testDeletion()
	subjects := map[string]string{}
	d.Backups = nil
	for i := range n {
		b := testBackup2()
		b.BackupID = fmt.Sprintf("bk-01HF3Z8Q4M2N6P8R0T2V4X6Z%02d", i)
		b.Subject = fmt.Sprintf("permits-%02d.tar.age", i)
		edit(i, &b)
		d.Backups = append(d.Backups, b)
		subjects[b.Subject] = hexSum(b.Subject)
	}
	return NewStatement(d, subjects)
}
