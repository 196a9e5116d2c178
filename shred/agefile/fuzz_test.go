package agefile

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"filippo.io/age"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

// Fuzz targets for the parsers of outside data in this package. A plain
// `go test` runs the f.Add seeds and the committed corpus in
// testdata/fuzz/.

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
	if !catalog.ValidID(key) || strings.Contains(key, "/") || len(key) > 128 {
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
