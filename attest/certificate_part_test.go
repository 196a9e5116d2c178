package attest

import (
	"bytes"
	"strings"
	"testing"
)

// The certificate of a part says so before anything else it states, in
// text and HTML, and keeps the summary of a large certificate.
func TestCertificateOfAPart(t *testing.T) {
	st := SplitStatements(manySubjects(25).Predicate, digestsOf(manySubjects(25)), 12)[1]
	var txt, html bytes.Buffer
	if err := RenderText(&txt, st, "SHA256:fp"); err != nil {
		t.Fatal(err)
	}
	if err := RenderHTML(&html, st, "SHA256:fp"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(txt.String(), "\n")
	if len(lines) < 4 || lines[3] != "PART 2 OF 3: this certificate covers backups bk-0000012 to bk-0000023 only." {
		t.Fatalf("text certificate opens with:\n%s", strings.Join(lines[:min(6, len(lines))], "\n"))
	}
	if !strings.Contains(txt.String(), "SUMMARY\nBackups            12") {
		t.Error("the summary of a large certificate is gone")
	}
	if !strings.Contains(html.String(), "<div class=\"part\" role=\"note\">PART 2 OF 3") || !strings.Contains(html.String(), "(part 2 of 3)</title>") {
		t.Error("the HTML certificate does not say it is part 2 of 3")
	}
	var whole bytes.Buffer
	if err := RenderText(&whole, testStatement(), "SHA256:fp"); err != nil || strings.Contains(whole.String(), "PART") {
		t.Errorf("a whole attestation's certificate mentions parts: %v", err)
	}
}

func digestsOf(st *Statement) map[string]string {
	out := map[string]string{}
	for _, s := range st.Subject {
		out[s.Name] = s.Digest["sha256"]
	}
	return out
}
