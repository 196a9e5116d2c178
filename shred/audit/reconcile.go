package audit

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/internal/timeutil"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
)

// Rules by which an unwrap was matched with a ledger entry.
const (
	// RuleHeader: the request carried the LedgerHeader naming the hash of
	// an open of this backup by this identity, made before it.
	RuleHeader = "header"
	// RuleTimeIdentity: no header; an open of this backup by the same
	// identity was recorded within the window before it.
	RuleTimeIdentity = "time+identity"
	// RuleNone: no recorded purpose accounts for the unwrap.
	RuleNone = "none"
)

// ErrUnrecorded marks key unwraps that no ledger entry with a purpose
// accounts for. The CLI maps it to exit code 5.
var ErrUnrecorded = errors.New("key unwraps without a recorded purpose")

// Options tune the match.
type Options struct {
	// Window is how long before an unwrap its open may have been
	// recorded, for the time+identity rule (default DefaultWindow).
	Window time.Duration
	// Skew is how far the ledger's clock (the client's) may run ahead of
	// Vault's (default DefaultSkew).
	Skew time.Duration
}

// Defaults of Options.
const (
	DefaultWindow = 2 * time.Minute
	DefaultSkew   = time.Minute
)

// Finding is one unwrap and what in the ledger accounts for it.
type Finding struct {
	Unwrap
	Rule       string    `json:"rule"`
	LedgerSeq  int64     `json:"ledgerSeq,omitempty"`
	LedgerHash string    `json:"ledgerHash,omitempty"`
	LedgerAt   time.Time `json:"ledgerAt,omitzero"`
	Purpose    string    `json:"purpose,omitempty"`
	// Note says why a header named no usable entry.
	Note string `json:"note,omitempty"`
}

// Accounted reports whether a recorded purpose accounts for the unwrap.
func (f Finding) Accounted() bool { return f.Rule != RuleNone }

// Report is the reconciliation of an audit log with the ledger.
type Report struct {
	// Findings lists unaccounted unwraps first, then the rest, each
	// oldest first.
	Findings    []Finding `json:"unwraps"`
	Unaccounted int       `json:"unaccounted"`
	Log         Stats     `json:"log"`
	Counting    string    `json:"counting"`
}

// Check returns an error wrapping ErrUnrecorded if any unwrap is
// unaccounted, or if a line naming the Transit mount, or a whole file,
// could not be read: an unwrap there (one made long enough to pass the
// line limit, say) would not have been counted.
func (r *Report) Check() error {
	var why []string
	if r.Unaccounted > 0 {
		why = append(why, fmt.Sprintf("%d of %d", r.Unaccounted, len(r.Findings)))
	}
	if r.Log.Unreadable > 0 {
		why = append(why, fmt.Sprintf("%d line(s) naming the Transit mount, or file(s), of the audit log could not be read, so an unwrap among them would not be counted", r.Log.Unreadable))
	}
	if len(why) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrUnrecorded, strings.Join(why, "; "))
}

// Reconcile matches every unwrap in log with the backup.opened entries of
// a verified ledger. Each entry accounts for one unwrap at most. Header
// matches are taken first; the time+identity rule then pairs the
// remaining unwraps without a header, oldest first, each with the oldest
// unused open in its window. Unwraps before the log's since are matched
// too, and only then left out of the report: an open's own unwrap must
// use up its entry even when it is not shown, or a later replay of its
// header would take the entry.
func Reconcile(log *Log, entries []*ledger.Entry, opts Options) *Report {
	all := log.every()
	m := newMatcher(entries, opts, log.ledger.written, log.stats.From)
	findings := make([]Finding, len(all))
	for i, u := range all {
		findings[i] = Finding{Unwrap: u, Rule: RuleNone}
		if u.Header != "" {
			m.byHeader(&findings[i])
		}
	}
	for i := range findings {
		if findings[i].Header == "" {
			m.byTime(&findings[i])
		}
	}
	_, stats := log.shown(all)
	findings = slices.DeleteFunc(findings, func(f Finding) bool { return f.Time.Before(log.since) })
	return newReport(findings, stats)
}

func newReport(findings []Finding, stats Stats) *Report {
	slices.SortStableFunc(findings, func(a, b Finding) int {
		if a.Accounted() != b.Accounted() {
			if a.Accounted() {
				return 1
			}
			return -1
		}
		return a.Time.Compare(b.Time)
	})
	rep := &Report{Findings: findings, Log: stats, Counting: Counting}
	for _, f := range findings {
		if !f.Accounted() {
			rep.Unaccounted++
		}
	}
	return rep
}

// matcher holds the opens that may account for unwraps and which are
// used.
type matcher struct {
	opts   Options
	opens  []*ledger.Entry // backup.opened with a purpose, in ledger order
	byHash map[string]*ledger.Entry
	used   map[*ledger.Entry]bool
	// written is when Vault received each ledger slot's write, as the
	// logs show; logFrom is the time of their first line.
	written     map[int64]time.Time
	firstLogged int64
	logFrom     time.Time
}

