package audit

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// t0 is the time of the first synthetic log line.
var t0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// entry describes one synthetic audit log line, shaped as Vault 1.19's
// file audit device writes it.
type entry struct {
	typ, id, path, op, who, entity, header, err string
	at                                          time.Time
}

// vaultLine renders e as Vault writes it: auth, error, request, response,
// time and type, with the token and accessor HMAC'd.
func vaultLine(tb testing.TB, e entry) []byte {
	tb.Helper()
	headers := map[string][]string{"user-agent": {"Go-http-client/1.1"}}
	if e.header != "" {
		headers["x-cryptoshred-ledger-entry"] = []string{e.header}
	}
	auth := map[string]any{
		"accessor": "hmac-sha256:f60e8b52", "client_token": "hmac-sha256:041d45a9",
		"display_name": e.who, "policies": []string{"default", "cryptoshred-admin"},
		"token_policies": []string{"default", "cryptoshred-admin"}, "token_type": "service",
	}
	if e.entity != "" {
		auth["entity_id"] = e.entity
	}
	line := map[string]any{
		"auth": auth,
		"request": map[string]any{
			"id": e.id, "path": e.path, "operation": cmp.Or(e.op, "update"), "headers": headers,
			"data":        map[string]any{"ciphertext": "hmac-sha256:0e0a64da"},
			"mount_point": "cryptoshred-transit/", "mount_type": "transit",
			"namespace": map[string]any{"id": "root"}, "remote_address": "10.0.0.7", "remote_port": 42246,
		},
		"time": e.at.Format(time.RFC3339Nano), "type": e.typ,
	}
	if e.typ == TypeResponse {
		line["response"] = map[string]any{"data": map[string]any{"plaintext": "hmac-sha256:87870"}}
		if e.err != "" {
			line["error"] = e.err
		}
	}
	b, err := json.Marshal(line)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// pair renders the request and the response line of one request.
func pair(tb testing.TB, e entry) string {
	req, resp := e, e
	req.typ, resp.typ = TypeRequest, TypeResponse
	resp.at = e.at.Add(300 * time.Microsecond)
	return string(vaultLine(tb, req)) + "\n" + string(vaultLine(tb, resp)) + "\n"
}

// decrypt is a successful decrypt of key by who at t.
func decrypt(id, key, who string, at time.Time) entry {
	return entry{id: id, path: "cryptoshred-transit/decrypt/" + key, who: who, at: at}
}

// ledgerWrite is a successful create of ledger slot seq at t.
func ledgerWrite(seq int64, t time.Time) entry {
	return entry{id: fmt.Sprintf("w%d", seq), path: fmt.Sprintf("cryptoshred/data/ledger/%012d", seq), op: "create", who: "token-a", at: t}
}

// readLog reads each text as one log file.
func readLog(tb testing.TB, since time.Time, files ...string) *Log {
	tb.Helper()
	l := NewLog(testMounts, since)
	for _, f := range files {
		if err := l.Read(tb.Context(), strings.NewReader(f)); err != nil {
			tb.Fatal(err)
		}
	}
	return l
}

// testMounts are the mounts of the synthetic logs.
var testMounts = Mounts{Transit: "cryptoshred-transit", KV: "cryptoshred"}
