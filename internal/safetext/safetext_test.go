package safetext

import (
	"encoding/json"
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

// JSON leaves no character Escape would escape raw in encoded JSON, and
// the JSON decodes to the same values, those above U+FFFF included.
func TestJSON(t *testing.T) {
	in := map[string]string{"csi\u009b[2J": "del\x7f bidi\u202e tag\U000e0001 bom\ufeff fffd\ufffd ünï\t\x1b"}
	enc, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	out := JSON(enc)
	if i := strings.IndexFunc(string(out), unsafe); i >= 0 {
		t.Fatalf("raw %q left in %s", []rune(string(out[i:]))[0], out)
	}
	var back map[string]string
	if err := json.Unmarshal(out, &back); err != nil || back["csi\u009b[2J"] != in["csi\u009b[2J"] || len(back) != 1 {
		t.Fatalf("%s decodes to %q, %v", out, back, err)
	}
	if plain := []byte(`{"a": "ünïcödé"}`); string(JSON(plain)) != string(plain) {
		t.Errorf("JSON changed %s", plain)
	}
}
