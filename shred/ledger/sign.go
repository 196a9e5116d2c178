package ledger

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// The roles that write the ledger, each with a signing key of its own.
const (
	RoleAdmin      = "admin"
	RoleCompliance = "compliance"
)

// Roles lists every role that writes entries.
var Roles = []string{RoleAdmin, RoleCompliance}

// kindRoles says which role writes each kind of entry: only compliance
// opens and closes cases and places or releases holds; only the admin
// protects, opens and destroys. An entry of any other kind, or signed by
// another role, does not verify.
var kindRoles = map[string]string{
	KindBackupProtected: RoleAdmin, KindBackupRegistered: RoleAdmin, KindBackupOpened: RoleAdmin,
	KindOriginalDisposed: RoleAdmin, KindRestoreDisposed: RoleAdmin, KindShredScheduled: RoleAdmin,
	KindShredCancelled: RoleAdmin, KindKeyDestroyed: RoleAdmin, KindAttestationIssued: RoleAdmin,
	KindCaseOpened: RoleCompliance, KindCaseController: RoleCompliance, KindHoldPlaced: RoleCompliance,
	KindCaseClosed: RoleCompliance, KindHoldReleased: RoleCompliance,
}

// RoleOf returns the role that writes entries of kind.
func RoleOf(kind string) (string, error) {
	role, ok := kindRoles[kind]
	if !ok {
		return "", fmt.Errorf("unknown ledger entry kind %q", kind)
	}
	return role, nil
}

// Signer signs ledger entries with a role's key, which never leaves the
// key store (a Vault Transit ed25519 key), and publishes the public keys.
type Signer interface {
	// Sign signs msg with role's key and returns the signature as the
	// key store writes it ("vault:vN:BASE64").
	Sign(ctx context.Context, role string, msg []byte) (string, error)
	// PublicKeys returns every version of every role's public key.
	PublicKeys(ctx context.Context) (PublicKeys, error)
}

// PublicKeys are the roles' public keys by role and key version.
type PublicKeys map[string]map[int]ed25519.PublicKey

// ErrBadSignature marks an entry whose signature does not verify with the
// public key of the role that writes its kind.
var ErrBadSignature = errors.New("signature does not verify")

// Check verifies sig, as Sign returns it, over msg with role's key.
func (k PublicKeys) Check(role string, msg []byte, sig string) error {
	version, raw, err := parseSignature(sig)
	if err != nil {
		return err
	}
	pub, ok := k[role][version]
	if !ok {
		return fmt.Errorf("%w: no version %d of the %s key", ErrBadSignature, version, role)
	}
	if !ed25519.Verify(pub, msg, raw) {
		return fmt.Errorf("%w with the %s key", ErrBadSignature, role)
	}
	return nil
}

func parseSignature(sig string) (int, []byte, error) {
	rest, ok := strings.CutPrefix(sig, "vault:v")
	v, b64, ok2 := strings.Cut(rest, ":")
	version, err := strconv.Atoi(v)
	if !ok || !ok2 || err != nil || version < 1 {
		return 0, nil, fmt.Errorf("%w: malformed signature", ErrBadSignature)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != ed25519.SignatureSize {
		return 0, nil, fmt.Errorf("%w: malformed signature", ErrBadSignature)
	}
	return version, raw, nil
}

// Fingerprint names a public key for people to compare: the SHA-256 of
// the raw key, in hex.
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// checkSigned verifies that e was signed by the role that writes its
// kind. keys nil means signatures are not checked.
func checkSigned(keys PublicKeys, e *Entry, raw []byte, sig string) error {
	if keys == nil {
		return nil
	}
	role, err := RoleOf(e.Kind)
	if err != nil {
		return err
	}
	if sig == "" {
		return fmt.Errorf("is not signed (a %s entry must carry the %s key's signature)", e.Kind, role)
	}
	if err := keys.Check(role, raw, sig); err != nil {
		return fmt.Errorf("is a %s entry whose %v (forged, or written by another role)", e.Kind, err)
	}
	return nil
}

// Pins are the fingerprints (Fingerprint) of the keys each role's owner
// published, by role: what an authority trusts instead of the keys an
// export carries.
type Pins map[string][]string

// ParsePin reads a pin written ROLE=FINGERPRINT and adds it to p.
func (p Pins) ParsePin(pin string) error {
	role, fp, ok := strings.Cut(pin, "=")
	fp = strings.ToLower(fp)
	digest, isSHA256 := strings.CutPrefix(fp, "sha256:")
	if raw, err := hex.DecodeString(digest); !ok || !isSHA256 || err != nil || len(raw) != sha256.Size || !slices.Contains(Roles, role) {
		return fmt.Errorf("a key fingerprint is ROLE=sha256:HEX with ROLE one of %s and 64 hex digits, not %q", strings.Join(Roles, ", "), pin)
	}
	p[role] = append(p[role], fp)
	return nil
}

// CheckPinned returns an error wrapping ErrBroken that names every key of
// k whose fingerprint is not pinned for its role: a key the export
// carries proves nothing unless it is one its role published. A key
// pinned for another role does not count, or one role's key could sign
// another role's entries.
func (k PublicKeys) CheckPinned(p Pins) error {
	var unpinned []string
	for _, role := range slices.Sorted(maps.Keys(k)) {
		for _, v := range slices.Sorted(maps.Keys(k[role])) {
			if fp := Fingerprint(k[role][v]); !slices.Contains(p[role], fp) {
				unpinned = append(unpinned, fmt.Sprintf("the %s key v%d %s", role, v, fp))
			}
		}
	}
	if len(unpinned) > 0 {
		return fmt.Errorf("%w: the ledger carries keys that are not among the fingerprints given: %s", ErrBroken, strings.Join(unpinned, "; "))
	}
	return nil
}
