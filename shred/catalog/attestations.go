package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// attestationPart is the most of an envelope one KV entry holds: Vault's
// integrated storage refuses entries over 1 MiB by default, and a case of
// a thousand backups signs a larger statement.
const attestationPart = 512 << 10

// PutAttestation stores env in parts under attestations/<id>/<n>, then the
// index attestations/<id> naming their count and the envelope's SHA-256.
func (c *Catalog) PutAttestation(ctx context.Context, id, caseID string, env []byte) error {
	parts := 0
	for chunk := range slices.Chunk(env, attestationPart) {
		if _, err := c.store.Put(ctx, fmt.Sprintf("attestations/%s/%d", id, parts), map[string]any{"data": string(chunk)}, 0); err != nil {
			return err
		}
		parts++
	}
	_, err := c.store.Put(ctx, "attestations/"+id, map[string]any{"case": caseID, "parts": parts, "sha256": sha256Hex(env)}, 0)
	return err
}

// GetAttestation returns a stored envelope, checked against the SHA-256
// its index records.
func (c *Catalog) GetAttestation(ctx context.Context, id string) ([]byte, error) {
	if err := CheckID("attestation", id); err != nil {
		return nil, err
	}
	rec, err := c.store.Get(ctx, "attestations/"+id)
	if err != nil {
		return nil, err
	}
	count, _ := rec.Data["parts"].(json.Number)
	parts, _ := count.Int64()
	var env []byte
	for n := range min(parts, 1<<10) {
		part, err := c.store.Get(ctx, fmt.Sprintf("attestations/%s/%d", id, n))
		if err != nil {
			return nil, err
		}
		s, _ := part.Data["data"].(string)
		env = append(env, s...)
	}
	if sha256Hex(env) != rec.Data["sha256"] {
		return nil, fmt.Errorf("stored attestation %s does not match its recorded SHA-256", id)
	}
	return env, nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// AttestationInfo is the index of one stored attestation.
type AttestationInfo struct {
	ID     string `json:"id"`
	Case   string `json:"case"`
	SHA256 string `json:"sha256"`
}

// ListAttestations returns the index of every stored attestation, oldest
// first (ids are time-ordered), optionally only caseID's. An index that
// cannot be read is an error: a listing must not hide an attestation.
func (c *Catalog) ListAttestations(ctx context.Context, caseID string) ([]*AttestationInfo, error) {
	names, err := c.store.List(ctx, "attestations/")
	if err != nil {
		return nil, err
	}
	var out []*AttestationInfo
	for _, n := range names {
		if strings.HasSuffix(n, "/") {
			continue
		}
		rec, err := c.store.Get(ctx, "attestations/"+n)
		if err != nil {
			return nil, fmt.Errorf("attestation %s: %w", n, err)
		}
		a := &AttestationInfo{ID: n}
		a.Case, _ = rec.Data["case"].(string)
		a.SHA256, _ = rec.Data["sha256"].(string)
		if caseID == "" || a.Case == caseID {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b *AttestationInfo) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
