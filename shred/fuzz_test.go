package shred

// Fuzz targets for every parser of outside data in this package: ledger
// entries and catalog records read back from Vault KV, the age header
// stanza, and the ids and free text a caller passes in.
//
// Run one with, for example:
//
//	go test -run '^$' -fuzz '^FuzzParseEntry$' -fuzztime 20s ./shred/
//
// A plain `go test` runs the f.Add seeds and the committed corpus in
// testdata/fuzz/.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"filippo.io/age"
)

// fuzzTime is a fixed, JSON-safe time for seeds.
var fuzzTime = time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC)

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// --- FuzzParseEntry -------------------------------------------------------

func FuzzParseEntry(f *testing.F) {
	full := Entry{
		Seq: 42, Prev: HashEntry([]byte("previous")), Time: fuzzTime,
		Actor: "oidc:alice@example.org", Event: EventHoldPlaced, Case: "dpa-2025-0001",
		Backups: []string{"bk-01jq0abc", "bk-01jq0abd"},
		Details: map[string]string{"reason": "DPA inquiry", "note": "ünïcödé \u2028"},
	}
	minimal := Entry{Seq: 1, Prev: genesis, Time: fuzzTime, Actor: "a", Event: EventCaseOpened}
	f.Add(mustJSON(f, full))
	f.Add(mustJSON(f, minimal))
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
	f.Add(mustJSON(f, full)[:37])                                                  // truncated
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
		if e.Seq < 1 || e.Event == "" {
			t.Fatalf("ParseEntry accepted seq %d, event %q", e.Seq, e.Event)
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
		if again2 := mustJSON(t, e2); !bytes.Equal(again, again2) {
			t.Fatalf("marshalling is not stable\nfirst:  %s\nsecond: %s", again, again2)
		}
	})
}

// entriesEqual compares entries field by field; nil and empty slices and
// maps are equal (omitempty drops both), times compare with Equal.
func entriesEqual(a, b *Entry) bool {
	return a.Seq == b.Seq && a.Prev == b.Prev && a.Time.Equal(b.Time) &&
		a.Actor == b.Actor && a.Event == b.Event && a.Case == b.Case &&
		slices.Equal(a.Backups, b.Backups) && maps.Equal(a.Details, b.Details)
}

// --- FuzzCatalogRecord ----------------------------------------------------

