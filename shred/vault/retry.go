package vault

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/cryptoshred/cryptoshred/internal/parallel"
)

// ClientConfig returns a Vault client configuration for addr tuned for
// cryptoshred: enough idle connections for parallel work (the default
// keeps a handful and reopens the rest), and retries with backoff for
// dropped connections and 5xx answers, never for 4xx (4 retries, unless
// VAULT_MAX_RETRIES says otherwise; the client's timeout bounds them
// all). A refused connection
// before Vault has answered anything (nothing listens at addr) is not
// retried: waiting would only delay the error that the address is wrong
// or the server is down. Once Vault has answered, a refused connection is
// retried like any other: a node restarting or a cluster electing a new
// leader refuses connections for a few seconds mid-run. A redirect is
// retried at the same node, never followed (redirectError).
func ClientConfig(addr string) (*api.Config, error) {
	cfg := api.DefaultConfig()
	if cfg.Error != nil {
		return nil, cfg.Error
	}
	cfg.Address = addr
	if t, ok := cfg.HttpClient.Transport.(*http.Transport); ok {
		t.MaxIdleConnsPerHost = 4 * parallel.DefaultLimit
	}
	cfg.MinRetryWait, cfg.MaxRetryWait = 200*time.Millisecond, 3*time.Second
	if os.Getenv(api.EnvVaultMaxRetries) == "" {
		cfg.MaxRetries = 4
	}
	cfg.CheckRetry = newCheckRetry()
	return cfg, nil
}

// newCheckRetry is Vault's retry policy, except for a refused connection
// while Vault has not answered yet.
func newCheckRetry() func(context.Context, *http.Response, error) (bool, error) {
	var answered atomic.Bool
	return func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if resp != nil {
			answered.Store(true)
		}
		refused := err != nil && errors.Is(err, syscall.ECONNREFUSED)
		maybeCarriedOut := !refused && !notCarriedOut(resp)
		notAnswer := cmp.Or(redirected(resp), refuseForeignNotFound(resp))
		switch {
		case refused && !answered.Load():
			return false, err
		case vaultCannotDecode(resp):
			return false, nil
		case onceOnly(ctx) && maybeCarriedOut:
			return false, notAnswer
		}
		retry, err := api.DefaultRetryPolicy(ctx, resp, err)
		if notAnswer != nil && err == nil {
			retry, err = true, notAnswer
		}
		if retry && maybeCarriedOut {
			noteMaybeCarriedOut(ctx)
		}
		return retry, err
	}
}

type resentKey struct{}

// watchResends returns ctx, and a flag set when a request made with it
// is sent again after Vault may have carried it out.
func watchResends(ctx context.Context) (context.Context, *atomic.Bool) {
	resent := &atomic.Bool{}
	return context.WithValue(ctx, resentKey{}, resent), resent
}

func noteMaybeCarriedOut(ctx context.Context) {
	if resent, ok := ctx.Value(resentKey{}).(*atomic.Bool); ok {
		resent.Store(true)
	}
}

// vaultDecodeFailure is how Vault's 500 names its own failure to decode a
// record it stored.
const vaultDecodeFailure = "json: cannot unmarshal number"

// vaultCannotDecode reports Vault's 500 to a read of a record it cannot
// decode itself (storedUndecodable). The body is read, and put back for
// the API client.
func vaultCannotDecode(resp *http.Response) bool {
	if resp == nil || resp.StatusCode != http.StatusInternalServerError || resp.Request == nil || resp.Request.Method != http.MethodGet {
		return false
	}
	return bytes.Contains(peekBody(resp, 64<<10), []byte(vaultDecodeFailure))
}

// peekBody returns up to limit bytes of resp's body, and leaves the whole
// body for the API client to read.
func peekBody(resp *http.Response, limit int64) []byte {
	head, _ := io.ReadAll(io.LimitReader(resp.Body, limit))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	return head
}

// refuseForeignNotFound returns a notVaultsError for a 404 that is not
// Vault's, whose status it turns into 502: the API client reads any 404
// whose body is empty or parses as JSON as "not found", whatever error
// comes with it, so a load balancer or a gateway answering 404 for a node
// it cannot reach would pass for Vault saying a key is gone. Vault's 404
// carries {"errors":[...]}, or a response with a request_id (a deleted
// version's metadata).
func refuseForeignNotFound(resp *http.Response) error {
	if resp == nil || resp.StatusCode != http.StatusNotFound {
		return nil
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(peekBody(resp, 1<<20), &fields) == nil && (fields["errors"] != nil || fields["request_id"] != nil) {
		return nil
	}
	resp.StatusCode, resp.Status = http.StatusBadGateway, "502 Bad Gateway"
	return &notVaultsError{status: http.StatusNotFound}
}

// notVaultsError is an answer in place of Vault's that no Vault sends.
type notVaultsError struct{ status int }

func (e *notVaultsError) Error() string {
	return fmt.Sprintf("vault answered %d without Vault's JSON: a proxy or load balancer answered in its place", e.status)
}

// notCarriedOut reports an answer saying Vault did not carry the request
// out: too many requests (a rate-limit quota is checked first). Not a
// 503: a standby whose forwarding failed after the active node carried
// the request out answers one too.
func notCarriedOut(resp *http.Response) bool {
	return resp != nil && resp.StatusCode == http.StatusTooManyRequests
}

// redirectError is a redirect where Vault's answer should be: a standby
// answers one when it could not forward a request to the active node, and
// it cannot tell whether the active node carried the request out before
// the forward failed. So a redirect is not followed (a decrypt would be
// sent twice; a write sent again meets its own record as another's) but
// sent again to the same node, like a 5xx; nor is one that persists taken
// for an answer (the API client's own handling returns a second redirect
// as an empty success, which a read takes for "not found").
type redirectError struct {
	status int
	to     string
}

func (e *redirectError) Error() string {
	return fmt.Sprintf("vault answered %d, a redirect to %s, where an answer was due", e.status, e.to)
}

// redirected returns the redirect resp is, or nil.
func redirected(resp *http.Response) error {
	if resp == nil || resp.StatusCode < 300 || resp.StatusCode > 399 {
		return nil
	}
	to := "an unnamed node"
	if u, err := url.Parse(resp.Header.Get("Location")); err == nil && u.Host != "" {
		to = u.Scheme + "://" + u.Host
	}
	return &redirectError{status: resp.StatusCode, to: to}
}

type onceOnlyKey struct{}

// sentOnceOnly marks ctx's requests as ones to send again only if the
// first was surely not carried out (a refused connection, a 429). A key
// unwrap is one: Vault may have carried it out though its answer was
// lost, and a second unwrap under the same ledger entry would count in
// the audit log as an access no entry accounts for.
func sentOnceOnly(ctx context.Context) context.Context {
	return context.WithValue(ctx, onceOnlyKey{}, true)
}

func onceOnly(ctx context.Context) bool { return ctx.Value(onceOnlyKey{}) != nil }
