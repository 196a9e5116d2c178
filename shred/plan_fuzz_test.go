package shred

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

// FuzzPlanFromRecord feeds status records, as Vault returns whatever a
// role token wrote, through every decision that reads them: a record is
// skipped with a reason or acted on, and never panics.
func FuzzPlanFromRecord(f *testing.F) {
	f.Add([]byte(`{"id":"bk-1","key":"bk-1","state":"shredded"}`))
	f.Add([]byte(`{"id":"bk-1","key":"bk-1","state":"destroying"}`))
	f.Add([]byte(`{"id":"bk-1","key":"bk-1","state":"pending","shredAfter":"2999-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"id":"bk-1","key":"bk-1","state":"released","original":{"encryptedAfterFirstStorage":true}}`))
	f.Add([]byte(`{"id":"bk-1","key":"bk-1","state":"held","heldBy":["A"],"destruction":{"recorded":true}}`))
	f.Add([]byte(`{"state":"bogus","original":null,"destruction":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var m map[string]any
		if dec.Decode(&m) != nil || m == nil {
			return
		}
		var b catalog.Backup
		if catalog.FromMap(m, &b) != nil {
			return
		}
		b.Registered = true
		now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
		_ = skipReason(&b, nil, now)
		_ = skipReason(&b, []string{"OTHER"}, now)
		_ = originalWarnings(&b)
		for _, key := range []*KeyInfo{{Name: b.Key}, {Name: b.Key, DeletionAllowed: true}, {Name: b.Key, Exportable: true}} {
			action, reason := keyDecision(&b, key)
			if action == "" || reason == "" {
				t.Fatalf("no decision for %q with key %+v", data, key)
			}
		}
		checkInterrupted(t, b)
		if b.Destruction != nil {
			facts := &ledgerFacts{unwraps: map[string]attest.KeyUnwraps{}, holds: map[string][]attest.Hold{}}
			_, _ = attestBackup(&b, facts, attest.KeyStore{SnapshotRetention: "1h"}, "x.age")
		}
	})
}

// checkInterrupted plans b as if its key were gone: without an intent, it
// is finished only if its status is an older run's destroying with a
// destruction; with one, always.
func checkInterrupted(t *testing.T, b catalog.Backup) {
	older := b.State == catalog.StateDestroying && b.Destruction != nil
	for _, intents := range []map[string]*catalog.Intent{{}, {b.ID: {Case: "C", Versions: map[string][]int{b.ID: {1}}}}} {
		c := b
		it := &PlanItem{Backup: &c}
		err := interrupted(it, func() (map[string]*catalog.Intent, error) { return intents, nil })
		finish := older || intents[b.ID] != nil
		if err != nil || (it.Action == ActionDestroy) != finish || it.Reason == "" || (finish && c.Destruction == nil) {
			t.Fatalf("key gone, intents %v: %q planned %s (%s), %v", intents, b.State, it.Action, it.Reason, err)
		}
	}
}