func newMatcher(entries []*ledger.Entry, opts Options, written map[int64]time.Time, logFrom time.Time) *matcher {
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	if opts.Skew <= 0 {
		opts.Skew = DefaultSkew
	}
	m := &matcher{opts: opts, byHash: map[string]*ledger.Entry{}, used: map[*ledger.Entry]bool{}, written: written, logFrom: logFrom}
	for seq := range written {
		if m.firstLogged == 0 || seq < m.firstLogged {
			m.firstLogged = seq
		}
	}
	for _, e := range entries {
		if e.Kind == ledger.KindBackupOpened && e.Details["purpose"] != "" {
			m.opens = append(m.opens, e)
			m.byHash[e.Hash] = e
		}
	}
	return m
}

// byHeader matches f with the entry its header names, if that entry is an
// unused open of f's backup by f's identity recorded before f.
func (m *matcher) byHeader(f *Finding) {
	e := m.byHash[f.Header]
	switch {
	case e == nil:
		f.Note = "the ledger header names no open with a purpose in the ledger"
	case m.used[e]:
		f.Note = fmt.Sprintf("the ledger header names entry %d, which already accounts for another unwrap", e.Seq)
	case !m.writtenBefore(e, f):
		f.Note = fmt.Sprintf("the ledger header names entry %d, which the audit log does not show written before this unwrap", e.Seq)
	case !m.fits(e, f):
		f.Note = fmt.Sprintf("the ledger header names entry %d, which is not an open of %s by %s before this unwrap",
			e.Seq, f.Backup, identity(f.Unwrap))
	case !m.inReach(e):
		f.Note = fmt.Sprintf("the ledger header names entry %d, which predates the audit logs given, so whether that entry's own unwrap was this one cannot be checked", e.Seq)
	default:
		m.claim(f, e, RuleHeader)
	}
}

// byTime matches f with the oldest unused open of its backup by its
// identity recorded within the window before it.
func (m *matcher) byTime(f *Finding) {
	for _, e := range m.opens {
		if !m.used[e] && m.fits(e, f) && m.inReach(e) && !e.Time.Before(f.Time.Add(-m.opts.Window)) {
			m.claim(f, e, RuleTimeIdentity)
			return
		}
	}
}

// fits reports whether e records an open of f's backup by f's identity,
// no later than f (give or take the clock skew), written to the ledger
// before f.
func (m *matcher) fits(e *ledger.Entry, f *Finding) bool {
	return slices.Contains(e.Backups, f.Backup) && e.Actor == identity(f.Unwrap) &&
		!e.Time.After(f.Time.Add(m.opts.Skew)) && m.writtenBefore(e, f)
}

// writtenBefore reports whether Vault received the write of e's slot no
// later than f, by the later of the audit log's time of it and Vault's
// record of it (e.Written), which unlike the entry's own time are
// Vault's. An entry of an export whose write the logs do not show counts
// only if it says it was made before their first line and no slot before
// it was written in them: within their period, or after it, it could have
// been written at any time, dated as its writer liked.
func (m *matcher) writtenBefore(e *ledger.Entry, f *Finding) bool {
	logged, inLogs := m.written[e.Seq]
	switch {
	case inLogs || !e.Written.IsZero():
		return !timeutil.Later(logged, e.Written).After(f.Time)
	case m.loggedBelow(e.Seq):
		return false // written after a slot the logs show written, yet not in them: its time is its writer's word
	}
	return e.Time.Before(m.logFrom)
}

// inReach reports whether Vault wrote e's slot no earlier than the
// window before the logs' first line. An open's own unwrap follows its
// write within moments, so for such an entry that unwrap, if made, is in
// the logs (but for one the window's width before them) and has used the
// entry up before any later request naming it is matched. For an older
// entry it is not, and a request naming the entry (a header copied from
// it) could be a replay that the logs cannot tell from the original: it
// accounts for nothing. The window's allowance keeps an open made just
// before the logs begin, whose unwrap is in them, accounted.
func (m *matcher) inReach(e *ledger.Entry) bool {
	return !m.writeTime(e).Before(m.logFrom.Add(-m.opts.Window))
}

// writeTime is when Vault received the write of e's slot: the later of
// the logs' time of it and Vault's record of it, or, over an export
// whose write the logs do not show (it has no record), the entry's own
// time, which writtenBefore accepts only if before the logs' first line.
func (m *matcher) writeTime(e *ledger.Entry) time.Time {
	if t := timeutil.Later(m.written[e.Seq], e.Written); !t.IsZero() {
		return t
	}
	return e.Time
}

// loggedBelow reports whether the logs show a write of a slot before seq.
func (m *matcher) loggedBelow(seq int64) bool {
	return len(m.written) > 0 && m.firstLogged < seq
}

func (m *matcher) claim(f *Finding, e *ledger.Entry, rule string) {
	m.used[e] = true
	f.Rule, f.LedgerSeq, f.LedgerHash, f.LedgerAt, f.Purpose = rule, e.Seq, e.Hash, e.At(), e.Details["purpose"]
}

// identity names u's Vault identity as the ledger names its actors.
func identity(u Unwrap) string {
	return attest.VaultIdentity{DisplayName: u.DisplayName, EntityID: u.EntityID}.String()
}
