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
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/cryptoshred/cryptoshred/internal/parallel"
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
// returns errs.ErrNotFound.
func (v *Client) Get(ctx context.Context, path string) (*catalog.Record, error) {
	sec, err := v.client.Logical().ReadWithContext(ctx, v.kvData(path))
	if err != nil {
		return nil, vaultError("read", v.kvData(path), err)
	}
	if sec == nil || sec.Data == nil {
		return nil, fmt.Errorf("%s: %w", path, errs.ErrNotFound)
	}
	data, _ := sec.Data["data"].(map[string]any)
	if data == nil {
		return nil, fmt.Errorf("%s: %w", path, errs.ErrNotFound)
	}
	return &catalog.Record{Data: data, Version: metadataVersion(sec.Data["metadata"]), Written: metadataCreated(sec.Data["metadata"])}, nil
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
		conflict := isStatus(err, http.StatusBadRequest) && strings.Contains(err.Error(), "check-and-set") ||
			// A create-only policy answers 403, not a check-and-set
			// error, when the record exists: that is a lost race.
			cas == 0 && isStatus(err, http.StatusForbidden) && v.exists(ctx, path)
		if !conflict {
			return 0, vaultError("write", v.kvData(path), err)
		}
		if resent.Load() {
			if version, ok := v.ownWrite(ctx, path, data, cas); ok {
				return version, nil
			}
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

// ownWrite reports whether path holds, as the version right after cas,
// exactly data. Asked only of a write sent again after Vault may have
// carried it out: the first was carried out, its answer was lost, and the
// second met its record. Its version is returned, and the caller goes on
// as if the first answer had come. (Two writers of the same record, such
// as init's markers, still conflict.)
func (v *Client) ownWrite(ctx context.Context, path string, data map[string]any, cas int) (int, bool) {
	rec, err := v.Get(ctx, path)
	if err != nil || rec.Version != cas+1 {
		return 0, false
	}
	return rec.Version, sameJSON(rec.Data, data)
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

func (v *Client) exists(ctx context.Context, path string) bool {
	_, err := v.Get(ctx, path)
	return err == nil
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

// ClientConfig returns a Vault client configuration for addr tuned for
// cryptoshred: enough idle connections for parallel work (the default
// keeps a handful and reopens the rest), and retries with backoff for
// dropped connections and 5xx answers, never for 4xx (4 retries, unless
// VAULT_MAX_RETRIES says otherwise; the client's timeout bounds them
// all). A refused connection
// before Vault has answered anything (nothing listens at addr) is not
// retried: waiting would only delay the error that the address is wrong
// or the server is down. Once Vault has answered, a refused connection is
// retried like any other: a node restarting or a cluster electing a new
// leader refuses connections for a few seconds mid-run.
func ClientConfig(addr string) (*api.Config, error) {
	cfg := api.DefaultConfig()
	if cfg.Error != nil {
		return nil, cfg.Error
	}
	cfg.Address = addr
	if t, ok := cfg.HttpClient.Transport.(*http.Transport); ok {
		t.MaxIdleConnsPerHost = 4 * parallel.DefaultLimit
	}
	cfg.MinRetryWait, cfg.MaxRetryWait = 200*time.Millisecond, 3*time.Second
	if os.Getenv(api.EnvVaultMaxRetries) == "" {
		cfg.MaxRetries = 4
	}
	cfg.CheckRetry = newCheckRetry()
	return cfg, nil
}

// newCheckRetry is Vault's retry policy, except for a refused connection
// while Vault has not answered yet.
func newCheckRetry() func(context.Context, *http.Response, error) (bool, error) {
	var answered atomic.Bool
	return func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if resp != nil {
			answered.Store(true)
		}
		refused := err != nil && errors.Is(err, syscall.ECONNREFUSED)
		maybeCarriedOut := !refused && !notCarriedOut(resp)
		switch {
		case refused && !answered.Load():
			return false, err
		case onceOnly(ctx) && maybeCarriedOut:
			return false, nil
		}
		retry, err := api.DefaultRetryPolicy(ctx, resp, err)
		if retry && maybeCarriedOut {
			noteMaybeCarriedOut(ctx)
		}
		return retry, err
	}
}

type resentKey struct{}

// watchResends returns ctx, and a flag set when a request made with it
// is sent again after Vault may have carried it out.
func watchResends(ctx context.Context) (context.Context, *atomic.Bool) {
	resent := &atomic.Bool{}
	return context.WithValue(ctx, resentKey{}, resent), resent
}

func noteMaybeCarriedOut(ctx context.Context) {
	if resent, ok := ctx.Value(resentKey{}).(*atomic.Bool); ok {
		resent.Store(true)
	}
}

// notCarriedOut reports an answer saying Vault did not carry the request
// out: too many requests (a rate-limit quota is checked first). Not a
// 503: a standby whose forwarding failed after the active node carried
// the request out answers one too.
func notCarriedOut(resp *http.Response) bool {
	return resp != nil && resp.StatusCode == http.StatusTooManyRequests
}

type onceOnlyKey struct{}

// sentOnceOnly marks ctx's requests as ones to send again only if the
// first was surely not carried out (a refused connection, a 429). A key
// unwrap is one: Vault may have carried it out though its answer was
// lost, and a second unwrap under the same ledger entry would count in
// the audit log as an access no entry accounts for.
func sentOnceOnly(ctx context.Context) context.Context {
	return context.WithValue(ctx, onceOnlyKey{}, true)
}

func onceOnly(ctx context.Context) bool { return ctx.Value(onceOnlyKey{}) != nil }
