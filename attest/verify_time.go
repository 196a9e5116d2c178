package attest

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/cryptoshred/cryptoshred/attest/tsa"
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
		out = append(out, r.lateTimes(tt)...)
		out = append(out, r.lateBackups(tt)...)
	}
	return out
}

// afterSigning are the times a statement reports that lie after its
// signing by design (until when snapshots may still hold the keys), or
// that timeWarnings compares on their own (issuedAt), and the backups,
// which lateBackups compares one by one.
var afterSigning = map[string]bool{"issuedAt": true, "residualCopiesUntil": true, "backups": true}

// lateTimes warns of each time the statement reports outside its backups
// (the case's, its decision's) that is after tt.
func (r *verifyRun) lateTimes(tt tsa.Verified) []string {
	var out []string
	reportedTimes(reflect.ValueOf(r.stmt.Predicate), "", func(name string, at time.Time) {
		if at.After(tt.Time.Add(r.tolerance)) {
			out = append(out, fmt.Sprintf("%s %s is after the trusted time %s", name, at.UTC().Format(time.RFC3339), tt.Time.Format(time.RFC3339)))
		}
	})
	return out
}

// reportedTimes calls visit with every time v holds, named by its JSON
// path, except those afterSigning names. It walks the statement's types
// rather than a list of their fields, so a time added to the statement is
// compared too.
func reportedTimes(v reflect.Value, name string, visit func(string, time.Time)) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			reportedTimes(v.Elem(), name, visit)
		}
	case reflect.Slice:
		for i := range v.Len() {
			reportedTimes(v.Index(i), name+"[]", visit)
		}
	case reflect.Struct:
		if at, ok := v.Interface().(time.Time); ok {
			visit(name, at)
			return
		}
		for i := range v.NumField() {
			field := strings.Split(v.Type().Field(i).Tag.Get("json"), ",")[0]
			if !afterSigning[field] && v.Type().Field(i).IsExported() {
				reportedTimes(v.Field(i), strings.TrimPrefix(name+"."+field, "."), visit)
			}
		}
	}
}

// lateWarningsEach is how many backups reporting times after a trusted
// time are each named; more are stated in one line.
const lateWarningsEach = 3

// lateBackups warns of the backups that report a time after tt: the
// latest of every time each reports.
func (r *verifyRun) lateBackups(tt tsa.Verified) []string {
	var out []string
	n := 0
	for _, b := range r.stmt.Predicate.Backups {
		name, late := latestTime(b)
		if late.After(tt.Time.Add(r.tolerance)) {
			if n++; n <= lateWarningsEach {
				out = append(out, fmt.Sprintf("backup %s reports %s (%s), after the trusted time %s", b.BackupID, late.UTC().Format(time.RFC3339), name, tt.Time.Format(time.RFC3339)))
			}
		}
	}
	if n > lateWarningsEach {
		out = append(out, fmt.Sprintf("and %d more backups report times after the trusted time %s", n-lateWarningsEach, tt.Time.Format(time.RFC3339)))
	}
	return out
}

// latestTime returns the latest time b reports, and its name.
func latestTime(b Backup) (name string, latest time.Time) {
	reportedTimes(reflect.ValueOf(b), "", func(n string, at time.Time) {
		if at.After(latest) {
			name, latest = n, at
		}
	})
	return name, latest
}
