package audit

import (
	"bytes"
	"compress/gzip"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/shred/ledger"
)

func TestParseLineKeyOperations(t *testing.T) {
	for path, want := range map[string]string{
		"cryptoshred-transit/decrypt/bk-1":             "decrypt bk-1",
		"cryptoshred-transit/rewrap/bk-1":              "rewrap bk-1",
		"cryptoshred-transit/datakey/plaintext/bk-1":   "datakey bk-1",
		"cryptoshred-transit/datakey/wrapped/bk-1":     "datakey bk-1",
		"cryptoshred-transit/encrypt/bk-1":             "",
		"cryptoshred-transit/decrypt/signer":           "",
		"cryptoshred-transit/decrypt/bk-":              "",
		"cryptoshred-transit/keys/bk-1":                "",
		"other-transit/decrypt/bk-1":                   "",
		"cryptoshred/data/cryptoshred-transit/decrypt": "",
	} {
		e := decrypt("r1", "", "token-admin", t0)
		e.path, e.typ = path, TypeResponse
		ln, err := ParseLine(vaultLine(t, e), "cryptoshred-transit")
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		got := ""
		if ln != nil {
			got = ln.Operation + " " + ln.Key
		}
		if got != want {
			t.Errorf("%s: got %q, want %q", path, got, want)
		}
	}
}

func TestParseLineFields(t *testing.T) {
	e := decrypt("r1", "bk-01abc", "token-backup-admin", t0)
	e.typ, e.entity, e.header = TypeResponse, "ent-1", "sha256:ab"
	ln, err := ParseLine(append([]byte("prefix "), vaultLine(t, e)...), "cryptoshred-transit")
	if err != nil || ln == nil {
		t.Fatalf("%v %v", ln, err)
	}
	if ln.DisplayName != "token-backup-admin" || ln.EntityID != "ent-1" || ln.Header != "sha256:ab" ||
		ln.RemoteAddress != "10.0.0.7" || !ln.Time.Equal(t0) || ln.RequestID != "r1" || len(ln.Policies) != 2 {
		t.Fatalf("fields: %+v", ln)
	}
}

func TestParseLineGarbage(t *testing.T) {
	for _, s := range []string{
		"", "not json", "{", "\n", `prefix {"type":"request"`,
		`{"type":"x","time":"2025-01-01T00:00:00Z","request":{"id":"1","path":"cryptoshred-transit/decrypt/bk-1"}}`,
		`{"type":"request","request":{"id":"1","path":"cryptoshred-transit/decrypt/bk-1"}}`,
		`{"type":"request","time":"2025-01-01T00:00:00Z","request":{"path":"cryptoshred-transit/decrypt/bk-1"}}`,
		`{"type":"request","time":"2025-01-01T00:00:00Z","request":{"id":1,"path":"cryptoshred-transit/x"}}`,
	} {
		if _, err := ParseLine([]byte(s), "cryptoshred-transit"); !errors.Is(err, ErrNotAuditLine) {
			t.Errorf("%q: %v", s, err)
		}
	}
}

// A request counts once, from its response; errors are failed, missing
// responses unanswered; a log read twice or split across rotated files
// counts the same.
func TestLogPairsRequestsAcrossFiles(t *testing.T) {
	ok := pair(t, decrypt("r1", "bk-1", "token-a", t0))
	failed := decrypt("r2", "bk-1", "token-a", t0.Add(time.Second))
	failed.err = "permission denied"
	req := decrypt("r3", "bk-2", "token-b", t0.Add(2*time.Second))
	req.typ = TypeRequest
	other := `{"type":"request","time":"2025-03-14T09:30:00Z","request":{"id":"k","path":"cryptoshred/data/ledger/000000000001"}}` + "\n"
	cut := pair(t, decrypt("r4", "bk-3", "token-a", t0.Add(3*time.Second)))
	split := strings.SplitAfterN(cut, "\n", 2)
	log := readLog(t, time.Time{}, ok+pair(t, failed)+string(vaultLine(t, req))+"\n"+other+"garbage\n"+split[0],
		split[1]+ok)
	unwraps, st := log.Unwraps()
	if len(unwraps) != 3 || st.Failed != 1 || st.Unanswered != 1 || st.Garbage != 1 || st.Files != 2 || st.Duplicates != 2 {
		t.Fatalf("unwraps %+v\nstats %+v", unwraps, st)
	}
	if unwraps[0].RequestID != "r1" || unwraps[1].Outcome != OutcomeUnanswered || unwraps[2].Backup != "bk-3" {
		t.Fatalf("unwraps %+v", unwraps)
	}
	if !st.From.Equal(t0) || !st.To.Equal(time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)) || st.Lines != 11 {
		t.Fatalf("span %v..%v, %d lines", st.From, st.To, st.Lines)
	}
}

