package catalog

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// Fuzz targets for the parsers of outside data in this package. A plain
// `go test` runs the f.Add seeds and the committed corpus in
// testdata/fuzz/.

// --- FuzzValidID ----------------------------------------------------------

func FuzzValidID(f *testing.F) {
	f.Add("bk-01jq0abc", "Ministry of Migration", 256, "health", "site", "dc1")
	f.Add("dpa-2025-0001", "", 0, "national-id", "a.b_c-d", "")
	f.Add(strings.Repeat("a", 128), strings.Repeat("x", 256), 256, "children", strings.Repeat("k", 128), strings.Repeat("v", 256))
	f.Add(strings.Repeat("a", 129), strings.Repeat("x", 257), 256, "Health", strings.Repeat("k", 129), strings.Repeat("v", 257))
	f.Add("../etc/passwd", "tab\there", 256, "", "a/b", "new\nline")
	f.Add("-leading", "esc \x1b[31mred", 256, "unknown", "-k", "bell\a")
	f.Add(".", "c1 \u0085 \u009b", -1, "health ", ".", "\u202eevil")
	f.Add("a\n", "\xff\xfe invalid utf-8", 10, "criminal", "ok", "\x9b2J")
	f.Add("bk-ä", "ünïcödé", 3, "genetic", "ü", "ü")
	f.Add("", "", 0, "", "", "")
	f.Add("a b", "\u2028", 256, "sex-life", "a\x00", "\x7f")

	f.Fuzz(func(t *testing.T, id, text string, max int, category, labelKey, labelValue string) {
		if ValidID(id) {
			checkIDShape(t, id)
		}
		if err := CheckText("text", text, max); err == nil {
			if len(text) > max {
				t.Fatalf("CheckText accepted %d bytes with max %d", len(text), max)
			}
			if i := strings.IndexFunc(text, unicode.IsControl); i >= 0 {
				t.Fatalf("CheckText accepted a control character in %q", text)
			}
		}
		labels := map[string]string{labelKey: labelValue}
		if err := checkLabels(labels); err == nil {
			checkIDShape(t, labelKey)
			if CheckText("v", labelValue, 256) != nil {
				t.Fatalf("checkLabels accepted value %q", labelValue)
			}
		}
		if checkLabels(nil) != nil || checkLabels(map[string]string{}) != nil {
			t.Fatal("checkLabels refused no labels")
		}
		req := Metadata{System: id,
			Controllers: []string{text}, Categories: []string{category}, Labels: labels}
		if err := req.Validate(); err == nil {
			if id != "" {
				checkIDShape(t, id)
			}
			if text == "" || CheckText("c", text, 256) != nil {
				t.Fatalf("Validate accepted controller %q", text)
			}
			if !ValidCategory(category) {
				t.Fatalf("Validate accepted category %q", category)
			}
			if checkLabels(labels) != nil {
				t.Fatalf("Validate accepted labels %q", labels)
			}
		}
		empty := Metadata{System: id}
		if (empty.Validate() == nil) != (id == "" || ValidID(id)) {
			t.Fatalf("Validate and ValidID disagree on system %q", id)
		}
	})
}

func checkIDShape(t *testing.T, id string) {
	t.Helper()
	if id == "" || len(id) > 128 || strings.Contains(id, "/") || !utf8.ValidString(id) ||
		strings.IndexFunc(id, unicode.IsControl) >= 0 || strings.ContainsAny(id, " \\:") ||
		id == "." || id == ".." || id[0] == '.' || id[0] == '-' {
		t.Fatalf("ValidID accepted %q", id)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x20 || id[i] >= 0x7f {
			t.Fatalf("ValidID accepted byte %#x in %q", id[i], id)
		}
	}
}
