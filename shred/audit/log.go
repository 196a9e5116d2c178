package audit

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
	"unicode/utf8"
)

// Outcomes of an unwrap request.
const (
	// OutcomeOK: Vault's response line carries no error.
	OutcomeOK = "ok"
	// OutcomeUnanswered: only the request line was found (a log cut at
	// rotation, or Vault stopped); the unwrap may have succeeded.
	OutcomeUnanswered = "unanswered"
)

// Counting says how requests are counted, for reports.
const Counting = "each request is counted once, by request id, from its response line; " +
	"a request whose response carries an error (denied, bad ciphertext) is counted as failed and not listed; " +
	"a request without a response line is listed as unanswered"

// MaxLineBytes is the longest line read; a longer one is skipped and
// counted as garbage, so memory stays bounded whatever the log holds.
const MaxLineBytes = 16 << 20

// Unwrap is one request that unwrapped (or re-wrapped) a backup's file key
// with its Transit key, as Vault's audit log records it.
type Unwrap struct {
	Time          time.Time `json:"time"`
	RequestID     string    `json:"requestId"`
	Operation     string    `json:"operation"`
	Backup        string    `json:"backup"` // the backup id, also its Transit key's name
	DisplayName   string    `json:"displayName"`
	EntityID      string    `json:"entityId,omitempty"`
	Policies      []string  `json:"policies,omitempty"`
	RemoteAddress string    `json:"remoteAddress"`
	Header        string    `json:"ledgerHeader,omitempty"`
	Outcome       string    `json:"outcome"`
}

// Stats counts what the logs held.
type Stats struct {
	Files   int   `json:"files"`
	Lines   int64 `json:"lines"`
	Garbage int64 `json:"garbageLines"`
	// Unreadable counts the lines that name the Transit mount but could
	// not be read (too long, or not an audit entry), the lines that are
	// not text (not UTF-8, or with a NUL byte, which Vault's file device
	// never writes), and the files of which no line could be read: an
	// unwrap among them is not counted.
	Unreadable int64 `json:"unreadableLines"`
	Unwraps    int   `json:"unwraps"`
	Failed     int   `json:"failedUnwraps"`
	Unanswered int   `json:"unansweredUnwraps"`
	Duplicates int64 `json:"duplicateLines"`
	Earlier    int   `json:"unwrapsBeforeSince"`
	// From and To are the times of the first and the last audit entry
	// read (lines that are not audit entries do not count). They are not
	// coverage: a gap between them (a rotated file left out) is not
	// detected.
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
}

// Log collects the backup key unwraps of one or more audit log files,
// read one after the other in any order (rotated files too: a request
// and its response may sit in two files). It keeps one record per unwrap
// request, never a line, so memory does not grow with the log.
type Log struct {
	mount   string
	ledger  *ledgerWrites
	since   time.Time
	pending map[string]*Unwrap // request seen, response not yet
	settled map[string]bool    // response seen
	unwraps []Unwrap
	stats   Stats
	// candidates are lines, not yet checked, whose time lies outside
	// the span (entrySpan).
	candidates     []candidate
	candidateBytes int
}

// NewLog returns a Log of unwraps under the Transit mount, showing none
// before since (zero: all), that also dates the ledger's slot
// writes under the KV mount.
func NewLog(m Mounts, since time.Time) *Log {
	return &Log{mount: m.Transit, ledger: newLedgerWrites(m.KV), since: since, pending: map[string]*Unwrap{}, settled: map[string]bool{}}
}

