package tsa

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/digitorus/pkcs7"
	rfc3161 "github.com/digitorus/timestamp"
)

// Verified is a timestamp that verified: the time the authority vouches
// for, and which authority.
type Verified struct {
	Time      time.Time     `json:"time"`
	Accuracy  time.Duration `json:"accuracy,omitempty"`
	Authority string        `json:"authority"`
	Serial    string        `json:"serial"`
}

// Verify checks a DER TimeStampResp over message against the authorities
// trusted: status granted; SHA-256, SHA-384 or SHA-512 imprint of message;
// signed by the leaf of one authority's chain, whose chain verifies at the
// timestamp's time and whose extended key usage is critical and
// id-kp-timeStamping only; within that authority's validity period. It
// does no revocation check.
func Verify(resp, message []byte, authorities []Authority) (*Verified, error) {
	if len(authorities) == 0 {
		return nil, errors.New("no trusted timestamping authority")
	}
	ts, err := parse(resp)
	if err != nil {
		return nil, err
	}
	if err := checkImprint(ts, message); err != nil {
		return nil, err
	}
	var errs []error
	for _, a := range authorities {
		err := verifyWith(ts, a)
		if err == nil {
			return &Verified{Time: ts.Time.UTC(), Accuracy: ts.Accuracy, Authority: a.Name, Serial: ts.SerialNumber.String()}, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", a.Name, err))
	}
	return nil, fmt.Errorf("no trusted authority signed this timestamp: %w", errors.Join(errs...))
}

func checkImprint(ts *rfc3161.Timestamp, message []byte) error {
	switch ts.HashAlgorithm {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return fmt.Errorf("the timestamp's hash %v is not SHA-256, SHA-384 or SHA-512", ts.HashAlgorithm)
	}
	h := ts.HashAlgorithm.New()
	h.Write(message)
	if !bytes.Equal(h.Sum(nil), ts.HashedMessage) {
		return errors.New("the timestamp is over other bytes than this signature")
	}
	return nil
}

// verifyWith checks that a's leaf signed ts and a's chain certifies it.
func verifyWith(ts *rfc3161.Timestamp, a Authority) error {
	leaf := a.Chain[0]
	p7, err := pkcs7.Parse(ts.RawToken)
	if err != nil {
		return fmt.Errorf("failed to parse the token: %w", err)
	}
	if len(p7.Certificates) == 0 {
		p7.Certificates = []*x509.Certificate{leaf}
	}
	if err := p7.Verify(); err != nil {
		return fmt.Errorf("the token's signature does not verify: %w", err)
	}
	if signer := p7.GetOnlySigner(); signer == nil || !signer.Equal(leaf) {
		return errors.New("the token is not signed by the chain's leaf certificate")
	}
	if err := checkTimestampingCert(leaf); err != nil {
		return err
	}
	if _, err := leaf.Verify(chainOptions(a, ts.Time)); err != nil {
		return fmt.Errorf("the chain does not certify the leaf at %s: %w", ts.Time.UTC().Format(time.RFC3339), err)
	}
	return checkValidity(a, ts.Time)
}

// chainOptions verifies at the timestamp's time, as sigstore-go does: the
// certificate had to be valid when it signed, not now.
func chainOptions(a Authority, at time.Time) x509.VerifyOptions {
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(a.Chain[len(a.Chain)-1])
	for i := 1; i < len(a.Chain)-1; i++ {
		inter.AddCert(a.Chain[i])
	}
	return x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}
}

func checkValidity(a Authority, at time.Time) error {
	if (!a.ValidFrom.IsZero() && at.Before(a.ValidFrom)) || (!a.ValidUntil.IsZero() && at.After(a.ValidUntil)) {
		return fmt.Errorf("the timestamp's time %s is outside the authority's validity period", at.UTC().Format(time.RFC3339))
	}
	return nil
}
