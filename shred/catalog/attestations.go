package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// attestationPart is the most of an envelope one KV entry holds: Vault's
// integrated storage refuses entries over 1 MiB by default, and a case of
// a thousand backups signs a larger statement.
const attestationPart = 512 << 10

// PutAttestation stores env, the envelope info.ID names, in chunks under
// attestations/<id>/<n>, then the index attestations/<id> naming their
// count, the envelope's SHA-256, its case and, for one part of an
// attestation issued in parts, which part it is.
func (c *Catalog) PutAttestation(ctx context.Context, info AttestationInfo, env []byte) error {
	chunks := 0
	for chunk := range slices.Chunk(env, attestationPart) {
		if _, err := c.store.Put(ctx, fmt.Sprintf("attestations/%s/%d", info.ID, chunks), map[string]any{"data": string(chunk)}, 0); err != nil {
			return err
		}
		chunks++
	}
	rec := map[string]any{"case": info.Case, "parts": chunks, "sha256": sha256Hex(env)}
	if info.Of > 0 {
		rec["attestation"], rec["part"], rec["of"] = info.Attestation, info.Part, info.Of
	}
	_, err := c.store.Put(ctx, "attestations/"+info.ID, rec, 0)
	return err
}

// AttestationInfo returns the index of the stored envelope id.
func (c *Catalog) AttestationInfo(ctx context.Context, id string) (*AttestationInfo, error) {
	if err := CheckID("attestation", id); err != nil {
		return nil, err
	}
	rec, err := c.store.Get(ctx, "attestations/"+id)
	if err != nil {
		return nil, err
	}
	return attestationInfo(id, rec.Data), nil
}

func attestationInfo(id string, data map[string]any) *AttestationInfo {
	a := &AttestationInfo{ID: id}
	a.Case, _ = data["case"].(string)
	a.SHA256, _ = data["sha256"].(string)
	a.Attestation, _ = data["attestation"].(string)
	a.Part, a.Of = jsonInt(data["part"]), jsonInt(data["of"])
	return a
}

func jsonInt(v any) int {
	n, _ := v.(json.Number)
	i, _ := n.Int64()
	return int(i)
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

// AttestationInfo is the index of one stored attestation, or of one part
// of an attestation issued in parts: then ID is the part's (<id>-pNNNN),
// Attestation the attestation's, and it is Part of Of.
type AttestationInfo struct {
	ID          string `json:"id"`
	Case        string `json:"case"`
	SHA256      string `json:"sha256"`
	Attestation string `json:"attestation,omitempty"`
	Part        int    `json:"part,omitempty"`
	Of          int    `json:"of,omitempty"`
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
		if err != nil && (rec == nil || !errors.Is(err, ErrMalformed)) {
			return nil, fmt.Errorf("attestation %s: %w", n, err)
		}
		a := attestationInfo(n, rec.Data) // an undecodable one is listed as junk is, with empty fields
		if caseID == "" || a.Case == caseID {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b *AttestationInfo) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