// compressions are the magic bytes of the compressed formats the reader
// does not read. Split on newlines, their data can pass for lines that
// are no unwrap, hiding every unwrap in the file, so such a file is
// refused.
var compressions = []struct {
	name  string
	magic []byte
}{
	{"xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
	{"zstd", []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{"bzip2", []byte("BZh")},
	{"lz4", []byte{0x04, 0x22, 0x4d, 0x18}},
}

// ErrCompressed marks a log compressed in a format the reader does not
// read (only gzip is).
var ErrCompressed = errors.New("the audit log is compressed in a format this reader does not read")

// Read reads one audit log file from r, plain or gzip-compressed (told by
// its magic bytes), a line at a time. A file compressed otherwise (xz,
// zstd, bzip2, lz4) is refused with an error wrapping ErrCompressed.
func (l *Log) Read(ctx context.Context, r io.Reader) error {
	br := bufio.NewReaderSize(r, 256<<10)
	head, _ := br.Peek(6)
	for _, c := range compressions {
		if bytes.HasPrefix(head, c.magic) {
			return fmt.Errorf("%w: it is %s-compressed (only gzip is read); decompress it first", ErrCompressed, c.name)
		}
	}
	if bytes.HasPrefix(head, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("failed to read a gzip-compressed log: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 256<<10)
	}
	l.stats.Files++
	before := l.stats
	err := l.readLines(ctx, br)
	l.settleSpan()
	if garbage := l.stats.Garbage - before.Garbage; garbage > 0 && garbage == l.stats.Lines-before.Lines {
		l.stats.Unreadable++
	}
	return err
}

// mentionsMount reports whether b names a path under the Transit mount.
func (l *Log) mentionsMount(b []byte) bool { return bytes.Contains(b, []byte(l.mount+"/")) }

// readLines hands each line to l.line. A line longer than the read
// buffer is gathered up to MaxLineBytes; a longer one is skipped to its
// newline and counted as garbage, and as unreadable if it names the
// Transit mount or is not text.
func (l *Log) readLines(ctx context.Context, br *bufio.Reader) error {
	var long []byte
	var skip skipped
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		part, err := br.ReadSlice('\n')
		if skip.on || len(long)+len(part) > MaxLineBytes {
			skip.see(l, long, part)
			long = long[:0]
		} else if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, part...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("failed to read the log: %w", err)
		}
		switch {
		case skip.on:
			l.skippedLine(skip.mentioned || skip.binary || len(skip.carry) > 0)
			skip = skipped{}
		case len(long) > 0:
			l.line(append(long, part...))
			long = long[:0]
		default:
			l.line(part)
		}
		if err != nil {
			return nil
		}
	}
}

// skipped follows a line too long to read: whether it named the mount,
// searched chunk by chunk with the end of the chunk before, so that no
// name is cut in two; and whether it is not text, with the bytes of a
// character cut at the chunk's end carried to the next.
type skipped struct {
	on, mentioned, binary bool
	tail, carry           []byte
}

func (s *skipped) see(l *Log, gathered, part []byte) {
	s.on = true
	s.mentioned = s.mentioned || l.mentionsMount(gathered) || l.mentionsMount(append(s.tail, part...))
	s.tail = append(s.tail[:0], part[max(0, len(part)-len(l.mount)):]...)
	for _, b := range [][]byte{gathered, part} {
		if s.binary || len(b) == 0 {
			continue
		}
		b = append(s.carry, b...)
		cut := len(b)
		for i := len(b) - 1; i >= max(0, len(b)-utf8.UTFMax); i-- {
			if utf8.RuneStart(b[i]) {
				if !utf8.FullRune(b[i:]) {
					cut = i
				}
				break
			}
		}
		s.binary = !text(b[:cut])
		s.carry = append(s.carry[:0], b[cut:]...)
	}
}

// text reports whether b is UTF-8 without a NUL byte, as every line
// Vault's file audit device writes is.
func text(b []byte) bool { return bytes.IndexByte(b, 0) < 0 && utf8.Valid(b) }

func (l *Log) skippedLine(mentioned bool) {
	l.stats.Lines++
	l.stats.Garbage++
	if mentioned {
		l.stats.Unreadable++
	}
}

// line accounts for one line.
func (l *Log) line(raw []byte) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return
	}
	l.stats.Lines++
	if !text(raw) {
		// Not a line of Vault's: compressed or binary data, in which an
		// unwrap cannot be told.
		l.stats.Garbage++
		l.stats.Unreadable++
		return
	}
	if l.ledger.mentioned(raw) {
		l.ledger.add(raw)
	}
	ln, err := ParseLine(raw, l.mount)
	switch {
	case err != nil:
		l.stats.Garbage++
		if l.mentionsMount(raw) {
			l.stats.Unreadable++
		}
	case ln != nil:
		l.span(ln.Time)
		l.add(ln)
	default:
		l.entrySpan(raw)
	}
}

// entrySpan takes raw, a line ParseLine did not take, as a candidate for
// the span if its time lies outside it: only an audit entry moves the
// span, so that a line of JSON with a "time" added to the file does not.
// Candidates are checked in batches, newest and oldest first, so that a
// log in time order costs a parse per batch, not per line.
func (l *Log) entrySpan(raw []byte) {
	t, ok := lineTime(raw)
	if !ok || !l.stats.From.IsZero() && !t.Before(l.stats.From) && !t.After(l.stats.To) {
		return // no time, or one inside the span already
	}
	l.candidates = append(l.candidates, candidate{t, bytes.Clone(raw)})
	if l.candidateBytes += len(raw); len(l.candidates) >= 256 || l.candidateBytes >= 1<<20 {
		l.settleSpan()
	}
}

