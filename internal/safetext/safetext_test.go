package safetext

import (
	"strings"
	"testing"
	"unicode"
)

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain name ünïcödé":          "plain name ünïcödé",
		"\x1b[2K\rSignature verified": `\x1b[2K\x0dSignature verified`,
		"evil\u202eexe.txt":           `evil\u202eexe.txt`,
		"tab\tnew\nline":              `tab\x09new\x0aline`,
		"bad \xff byte":               `bad \xff byte`,
		"zero\u200bwidth":             `zero\u200bwidth`,
		"forged\u2028Verified\u2029":  `forged\u2028Verified\u2029`,
		"":                            "",
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzEscape(f *testing.F) {
	f.Add("\x1b]8;;http://x\x1b\\link")
	f.Add("a\u2066b\u2069")
	f.Fuzz(func(t *testing.T, s string) {
		out := Escape(s)
		if strings.IndexFunc(out, func(r rune) bool {
			return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) || r == unicode.ReplacementChar
		}) >= 0 {
			t.Fatalf("Escape(%q) = %q still holds a control or format character", s, out)
		}
	})
}