func FuzzCatalogRecord(f *testing.F) {
	later := fuzzTime.Add(72 * time.Hour)
	backup := Backup{
		ID: "bk-01jq0abc", Name: "casedb-2019.tar", System: "casedb",
		Controllers: []string{"Ministry of Migration", "Agency X"},
		Categories:  []string{"health", "national-id"},
		Labels:      map[string]string{"site": "dc1", "tier": "cold"},
		State:       StateShredded, Key: "bk-01jq0abc",
		Ciphertext: FileInfo{Path: "/b/casedb-2019.tar.age", Size: 2 << 40, SHA256: strings.Repeat("ab", 32), Mtime: fuzzTime},
		Plaintext:  FileInfo{Path: "/b/casedb-2019.tar", Size: 2<<40 - 512, SHA256: strings.Repeat("cd", 32)},
		Original: &Original{
			FileInfo:                   FileInfo{Path: "/b/casedb-2019.tar", Size: 12345, SHA256: strings.Repeat("ef", 32), Mtime: fuzzTime},
			EncryptedAfterFirstStorage: true,
			Disposal: &Disposal{Method: "deleted", At: later, By: "alice", Note: "n",
				Evidence: &DocumentRef{Name: "ticket.pdf", SHA256: strings.Repeat("01", 32)}},
		},
		CreatedAt: fuzzTime, CreatedBy: "oidc:alice", HeldBy: []string{"dpa-2025-0001"},
		ReleasedAt: later, ShredAfter: later.Add(24 * time.Hour), ShredCase: "dpa-2025-0001",
		CancelledAt: later.Add(time.Hour),
		Destruction: &Destruction{
			VersionsDestroyed: []int{1, 2, 3}, DestroyedAt: later, DestroyedBy: "bob",
			Verification: "read-after-delete: 404", VerifiedAt: later, MountPresent: true,
			CiphertextDeleted: true, CiphertextNote: "object storage", Recorded: true,
		},
		FailedReason: "none",
	}
	cs := Case{
		ID: "dpa-2025-0001", Authority: "Datatilsynet", Reference: "2025/123",
		Controllers: []string{"Ministry of Migration"}, State: "closed",
		OpenedAt: fuzzTime, OpenedBy: "carol",
		Decision: &Decision{Reference: "2025/123-D", Document: DocumentRef{Name: "decision.pdf", SHA256: strings.Repeat("99", 32)},
			RecordedBy: "carol", RecordedAt: later},
		ClosedAt: later,
	}
	hold := Hold{Case: "dpa-2025-0001", Backup: "bk-01jq0abc", PlacedAt: fuzzTime, PlacedBy: "carol",
		ReleasedAt: later, ReleasedBy: "carol"}
	head := Head{Seq: 17, Hash: HashEntry([]byte("x"))}
	for _, v := range []any{backup, cs, hold, head, Backup{}, Case{}, Hold{}} {
		m, err := toMap(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(mustJSON(f, m))
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
	f.Add(mustJSON(f, backup)[:60]) // truncated
	f.Add([]byte(strings.Repeat(`{"original":`, 3000) + "{}" + strings.Repeat("}", 3000)))
	f.Add([]byte(`[1,2,3]`))
	f.Add([]byte(`"just a string"`))
	f.Add([]byte("{\"id\":\"\xff\xfe\"}"))

	newValues := []func() any{
		func() any { return new(Backup) },
		func() any { return new(Case) },
		func() any { return new(Hold) },
		func() any { return new(Head) },
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, ok := decodeLikeVault(data)
		if !ok {
			return
		}
		for _, newValue := range newValues {
			v := newValue()
			if err := fromMap(m, v); err != nil {
				continue
			}
			m2, err := toMap(v)
			if err != nil {
				t.Fatalf("%T decoded but does not re-encode: %v\ninput: %q", v, err, data)
			}
			v2 := newValue()
			if err := fromMap(m2, v2); err != nil {
				t.Fatalf("%T does not survive toMap/fromMap: %v\ninput: %q\nre-encoded: %s", v, err, data, mustJSON(t, m2))
			}
			// Compare through JSON: time.Time carries a *Location and
			// omitempty turns empty slices into nil, neither of which is a
			// change in the stored record.
			if a, b := mustJSON(t, v), mustJSON(t, v2); !bytes.Equal(a, b) {
				t.Fatalf("%T changed in a toMap/fromMap round trip\ninput: %q\nfirst:  %s\nsecond: %s", v, data, a, b)
			}
			if h, ok := v.(*Head); ok && !reflect.DeepEqual(h, v2) {
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

// --- FuzzParseStanza and FuzzAgeHeader ------------------------------------

func FuzzParseStanza(f *testing.F) {
	f.Add("cryptoshred", "bk-01abc", []byte("vault:v1:AAAA"))
	f.Add(StanzaType, "bk-01jq0abc", []byte("vault:v12:"+base64.StdEncoding.EncodeToString(make([]byte, 48))))
	f.Add(StanzaType, "bk-01abc", []byte("vault:v1:AAAA\n"))
	f.Add(StanzaType, "bk-01abc", []byte("vault:v0:AAAA"))
	f.Add(StanzaType, "bk-01abc", []byte("vault:v1234567890:AAAA"))
	f.Add(StanzaType, "bk-01abc", []byte("vault:v1:"))
	f.Add(StanzaType, "bk-01abc", []byte("vault:v1:AA==="))
	f.Add(StanzaType, "bk-01abc extra", []byte("vault:v1:AAAA"))
	f.Add(StanzaType, "", []byte("vault:v1:AAAA"))
	f.Add(StanzaType, "../../sys/raw", []byte("vault:v1:AAAA"))
	f.Add(StanzaType, ".hidden", []byte("vault:v1:AAAA"))
	f.Add(StanzaType, strings.Repeat("k", 129), []byte("vault:v1:AAAA"))
	f.Add("X25519", "bk-01abc", []byte("vault:v1:AAAA"))
	f.Add("scrypt", "c2FsdA 18", []byte{0, 1, 2})
	f.Add(StanzaType, "bk-01abc", []byte{})
	f.Add(StanzaType, "bk-01abc", []byte("\x00\xffvault:v1:AAAA"))

	f.Fuzz(func(t *testing.T, typ, args string, body []byte) {
		s := &age.Stanza{Type: typ, Args: strings.Split(args, " "), Body: body}
		key, ct, err := ParseStanza(s)
		if err != nil {
			if key != "" || ct != "" {
				t.Fatalf("ParseStanza returned %q, %q and an error", key, ct)
			}
			return
		}
		checkParsedStanza(t, s, key, ct)
	})
}

func checkParsedStanza(t *testing.T, s *age.Stanza, key, ct string) {
	t.Helper()
	if s.Type != StanzaType || len(s.Args) != 1 || key != s.Args[0] || ct != string(s.Body) {
		t.Fatalf("ParseStanza(%q %q %q) = %q, %q", s.Type, s.Args, s.Body, key, ct)
	}
	if !ValidKeyName(key) || strings.Contains(key, "/") || len(key) > 128 {
		t.Fatalf("ParseStanza accepted key name %q", key)
	}
	if !strings.HasPrefix(ct, "vault:v") || strings.ContainsAny(ct, "\x00\n\r ") || !utf8.ValidString(ct) {
		t.Fatalf("ParseStanza accepted ciphertext %q", ct)
	}
}

// stanzaChecker is an age.Identity that parses every stanza it is given,
// checks what ParseStanza accepts, and never unwraps anything, so the age
// header path can be fuzzed without Vault.
type stanzaChecker struct{ t *testing.T }

func (c stanzaChecker) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	for _, s := range stanzas {
		if key, ct, err := ParseStanza(s); err == nil {
			checkParsedStanza(c.t, s, key, ct)
		}
	}
	return nil, age.ErrIncorrectIdentity
}

// ageFile builds an age v1 file with one stanza per (line, body) pair, a
// syntactically valid MAC line and payload.
func ageFile(payload []byte, stanzas ...any) []byte {
	var b bytes.Buffer
	b.WriteString("age-encryption.org/v1\n")
	for i := 0; i+1 < len(stanzas); i += 2 {
		b.WriteString("-> " + stanzas[i].(string) + "\n")
		enc := base64.RawStdEncoding.EncodeToString(stanzas[i+1].([]byte))
		for len(enc) >= 64 {
			b.WriteString(enc[:64] + "\n")
			enc = enc[64:]
		}
		b.WriteString(enc + "\n")
	}
	b.WriteString("--- " + base64.RawStdEncoding.EncodeToString(make([]byte, 32)) + "\n")
	b.Write(payload)
	return b.Bytes()
}

func FuzzAgeHeader(f *testing.F) {
	nonce := make([]byte, 16)
	ct := []byte("vault:v1:" + base64.StdEncoding.EncodeToString(make([]byte, 60)))
	f.Add(ageFile(nonce, "cryptoshred bk-01abc", []byte("vault:v1:AAAA")))
	f.Add(ageFile(nonce, "cryptoshred bk-01jq0abc", ct))
	f.Add(ageFile(nonce, "cryptoshred bk-01abc", []byte("vault:v1:AAAA"), "cryptoshred bk-01abd", ct))
	f.Add(ageFile(nonce, "X25519 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", make([]byte, 32), "cryptoshred bk-01abc", ct))
	f.Add(ageFile(nonce, "cryptoshred", ct))
	f.Add(ageFile(nonce, "cryptoshred a b", ct))
	f.Add(ageFile(nil, "cryptoshred ../x", ct))
	f.Add(ageFile(nil, "cryptoshred bk-01abc", []byte("vault:v1:AAAA\nvault:v1:AAAA")))
	f.Add(ageFile(nil, "cryptoshred bk-01abc", make([]byte, 48)))
	f.Add(ageFile(nil, "scrypt c2FsdHNhbHRzYWx0c2FsdA 18", make([]byte, 32)))
	f.Add(ageFile(nil))
	f.Add([]byte("age-encryption.org/v1\n-> cryptoshred bk-01abc\ndmF1bHQ6djE6QUFBQQ\n---"))
	f.Add([]byte("age-encryption.org/v1\n"))
	f.Add([]byte("-----BEGIN AGE ENCRYPTED FILE-----\n"))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		// The real Identity pinned to a name no stanza can carry: a valid
		// cryptoshred stanza is refused with ErrWrongKey before Vault (nil
		// here) is touched.
		pinned := NewIdentity(context.Background(), nil, "\x00pinned")
		r, err := age.Decrypt(bytes.NewReader(data), stanzaChecker{t}, pinned)
		if err == nil {
			t.Fatalf("age.Decrypt succeeded without a file key: %v", r)
		}
		var noMatch *age.NoIdentityMatchError
		if errors.Is(err, ErrWrongKey) || errors.As(err, &noMatch) {
			return
		}
		if strings.Contains(err.Error(), "malformed cryptoshred stanza") {
			return
		}
		if strings.Contains(err.Error(), "failed to read header") || strings.Contains(err.Error(), "scrypt") {
			return
		}
		t.Fatalf("unexpected error from age.Decrypt: %v", err)
	})
}

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
		req := ProtectRequest{Source: text, OutDir: text, System: id,
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
		empty := ProtectRequest{System: id}
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
