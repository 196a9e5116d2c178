package audit

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/shred/ledger"
)

// TestLogRefusesOtherCompressions: a log compressed with anything but
// gzip is refused, naming the compression, even when chunks of its data
// split on newlines look like JSON objects that name no mount.
func TestLogRefusesOtherCompressions(t *testing.T) {
	unwrap := pair(t, decrypt("r1", "bk-1", "a", t0))
	for name, magic := range map[string]string{
		"xz": "\xfd7zXZ\x00", "zstd": "\x28\xb5\x2f\xfd", "bzip2": "BZh91AY&SY", "lz4": "\x04\x22\x4d\x18",
	} {
		data := magic + "\x00\x04\x8c\n{\"q\":7}\n\xe9\x01{x}\n{}\n" + unwrap
		err := NewLog(testMounts, time.Time{}).Read(t.Context(), strings.NewReader(data))
		if !errors.Is(err, ErrCompressed) || !strings.Contains(err.Error(), name+"-compressed") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestLogCountsBinaryLinesUnreadable: a line that is not UTF-8 or holds a
// NUL byte is unreadable (Vault's file device writes neither), short or
// past the line limit, and fails the check; a long line whose characters
// straddle the read buffer's chunks is text.
func TestLogCountsBinaryLinesUnreadable(t *testing.T) {
	e1 := open(1, "bk-1", "token-a (entity e-1)", "inquiry", t0)
	u := decrypt("h", "bk-1", "token-a", t0.Add(time.Second))
	u.entity = "e-1"
	clean := pair(t, u)
	long := func(mid string) string {
		return `{"x":"a` + strings.Repeat("é", MaxLineBytes/4) + mid + strings.Repeat("é", MaxLineBytes/4) + `"}` + "\n"
	}
	for name, line := range map[string]string{
		"NUL":              "{\"a\":\"\x00\"}\n",
		"not UTF-8":        "{\"a\":\"\xff\xfe\"}\n",
		"long, NUL":        long("\x00"),
		"long, not UTF-8":  long("\xc3"),
		"long, cut at EOF": `{"x":"` + strings.Repeat("a", MaxLineBytes) + "\xe2\x82",
	} {
		log := readLog(t, time.Time{}, clean+line)
		rep := Reconcile(log, []*ledger.Entry{e1}, Options{})
		if rep.Log.Unreadable != 1 || rep.Log.Garbage != 1 || len(rep.Findings) != 1 || !errors.Is(rep.Check(), ErrUnrecorded) {
			t.Errorf("%s: %+v, check %v", name, rep.Log, rep.Check())
		}
	}
	for name, line := range map[string]string{"text": `{"a":"é ✓"}` + "\n", "long text": long("ñ")} {
		if rep := Reconcile(readLog(t, time.Time{}, clean+line), []*ledger.Entry{e1}, Options{}); rep.Check() != nil {
			t.Errorf("%s: %+v, check %v", name, rep.Log, rep.Check())
		}
	}
}

// TestLogSpanIsOfAuditEntries: lines that are not audit entries, with a
// time before or after the log's, move neither end of the span; audit
// entries of other paths do, however many lines there are.
func TestLogSpanIsOfAuditEntries(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"time":"2020-01-01T00:00:00Z"}` + "\n")
	b.WriteString(pair(t, decrypt("r1", "bk-1", "a", t0)))
	for i := range 600 {
		kv := entry{id: "k" + string(rune('a'+i%26)) + strings.Repeat("x", i/26), path: "cryptoshred/data/backups/bk-1", who: "a",
			typ: TypeRequest, at: t0.Add(time.Duration(i) * time.Second)}
		b.Write(vaultLine(t, kv))
		b.WriteString("\n")
		if i == 300 {
			b.WriteString(`prefix {"type":"request","time":"2019-06-01T00:00:00Z","request":{"path":"x"}}` + "\n")
		}
	}
	last := t0.Add(time.Hour)
	b.WriteString(pair(t, ledgerWrite(1, last)))
	b.WriteString(`{"type":"response","time":"2031-01-01T00:00:00Z"}` + "\n")
	_, st := readLog(t, time.Time{}, b.String(), `{"time":"2040-01-01T00:00:00Z"}`+"\n").Unwraps()
	if !st.From.Equal(t0) || !st.To.Equal(last.Add(300*time.Microsecond)) {
		t.Fatalf("span %v..%v, want %v..%v", st.From, st.To, t0, last)
	}
}
