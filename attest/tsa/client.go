package tsa

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"time"

	rfc3161 "github.com/digitorus/timestamp"
)

// MaxResponseSize is the largest timestamp response, in bytes, a Client
// reads: eight of them in base64 fit in a bundle beside the largest
// envelope (attest.MaxBundleSize). Real responses take a few KiB.
const MaxResponseSize = 64 << 10

// maxParsedSize is the largest response Verify accepts, as it did before
// MaxResponseSize was lowered, so bundles issued then still verify.
const maxParsedSize = 256 << 10

// DefaultTimeout bounds one request to an authority.
const DefaultTimeout = 30 * time.Second

// ErrAuthority marks an authority that could not be reached or whose answer
// is not a timestamp this client asked for. Every error of Client.Timestamp
// is an ErrAuthority.
var ErrAuthority = errors.New("timestamping authority failed")

// AuthorityError says which authority failed and why.
type AuthorityError struct {
	URL string
	Err error
}

func (e *AuthorityError) Error() string {
	return "timestamping authority " + e.URL + ": " + e.Err.Error()
}

// Unwrap returns the reason.
func (e *AuthorityError) Unwrap() error { return e.Err }

// Is reports that an AuthorityError is an ErrAuthority.
func (e *AuthorityError) Is(target error) bool { return target == ErrAuthority }

// Client requests timestamps from one RFC 3161 authority over HTTP.
type Client struct {
	url  string
	http *http.Client
}

// NewClient returns a client for the authority at rawURL (http or https,
// the full path of its RFC 3161 endpoint, e.g.
// https://tsa.example/api/v1/timestamp). A timeout of 0 means
// DefaultTimeout.
func NewClient(rawURL string, timeout time.Duration) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid timestamping authority URL %q: want http(s)://HOST/PATH", rawURL)
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Client{url: u.String(), http: &http.Client{Timeout: timeout}}, nil
}

// String returns the authority's URL.
func (c *Client) String() string { return c.url }

// Timestamp requests a timestamp over the SHA-256 of message and returns
// the DER TimeStampResp, after checking it (see Check). The error is an
// *AuthorityError.
func (c *Client) Timestamp(ctx context.Context, message []byte) ([]byte, error) {
	digest := sha256.Sum256(message)
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	req, err := rfc3161.CreateRequest(bytes.NewReader(message), &rfc3161.RequestOptions{
		Hash: crypto.SHA256, Certificates: true, Nonce: nonce})
	if err != nil {
		return nil, c.fail(fmt.Errorf("failed to create the request: %w", err))
	}
	resp, err := c.post(ctx, req)
	if err != nil {
		return nil, c.fail(err)
	}
	if _, err := Check(resp, digest[:], nonce); err != nil {
		return nil, c.fail(err)
	}
	return resp, nil
}

func (c *Client) fail(err error) error { return &AuthorityError{URL: c.url, Err: err} }

// post sends the DER request and returns the body of a 200 or 201 answer,
// at most MaxResponseSize bytes.
func (c *Client) post(ctx context.Context, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/timestamp-query")
	req.Header.Set("Accept", "application/timestamp-reply")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseSize+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("failed to read the response: %w", err)
	case resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated:
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	case len(b) > MaxResponseSize:
		return nil, fmt.Errorf("response is larger than %d bytes", MaxResponseSize)
	}
	return b, nil
}
