package tsa

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// maxChain bounds the certificates of one authority's chain.
const maxChain = 8

// Authority is a timestamping authority a verifier trusts: its certificate
// chain, leaf (the timestamping certificate) first and root last, and
// optionally the period its timestamps are trusted for.
type Authority struct {
	Name       string
	Chain      []*x509.Certificate
	ValidFrom  time.Time // zero: no lower bound
	ValidUntil time.Time // zero: no upper bound
}

// ParseChainPEM reads one authority from a PEM certificate chain, leaf
// first and root last, as a timestamp-authority serves it at
// /api/v1/timestamp/certchain.
func ParseChainPEM(data []byte) (Authority, error) {
	var chain []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return Authority{}, fmt.Errorf("unexpected PEM block %q in the chain", block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return Authority{}, fmt.Errorf("failed to parse a certificate of the chain: %w", err)
		}
		chain = append(chain, cert)
	}
	return newAuthority("", chain)
}

func newAuthority(name string, chain []*x509.Certificate) (Authority, error) {
	if len(chain) == 0 || len(chain) > maxChain {
		return Authority{}, fmt.Errorf("a chain needs 1 to %d certificates, leaf first, got %d", maxChain, len(chain))
	}
	if err := checkTimestampingCert(chain[0]); err != nil {
		return Authority{}, fmt.Errorf("the chain's first certificate must be the timestamping leaf: %w", err)
	}
	if name == "" {
		name = certName(chain[0])
	}
	return Authority{Name: name, Chain: chain}, nil
}

// certName is the certificate subject's common name, with its organisation.
func certName(c *x509.Certificate) string {
	name := c.Subject.CommonName
	if org := strings.Join(c.Subject.Organization, ", "); org != "" {
		name += " (" + org + ")"
	}
	if strings.TrimSpace(name) == "" {
		return c.Subject.String()
	}
	return name
}

// trustedRootMediaType prefixes the media type of a Sigstore trusted root.
const trustedRootMediaType = "application/vnd.dev.sigstore.trustedroot"

// trustedRoot is the part of a Sigstore trusted_root.json that names
// timestamping authorities; its other keys (tlogs, ctlogs) are not read.
type trustedRoot struct {
	MediaType            string       `json:"mediaType"`
	TimestampAuthorities []trustedTSA `json:"timestampAuthorities"`
}

type trustedTSA struct {
	Subject struct {
		Organization string `json:"organization"`
		CommonName   string `json:"commonName"`
	} `json:"subject"`
	CertChain struct {
		Certificates []struct {
			RawBytes []byte `json:"rawBytes"`
		} `json:"certificates"`
	} `json:"certChain"`
	ValidFor struct {
		Start *time.Time `json:"start"`
		End   *time.Time `json:"end"`
	} `json:"validFor"`
}

// ParseTrustedRoot reads the timestamping authorities of a Sigstore
// trusted_root.json (the file cosign takes as --trusted-root).
func ParseTrustedRoot(data []byte) ([]Authority, error) {
	var tr trustedRoot
	if err := json.Unmarshal(data, &tr); err != nil {
		return nil, fmt.Errorf("failed to parse trusted root: %w", err)
	}
	if !strings.HasPrefix(tr.MediaType, trustedRootMediaType) {
		return nil, fmt.Errorf("mediaType %q is not a Sigstore trusted root", tr.MediaType)
	}
	if len(tr.TimestampAuthorities) == 0 {
		return nil, errors.New("the trusted root names no timestamping authority")
	}
	out := make([]Authority, 0, len(tr.TimestampAuthorities))
	for i, t := range tr.TimestampAuthorities {
		a, err := t.authority()
		if err != nil {
			return nil, fmt.Errorf("timestamping authority %d: %w", i+1, err)
		}
		out = append(out, a)
	}
	return out, nil
}

func (t trustedTSA) authority() (Authority, error) {
	var chain []*x509.Certificate
	for _, c := range t.CertChain.Certificates {
		cert, err := x509.ParseCertificate(c.RawBytes)
		if err != nil {
			return Authority{}, fmt.Errorf("failed to parse a certificate of the chain: %w", err)
		}
		chain = append(chain, cert)
	}
	name := t.Subject.CommonName
	if t.Subject.Organization != "" {
		name = strings.TrimSpace(name + " (" + t.Subject.Organization + ")")
	}
	a, err := newAuthority(name, chain)
	if t.ValidFor.Start != nil {
		a.ValidFrom = *t.ValidFor.Start
	}
	if t.ValidFor.End != nil {
		a.ValidUntil = *t.ValidFor.End
	}
	return a, err
}
