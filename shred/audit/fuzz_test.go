package audit

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// FuzzAuditLine feeds arbitrary lines to ParseLine and to a Log: neither
// may panic, an accepted line must name a backup key operation under the
// mount, and a rejected one must be counted as garbage.
func FuzzAuditLine(f *testing.F) {
	ok := decrypt("r1", "bk-01jq0abc", "token-backup-admin", t0)
	ok.typ, ok.header, ok.entity = TypeResponse, "sha256:"+strings.Repeat("ab", 32), "e-1"
	failed := ok
	failed.err = "1 error occurred:\n\t* permission denied\n\n"
	datakey := ok
	datakey.typ, datakey.path = TypeRequest, "cryptoshred-transit/datakey/wrapped/bk-x"
	f.Add(vaultLine(f, ok))
	f.Add(vaultLine(f, failed))
	f.Add(vaultLine(f, datakey))
	f.Add(append([]byte("vault-audit: "), vaultLine(f, ok)...))
	f.Add(vaultLine(f, ok)[:97]) // truncated
	f.Add([]byte(`{"type":"response","time":"2025-03-14T09:26:53Z","request":{"id":"1","path":"cryptoshred-transit/decrypt/bk-1","headers":{"X-Cryptoshred-Ledger-Entry":[]}}}`))
	f.Add([]byte(`{"type":"request","time":"2025-03-14T09:26:53Z","request":{"id":"1","path":"cryptoshred-transit/decrypt/bk-1/../../x"}}`))
	f.Add([]byte(`{"type":"request","time":"not a time","request":{"id":"1","path":"cryptoshred-transit/rewrap/bk-\u202e"}}`))
	f.Add([]byte(`{"time":"2025-03-14T09:26:53Z","type":"request","time":"2025-03-14T09:26:54Z"}`))
	f.Add([]byte(strings.Repeat("[", 20000) + `"cryptoshred-transit/`))
	f.Add([]byte("\x00\xff\xfe garbage {}"))
	f.Add([]byte(""))

	f.Fuzz(func(t *testing.T, raw []byte) {
		ln, err := ParseLine(raw, "cryptoshred-transit")
		if err != nil && ln != nil {
			t.Fatalf("ParseLine returned a line and an error: %v", err)
		}
		if ln != nil {
			if !strings.HasPrefix(ln.Key, KeyPrefix) || len(ln.Key) == len(KeyPrefix) || strings.Contains(ln.Key, "/") ||
				(ln.Operation != OpDecrypt && ln.Operation != OpRewrap && ln.Operation != OpDatakey) ||
				(ln.Type != TypeRequest && ln.Type != TypeResponse) || ln.RequestID == "" || ln.Time.IsZero() {
				t.Fatalf("ParseLine accepted %+v from %q", ln, raw)
			}
		}
		log := NewLog(testMounts, time.Time{})
		if err := log.Read(t.Context(), bytes.NewReader(raw)); err != nil {
			return // a line starting with the gzip magic
		}
		unwraps, st := log.Unwraps()
		if int64(len(unwraps)) > st.Lines || st.Garbage > st.Lines {
			t.Fatalf("the input gave %d unwraps, stats %+v", len(unwraps), st)
		}
	})
}
