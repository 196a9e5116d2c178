package ledger

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/cryptoshred/cryptoshred/internal/fuzzseed"
)

// Fuzz targets for the parsers of outside data in this package. A plain
// `go test` runs the f.Add seeds and the committed corpus in
// testdata/fuzz/.

// --- FuzzParseEntry -------------------------------------------------------

func FuzzParseEntry(f *testing.F) {
	full := Entry{
		Seq: 42, Prev: HashEntry([]byte("previous")), Time: fuzzseed.Time,
		Actor: "oidc:alice@example.org", Kind: KindHoldPlaced, Case: "dpa-2025-0001",
		Backups: []string{"bk-01jq0abc", "bk-01jq0abd"},
		Details: map[string]string{"reason": "DPA inquiry", "note": "ünïcödé \u2028"},
	}
	minimal := Entry{Seq: 1, Prev: Genesis, Time: fuzzseed.Time, Actor: "a", Kind: KindCaseOpened}
	f.Add(fuzzseed.JSON(f, full))
	f.Add(fuzzseed.JSON(f, minimal))
	f.Add([]byte(`{"seq":9223372036854775807,"prev":"","time":"2025-03-14T09:26:53+05:30","actor":"","event":"x"}`))
	f.Add([]byte(`{"seq":1,"event":"x","backups":[],"details":{}}`))
	f.Add([]byte(`{"seq":1,"event":"x","time":"0001-01-01T00:00:00Z","backups":null,"details":null}`))
	f.Add([]byte(`{"SEQ":1,"Event":"x","seq":2}`))                                 // case-insensitive and duplicate keys
	f.Add([]byte(`{"seq":1,"event":"x"} {"seq":2,"event":"y"}`))                   // trailing value
	f.Add([]byte(`{"seq":1,"event":"x"}]`))                                        // trailing bracket
	f.Add([]byte(`{"seq":1,"event":"x","extra":true}`))                            // unknown field
	f.Add([]byte(`{"seq":0,"event":"x"}`))                                         // seq < 1
	f.Add([]byte(`{"seq":-1,"event":""}`))                                         // both bad
	f.Add([]byte(`{"seq":1.5,"event":"x"}`))                                       // non-integer seq
	f.Add([]byte(`{"seq":1e3,"event":"x"}`))                                       // exponent
	f.Add([]byte(`{"seq":"1","event":"x"}`))                                       // wrong type
	f.Add([]byte(`{"seq":1,"event":"x","time":"not a time"}`))                     // bad time
	f.Add([]byte(`{"seq":1,"event":"x","time":"2025-13-40T99:99:99Z"}`))           // out of range time
	f.Add([]byte(`{"seq":1,"event":"\ud800\udfff\u0000\xff"}`))                    // odd strings
	f.Add(fuzzseed.JSON(f, full)[:37])                                             // truncated
	f.Add([]byte(strings.Repeat(`{"details":`, 5000) + strings.Repeat("}", 5000))) // deeply nested
	f.Add([]byte(strings.Repeat("[", 20000)))
	f.Add([]byte(""))
	f.Add([]byte("null"))
	f.Add([]byte("\x00\xff\xfe garbage"))

	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := ParseEntry(raw)
		if err != nil {
			if e != nil {
				t.Fatalf("ParseEntry returned an entry and an error: %v", err)
			}
			return
		}
		if e.Seq < 1 || e.Kind == "" {
			t.Fatalf("ParseEntry accepted seq %d, event %q", e.Seq, e.Kind)
		}
		again, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("accepted entry does not re-marshal: %v\ninput: %q", err, raw)
		}
		e2, err := ParseEntry(again)
		if err != nil {
			t.Fatalf("re-marshalled entry does not parse: %v\ninput: %q\nre-marshalled: %s", err, raw, again)
		}
		if !entriesEqual(e, e2) {
			t.Fatalf("entry changed in a round trip\ninput: %q\nfirst:  %+v\nsecond: %+v", raw, e, e2)
		}
		if again2 := fuzzseed.JSON(t, e2); !bytes.Equal(again, again2) {
			t.Fatalf("marshalling is not stable\nfirst:  %s\nsecond: %s", again, again2)
		}
	})
}

// entriesEqual compares entries field by field; nil and empty slices and
// maps are equal (omitempty drops both), times compare with Equal.
func entriesEqual(a, b *Entry) bool {
	return a.Seq == b.Seq && a.Prev == b.Prev && a.Time.Equal(b.Time) &&
		a.Actor == b.Actor && a.Kind == b.Kind && a.Case == b.Case &&
		slices.Equal(a.Backups, b.Backups) && maps.Equal(a.Details, b.Details)
}
