package vault

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"syscall"

	"github.com/hashicorp/vault/api"
	"golang.org/x/net/http2"

	"github.com/cryptoshred/cryptoshred/shred/errs"
)

// vaultError turns a Vault client error for op on path into one that names
// what went wrong without dumping the raw HTTP exchange.
func vaultError(op, path string, err error) error {
	if err == nil {
		return nil
	}
	var re *api.ResponseError
	if errors.As(err, &re) {
		return responseError(op, path, re)
	}
	if tlsErr := tlsError(err); tlsErr != nil {
		return tlsErr
	}
	var redirect *redirectError
	if errors.As(err, &redirect) {
		return fmt.Errorf("%w: cannot %s %s: %v. cryptoshred does not follow redirects: a standby answers one when it could not forward "+
			"a request to the active node, which may have carried it out. Set VAULT_ADDR to the address Vault answers at (the active node, "+
			"or a load balancer that sends requests to it; https if Vault serves TLS) and keep request forwarding between the nodes working",
			errs.ErrUnavailable, op, path, redirect)
	}
	var foreign *notVaultsError
	if errors.As(err, &foreign) {
		return fmt.Errorf("%w: cannot %s %s: %v; a \"not found\" that is not Vault's own is no answer", errs.ErrUnavailable, op, path, foreign)
	}
	var ne net.Error
	var oe *net.OpError
	if errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%w: nothing answers at %s (connection refused): is VAULT_ADDR right and the server running? (while trying to %s %s)",
			errs.ErrUnavailable, serverOf(err), op, path)
	}
	if errors.As(err, &ne) || errors.As(err, &oe) || strings.Contains(err.Error(), "connection refused") {
		return fmt.Errorf("%w: cannot %s %s at %s: is VAULT_ADDR right and the server running? (%v)", errs.ErrUnavailable, op, path, serverOf(err), rootCause(err))
	}
	if cutShort(err) {
		return fmt.Errorf("%w: vault's answer to %s %s did not arrive whole (%v)", errs.ErrUnavailable, op, path, err)
	}
	if notVaults(err) {
		return fmt.Errorf("%w: the answer to %s %s is not Vault's JSON (a proxy's page?): %v", errs.ErrUnavailable, op, path, err)
	}
	return fmt.Errorf("failed to %s %s: %w", op, path, err)
}

// notVaults reports an answer that arrived whole but does not parse as
// Vault's JSON. Vault sends valid JSON and wraps a record's data in its
// own, so only data nested past the decoder's depth limit, which Get
// reads as a malformed record (unparsable), can come from a role.
func notVaults(err error) bool {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	return errors.As(err, &syntax) || errors.As(err, &typ)
}

// cutShort reports an answer whose body ended early: a connection or an
// HTTP/2 stream that broke mid-answer. It is no answer, so no reader takes
// it for a record that is not there or is damaged.
func cutShort(err error) bool {
	var stream http2.StreamError
	var conn http2.ConnectionError
	var goAway http2.GoAwayError
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.As(err, &stream) || errors.As(err, &conn) || errors.As(err, &goAway)
}

func responseError(op, path string, re *api.ResponseError) error {
	msg := vaultMessages(re.Errors)
	switch {
	case re.StatusCode == http.StatusForbidden && strings.Contains(msg, "invalid token"):
		return &errs.RefusedError{Reason: "vault rejected the token in VAULT_TOKEN: it is invalid, expired or revoked"}
	case re.StatusCode == http.StatusForbidden:
		return &errs.RefusedError{Reason: fmt.Sprintf("vault denied %s on %s: the token's policies lack the needed capability (%s)", op, path, msg)}
	case re.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("%w: vault is limiting requests (429) to %s %s; run the command again later", errs.ErrUnavailable, op, path)
	case re.StatusCode == http.StatusServiceUnavailable && strings.Contains(msg, "sealed"):
		return fmt.Errorf("%w: vault is sealed; unseal it and run the command again", errs.ErrUnavailable)
	case re.StatusCode >= 500 && msg == "":
		return fmt.Errorf("%w: vault answered %d to %s %s", errs.ErrUnavailable, re.StatusCode, op, path)
	case re.StatusCode >= 500:
		return fmt.Errorf("%w: vault answered %d to %s %s: %s", errs.ErrUnavailable, re.StatusCode, op, path, msg)
	}
	return fmt.Errorf("vault refused %s on %s (%d): %s", op, path, re.StatusCode, msg)
}

func rootCause(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

func isStatus(err error, code int) bool {
	var re *api.ResponseError
	return errors.As(err, &re) && re.StatusCode == code
}

// vaultMessages flattens Vault's error list, which often nests a
// multierror ("1 error occurred: * permission denied"), into one line.
func vaultMessages(errs []string) string {
	var parts []string
	for _, e := range errs {
		for _, line := range strings.Split(e, "\n") {
			line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "*"))
			if line != "" && !multierrorHeader.MatchString(line) {
				parts = append(parts, line)
			}
		}
	}
	return strings.Join(parts, "; ")
}

var multierrorHeader = regexp.MustCompile(`^\d+ errors? occurred:$`)

// serverOf names the server a failed request went to, from the URL the
// HTTP client reports, without any user information.
func serverOf(err error) string {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return "VAULT_ADDR"
	}
	u, perr := url.Parse(ue.URL)
	if perr != nil {
		return "VAULT_ADDR"
	}
	return u.Scheme + "://" + u.Host
}

// tlsError explains a failed TLS handshake: a server certificate signed by
// a CA this host does not trust (set VAULT_CACERT), or issued for another
// name (VAULT_TLS_SERVER_NAME).
func tlsError(err error) error {
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	switch {
	case errors.As(err, &ua):
		return fmt.Errorf("%w: the TLS certificate of %s is signed by an unknown authority: set VAULT_CACERT to the PEM file of "+
			"the CA that issued it (or VAULT_CAPATH to a directory of CA certificates)", errs.ErrUnavailable, serverOf(err))
	case errors.As(err, &he):
		return fmt.Errorf("%w: the TLS certificate of %s is not valid for that name (%v): use the name it was issued for in "+
			"VAULT_ADDR, or set VAULT_TLS_SERVER_NAME", errs.ErrUnavailable, serverOf(err), he.Error())
	}
	return nil
}
