// Package vault is cryptoshred's only contact with HashiCorp Vault: the
// connection and the token's identity, KV v2 records with check-and-set,
// Transit keys, capability checks and init. Client implements the stores
// and key interfaces the shred service needs.
package vault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
)

// Mounts names the Vault mounts cryptoshred uses.
type Mounts struct {
	Transit string // Transit engine holding one key per backup
	KV      string // KV v2 engine holding the catalog and the ledger
	Ledger  string // Transit engine holding each role's ledger signing key
}

// DefaultMounts are the mount names of DESIGN.md.
var DefaultMounts = Mounts{Transit: "cryptoshred-transit", KV: "cryptoshred", Ledger: "cryptoshred-ledger"}

// Client is cryptoshred's view of a Vault server: Transit for keys and KV
// v2 for the catalog and the ledger. It is safe for concurrent use.
type Client struct {
	client *api.Client
	mounts Mounts
}

// New wraps client. The client carries the address and token.
func New(client *api.Client, mounts Mounts) *Client {
	if mounts.Transit == "" {
		mounts.Transit = DefaultMounts.Transit
	}
	if mounts.Ledger == "" {
		mounts.Ledger = DefaultMounts.Ledger
	}
	if mounts.KV == "" {
		mounts.KV = DefaultMounts.KV
	}
	return &Client{client: client, mounts: mounts}
}

// Client returns the underlying API client.
func (v *Client) Client() *api.Client { return v.client }

// Mounts returns the mount names in use.
func (v *Client) Mounts() Mounts { return v.mounts }

// Address returns the Vault address.
//
// Any user name or password in the address is left out: the address is
// printed and signed into attestations.
func (v *Client) Address() string { return RedactAddress(v.client.Address()) }

// RedactAddress returns addr without the userinfo (user:password@) an
// address may carry.
func RedactAddress(addr string) string {
	u, err := url.Parse(addr)
	if err != nil {
		return "(unparsable address)"
	}
	u.User = nil
	return u.String()
}

func (v *Client) kvData(path string) string     { return v.mounts.KV + "/data/" + path }
func (v *Client) kvMetadata(path string) string { return v.mounts.KV + "/metadata/" + path }

// Get implements catalog.Store over KV v2. A missing or deleted entry
// returns errs.ErrNotFound. One that exists but holds no data, or whose
// data cannot be decoded (by the client, or by Vault itself), returns its
// version and write time with a catalog.ErrMalformed: a role wrote it,
// and a reader must pass over it as junk, never take it for a record
// that is not there.
func (v *Client) Get(ctx context.Context, path string) (*catalog.Record, error) {
	sec, err := v.client.Logical().ReadWithContext(ctx, v.kvData(path))
	if unparsable(err) || storedUndecodable(err) {
		return v.unparsableRecord(ctx, path, err)
	}
	if err != nil {
		return nil, vaultError("read", v.kvData(path), err)
	}
	if sec == nil || sec.Data == nil {
		return nil, fmt.Errorf("%s: %w", path, errs.ErrNotFound)
	}
	meta := sec.Data["metadata"]
	data, _ := sec.Data["data"].(map[string]any)
	switch {
	case data != nil:
		return &catalog.Record{Data: data, Version: metadataVersion(meta), Written: metadataCreated(meta)}, nil
	case deletedVersion(meta):
		return nil, fmt.Errorf("%s: %w", path, errs.ErrNotFound)
	}
	return &catalog.Record{Version: metadataVersion(meta), Written: metadataCreated(meta)}, fmt.Errorf("%w %s: it holds no data", catalog.ErrMalformed, path)
}

// deletedVersion reports metadata of a version deleted or destroyed (which
// only an operator can do), or none at all: a record that is not there. A
// deletion time still to come (a mount's delete_version_after) is not a
// deletion yet.
func deletedVersion(m any) bool {
	meta, _ := m.(map[string]any)
	at, _ := meta["deletion_time"].(string)
	deleted, err := time.Parse(time.RFC3339Nano, at)
	return meta == nil || meta["destroyed"] == true || at != "" && (err != nil || !deleted.After(time.Now()))
}

// storedUndecodable reports Vault's own failure to decode a record it
// stored (a number past float64's range, which it accepted on write): a
// record a role wrote, so it is neither retried (vaultCannotDecode) nor
// taken for an outage.
func storedUndecodable(err error) bool {
	return isStatus(err, http.StatusInternalServerError) && strings.Contains(err.Error(), vaultDecodeFailure)
}

// unparsable reports a read whose answer the client cannot decode because
// it is nested past the decoder's depth limit: the only answer of Vault's
// that a role's data can make undecodable (Vault stores such JSON and
// sends it back whole). Any other answer that does not parse is not
// Vault's (vaultError).
func unparsable(err error) bool {
	var syntax *json.SyntaxError
	return errors.As(err, &syntax) && strings.Contains(syntax.Error(), "exceeded max depth")
}

// unparsableRecord returns the record at path whose data could not be
// decoded (perr) as a catalog.ErrMalformed with its version and write
// time from its metadata, so that a reader passes over it as junk and a
// writer may replace it with check-and-set. A metadata read that fails, or
// names no version, is a failed read.
func (v *Client) unparsableRecord(ctx context.Context, path string, perr error) (*catalog.Record, error) {
	sec, err := v.client.Logical().ReadWithContext(ctx, v.kvMetadata(path))
	if err != nil {
		return nil, vaultError("read", v.kvMetadata(path), err)
	}
	var current json.Number
	var versions map[string]any
	if sec != nil {
		current, _ = sec.Data["current_version"].(json.Number)
		versions, _ = sec.Data["versions"].(map[string]any)
	}
	n, _ := current.Int64()
	version := int(n)
	why := undecodableWhy(perr)
	if version < 1 {
		return nil, fmt.Errorf("%w: the data of %s cannot be decoded (%s), and its metadata names no version", errs.ErrUnavailable, path, why)
	}
	rec := &catalog.Record{Version: version, Written: metadataCreated(versions[current.String()])}
	return rec, fmt.Errorf("%w %s: its data cannot be decoded (%s)", catalog.ErrMalformed, path, why)
}