func TestLogGzipAndSince(t *testing.T) {
	text := pair(t, decrypt("r1", "bk-1", "a", t0)) + pair(t, decrypt("r2", "bk-1", "a", t0.Add(48*time.Hour)))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(text))
	zw.Close()
	log := readLog(t, t0.Add(time.Hour), gz.String())
	unwraps, st := log.Unwraps()
	if len(unwraps) != 1 || unwraps[0].RequestID != "r2" || st.Earlier != 1 || st.Lines != 4 {
		t.Fatalf("%+v %+v", unwraps, st)
	}
	if err := NewLog(Mounts{Transit: "m", KV: "k"}, time.Time{}).Read(t.Context(), strings.NewReader("\x1f\x8bnot gzip")); err == nil {
		t.Fatal("a broken gzip stream read without error")
	}
}

func TestLogSkipsOverlongLines(t *testing.T) {
	long := `{"type":"request","x":"` + strings.Repeat("a", MaxLineBytes) + `"}` + "\n"
	mid := `{"type":"request","x":"` + strings.Repeat("b", 1<<20) + `"}` + "\n"
	log := readLog(t, time.Time{}, long+mid+pair(t, decrypt("r1", "bk-1", "a", t0)))
	unwraps, st := log.Unwraps()
	if len(unwraps) != 1 || st.Garbage != 1 || st.Lines != 4 {
		t.Fatalf("%+v %+v", unwraps, st)
	}
	// A skipped line that names no path under the mount cannot hide an
	// unwrap; one that does (a request padded past the limit), or a file
	// of which no line reads, fails the check.
	e1 := open(1, "bk-1", "token-a (entity e-1)", "inquiry", t0)
	u := decrypt("h", "bk-1", "token-a", t0.Add(time.Second))
	u.entity = "e-1"
	clean := pair(t, u)
	if err := Reconcile(readLog(t, time.Time{}, long+clean), []*ledger.Entry{e1}, Options{}).Check(); err != nil {
		t.Fatalf("a long line that names no mount path: %v", err)
	}
	padded := `{"type":"request","request":{"path":"cryptoshred-transit/decrypt/bk-2","x":"` + strings.Repeat("c", MaxLineBytes) + `"}}` + "\n"
	for name, files := range map[string][]string{"padded": {padded + clean}, "unreadable file": {clean, "PK\x03\x04 a zip archive\n"}} {
		err := Reconcile(readLog(t, time.Time{}, files...), []*ledger.Entry{e1}, Options{}).Check()
		if !errors.Is(err, ErrUnrecorded) || !strings.Contains(err.Error(), "1 line(s) naming the Transit mount, or file(s)") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func open(seq int64, backup, actor, purpose string, at time.Time) *ledger.Entry {
	return &ledger.Entry{Seq: seq, Kind: ledger.KindBackupOpened, Actor: actor, Time: at, Backups: []string{backup},
		Details: map[string]string{"purpose": purpose}, Hash: "sha256:" + strings.Repeat(string(rune('a'+seq)), 64)}
}

func TestReconcileRules(t *testing.T) {
	e1 := open(1, "bk-1", "token-a", "inquiry", t0.Add(-time.Second))
	e2 := open(2, "bk-1", "token-a", "second", t0.Add(time.Minute))
	e3 := open(3, "bk-2", "token-b", "other", t0)
	withHeader := decrypt("h", "bk-1", "token-a", t0)
	withHeader.header = e1.Hash
	replay := decrypt("replay", "bk-1", "token-a", t0.Add(time.Hour))
	replay.header = e1.Hash
	stranger := decrypt("s", "bk-2", "token-x", t0.Add(time.Second))
	log := readLog(t, time.Time{}, pair(t, ledgerWrite(3, t0))+pair(t, withHeader)+pair(t, replay)+pair(t, stranger)+
		pair(t, ledgerWrite(2, t0.Add(time.Minute)))+
		pair(t, decrypt("t", "bk-1", "token-a", t0.Add(time.Minute+time.Second)))+
		pair(t, decrypt("late", "bk-2", "token-b", t0.Add(10*time.Minute))))
	rep := Reconcile(log, []*ledger.Entry{e1, e2, e3}, Options{})
	got, notes := map[string]string{}, map[string]string{}
	for _, f := range rep.Findings {
		got[f.RequestID], notes[f.RequestID] = f.Rule, f.Note
	}
	want := map[string]string{"h": RuleHeader, "t": RuleTimeIdentity, "replay": RuleNone, "s": RuleNone, "late": RuleNone}
	for id, rule := range want {
		if got[id] != rule {
			t.Errorf("%s: rule %q, want %q", id, got[id], rule)
		}
	}
	if rep.Unaccounted != 3 || rep.Findings[0].Accounted() || !rep.Findings[4].Accounted() ||
		!errors.Is(rep.Check(), ErrUnrecorded) {
		t.Fatalf("report %+v", rep)
	}
	if !strings.Contains(notes["replay"], "already accounts") {
		t.Fatalf("replay note: %q", notes["replay"])
	}
}

func TestReconcileAllAccounted(t *testing.T) {
	e1 := open(1, "bk-1", "token-a (entity e-1)", "inquiry", t0)
	u := decrypt("h", "bk-1", "token-a", t0.Add(time.Second))
	u.entity = "e-1"
	rep := Reconcile(readLog(t, time.Time{}, pair(t, u)), []*ledger.Entry{e1}, Options{})
	if rep.Check() != nil || rep.Findings[0].Rule != RuleTimeIdentity || rep.Findings[0].Purpose != "inquiry" {
		t.Fatalf("%+v", rep)
	}
}

// TestReconcileGoesByVaultsTimeOfTheLedgerWrite: an open written to the
// ledger after an unwrap, dated before it, accounts for nothing, by
// either rule; neither does an open dated within the logs whose write
// neither they nor Vault's record of it show. Vault's time of the write
// decides, not the entry's.
func TestReconcileGoesByVaultsTimeOfTheLedgerWrite(t *testing.T) {
	direct := decrypt("direct", "bk-1", "token-a", t0.Add(10*time.Second))
	backdated := open(5, "bk-1", "token-a", "laundered", t0.Add(5*time.Second))
	copied := decrypt("copied", "bk-2", "token-a", t0.Add(11*time.Second))
	backdatedHeader := open(6, "bk-2", "token-a", "laundered", t0.Add(5*time.Second))
	copied.header = backdatedHeader.Hash
	unlogged := open(7, "bk-3", "token-a", "never written in the logs", t0.Add(5*time.Second))
	third := decrypt("unlogged", "bk-3", "token-a", t0.Add(12*time.Second))
	honest := open(8, "bk-4", "token-a", "inquiry", t0.Add(30*time.Second))
	fourth := decrypt("honest", "bk-4", "token-a", t0.Add(31*time.Second))
	vaultSaysLater := open(9, "bk-5", "token-a", "written after, by Vault's record", t0.Add(30*time.Second))
	vaultSaysLater.Written = t0.Add(33 * time.Second)
	fifth := decrypt("vault-later", "bk-5", "token-a", t0.Add(32*time.Second))
	beforeTheLogs := open(11, "bk-7", "token-a", "dated before the logs, written after slot 5", t0.Add(-time.Second))
	seventh := decrypt("before-logs", "bk-7", "token-a", t0.Add(time.Second))
	vaultSaysBefore := open(10, "bk-6", "token-a", "written before, by Vault's record", t0.Add(30*time.Second))
	vaultSaysBefore.Written = t0.Add(30 * time.Second)
	sixth := decrypt("vault-before", "bk-6", "token-a", t0.Add(32*time.Second))
	log := readLog(t, time.Time{}, pair(t, decrypt("first", "bk-9", "token-z", t0))+pair(t, direct)+pair(t, copied)+pair(t, third)+
		pair(t, ledgerWrite(5, t0.Add(20*time.Second)))+pair(t, ledgerWrite(6, t0.Add(20*time.Second)))+
		pair(t, ledgerWrite(8, t0.Add(30*time.Second)))+pair(t, fourth)+pair(t, fifth)+pair(t, sixth)+pair(t, seventh))
	rep := Reconcile(log, []*ledger.Entry{backdated, backdatedHeader, unlogged, honest, vaultSaysLater, vaultSaysBefore, beforeTheLogs}, Options{})
	rules := map[string]Finding{}
	for _, f := range rep.Findings {
		rules[f.RequestID] = f
	}
	for id, want := range map[string]string{"direct": RuleNone, "copied": RuleNone, "unlogged": RuleNone, "honest": RuleTimeIdentity,
		"vault-later": RuleNone, "vault-before": RuleTimeIdentity, "before-logs": RuleNone} {
		if got := rules[id].Rule; got != want {
			t.Errorf("%s: rule %q, want %q", id, got, want)
		}
	}
	if !strings.Contains(rules["copied"].Note, "does not show written before this unwrap") {
		t.Errorf("copied header note: %q", rules["copied"].Note)
	}
}

// replayLogs renders the logs of an open of bk-X in January, its header
// copied onto a plain decrypt in June, and a genuine open of bk-Y just
// before the replay: the whole log, and the part of it from June on, as
// kept by a retention shorter than five months.
func replayLogs(t *testing.T) (whole, fromJune string, entries []*ledger.Entry) {
	jan, jun := time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC), time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)
	old := open(1, "bk-X", "token-a", "inquiry", jan)
	old.Written = jan
	recent := open(2, "bk-Y", "token-a", "second inquiry", jun.Add(-time.Hour))
	recent.Written = jun.Add(-time.Hour)
	genuine := decrypt("genuine", "bk-X", "token-a", jan.Add(time.Second))
	genuine.header = old.Hash
	ownUnwrap := decrypt("recent", "bk-Y", "token-a", jun.Add(-time.Hour+time.Second))
	ownUnwrap.header = recent.Hash
	replay := decrypt("replay", "bk-X", "token-a", jun)
	replay.header = old.Hash
	fromJune = pair(t, ledgerWrite(2, jun.Add(-time.Hour))) + pair(t, ownUnwrap) + pair(t, replay)
	return pair(t, ledgerWrite(1, jan)) + pair(t, genuine) + fromJune, fromJune, []*ledger.Entry{old, recent}
}

