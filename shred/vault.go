package shred

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"
)

// Mounts names the Vault mounts cryptoshred uses.
type Mounts struct {
	Transit string // Transit engine holding one key per backup
	KV      string // KV v2 engine holding the catalog and the ledger
}

// DefaultMounts are the mount names of DESIGN.md.
var DefaultMounts = Mounts{Transit: "cryptoshred-transit", KV: "cryptoshred"}

// Vault is cryptoshred's view of a Vault server: Transit for keys and KV v2
// for the catalog. It is safe for concurrent use.
type Vault struct {
	client *api.Client
	mounts Mounts
}

// NewVault wraps client. The client carries the address and token.
func NewVault(client *api.Client, mounts Mounts) *Vault {
	if mounts.Transit == "" {
		mounts.Transit = DefaultMounts.Transit
	}
	if mounts.KV == "" {
		mounts.KV = DefaultMounts.KV
	}
	return &Vault{client: client, mounts: mounts}
}

// Client returns the underlying API client.
func (v *Vault) Client() *api.Client { return v.client }

// Mounts returns the mount names in use.
func (v *Vault) Mounts() Mounts { return v.mounts }

// Address returns the Vault address.
func (v *Vault) Address() string { return v.client.Address() }

// kvRecord is one KV v2 entry with the version used for check-and-set.
type kvRecord struct {
	Data    map[string]any
	Version int
}

func (v *Vault) kvData(path string) string     { return v.mounts.KV + "/data/" + path }
func (v *Vault) kvMetadata(path string) string { return v.mounts.KV + "/metadata/" + path }

// kvGet reads path. A missing or deleted entry returns ErrNotFound.
func (v *Vault) kvGet(ctx context.Context, path string) (*kvRecord, error) {
	sec, err := v.client.Logical().ReadWithContext(ctx, v.kvData(path))
	if err != nil {
		return nil, vaultError("read", v.kvData(path), err)
	}
	if sec == nil || sec.Data == nil {
		return nil, fmt.Errorf("%s: %w", path, ErrNotFound)
	}
	data, _ := sec.Data["data"].(map[string]any)
	if data == nil {
		return nil, fmt.Errorf("%s: %w", path, ErrNotFound)
	}
	return &kvRecord{Data: data, Version: metadataVersion(sec.Data["metadata"])}, nil
}

func metadataVersion(m any) int {
	meta, _ := m.(map[string]any)
	n, _ := meta["version"].(json.Number)
	i, _ := n.Int64()
	return int(i)
}

// kvPut writes data at path if its current version is cas (0: must not
// exist). A lost race returns ErrConflict.
func (v *Vault) kvPut(ctx context.Context, path string, data map[string]any, cas int) (int, error) {
	body := map[string]any{"data": data, "options": map[string]any{"cas": cas}}
	sec, err := v.client.Logical().WriteWithContext(ctx, v.kvData(path), body)
	if err != nil {
		if isStatus(err, http.StatusBadRequest) && strings.Contains(err.Error(), "check-and-set") {
			return 0, fmt.Errorf("%s: %w", path, ErrConflict)
		}
		return 0, vaultError("write", v.kvData(path), err)
	}
	if sec == nil {
		return 0, fmt.Errorf("failed to write %s: empty response", path)
	}
	n, _ := sec.Data["version"].(json.Number)
	i, _ := n.Int64()
	return int(i), nil
}

// kvList lists the keys under dir; a missing dir lists nothing.
func (v *Vault) kvList(ctx context.Context, dir string) ([]string, error) {
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

// getJSON reads path into out, a pointer to a struct.
func (v *Vault) getJSON(ctx context.Context, path string, out any) (int, error) {
	rec, err := v.kvGet(ctx, path)
	if err != nil {
		return 0, err
	}
	if err := fromMap(rec.Data, out); err != nil {
		return 0, fmt.Errorf("malformed catalog entry %s: %w", path, err)
	}
	return rec.Version, nil
}

// putJSON writes in, a struct, at path with check-and-set version cas.
func (v *Vault) putJSON(ctx context.Context, path string, in any, cas int) (int, error) {
	m, err := toMap(in)
	if err != nil {
		return 0, err
	}
	return v.kvPut(ctx, path, m, cas)
}

func toMap(in any) (map[string]any, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	// UseNumber keeps integers above 2^53 exact on their way to Vault.
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	return m, dec.Decode(&m)
}

func fromMap(m map[string]any, out any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return strictUnmarshal(b, out)
}

func strictUnmarshal(b []byte, out any) error {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	return nil
}

// ClientConfig returns a Vault client configuration for addr tuned for
// cryptoshred: enough idle connections for parallel work (the default
// keeps a handful and reopens the rest), and retries with backoff for
// connection errors and 5xx answers, never for 4xx (4 retries, unless
// VAULT_MAX_RETRIES says otherwise).
func ClientConfig(addr string) (*api.Config, error) {
	cfg := api.DefaultConfig()
	if cfg.Error != nil {
		return nil, cfg.Error
	}
	cfg.Address = addr
	if t, ok := cfg.HttpClient.Transport.(*http.Transport); ok {
		t.MaxIdleConnsPerHost = 4 * DefaultParallel
	}
	cfg.MinRetryWait, cfg.MaxRetryWait = 200*time.Millisecond, 3*time.Second
	if os.Getenv(api.EnvVaultMaxRetries) == "" {
		cfg.MaxRetries = 4
	}
	return cfg, nil
}
