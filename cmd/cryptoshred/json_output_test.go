package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// --format json escapes the control and format characters encoding/json
// leaves raw (DEL, the 8-bit CSI U+009B, a bidirectional override) in a
// value someone else chose, here a restored copy's path in report access,
// and the JSON still decodes to that path.
func TestJSONOutputEscapesTerminalControls(t *testing.T) {
	env := newTestEnv(t)
	b := protectFile(t, env, "j.tar", []byte("restore me"))
	copyPath := filepath.Join(env.dir, "copy\u009b2J\u202erat.exe\x7f.tar")
	mustRun(t, env.srv, env.roles.admin, "backup", "open", b.ID, "--purpose", "inspection", "-o", copyPath)
	r := mustRun(t, env.srv, env.roles.auditor, "--format", "json", "report", "access")
	if i := strings.IndexAny(r.stdout, "\u009b\u202e\x7f"); i >= 0 {
		t.Fatalf("raw control in JSON output at %d: %q", i, r.stdout)
	}
	var out any
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || !holdsString(out, copyPath) {
		t.Fatalf("JSON output %s (%v) does not decode to the path %q", r.stdout, err, copyPath)
	}
}

// holdsString reports whether s is a string anywhere in the decoded JSON v.
func holdsString(v any, s string) bool {
	switch v := v.(type) {
	case string:
		return v == s
	case []any:
		return slices.ContainsFunc(v, func(e any) bool { return holdsString(e, s) })
	case map[string]any:
		for _, e := range v {
			if holdsString(e, s) {
				return true
			}
		}
	}
	return false
}