// TestReconcileReplayedHeaderOfAnOldOpen: a header copied from an open
// whose own unwrap is before --since, or before the logs given, accounts
// for nothing; an open whose entry and unwrap are both in the logs still
// accounts for its unwrap.
func TestReconcileReplayedHeaderOfAnOldOpen(t *testing.T) {
	whole, fromJune, entries := replayLogs(t)
	since := time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC) // 90 days before June 1
	for name, c := range map[string]struct {
		log     string
		since   time.Time
		note    string
		earlier int
	}{
		"whole log":                      {whole, time.Time{}, "already accounts for another unwrap", 0},
		"whole log, since after January": {whole, since, "already accounts for another unwrap", 1},
		"logs from June":                 {fromJune, time.Time{}, "predates the audit logs given", 0},
		"logs from June, since":          {fromJune, since, "predates the audit logs given", 0},
	} {
		rep := Reconcile(readLog(t, c.since, c.log), entries, Options{})
		got := map[string]Finding{}
		for _, f := range rep.Findings {
			got[f.RequestID] = f
		}
		if f := got["replay"]; f.Rule != RuleNone || !strings.Contains(f.Note, c.note) {
			t.Errorf("%s: replay %q, note %q; want unaccounted, %q", name, f.Rule, f.Note, c.note)
		}
		if f := got["recent"]; f.Rule != RuleHeader || f.LedgerSeq != 2 {
			t.Errorf("%s: the recent open's own unwrap: %q %d", name, f.Rule, f.LedgerSeq)
		}
		if _, shown := got["genuine"]; shown != (c.since.IsZero() && c.log == whole) || rep.Log.Earlier != c.earlier {
			t.Errorf("%s: January's unwrap shown %v, %d earlier", name, shown, rep.Log.Earlier)
		}
		if rep.Unaccounted != 1 || !errors.Is(rep.Check(), ErrUnrecorded) {
			t.Errorf("%s: %d unaccounted, check %v", name, rep.Unaccounted, rep.Check())
		}
	}
}

// TestReconcileTimeRuleNeedsTheOpenInTheLogs: an open that Vault wrote
// before the logs given, dated by its writer just before an unwrap in
// them, accounts for nothing by time and identity either.
func TestReconcileTimeRuleNeedsTheOpenInTheLogs(t *testing.T) {
	old := open(1, "bk-1", "token-a", "dated by its writer", t0.Add(time.Hour-time.Second))
	old.Written = t0.Add(-24 * time.Hour)
	log := readLog(t, time.Time{}, pair(t, decrypt("first", "bk-9", "token-z", t0))+pair(t, decrypt("plain", "bk-1", "token-a", t0.Add(time.Hour))))
	for _, f := range Reconcile(log, []*ledger.Entry{old}, Options{}).Findings {
		if f.RequestID == "plain" && f.Rule != RuleNone {
			t.Fatalf("an open written before the logs accounts for %+v", f)
		}
	}
}
