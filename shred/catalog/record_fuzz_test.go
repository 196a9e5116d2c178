package catalog_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/internal/fuzzseed"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
)

// Fuzz targets for the parsers of outside data in this package. A plain
// `go test` runs the f.Add seeds and the committed corpus in
// testdata/fuzz/.

// --- FuzzCatalogRecord ----------------------------------------------------

func FuzzCatalogRecord(f *testing.F) {
	later := fuzzseed.Time.Add(72 * time.Hour)
	backup := catalog.Backup{
		ID: "bk-01jq0abc", Name: "casedb-2019.tar", System: "casedb",
		Controllers: []string{"Ministry of Migration", "Agency X"},
		Categories:  []string{"health", "national-id"},
		Labels:      map[string]string{"site": "dc1", "tier": "cold"},
		State:       catalog.StateShredded, Key: "bk-01jq0abc",
		Ciphertext: catalog.FileInfo{Path: "/b/casedb-2019.tar.age", Size: 2 << 40, SHA256: strings.Repeat("ab", 32), Mtime: fuzzseed.Time},
		Plaintext:  catalog.FileInfo{Path: "/b/casedb-2019.tar", Size: 2<<40 - 512, SHA256: strings.Repeat("cd", 32)},
		Original: &catalog.Original{
			FileInfo:                   catalog.FileInfo{Path: "/b/casedb-2019.tar", Size: 12345, SHA256: strings.Repeat("ef", 32), Mtime: fuzzseed.Time},
			EncryptedAfterFirstStorage: true,
			Disposal: &catalog.Disposal{Method: "deleted", At: later, By: "alice", Note: "n",
				Evidence: &catalog.DocumentRef{Name: "ticket.pdf", SHA256: strings.Repeat("01", 32)}},
		},
		CreatedAt: fuzzseed.Time, CreatedBy: "oidc:alice", HeldBy: []string{"dpa-2025-0001"},
		ReleasedAt: later, ShredAfter: later.Add(24 * time.Hour), ShredCase: "dpa-2025-0001",
		CancelledAt: later.Add(time.Hour),
		Destruction: &catalog.Destruction{
			VersionsDestroyed: []int{1, 2, 3}, DestroyedAt: later, DestroyedBy: "bob",
			Verification: "read-after-delete: 404", VerifiedAt: later, MountPresent: true,
			CiphertextDeleted: true, CiphertextNote: "object storage", Recorded: true,
		},
		FailedReason: "none",
	}
	cs := catalog.Case{
		ID: "dpa-2025-0001", Authority: "Datatilsynet", Reference: "2025/123",
		Controllers: []string{"Ministry of Migration"}, State: "closed",
		OpenedAt: fuzzseed.Time, OpenedBy: "carol",
		Decision: &catalog.Decision{Reference: "2025/123-D", Document: catalog.DocumentRef{Name: "decision.pdf", SHA256: strings.Repeat("99", 32)},
			RecordedBy: "carol", RecordedAt: later},
		ClosedAt: later,
	}
	hold := catalog.Hold{Case: "dpa-2025-0001", Backup: "bk-01jq0abc", PlacedAt: fuzzseed.Time, PlacedBy: "carol",
		ReleasedAt: later, ReleasedBy: "carol"}
	head := ledger.Head{Seq: 17, Hash: ledger.HashEntry([]byte("x"))}
	for _, v := range []any{backup, cs, hold, head, catalog.Backup{}, catalog.Case{}, catalog.Hold{}} {
		m, err := catalog.ToMap(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(fuzzseed.JSON(f, m))
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"seq":9007199254740993,"hash":"h"}`))      // above 2^53
	f.Add([]byte(`{"seq":9223372036854775807,"hash":"h"}`))   // max int64
	f.Add([]byte(`{"ciphertext":{"size":9007199254740993}}`)) // Backup above 2^53
	f.Add([]byte(`{"seq":1e2,"hash":"h"}`))                   // exponent
	f.Add([]byte(`{"id":"a","ID":"b","Id":"c"}`))             // case-folded duplicates
	f.Add([]byte(`{"id":"a","bogus":1}`))                     // unknown field
	f.Add([]byte(`{"ciphertext":{"size":-1,"mtime":"2025-03-14T09:26:53.000000001+14:00"}}`))
	f.Add([]byte(`{"original":null,"destruction":{"versionsDestroyed":null}}`))
	f.Add([]byte(`{"labels":{"":"\u0000"},"controllers":[],"heldBy":[""]}`))
	f.Add([]byte(`{"decision":{"document":{}}}`))
	f.Add([]byte(`{"placedAt":"9999-12-31T23:59:59.999999999-23:59"}`))
	f.Add([]byte(`{"createdAt":null,"state":null}`))
	f.Add(fuzzseed.JSON(f, backup)[:60]) // truncated
	f.Add([]byte(strings.Repeat(`{"original":`, 3000) + "{}" + strings.Repeat("}", 3000)))
	f.Add([]byte(`[1,2,3]`))
	f.Add([]byte(`"just a string"`))
	f.Add([]byte("{\"id\":\"\xff\xfe\"}"))

	newValues := []func() any{
		func() any { return new(catalog.Backup) },
		func() any { return new(catalog.Case) },
		func() any { return new(catalog.Hold) },
		func() any { return new(ledger.Head) },
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, ok := decodeLikeVault(data)
		if !ok {
			return
		}
		for _, newValue := range newValues {
			v := newValue()
			if err := catalog.FromMap(m, v); err != nil {
				continue
			}
			m2, err := catalog.ToMap(v)
			if err != nil {
				t.Fatalf("%T decoded but does not re-encode: %v\ninput: %q", v, err, data)
			}
			v2 := newValue()
			if err := catalog.FromMap(m2, v2); err != nil {
				t.Fatalf("%T does not survive toMap/fromMap: %v\ninput: %q\nre-encoded: %s", v, err, data, fuzzseed.JSON(t, m2))
			}
			// Compare through JSON: time.Time carries a *Location and
			// omitempty turns empty slices into nil, neither of which is a
			// change in the stored record.
			if a, b := fuzzseed.JSON(t, v), fuzzseed.JSON(t, v2); !bytes.Equal(a, b) {
				t.Fatalf("%T changed in a toMap/fromMap round trip\ninput: %q\nfirst:  %s\nsecond: %s", v, data, a, b)
			}
			if h, ok := v.(*ledger.Head); ok && !reflect.DeepEqual(h, v2) {
				t.Fatalf("Head changed in a round trip: %+v -> %+v", h, v2)
			}
		}
	})
}

// decodeLikeVault decodes a KV data object the way the Vault client does:
// numbers stay json.Number.
func decodeLikeVault(data []byte) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, false
	}
	return m, true
}
