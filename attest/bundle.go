package attest

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// BundleMediaType is the media type of the Sigstore bundles NewBundle
// writes and Verify reads.
const BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// MaxBundleSize is the largest bundle, in bytes, that ReadEnvelope and
// Verify accept: an envelope of MaxEnvelopeSize and its timestamps.
const MaxBundleSize = MaxEnvelopeSize + 1<<20

// maxTimestamps bounds the timestamps of one bundle.
const maxTimestamps = 8

// bundle is a Sigstore bundle v0.3 holding a DSSE envelope verified with a
// public key: no certificate, no transparency-log entry, optionally RFC
// 3161 timestamps over the envelope's signature. Field names follow the
// protobuf JSON mapping of sigstore/protobuf-specs.
type bundle struct {
	MediaType            string               `json:"mediaType"`
	VerificationMaterial verificationMaterial `json:"verificationMaterial"`
	DSSEEnvelope         json.RawMessage      `json:"dsseEnvelope"`
}

type verificationMaterial struct {
	PublicKey                 *publicKeyIdentifier       `json:"publicKey"`
	TlogEntries               []json.RawMessage          `json:"tlogEntries,omitempty"`
	TimestampVerificationData *timestampVerificationData `json:"timestampVerificationData,omitempty"`
}

type publicKeyIdentifier struct {
	Hint string `json:"hint"`
}

type timestampVerificationData struct {
	RFC3161Timestamps []signedTimestamp `json:"rfc3161Timestamps"`
}

// signedTimestamp is a DER RFC 3161 TimeStampResp.
type signedTimestamp struct {
	SignedTimestamp []byte `json:"signedTimestamp"`
}

// NewBundle wraps a signed envelope (from Sign) in a Sigstore bundle v0.3
// (JSON, with a trailing newline) whose public-key hint names pub, with
// the given DER RFC 3161 timestamp responses over the envelope's signature.
func NewBundle(envelope []byte, pub crypto.PublicKey, timestamps [][]byte) ([]byte, error) {
	if len(timestamps) > maxTimestamps {
		return nil, fmt.Errorf("at most %d timestamps fit in a bundle", maxTimestamps)
	}
	hint, err := KeyHint(pub)
	if err != nil {
		return nil, err
	}
	b := bundle{MediaType: BundleMediaType, DSSEEnvelope: bytes.TrimSpace(envelope),
		VerificationMaterial: verificationMaterial{PublicKey: &publicKeyIdentifier{Hint: hint}}}
	if len(timestamps) > 0 {
		tvd := &timestampVerificationData{}
		for _, ts := range timestamps {
			tvd.RFC3161Timestamps = append(tvd.RFC3161Timestamps, signedTimestamp{SignedTimestamp: ts})
		}
		b.VerificationMaterial.TimestampVerificationData = tvd
	}
	out, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("failed to encode bundle: %w", err)
	}
	if len(out) >= MaxBundleSize {
		return nil, fmt.Errorf("bundle takes %d bytes, more than a verifier reads (%d)", len(out)+1, MaxBundleSize)
	}
	return append(out, '\n'), nil
}

// KeyHint is the public-key hint cosign writes into a bundle: the
// standard base64 of the SHA-256 of pub's PKIX DER encoding.
func KeyHint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("failed to encode public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}

// EnvelopeSignature returns the bytes of an envelope's first signature,
// which RFC 3161 timestamps in a bundle cover.
func EnvelopeSignature(envelope []byte) ([]byte, error) {
	var env struct {
		Signatures []envelopeSignature `json:"signatures"`
	}
	if err := json.Unmarshal(envelope, &env); err != nil || len(env.Signatures) == 0 {
		return nil, errors.New("not a signed DSSE envelope")
	}
	return decodeBase64(env.Signatures[0].Sig)
}

// IsBundle reports whether data looks like a Sigstore bundle rather than a
// bare DSSE envelope (it has a mediaType). Verify checks it either way.
func IsBundle(data []byte) bool {
	var probe struct {
		MediaType *string `json:"mediaType"`
	}
	return json.Unmarshal(data, &probe) == nil && probe.MediaType != nil
}

// parseBundle is the first step of a bundle's verification: it checks the
// bundle's shape and hands its envelope to the envelope steps.
func (r *verifyRun) parseBundle() error {
	if len(r.raw) > MaxBundleSize {
		return r.report.fail(CheckBundle, fmt.Errorf("bundle is larger than %d bytes", MaxBundleSize))
	}
	var b bundle
	if err := decodeStrict(r.raw, &b); err != nil {
		return r.report.fail(CheckBundle, fmt.Errorf("failed to parse bundle: %w", err))
	}
	if err := r.checkBundleShape(&b); err != nil {
		return r.report.fail(CheckBundle, err)
	}
	r.raw = b.DSSEEnvelope
	r.checkHint(b.VerificationMaterial.PublicKey.Hint)
	r.report.pass(CheckBundle, "Sigstore bundle v0.3 with %d RFC 3161 timestamp(s), no transparency-log entry", len(r.timestamps))
	return nil
}

func (r *verifyRun) checkBundleShape(b *bundle) error {
	vm := b.VerificationMaterial
	switch {
	case b.MediaType != BundleMediaType:
		return fmt.Errorf("mediaType is %q, want %q", b.MediaType, BundleMediaType)
	case vm.PublicKey == nil:
		return errors.New("verificationMaterial names no public key (certificates are not supported)")
	case len(vm.TlogEntries) > 0:
		return errors.New("transparency-log entries are not supported: cryptoshred bundles have none")
	case len(b.DSSEEnvelope) == 0:
		return errors.New("the bundle has no dsseEnvelope")
	}
	if tvd := vm.TimestampVerificationData; tvd != nil {
		if len(tvd.RFC3161Timestamps) > maxTimestamps {
			return fmt.Errorf("the bundle has %d timestamps, at most %d are accepted", len(tvd.RFC3161Timestamps), maxTimestamps)
		}
		for i, ts := range tvd.RFC3161Timestamps {
			if len(ts.SignedTimestamp) == 0 {
				return fmt.Errorf("timestamp %d is empty", i+1)
			}
			r.timestamps = append(r.timestamps, ts.SignedTimestamp)
		}
	}
	r.bundle = true
	return nil
}

// checkHint warns when the unauthenticated hint names another key than
// the one verifying; the signature check decides.
func (r *verifyRun) checkHint(hint string) {
	if r.verifier == nil {
		return
	}
	pub, err := r.verifier.PublicKey()
	if err != nil {
		return
	}
	if want, err := KeyHint(pub); err == nil && hint != want {
		r.warnings = append(r.warnings, "the bundle's publicKey.hint names another key than the one given (the hint is not signed; the signature check decides)")
	}
}
