package attest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"

	"github.com/cryptoshred/cryptoshred/attest/tsa"
)

// verifyRun carries one Verify call from step to step. Each step records a
// Check and returns its *VerificationError, or nil.
type verifyRun struct {
	ctx      context.Context
	raw      []byte
	verifier signature.Verifier
	digest   string
	report   *Report

	authorities []tsa.Authority
	tolerance   time.Duration

	bundle     bool
	timestamps [][]byte
	warnings   []string

	env     envelope
	payload []byte
	sigs    [][]byte
	header  rawStatement
	stmt    *Statement
}

// rawStatement is a statement whose predicate is not decoded yet, so that
// the type URIs are checked before the predicate's schema.
type rawStatement struct {
	Type          string          `json:"_type"`
	Subject       []Subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

func newVerifyRun(ctx context.Context, raw []byte, v signature.Verifier, opts VerifyOptions) (*verifyRun, error) {
	if v == nil {
		return nil, errors.New("no verification key")
	}
	run := &verifyRun{ctx: ctx, raw: raw, verifier: v, report: &Report{},
		authorities: opts.Authorities, tolerance: opts.TimeTolerance}
	if run.tolerance <= 0 {
		run.tolerance = DefaultTimeTolerance
	}
	if opts.RequireTrustedTime && len(opts.Authorities) == 0 {
		return nil, errors.New("trusted times can only be required with a trusted timestamping authority")
	}
	if opts.SubjectDigest != "" {
		d, err := normalizeDigest(opts.SubjectDigest)
		if err != nil {
			return nil, err
		}
		run.digest = d
	}
	pub, err := v.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("failed to get the verification key: %w", err)
	}
	if run.report.KeyFingerprint, err = Fingerprint(pub); err != nil {
		return nil, err
	}
	return run, nil
}

func (r *verifyRun) parseEnvelope() error {
	if len(r.raw) > MaxEnvelopeSize {
		return r.report.fail(CheckEnvelope, errTooLarge)
	}
	if err := decodeStrict(r.raw, &r.env); err != nil {
		return r.report.fail(CheckEnvelope, fmt.Errorf("failed to parse envelope: %w", err))
	}
	p, err := decodeBase64(r.env.Payload)
	if err != nil || len(p) == 0 {
		return r.report.fail(CheckEnvelope, errors.New("payload is empty or not canonical base64"))
	}
	r.payload = p
	r.report.pass(CheckEnvelope, "DSSE envelope, %d bytes, payload %d bytes", len(r.raw), len(p))
	return nil
}

func (r *verifyRun) checkPayloadType() error {
	if r.env.PayloadType != PayloadType {
		return r.report.fail(CheckPayloadType, fmt.Errorf("payloadType is %q, want %q", r.env.PayloadType, PayloadType))
	}
	r.report.pass(CheckPayloadType, "%s", PayloadType)
	return nil
}

func (r *verifyRun) checkSignatures() error {
	n := len(r.env.Signatures)
	if n == 0 || n > maxSignatures {
		return r.report.fail(CheckSignatures, fmt.Errorf("envelope has %d signatures, want 1 to %d", n, maxSignatures))
	}
	if r.bundle && n != 1 {
		return r.report.fail(CheckSignatures, fmt.Errorf("a bundle's envelope has %d signatures, want exactly 1 (its timestamps cover one)", n))
	}
	for i, s := range r.env.Signatures {
		sig, err := decodeBase64(s.Sig)
		if err != nil || len(sig) == 0 {
			return r.report.fail(CheckSignatures, fmt.Errorf("signature %d is empty or not canonical base64", i+1))
		}
		if j := indexBytes(r.sigs, sig); j >= 0 {
			return r.report.fail(CheckSignatures, fmt.Errorf("signature %d duplicates signature %d", i+1, j+1))
		}
		r.sigs = append(r.sigs, sig)
	}
	r.report.pass(CheckSignatures, "%d well-formed signature(s)", n)
	return nil
}

func indexBytes(list [][]byte, b []byte) int {
	for i, x := range list {
		if bytes.Equal(x, b) {
			return i
		}
	}
	return -1
}

func (r *verifyRun) verifySignature() error {
	pae := dsse.PAE(r.env.PayloadType, r.payload)
	for i, sig := range r.sigs {
		err := r.verifier.VerifySignature(bytes.NewReader(sig), bytes.NewReader(pae), options.WithContext(r.ctx))
		if err == nil {
			r.report.pass(CheckSignature, "signature %d of %d verifies over the DSSE PAE with key %s", i+1, len(r.sigs), r.report.KeyFingerprint)
			return nil
		}
	}
	if err := r.ctx.Err(); err != nil {
		return r.report.fail(CheckSignature, err)
	}
	return r.report.fail(CheckSignature, fmt.Errorf("no signature verifies with key %s", r.report.KeyFingerprint))
}

func (r *verifyRun) parseStatement() error {
	if err := decodeStrict(r.payload, &r.header); err != nil {
		return r.report.fail(CheckStatement, fmt.Errorf("failed to parse statement: %w", err))
	}
	r.report.pass(CheckStatement, "signed payload is a JSON statement with %d subject(s)", len(r.header.Subject))
	return nil
}

func (r *verifyRun) checkStatementType() error {
	if r.header.Type != StatementType {
		return r.report.fail(CheckStatementType, fmt.Errorf("_type is %q, want %q", r.header.Type, StatementType))
	}
	r.report.pass(CheckStatementType, "%s", StatementType)
	return nil
}

func (r *verifyRun) checkPredicateType() error {
	if r.header.PredicateType != PredicateType {
		return r.report.fail(CheckPredicateType, fmt.Errorf("predicateType is %q, want %q", r.header.PredicateType, PredicateType))
	}
	r.report.pass(CheckPredicateType, "%s", PredicateType)
	return nil
}

func (r *verifyRun) checkPredicate() error {
	st := &Statement{Type: r.header.Type, Subject: r.header.Subject, PredicateType: r.header.PredicateType}
	if err := decodeStrict(r.header.Predicate, &st.Predicate); err != nil {
		return r.report.fail(CheckPredicate, fmt.Errorf("failed to parse predicate: %w", err))
	}
	if err := st.Validate(); err != nil {
		return r.report.fail(CheckPredicate, err)
	}
	r.stmt = st
	r.report.pass(CheckPredicate, "deletion of %d backup(s) under case %s follows the schema", len(st.Predicate.Backups), st.Predicate.Case.ID)
	return nil
}

func (r *verifyRun) checkSubjectDigest() error {
	if r.digest == "" {
		return nil
	}
	for _, s := range r.stmt.Subject {
		if s.Digest["sha256"] == r.digest {
			r.report.pass(CheckSubjectDigest, "sha256:%s is subject %q", r.digest, s.Name)
			return nil
		}
	}
	return r.report.fail(CheckSubjectDigest, fmt.Errorf("no subject has digest sha256:%s", r.digest))
}