type candidate struct {
	time time.Time
	raw  []byte
}

// settleSpan widens the span to the newest and the oldest candidate that
// is an audit entry, and drops the candidates.
func (l *Log) settleSpan() {
	c := l.candidates
	slices.SortFunc(c, func(a, b candidate) int { return a.time.Compare(b.time) })
	for i := len(c) - 1; i >= 0 && c[i].time.After(l.stats.To); i-- {
		if t, ok := entryTime(c[i].raw); ok {
			l.span(t)
			break
		}
	}
	for i := 0; i < len(c) && (l.stats.From.IsZero() || c[i].time.Before(l.stats.From)); i++ {
		if t, ok := entryTime(c[i].raw); ok {
			l.span(t)
			break
		}
	}
	clear(c)
	l.candidates, l.candidateBytes = c[:0], 0
}

// entryTime returns the time of raw if it is an audit entry.
func entryTime(raw []byte) (time.Time, bool) {
	obj, err := jsonObject(raw)
	var e entryHead
	if err != nil || json.Unmarshal(obj, &e) != nil {
		return time.Time{}, false
	}
	r := rawLine{Type: e.Type, Time: e.Time}
	r.Request.ID, r.Request.Path = e.Request.ID, e.Request.Path
	return e.Time.UTC(), r.check() == nil
}

// entryHead is the part of a line that rawLine.check looks at.
type entryHead struct {
	Type    string    `json:"type"`
	Time    time.Time `json:"time"`
	Request struct {
		ID   string `json:"id"`
		Path string `json:"path"`
	} `json:"request"`
}

func (l *Log) span(t time.Time) {
	if l.stats.From.IsZero() || t.Before(l.stats.From) {
		l.stats.From = t
	}
	if t.After(l.stats.To) {
		l.stats.To = t
	}
}

// add pairs request and response lines by request id.
func (l *Log) add(ln *Line) {
	if l.settled[ln.RequestID] {
		l.stats.Duplicates++
		return
	}
	if ln.Type == TypeRequest {
		if _, ok := l.pending[ln.RequestID]; ok {
			l.stats.Duplicates++
			return
		}
		l.pending[ln.RequestID] = newUnwrap(ln)
		return
	}
	delete(l.pending, ln.RequestID)
	l.settled[ln.RequestID] = true
	if ln.Error != "" {
		if !ln.Time.Before(l.since) {
			l.stats.Failed++
		}
		return
	}
	u := newUnwrap(ln)
	u.Outcome = OutcomeOK
	l.keep(*u)
}

func newUnwrap(ln *Line) *Unwrap {
	return &Unwrap{
		Time: ln.Time, RequestID: ln.RequestID, Operation: ln.Operation,
		Backup: ln.Key, DisplayName: ln.DisplayName, EntityID: ln.EntityID,
		Policies: ln.Policies, RemoteAddress: ln.RemoteAddress, Header: ln.Header, Outcome: OutcomeUnanswered,
	}
}

// keep records u whatever its time: an unwrap before since is not shown,
// but it is still matched, so that the entry it used is not free for a
// later replay of its header.
func (l *Log) keep(u Unwrap) { l.unwraps = append(l.unwraps, u) }

// Unwraps returns the unwraps read so far at or after since, oldest
// first, and the counts; requests still without a response are included
// as unanswered.
func (l *Log) Unwraps() ([]Unwrap, Stats) {
	return l.shown(l.every())
}

// every returns every unwrap read so far, before since too, oldest first;
// requests still without a response are included as unanswered.
func (l *Log) every() []Unwrap {
	out := slices.Clone(l.unwraps)
	for _, u := range l.pending {
		out = append(out, *u)
	}
	slices.SortStableFunc(out, func(a, b Unwrap) int { return a.Time.Compare(b.Time) })
	return out
}

// shown returns those of all (oldest first) at or after since, and the
// counts of what is shown.
func (l *Log) shown(all []Unwrap) ([]Unwrap, Stats) {
	st := l.stats
	out := make([]Unwrap, 0, len(all))
	for _, u := range all {
		if u.Time.Before(l.since) {
			st.Earlier++
			continue
		}
		if u.Outcome == OutcomeUnanswered {
			st.Unanswered++
		}
		out = append(out, u)
	}
	st.Unwraps = len(out)
	return out, st
}
