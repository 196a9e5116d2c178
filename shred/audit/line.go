// Package audit reads HashiCorp Vault file-audit-device logs and accounts
// for every unwrap of a backup key: each Transit decrypt (or rewrap or
// datakey) of a key named bk-<id> is matched with the ledger's
// backup.opened entry that records its purpose, by the entry hash that
// `backup open` sends in an audited request header, or else by identity
// and time. It has no Vault dependency, so an auditor can run it offline
// over copied logs and an exported ledger.
package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// LedgerHeader is the request header `backup open` sends on its Transit
// decrypt request, naming the ledger entry that records the open.
// `cryptoshred init` makes Vault log it in clear (hmac=false).
const LedgerHeader = "X-Cryptoshred-Ledger-Entry"

// KeyPrefix starts every backup id, which is also the name of the
// backup's Transit key.
const KeyPrefix = "bk-"

// Operations on a Transit key that unwrap (or re-wrap) key material.
const (
	OpDecrypt = "decrypt"
	OpRewrap  = "rewrap"
	OpDatakey = "datakey"
)

// Line types Vault writes: one request line before it handles a request
// and one response line after.
const (
	TypeRequest  = "request"
	TypeResponse = "response"
)

// Line is one audit log line that names a backup key operation.
type Line struct {
	Type          string
	Time          time.Time
	RequestID     string
	Operation     string // OpDecrypt, OpRewrap or OpDatakey
	Key           string // bk-<id>
	DisplayName   string
	EntityID      string
	Policies      []string
	RemoteAddress string
	Header        string // the LedgerHeader value, if logged
	Error         string // a response's error; empty on success
}

// ErrNotAuditLine marks a line that is not a Vault audit entry.
var ErrNotAuditLine = errors.New("not a vault audit entry")

// rawLine is the part of a Vault audit entry this package reads.
type rawLine struct {
	Type  string    `json:"type"`
	Time  time.Time `json:"time"`
	Error string    `json:"error"`
	Auth  struct {
		DisplayName string   `json:"display_name"`
		EntityID    string   `json:"entity_id"`
		Policies    []string `json:"policies"`
	} `json:"auth"`
	Request struct {
		ID            string              `json:"id"`
		Path          string              `json:"path"`
		Operation     string              `json:"operation"`
		RemoteAddress string              `json:"remote_address"`
		Headers       map[string][]string `json:"headers"`
	} `json:"request"`
}

// ParseLine parses one audit log line. It returns (nil, nil) for a Vault
// audit entry that is not an operation on a backup key under mount, and
// an error wrapping ErrNotAuditLine for anything else that is not a Vault
// audit entry. Lines that cannot name mount are only checked for looking
// like a JSON object, so most lines cost a substring search, not a parse.
func ParseLine(line []byte, mount string) (*Line, error) {
	obj, err := jsonObject(line)
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(obj, []byte(`"`+mount+`/`)) {
		return nil, nil
	}
	var raw rawLine
	if err := json.Unmarshal(obj, &raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotAuditLine, err)
	}
	if err := raw.check(); err != nil {
		return nil, err
	}
	op, key, ok := keyOperation(raw.Request.Path, mount)
	if !ok {
		return nil, nil
	}
	return raw.line(op, key), nil
}

// jsonObject returns the JSON object in line, after any prefix the audit
// device was configured with.
func jsonObject(line []byte) ([]byte, error) {
	line = bytes.TrimSpace(line)
	i := bytes.IndexByte(line, '{')
	if i < 0 || line[len(line)-1] != '}' { // i >= 0: line is not empty
		return nil, fmt.Errorf("%w: no JSON object", ErrNotAuditLine)
	}
	return line[i:], nil
}

func (r *rawLine) check() error {
	switch {
	case r.Type != TypeRequest && r.Type != TypeResponse:
		return fmt.Errorf("%w: type %q", ErrNotAuditLine, r.Type)
	case r.Time.IsZero():
		return fmt.Errorf("%w: no time", ErrNotAuditLine)
	case r.Request.ID == "" || r.Request.Path == "":
		return fmt.Errorf("%w: no request id or path", ErrNotAuditLine)
	}
	return nil
}

func (r *rawLine) line(op, key string) *Line {
	return &Line{
		Type: r.Type, Time: r.Time.UTC(), RequestID: r.Request.ID, Operation: op, Key: key,
		DisplayName: r.Auth.DisplayName, EntityID: r.Auth.EntityID, Policies: r.Auth.Policies,
		RemoteAddress: r.Request.RemoteAddress, Header: header(r.Request.Headers, LedgerHeader),
		Error: r.Error,
	}
}

// header returns the first value of name in Vault's logged headers, which
// Vault writes in lower case.
func header(h map[string][]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// keyOperation splits a Transit request path under mount into the
// operation and the backup key it uses: decrypt/KEY, rewrap/KEY and
// datakey/(plaintext|wrapped)/KEY. Other paths, and keys not named
// bk-<id>, are not key unwraps.
func keyOperation(path, mount string) (op, key string, ok bool) {
	rest, ok := strings.CutPrefix(path, mount+"/")
	if !ok {
		return "", "", false
	}
	parts := strings.Split(rest, "/")
	switch {
	case len(parts) == 2 && (parts[0] == OpDecrypt || parts[0] == OpRewrap):
		op, key = parts[0], parts[1]
	case len(parts) == 3 && parts[0] == OpDatakey && (parts[1] == "plaintext" || parts[1] == "wrapped"):
		op, key = parts[0], parts[2]
	default:
		return "", "", false
	}
	if len(key) <= len(KeyPrefix) || !strings.HasPrefix(key, KeyPrefix) {
		return "", "", false
	}
	return op, key, true
}

// lineTime returns the time of a Vault audit entry without parsing the
// rest: its top-level "time" is the last one in the line.
func lineTime(line []byte) (time.Time, bool) {
	const field = `"time":"`
	i := bytes.LastIndex(line, []byte(field))
	if i < 0 {
		return time.Time{}, false
	}
	rest := line[i+len(field):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(rest[:j]))
	return t.UTC(), err == nil
}
