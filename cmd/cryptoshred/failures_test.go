package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/cryptoshred/cryptoshred/shred"
)

// missingIDs returns n backup ids that name no backup.
func missingIDs(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-missing-%02d", prefix, i)
	}
	return out
}

// failedJSON decodes the "failed" list of a command's JSON output.
func failedJSON(t *testing.T, stdout string) []map[string]string {
	t.Helper()
	var out struct {
		Failed []map[string]string `json:"failed"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("json output %q: %v", stdout, err)
	}
	return out.Failed
}

// wantEveryID fails t unless text, or the ids of failed, name every one
// of ids.
func wantEveryID(t *testing.T, what, text string, failed []map[string]string, ids []string) {
	t.Helper()
	for _, f := range failed {
		text += "\n" + f["id"] + ": " + f["error"]
	}
	for _, id := range ids {
		if !strings.Contains(text, id+": ") {
			t.Fatalf("%s does not name %s:\n%s", what, id, text)
		}
	}
}

// A hold place of more backups than an error lists (25 missing, one
// held) names every backup it did not hold: in text on stderr, one line
// each, and in JSON in "failed" with its error. Before, the error text
// was the only list, and it ended "... and 5 more".
func TestHoldPlaceNamesEveryBackupNotHeld(t *testing.T) {
	env := newTestEnv(t)
	b := protectFile(t, env, "held.tar", []byte("x"))
	mustRun(t, env.srv, env.roles.compliance, "case", "open", "CAP", "--authority", "Example DPA", "--reference", "r", "--controller", "Example Ministry")
	missing := missingIDs(b.ID[:8], shred.MaxListedFailures+5)
	args := append([]string{"hold", "place", "--case", "CAP", b.ID}, missing...)
	r := expectCode(t, exitPartial, env.srv, env.roles.compliance, args...)
	wantEveryID(t, "hold place's stderr", r.stderr, nil, missing)
	r = expectCode(t, exitPartial, env.srv, env.roles.compliance, append([]string{"--format", "json"}, args...)...)
	failed := failedJSON(t, r.stdout)
	if len(failed) != len(missing) {
		t.Fatalf("hold place's JSON lists %d failed, want %d:\n%s", len(failed), len(missing), r.stdout)
	}
	wantEveryID(t, "hold place's JSON", "", failed, missing)
}

// A hold release of more backups than an error lists names every one it
// did not release, in text and in JSON.
func TestHoldReleaseNamesEveryHoldNotReleased(t *testing.T) {
	env := newTestEnv(t)
	b := protectFile(t, env, "held.tar", []byte("x"))
	mustRun(t, env.srv, env.roles.compliance, "case", "open", "CAP", "--authority", "Example DPA", "--reference", "r", "--controller", "Example Ministry")
	mustRun(t, env.srv, env.roles.compliance, "hold", "place", "--case", "CAP", b.ID)
	missing := missingIDs(b.ID[:8], shred.MaxListedFailures+5)
	args := append([]string{"hold", "release", "--case", "CAP", "--reason", "placed by mistake"}, missing...)
	r := expectCode(t, exitRefused, env.srv, env.roles.compliance, args...)
	wantEveryID(t, "hold release's stderr", r.stderr, nil, missing)
	r = expectCode(t, exitPartial, env.srv, env.roles.compliance, append([]string{"--format", "json"}, append(args, b.ID)...)...)
	failed := failedJSON(t, r.stdout)
	if len(failed) != len(missing) || !strings.Contains(r.stdout, `"released": [`) {
		t.Fatalf("hold release's JSON lists %d failed, want %d:\n%s", len(failed), len(missing), r.stdout)
	}
	wantEveryID(t, "hold release's JSON", "", failed, missing)
}

// A case close that fails on more backups than an error lists (hold
// records the compliance officer created by hand, naming no backup)
// names every one in text and in JSON, and stays closing.
func TestCaseCloseNamesEveryBackupNotReleased(t *testing.T) {
	env := newTestEnv(t)
	b := protectFile(t, env, "held.tar", []byte("x"))
	mustRun(t, env.srv, env.roles.compliance, "case", "open", "CAP", "--authority", "Example DPA", "--reference", "r", "--controller", "Example Ministry")
	mustRun(t, env.srv, env.roles.compliance, "hold", "place", "--case", "CAP", b.ID)
	missing := missingIDs(b.ID[:8], shred.MaxListedFailures+5)
	comp := env.srv.Client(t, env.roles.compliance).Logical()
	for _, id := range missing {
		rec := map[string]any{"case": "CAP", "backup": id, "placedAt": "2026-01-02T03:04:05Z", "placedBy": "by hand"}
		if _, err := comp.Write("cryptoshred/data/holds/CAP/"+id, map[string]any{"data": rec}); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"case", "close", "CAP", "--decision-ref", "D", "--decision-file", decisionFile(t, env), "--yes"}
	r := expectCode(t, exitPartial, env.srv, env.roles.compliance, args...)
	wantEveryID(t, "case close's stderr", r.stderr, nil, missing)
	r = expectCode(t, exitPartial, env.srv, env.roles.compliance, append([]string{"--format", "json"}, args...)...)
	failed := failedJSON(t, r.stdout)
	if len(failed) != len(missing) {
		t.Fatalf("case close's JSON lists %d failed, want %d:\n%s", len(failed), len(missing), r.stdout)
	}
	wantEveryID(t, "case close's JSON", "", failed, missing)
}

// TestSingleFailureIsListedInJSON: hold release, hold place and case
// close of one backup that fails list it under failed in --format json.
// Before, hold release of a single id returned the item's own error
// rather than the batch's, and its JSON said "failed": [].
func TestSingleFailureIsListedInJSON(t *testing.T) {
	env := newTestEnv(t)
	b := protectFile(t, env, "held.tar", []byte("x"))
	mustRun(t, env.srv, env.roles.compliance, "case", "open", "CAP", "--authority", "Example DPA", "--reference", "r", "--controller", "Example Ministry")
	missing := missingIDs(b.ID[:8], 1)
	for _, args := range [][]string{
		{"hold", "release", "--case", "CAP", "--reason", "placed by mistake", missing[0]},
		{"hold", "place", "--case", "CAP", missing[0]},
	} {
		r := runCLI(t, env.srv, env.roles.compliance, append([]string{"--format", "json"}, args...)...)
		if r.code != exitRefused && r.code != exitError {
			t.Fatalf("%s %s of one backup that fails: exit %d\n%s", args[0], args[1], r.code, r.stderr)
		}
		failed := failedJSON(t, r.stdout)
		if len(failed) != 1 || failed[0]["id"] != missing[0] {
			t.Errorf("%s %s of one backup that fails: JSON lists %v, want it:\n%s", args[0], args[1], failed, r.stdout)
		}
	}
}
