package attest

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cryptoshred/cryptoshred/attest/tsa"
	"github.com/cryptoshred/cryptoshred/internal/timeutil"
)

// DefaultTimeTolerance is how far the statement's times may stray from the
// trusted time before Verify warns, when VerifyOptions.TimeTolerance is 0.
const DefaultTimeTolerance = 10 * time.Minute

// checkTimestamps verifies every RFC 3161 timestamp of a bundle over the
// first signature's bytes against the trusted authorities. With no
// authority given it runs no check and warns that the times are unproven;
// with authorities given, a bare envelope or a bundle without timestamps
// fails.
func (r *verifyRun) checkTimestamps() error {
	switch {
	case len(r.authorities) == 0 && len(r.timestamps) > 0:
		r.warnings = append(r.warnings, fmt.Sprintf("the bundle carries %d RFC 3161 timestamp(s), not verified: "+
			"give the authority's chain (--tsa-chain or --trusted-root) to prove the time", len(r.timestamps)))
		return nil
	case len(r.authorities) == 0:
		return nil
	case !r.bundle:
		return r.report.fail(CheckTimestamps, errors.New("a timestamping authority was given, but a bare DSSE envelope carries no timestamp: verify the bundle"))
	case len(r.timestamps) == 0:
		return r.report.fail(CheckTimestamps, errors.New("a timestamping authority was given, but the bundle carries no timestamp"))
	}
	var got []string
	for i, ts := range r.timestamps {
		v, err := tsa.Verify(ts, r.sigs[0], r.authorities)
		if err != nil {
			return r.report.fail(CheckTimestamps, fmt.Errorf("timestamp %d of %d: %w", i+1, len(r.timestamps), err))
		}
		r.report.TrustedTimes = append(r.report.TrustedTimes, *v)
		got = append(got, v.Time.Format(time.RFC3339)+" by "+v.Authority)
	}
	r.report.pass(CheckTimestamps, "%d RFC 3161 timestamp(s) over the signature verify: %s", len(got), strings.Join(got, "; "))
	return nil
}

// checkTimes fails where the statement's times disagree with a trusted
// time (timeWarnings), for a verifier that requires trusted time.
func (r *verifyRun) checkTimes() error {
	if disagree := r.timeWarnings(); len(disagree) > 0 {
		return r.report.fail(CheckTimes, errors.New(strings.Join(disagree, "; ")))
	}
	r.report.pass(CheckTimes, "the statement's times agree with %d trusted time(s) within %s", len(r.report.TrustedTimes), r.tolerance)
	return nil
}

// timeWarnings compares the statement's own times with each trusted time:
// issuedAt should be within the tolerance of it, and nothing the statement
// reports may have happened after it.
func (r *verifyRun) timeWarnings() []string {
	var out []string
	p := &r.stmt.Predicate
	for _, tt := range r.report.TrustedTimes {
		if d := tt.Time.Sub(p.IssuedAt).Abs(); d > r.tolerance {
			out = append(out, fmt.Sprintf("issuedAt %s and the trusted time %s (%s) differ by %s, more than %s: the issuer's clock or the attestation is not to be trusted",
				p.IssuedAt.UTC().Format(time.RFC3339), tt.Time.Format(time.RFC3339), tt.Authority, d.Round(time.Second), r.tolerance))
		}
		out = append(out, r.lateBackups(tt)...)
	}
	return out
}

// lateWarningsEach is how many backups reporting times after a trusted
// time are each named; more are stated in one line.
const lateWarningsEach = 3

// lateBackups warns of the backups that report a time after tt.
func (r *verifyRun) lateBackups(tt tsa.Verified) []string {
	var out []string
	n := 0
	for _, b := range r.stmt.Predicate.Backups {
		if late := timeutil.Later(b.DestroyedAt, b.Verification.At); late.After(tt.Time.Add(r.tolerance)) {
			if n++; n <= lateWarningsEach {
				out = append(out, fmt.Sprintf("backup %s reports %s, after the trusted time %s", b.BackupID, late.UTC().Format(time.RFC3339), tt.Time.Format(time.RFC3339)))
			}
		}
	}
	if n > lateWarningsEach {
		out = append(out, fmt.Sprintf("and %d more backups report times after the trusted time %s", n-lateWarningsEach, tt.Time.Format(time.RFC3339)))
	}
	return out
}
