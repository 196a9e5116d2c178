package tsa

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"github.com/digitorus/pkcs7"
	rfc3161 "github.com/digitorus/timestamp"
)

// oidExtKeyUsage is the extended key usage extension (RFC 5280).
var oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}

// Check parses a DER TimeStampResp and checks what a requester can check
// without trusting any chain yet: the status is granted, the imprint is the
// SHA-256 digest asked for, the nonce is the one sent, and the token
// carries its signing certificate, whose signature over the token verifies
// and whose critical extended key usage is id-kp-timeStamping only. It
// returns the parsed timestamp.
func Check(resp, digest []byte, nonce *big.Int) (*rfc3161.Timestamp, error) {
	ts, err := parse(resp)
	if err != nil {
		return nil, err
	}
	if ts.HashAlgorithm != crypto.SHA256 || !bytes.Equal(ts.HashedMessage, digest) {
		return nil, errors.New("the timestamp is not over the SHA-256 digest requested")
	}
	if ts.Nonce == nil || ts.Nonce.Cmp(nonce) != 0 {
		return nil, errors.New("the timestamp does not carry the nonce sent")
	}
	signer, err := embeddedSigner(ts)
	if err != nil {
		return nil, err
	}
	if err := checkTimestampingCert(signer); err != nil {
		return nil, err
	}
	return ts, nil
}

// parse parses a TimeStampResp of at most maxParsedSize bytes whose
// status is granted.
func parse(resp []byte) (*rfc3161.Timestamp, error) {
	if len(resp) > maxParsedSize {
		return nil, fmt.Errorf("timestamp response is larger than %d bytes", maxParsedSize)
	}
	ts, err := rfc3161.ParseResponse(resp)
	if err != nil {
		return nil, fmt.Errorf("not a granted RFC 3161 timestamp response: %w", err)
	}
	return ts, nil
}

// embeddedSigner returns the certificate the token names as its signer,
// from the certificates the token carries; the token's signature was
// verified with it when it was parsed.
func embeddedSigner(ts *rfc3161.Timestamp) (*x509.Certificate, error) {
	if len(ts.Certificates) == 0 {
		return nil, errors.New("the timestamp carries no certificate, although one was requested")
	}
	p7, err := pkcs7.Parse(ts.RawToken)
	if err != nil {
		return nil, err
	}
	signer := p7.GetOnlySigner()
	if signer == nil {
		return nil, errors.New("the timestamp's signing certificate is missing")
	}
	return signer, nil
}

// checkTimestampingCert requires the extended key usage of a timestamping
// certificate (RFC 3161 section 2.3): present, critical, and
// id-kp-timeStamping only.
func checkTimestampingCert(cert *x509.Certificate) error {
	critical := false
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(oidExtKeyUsage) {
			critical = ext.Critical
		}
	}
	if !critical {
		return fmt.Errorf("certificate %q has no critical extended key usage", cert.Subject)
	}
	if len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping || len(cert.UnknownExtKeyUsage) > 0 {
		return fmt.Errorf("certificate %q is not for timestamping only", cert.Subject)
	}
	return nil
}
