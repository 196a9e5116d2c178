package attest

import (
	"strings"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/attest/tsa"
)

// TestLateBackupsAreNamedThenCounted: the first few backups that report a
// time after the trusted time are named, the rest stated in one line, so
// a large attestation's certificate does not open with one line for each.
func TestLateBackupsAreNamedThenCounted(t *testing.T) {
	st := manySubjects(10)
	trusted := st.Predicate.Backups[0].DestroyedAt.Add(-time.Hour)
	run := &verifyRun{stmt: st, tolerance: time.Minute}
	got := run.lateBackups(tsa.Verified{Time: trusted})
	if len(got) != lateWarningsEach+1 || !strings.Contains(got[lateWarningsEach], "and 7 more backups report times after the trusted time") {
		t.Fatalf("warnings for 10 late backups: %q", got)
	}
	if got := run.lateBackups(tsa.Verified{Time: trusted.Add(2 * time.Hour)}); len(got) != 0 {
		t.Fatalf("warnings for backups before the trusted time: %q", got)
	}
}