// undecodableWhy says why a record could not be decoded without quoting
// the API client's error, which carries the request's URL (and any
// user:password in VAULT_ADDR) and text of the record's own size.
func undecodableWhy(err error) string {
	if storedUndecodable(err) {
		return "vault itself cannot decode it: it holds a number past the range it reads"
	}
	return "it is nested deeper than the client's JSON decoder reads"
}

func metadataVersion(m any) int {
	meta, _ := m.(map[string]any)
	n, _ := meta["version"].(json.Number)
	i, _ := n.Int64()
	return int(i)
}

// metadataCreated returns when Vault wrote the version read, or zero.
func metadataCreated(m any) time.Time {
	meta, _ := m.(map[string]any)
	s, _ := meta["created_time"].(string)
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// Put implements catalog.Store: it writes data at path if its current
// version is cas (0: must not exist). A lost race returns errs.ErrConflict.
func (v *Client) Put(ctx context.Context, path string, data map[string]any, cas int) (int, error) {
	body := map[string]any{"data": data, "options": map[string]any{"cas": cas}}
	sent, resent := watchResends(ctx)
	sec, err := v.client.Logical().WriteWithContext(sent, v.kvData(path), body)
	if err != nil {
		conflict, unknown := v.isConflict(ctx, path, cas, err)
		switch {
		case unknown != nil && resent.Load():
			return 0, readBackError(path, unknown)
		case unknown != nil:
			return 0, fmt.Errorf("vault refused to create %s, and whether it exists could not be read: %w", path, unknown)
		case !conflict:
			return 0, vaultError("write", v.kvData(path), err)
		case resent.Load():
			return v.ownWrite(ctx, path, data, cas)
		}
		return 0, fmt.Errorf("%s: %w", path, errs.ErrConflict)
	}
	if sec == nil {
		return 0, fmt.Errorf("failed to write %s: empty response", path)
	}
	n, _ := sec.Data["version"].(json.Number)
	i, _ := n.Int64()
	return int(i), nil
}

// isConflict reports whether a failed write of path lost a race: a
// check-and-set error, or the 403 a create-only policy answers when the
// record exists. A read of whether it exists that Vault did not answer is
// returned as unknown, rather than taking the 403 for a missing
// capability.
func (v *Client) isConflict(ctx context.Context, path string, cas int, err error) (conflict bool, unknown error) {
	if isStatus(err, http.StatusBadRequest) && strings.Contains(err.Error(), "check-and-set") {
		return true, nil
	}
	if cas != 0 || !isStatus(err, http.StatusForbidden) {
		return false, nil
	}
	_, gerr := v.Get(ctx, path)
	if errors.Is(gerr, errs.ErrUnavailable) {
		return false, gerr
	}
	return gerr == nil || errors.Is(gerr, catalog.ErrMalformed), nil
}

// ownWrite returns the version of the write of data at path that the
// caller sent again after Vault may have carried it out, if path holds
// exactly data as the version right after cas: the first was carried out,
// its answer was lost, and the second met its record; the caller goes on
// as if the first answer had come. Any other record is a lost race (two
// writers of the same record, such as init's markers, still conflict). A
// failed read is no answer either way: it is returned, not taken for a
// conflict, which would have the caller write the same thing again.
func (v *Client) ownWrite(ctx context.Context, path string, data map[string]any, cas int) (int, error) {
	rec, err := v.Get(ctx, path)
	if rerr := readBackError(path, err); rerr != nil {
		return 0, rerr
	}
	if err == nil && rec.Version == cas+1 && sameJSON(rec.Data, data) {
		return rec.Version, nil
	}
	return 0, fmt.Errorf("%s: %w", path, errs.ErrConflict)
}

// readBackError is err, a read of path after a write of it failed, if
// Vault did not answer it (errs.ErrUnavailable): the record may or may not
// be there. Any answer, found or not, gives nil.
func readBackError(path string, err error) error {
	if !errors.Is(err, errs.ErrUnavailable) {
		return nil
	}
	return fmt.Errorf("vault may have written %s, but reading it back failed: %w", path, err)
}

// sameJSON reports whether a and b encode to the same JSON once numbers
// are read back as Vault returns them.
func sameJSON(a, b map[string]any) bool {
	ja, erra := catalog.ToMap(a)
	jb, errb := catalog.ToMap(b)
	if erra != nil || errb != nil {
		return false
	}
	ea, _ := json.Marshal(ja)
	eb, _ := json.Marshal(jb)
	return bytes.Equal(ea, eb)
}

// List implements catalog.Store: the keys under dir; a missing dir lists
// nothing.
func (v *Client) List(ctx context.Context, dir string) ([]string, error) {
	sec, err := v.client.Logical().ListWithContext(ctx, v.kvMetadata(dir))
	if err != nil {
		return nil, vaultError("list", v.kvMetadata(dir), err)
	}
	if sec == nil {
		return nil, nil
	}
	raw, _ := sec.Data["keys"].([]any)
	keys := make([]string, 0, len(raw))
	for _, k := range raw {
		if s, ok := k.(string); ok {
			keys = append(keys, s)
		}
	}
	return keys, nil
}
