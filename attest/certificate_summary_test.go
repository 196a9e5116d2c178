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
	d := testDeletion()
	subjects := map[string]string{}
	d.Backups = nil
	for i := range 12 {
		b := testBackup2()
		b.BackupID = fmt.Sprintf("bk-01HF3Z8Q4M2N6P8R0T2V4X6Z%02d", i)
		b.Subject = fmt.Sprintf("permits-%02d.tar.age", i)
		if i == 0 {
			b = testBackup1()
			b.Categories = []string{"health"}
		}
		d.Backups = append(d.Backups, b)
		subjects[b.Subject] = hexSum(b.Subject)
	}
	st := NewStatement(d, subjects)
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
