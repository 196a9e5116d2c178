package attest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// MaxEnvelopeSize is the largest envelope, in bytes, that ReadEnvelope and
// Verify accept.
const MaxEnvelopeSize = 16 << 20

// MaxStatementSize is the largest encoded statement Sign accepts: in
// base64, with one signature, its envelope stays within MaxEnvelopeSize,
// so whatever Sign issues ReadEnvelope and Verify accept.
const MaxStatementSize = (MaxEnvelopeSize - envelopeOverhead) / 4 * 3

// envelopeOverhead bounds what an envelope adds to its payload's base64:
// the payload type, one signature (a few hundred bytes for the largest
// keys) and the JSON around them.
const envelopeOverhead = 8 << 10

// maxSignatures bounds the work an envelope can ask of Verify.
const maxSignatures = 8

// maxJSONDepth bounds the nesting of envelopes and statements.
const maxJSONDepth = 32

// envelope is a DSSE envelope
// (https://github.com/secure-systems-lab/dsse/blob/master/envelope.md).
type envelope struct {
	PayloadType string              `json:"payloadType"`
	Payload     string              `json:"payload"`
	Signatures  []envelopeSignature `json:"signatures"`
}

// envelopeSignature is one DSSE signature. KeyID is an unauthenticated hint;
// Sign leaves it empty, as cosign does.
type envelopeSignature struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}

// ReadEnvelope reads an attestation, an envelope or a bundle, from r,
// refusing more than MaxEnvelopeSize bytes for an envelope and
// MaxBundleSize for a bundle. The caller must still Verify it.
func ReadEnvelope(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxBundleSize+1))
	if err != nil {
		return nil, fmt.Errorf("failed to read envelope: %w", err)
	}
	if len(b) > MaxBundleSize || (len(b) > MaxEnvelopeSize && !IsBundle(b)) {
		return nil, &VerificationError{Check: CheckEnvelope, Err: errTooLarge}
	}
	return b, nil
}

var errTooLarge = fmt.Errorf("envelope is larger than %d bytes", MaxEnvelopeSize)

func marshalEnvelope(payload, sig []byte) ([]byte, error) {
	env := envelope{
		PayloadType: PayloadType,
		Payload:     base64.StdEncoding.EncodeToString(payload),
		Signatures:  []envelopeSignature{{Sig: base64.StdEncoding.EncodeToString(sig)}},
	}
	b, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("failed to encode envelope: %w", err)
	}
	return append(b, '\n'), nil
}

// decodeBase64 decodes standard or URL-safe base64, as DSSE allows, and
// rejects any encoding that is not the canonical one for its bytes (line
// breaks, stray padding bits), so that one payload has one encoding.
func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		b, err := enc.DecodeString(s)
		if err == nil && enc.EncodeToString(b) == s {
			return b, nil
		}
	}
	return nil, errors.New("not canonical base64")
}

// decodeStrict decodes one JSON value from data into v. It rejects unknown
// fields, trailing data, duplicate or non-ASCII object keys, and keys that
// differ only in case (encoding/json matches names case-insensitively, so
// such keys would be read differently by other decoders).
func decodeStrict(data []byte, v any) error {
	if err := checkKeys(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

func checkKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return walkValue(dec, 0)
}

func walkValue(dec *json.Decoder, depth int) error {
	if depth > maxJSONDepth {
		return errors.New("JSON is nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		return walkObject(dec, depth+1)
	case json.Delim('['):
		return walkArray(dec, depth+1)
	}
	return nil
}

func walkObject(dec *json.Decoder, depth int) error {
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if err := checkKey(tok.(string), seen); err != nil {
			return err
		}
		if err := walkValue(dec, depth); err != nil {
			return err
		}
	}
	_, err := dec.Token()
	return err
}

func checkKey(key string, seen map[string]bool) error {
	for i := 0; i < len(key); i++ {
		if key[i] >= utf8.RuneSelf {
			return fmt.Errorf("object key %q is not ASCII", key)
		}
	}
	folded := strings.ToLower(key)
	if seen[folded] {
		return fmt.Errorf("duplicate object key %q", key)
	}
	seen[folded] = true
	return nil
}

func walkArray(dec *json.Decoder, depth int) error {
	for dec.More() {
		if err := walkValue(dec, depth); err != nil {
			return err
		}
	}
	_, err := dec.Token()
	return err
}
