package attest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/cryptoshred/cryptoshred/attest/tsa"
)

// Names of the checks Verify runs, in the order it runs them.
const (
	CheckEnvelope      = "envelope"
	CheckPayloadType   = "payload-type"
	CheckSignatures    = "signatures"
	CheckSignature     = "signature"
	CheckStatement     = "statement"
	CheckStatementType = "statement-type"
	CheckPredicateType = "predicate-type"
	CheckPredicate     = "predicate"
	CheckSubjectDigest = "subject-digest"
	CheckBundle        = "bundle"
	CheckTimestamps    = "timestamps"
	CheckWitness       = "witness"
	CheckTimes         = "times"
)

// ErrVerification marks an attestation that failed verification. Every
// failure Verify reports is a *VerificationError, which is an ErrVerification.
var ErrVerification = errors.New("verification failed")

// VerificationError names the check that failed and why.
type VerificationError struct {
	Check string
	Err   error
}

func (e *VerificationError) Error() string {
	return "verification failed: " + e.Check + ": " + e.Err.Error()
}

// Unwrap returns the reason the check failed.
func (e *VerificationError) Unwrap() error { return e.Err }

// Is reports that a VerificationError is an ErrVerification.
func (e *VerificationError) Is(target error) bool { return target == ErrVerification }

// VerifyOptions are the optional requirements of Verify.
type VerifyOptions struct {
	// SubjectDigest, if set, is the SHA-256 of a backup's ciphertext (hex,
	// optionally prefixed "sha256:"), which must be one subject's digest.
	SubjectDigest string
	// Authorities are the RFC 3161 timestamping authorities trusted. When
	// set, the attestation must be a bundle carrying at least one
	// timestamp, and every timestamp it carries must verify with one of
	// them. When empty, timestamps are not checked, and Verify warns that
	// a bundle's times are unproven.
	Authorities []tsa.Authority
	// TimeTolerance is how far the statement's times may stray from a
	// trusted time before Verify warns; 0 means DefaultTimeTolerance.
	TimeTolerance time.Duration
	// RequireTrustedTime makes a statement whose times disagree with a
	// trusted time fail (check "times") instead of raising warnings. It
	// needs Authorities.
	RequireTrustedTime bool
}

// Check is one check Verify ran.
type Check struct {
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	Detail string `json:"detail"`
}

// Report lists the checks Verify ran, in order, up to and including the first
// failure. Statement is set only when every check passed. Warnings are not
// failures, but must be shown to the reader.
type Report struct {
	Checks         []Check  `json:"checks"`
	Warnings       []string `json:"warnings,omitempty"`
	KeyFingerprint string   `json:"keyFingerprint,omitempty"`
	// TrustedTimes are the verified RFC 3161 timestamps, one per timestamp
	// of the bundle, when authorities were given.
	TrustedTimes []tsa.Verified `json:"trustedTimes,omitempty"`
	Statement    *Statement     `json:"statement,omitempty"`
	// CheckWarnings are the warnings of Warnings that verification raised
	// rather than the statement: a key hint that names another key,
	// trusted times that disagree with the statement's. A certificate
	// must state them beside the statement's own (CertExtras).
	CheckWarnings []string `json:"-"`
}

// OK reports whether every check passed.
func (r *Report) OK() bool {
	return r.Statement != nil
}

func (r *Report) pass(name, format string, args ...any) {
	r.Checks = append(r.Checks, Check{Name: name, Passed: true, Detail: fmt.Sprintf(format, args...)})
}

func (r *Report) fail(name string, err error) error {
	r.Checks = append(r.Checks, Check{Name: name, Detail: err.Error()})
	return &VerificationError{Check: name, Err: err}
}

// Verify checks an attestation, a DSSE envelope or a Sigstore bundle
// holding one, against the public key of v and returns a report of every
// check it ran. It verifies the signature before it reads the statement,
// and parses the statement only from the verified payload; a bundle's
// timestamps are verified over the signature against opts.Authorities. The
// error is a *VerificationError when the attestation is bad, or another
// error when opts or v are unusable. v must hold an ECDSA P-256 or Ed25519
// key.
func Verify(ctx context.Context, attestation []byte, v signature.Verifier, opts VerifyOptions) (*Report, error) {
	run, err := newVerifyRun(ctx, attestation, v, opts)
	if err != nil {
		return nil, err
	}
	steps := []func() error{
		run.parseEnvelope, run.checkPayloadType, run.checkSignatures,
		run.verifySignature, run.checkTimestamps, run.parseStatement, run.checkStatementType,
		run.checkPredicateType, run.checkPredicate, run.checkSubjectDigest,
	}
	if opts.RequireTrustedTime {
		steps = append(steps, run.checkTimes)
	}
	if IsBundle(attestation) {
		steps = append([]func() error{run.parseBundle}, steps...)
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return run.report, err
		}
	}
	run.report.Statement = run.stmt
	run.report.CheckWarnings = slices.Concat(run.warnings, run.timeWarnings())
	run.report.Warnings = slices.Concat(run.stmt.Predicate.Warnings(), run.report.CheckWarnings)
	return run.report, nil
}

// normalizeDigest accepts hex or "sha256:"+hex, in either case.
func normalizeDigest(d string) (string, error) {
	d = strings.ToLower(strings.TrimPrefix(strings.ToLower(d), "sha256:"))
	if !isSHA256Hex(d) {
		return "", errors.New("invalid subject digest: want 64 hex digits of a SHA-256")
	}
	return d, nil
}

// ParseUnverified decodes the statement in an envelope or bundle WITHOUT
// checking any signature or timestamp, for showing an attestation. The caller must present the result
// as unverified (render it with an empty fingerprint) and use Verify before
// trusting it. It runs every check of Verify except the signature checks.
func ParseUnverified(attestation []byte) (*Statement, error) {
	run := &verifyRun{ctx: context.Background(), raw: attestation, report: &Report{}}
	steps := []func() error{
		run.parseEnvelope, run.checkPayloadType, run.parseStatement,
		run.checkStatementType, run.checkPredicateType, run.checkPredicate,
	}
	if IsBundle(attestation) {
		steps = append([]func() error{run.parseBundle}, steps...)
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return run.stmt, nil
}
