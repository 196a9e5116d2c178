package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/internal/shredtest"
	"github.com/cryptoshred/cryptoshred/shred/agefile"
	"github.com/cryptoshred/cryptoshred/shred/audit"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// enableFileAudit enables a file audit device on env's Vault and returns
// the log's path.
func enableFileAudit(t *testing.T, env testEnv) string {
	t.Helper()
	path := filepath.Join(env.dir, "vault-audit.log")
	err := env.srv.Root(t).Sys().EnableAuditWithOptions("file", &api.EnableAuditOptions{
		Type: "file", Options: map[string]string{"file_path": path},
	})
	if err != nil {
		t.Fatalf("enable the file audit device: %v", err)
	}
	return path
}

// plainDecrypt unwraps b's file key with a plain Transit decrypt, as an
// admin could with `vault write cryptoshred-transit/decrypt/KEY`.
func plainDecrypt(t *testing.T, env testEnv, b *catalog.Backup) {
	t.Helper()
	decryptWithHeader(t, env, b, "")
}

// decryptWithHeader is plainDecrypt sending header (if any) as the
// ledger header, as an admin could copy it from an earlier open.
func decryptWithHeader(t *testing.T, env testEnv, b *catalog.Backup, header string) {
	t.Helper()
	f, err := os.Open(b.Ciphertext.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stanzas, err := agefile.HeaderStanzas(f)
	if err != nil {
		t.Fatal(err)
	}
	_, ct, err := agefile.ParseStanza(stanzas[0])
	if err != nil {
		t.Fatal(err)
	}
	client := env.srv.Client(t, env.roles.admin)
	if header != "" {
		client.AddHeader("X-Cryptoshred-Ledger-Entry", header)
	}
	_, err = client.Logical().Write("cryptoshred-transit/decrypt/"+b.Key, map[string]any{"ciphertext": ct})
	if err != nil {
		t.Fatalf("plain decrypt: %v", err)
	}
}

func TestReportAccessReconcilesVaultAuditLog(t *testing.T) {
	env := newTestEnv(t)
	logPath := enableFileAudit(t, env)
	b1 := protectFile(t, env, "casework.tar", []byte("asylum case files"))
	b2 := protectFile(t, env, "payroll.tar", []byte("salaries"))
	mustRun(t, env.srv, env.roles.admin, "backup", "open", b1.ID, "--purpose", "=DPA inspection copy", "-o", filepath.Join(env.dir, "copy1"))
	plainDecrypt(t, env, b2)
	_, err := env.srv.Client(t, env.roles.admin).Logical().Write("cryptoshred-transit/decrypt/"+b2.Key, map[string]any{"ciphertext": "vault:v1:AAAA"})
	if err == nil {
		t.Fatal("a decrypt of junk succeeded")
	}
	time.Sleep(10 * time.Millisecond)
	afterPlain := time.Now()
	time.Sleep(10 * time.Millisecond)
	mustRun(t, env.srv, env.roles.admin, "backup", "open", b1.ID, "--purpose", "second look", "-o", filepath.Join(env.dir, "copy2"))

	report := func(code int, args ...string) result {
		return expectCode(t, code, env.srv, env.roles.auditor, append([]string{"report", "access"}, args...)...)
	}
	text := report(0, "--vault-audit-log", logPath).stdout
	lines := strings.Split(text, "\n")
	if !strings.Contains(text, "Backup key unwraps: 3 (1 without a recorded purpose); 1 failed request(s) not listed") ||
		!strings.Contains(text, "Counting: each request is counted once") {
		t.Fatalf("summary:\n%s", text)
	}
	row := tableRows(t, lines)
	if len(row) != 3 || !strings.HasPrefix(row[0], "NONE") || !strings.Contains(row[0], b2.ID) ||
		!strings.Contains(row[0], "token-backup-admin [cryptoshred-admin]") || !strings.Contains(row[0], "127.0.0.1") {
		t.Fatalf("unaccounted unwrap not first:\n%s", text)
	}
	for _, r := range row[1:] {
		if !strings.HasPrefix(r, "recorded  header") || !strings.Contains(r, b1.ID) {
			t.Fatalf("CLI open not matched by header:\n%s", text)
		}
	}

	fail := report(exitVerifyKO, "--vault-audit-log", logPath, "--fail-on-unrecorded")
	if !strings.Contains(fail.stdout, "NONE") || !strings.Contains(fail.stderr, "key unwraps without a recorded purpose: 1 of 3") {
		t.Fatalf("--fail-on-unrecorded: %+v", fail)
	}
	since := afterPlain.UTC().Format(time.RFC3339Nano)
	ok := report(0, "--vault-audit-log", logPath, "--fail-on-unrecorded", "--since", since)
	if rows := tableRows(t, strings.Split(ok.stdout, "\n")); len(rows) != 1 || !strings.Contains(rows[0], `"second look"`) {
		t.Fatalf("--since %s:\n%s", since, ok.stdout)
	}

	checkJSONAndCSV(t, report(0, "--vault-audit-log", logPath, "--format", "json").stdout,
		report(0, "--vault-audit-log", logPath, "--format", "csv").stdout, b2)

	// The same log rotated, the older half gzip-compressed, split between
	// a request and its response, given newest first: the same report.
	newer, older := rotate(t, env, logPath, b2.Key)
	rotated := report(0, "--vault-audit-log", newer, older)
	if got, want := tableRows(t, strings.Split(rotated.stdout, "\n")), row; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rotated log:\n%s\nwant rows:\n%s", rotated.stdout, strings.Join(want, "\n"))
	}
	if !strings.Contains(rotated.stdout, "2 file(s)") {
		t.Fatalf("rotated: %s", rotated.stdout)
	}

	// Without the header (a log from before `init` registered it), the
	// time+identity rule still accounts for the CLI opens.
	stripped := filepath.Join(env.dir, "no-header.log")
	raw, _ := os.ReadFile(logPath)
	os.WriteFile(stripped, bytes.ReplaceAll(raw, []byte("x-cryptoshred-ledger-entry"), []byte("x-other")), 0o600)
	fallback := report(0, "--vault-audit-log", stripped).stdout
	if strings.Count(fallback, "recorded  time+identity") != 2 {
		t.Fatalf("fallback:\n%s", fallback)
	}

	report(exitUsage, "--fail-on-unrecorded")
	report(exitUsage, "--since", "18 months")
	report(exitError, "--vault-audit-log", filepath.Join(env.dir, "missing.log"))
}

// TestReportAccessFlagsAReplayedHeader: an admin copies the ledger header
// of an earlier open onto a plain decrypt. The report flags the replay
// when --since leaves the open's own unwrap out of what is shown, and
// when the logs given begin after it.
func TestReportAccessFlagsAReplayedHeader(t *testing.T) {
	env := newTestEnv(t)
	logPath := enableFileAudit(t, env)
	b := protectFile(t, env, "casework.tar", []byte("asylum case files"))
	mustRun(t, env.srv, env.roles.admin, "backup", "open", b.ID, "--purpose", "inspection", "-o", filepath.Join(env.dir, "copy"))
	genuine, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	since := time.Now().UTC().Format(time.RFC3339Nano)
	decryptWithHeader(t, env, b, ledgerHeaderIn(t, genuine, b.Key))
	whole, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	later := filepath.Join(env.dir, "from-the-replay.log")
	if err := os.WriteFile(later, whole[len(genuine):], 0o600); err != nil {
		t.Fatal(err)
	}
	for note, args := range map[string][]string{
		"already accounts for another unwrap": {"--vault-audit-log", logPath, "--since", since},
		"predates the audit logs given":       {"--vault-audit-log", later, "--match-window", "10ms"},
	} {
		r := expectCode(t, exitVerifyKO, env.srv, env.roles.auditor, append([]string{"report", "access", "--format", "json", "--fail-on-unrecorded"}, args...)...)
		var rep audit.Report
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, r.stdout)
		}
		if len(rep.Findings) != 1 || rep.Findings[0].Rule != audit.RuleNone || !strings.Contains(rep.Findings[0].Note, note) {
			t.Fatalf("%v: the replay is not flagged (%q):\n%s", args, note, r.stdout)
		}
	}
}

// ledgerHeaderIn returns the ledger header of the decrypt of key in the
// audit log raw.
func ledgerHeaderIn(t *testing.T, raw []byte, key string) string {
	t.Helper()
	for _, l := range bytes.Split(raw, []byte("\n")) {
		var line struct {
			Request struct {
				Path    string              `json:"path"`
				Headers map[string][]string `json:"headers"`
			} `json:"request"`
		}
		if json.Unmarshal(l, &line) == nil && line.Request.Path == "cryptoshred-transit/decrypt/"+key {
			if h := line.Request.Headers["x-cryptoshred-ledger-entry"]; len(h) == 1 {
				return h[0]
			}
		}
	}
	t.Fatalf("no ledger header on a decrypt of %s in the log", key)
	return ""
}

// tableRows returns the rows under the text report's PURPOSE? header.
func tableRows(t *testing.T, lines []string) []string {
	t.Helper()
	for i, l := range lines {
		if strings.HasPrefix(l, "PURPOSE?") {
			var rows []string
			for _, r := range lines[i+1:] {
				if r != "" {
					rows = append(rows, r)
				}
			}
			return rows
		}
	}
	t.Fatalf("no table in:\n%s", strings.Join(lines, "\n"))
	return nil
}

func checkJSONAndCSV(t *testing.T, js, cs string, unaccounted *catalog.Backup) {
	t.Helper()
	var rep audit.Report
	if err := json.Unmarshal([]byte(js), &rep); err != nil {
		t.Fatalf("json %v:\n%s", err, js)
	}
	if rep.Unaccounted != 1 || len(rep.Findings) != 3 || rep.Findings[0].Backup != unaccounted.ID ||
		rep.Findings[0].Rule != audit.RuleNone || rep.Findings[1].Rule != audit.RuleHeader ||
		!strings.HasPrefix(rep.Findings[1].LedgerHash, "sha256:") || rep.Log.Failed != 1 {
		t.Fatalf("json: %+v", rep)
	}
	rows, err := csv.NewReader(strings.NewReader(cs)).ReadAll()
	if err != nil || len(rows) != 4 {
		t.Fatalf("csv %v:\n%s", err, cs)
	}
	if rows[0][0] != "recorded_purpose" || rows[1][0] != "false" || rows[1][1] != "none" || rows[1][4] != unaccounted.ID ||
		rows[2][1] != "header" || rows[2][14] != "'=DPA inspection copy" {
		t.Fatalf("csv rows: %q", rows)
	}
}

// rotate splits the log at the request line of the plain decrypt of key
// into an older, gzip-compressed file and a newer plain one.
func rotate(t *testing.T, env testEnv, logPath, key string) (newer, older string) {
	t.Helper()
	raw, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(raw), "\n")
	cut := -1
	for i, l := range lines {
		if strings.Contains(l, `"path":"cryptoshred-transit/decrypt/`+key+`"`) && strings.Contains(l, `"type":"request"`) {
			cut = i + 1
			break
		}
	}
	if cut < 0 {
		t.Fatalf("no decrypt request of %s in the log", key)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(strings.Join(lines[:cut], "")))
	zw.Close()
	older, newer = filepath.Join(env.dir, "vault-audit.log.1.gz"), filepath.Join(env.dir, "vault-audit.log.new")
	if err := os.WriteFile(older, gz.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(newer, []byte(strings.Join(lines[cut:], "")), 0o600); err != nil {
		t.Fatal(err)
	}
	return newer, older
}

// TestShredRunPutsAuditedUnwrapsInTheAttestation: shred run reads the
// audit log; the attestation counts each key's unwraps in it, and the one
// without a recorded purpose is a warning of attest verify.
func TestShredRunPutsAuditedUnwrapsInTheAttestation(t *testing.T) {
	env := newTestEnv(t)
	logPath, opened, leaked, _ := openedAndLeaked(t, env)
	mustRun(t, env.srv, env.roles.compliance, "case", "open", "AUD", "--authority", "A", "--reference", "R", "--controller", "C")
	mustRun(t, env.srv, env.roles.compliance, "hold", "place", "--case", "AUD", opened.ID, leaked.ID)
	mustRun(t, env.srv, env.roles.compliance, "case", "close", "AUD", "--decision-ref", "D", "--decision-file", decisionFile(t, env), "--yes")
	priv, pub := signingKey(t, env)
	att := filepath.Join(env.dir, "aud.dsse.json")
	mustRun(t, env.srv, env.roles.admin, "shred", "run", "--case", "AUD", "--yes", "--sign-key", priv,
		"--vault-snapshot-retention", "1h", "-o", att, "--vault-audit-log", logPath)
	st, err := attest.ParseUnverified(mustRead(t, att))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range st.Predicate.Backups {
		a := b.KeyUnwraps.Audit
		want := map[string]int{opened.ID: 0, leaked.ID: 1}[b.BackupID]
		if a == nil || a.Count != 1 || a.Unrecorded != want || a.LogFrom.IsZero() {
			t.Fatalf("%s: keyUnwraps %+v", b.BackupID, b.KeyUnwraps)
		}
	}
	r := mustRun(t, env.srv, "", "attest", "verify", att, "--key", pub)
	if !strings.Contains(r.stdout, leaked.ID) || !strings.Contains(r.stdout, "no recorded purpose") {
		t.Fatalf("attest verify does not warn about the unrecorded unwrap:\n%s", r.stdout)
	}
}

// openedAndLeaked enables a file audit device on env's Vault, protects two
// backups, opens the first through the CLI and unwraps the second's key
// with a plain decrypt, at or after before. It returns the log's path.
func openedAndLeaked(t *testing.T, env testEnv) (logPath string, opened, leaked *catalog.Backup, before time.Time) {
	t.Helper()
	logPath = enableFileAudit(t, env)
	opened = protectFile(t, env, "opened.tar", []byte("opened with a purpose"))
	leaked = protectFile(t, env, "leaked.tar", []byte("unwrapped behind our back"))
	mustRun(t, env.srv, env.roles.admin, "backup", "open", opened.ID, "--purpose", "inspection", "-o", filepath.Join(env.dir, "copy"))
	before = time.Now().UTC()
	plainDecrypt(t, env, leaked)
	return logPath, opened, leaked, before
}

// TestAgePluginUnwrapIsUnaccounted: an age -d through age-plugin-cryptoshred
// unwraps the key without the ledger; the audit report lists it as
// unaccounted, with the plugin user's identity.
func TestAgePluginUnwrapIsUnaccounted(t *testing.T) {
	env := newTestEnv(t)
	logPath := enableFileAudit(t, env)
	b := protectFile(t, env, "p.tar", []byte("read with the stock age CLI"))
	a := newAgeCLI(t, env, env.roles.admin)
	if out, stderr, err := a.run("-d", "-i", a.identityFile("any"), b.Ciphertext.Path); err != nil || string(out) != "read with the stock age CLI" {
		t.Fatalf("age -d through the plugin: %v %q %s", err, out, stderr)
	}
	r := expectCode(t, exitVerifyKO, env.srv, env.roles.auditor, "report", "access", "--vault-audit-log", logPath, "--fail-on-unrecorded")
	if !strings.Contains(r.stdout, "NONE") || !strings.Contains(r.stdout, b.ID) || !strings.Contains(r.stdout, "token-backup-admin") {
		t.Fatalf("the plugin's unwrap is not listed as unaccounted:\n%s", r.stdout)
	}
}

// TestAttackBackdatedOpenCannotAccountForAPlainDecrypt: an admin unwraps a
// backup's key with a plain Transit decrypt, then, with the same token's
// own Transit sign and KV create rights, appends a valid open entry for
// that backup dated before the decrypt. The chain verifies; the audit
// report still lists the unwrap as unaccounted, because Vault logged the
// entry's write after it.
func TestAttackBackdatedOpenCannotAccountForAPlainDecrypt(t *testing.T) {
	env := newTestEnv(t)
	logPath, _, leaked, before := openedAndLeaked(t, env)
	admin := vault.New(env.srv.Client(t, env.roles.admin), vault.DefaultMounts)
	shredtest.AppendDated(t, admin, admin, ledger.RoleAdmin, lastActor(t, admin), ledger.Event{Kind: ledger.KindBackupOpened,
		Backups: []string{leaked.ID}, Details: map[string]string{"purpose": "inspection"}}, before.Add(-5*time.Second))
	mustRun(t, env.srv, env.roles.auditor, "ledger", "verify")
	r := expectCode(t, exitVerifyKO, env.srv, env.roles.auditor, "report", "access", "--vault-audit-log", logPath, "--fail-on-unrecorded")
	if rows := tableRows(t, strings.Split(r.stdout, "\n")); len(rows) != 2 || !strings.HasPrefix(rows[0], "NONE") || !strings.Contains(rows[0], leaked.ID) {
		t.Fatalf("the laundered unwrap is not listed as unaccounted:\n%s", r.stdout)
	}
	// Over entries without Vault's record of their writes, as an export
	// has them, Vault's audit lines of the ledger writes decide alone.
	if unaccounted := reconcileWithoutWriteTimes(t, admin, logPath); len(unaccounted) != 1 || unaccounted[0] != leaked.ID {
		t.Fatalf("from the audit log's lines alone, unaccounted: %v, want %s", unaccounted, leaked.ID)
	}
}

// reconcileWithoutWriteTimes reconciles the audit log at logPath with the
// ledger's entries stripped of Vault's write times, and returns the
// backups of the unaccounted unwraps.
func reconcileWithoutWriteTimes(t *testing.T, client *vault.Client, logPath string) []string {
	t.Helper()
	entries, err := ledger.New(client, client).Entries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		e.Written = time.Time{}
	}
	log := audit.NewLog(audit.Mounts{Transit: vault.DefaultMounts.Transit, KV: vault.DefaultMounts.KV}, time.Time{})
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := log.Read(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, fd := range audit.Reconcile(log, entries, audit.Options{}).Findings {
		if !fd.Accounted() {
			out = append(out, fd.Backup)
		}
	}
	return out
}

// lastActor returns the actor of the ledger's last entry.
func lastActor(t *testing.T, client *vault.Client) string {
	t.Helper()
	entries, err := ledger.New(client, client).Entries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return entries[len(entries)-1].Actor
}

// TestShredRunRefusesAnUnreadableAuditLog: a decrypt request padded past
// the reader's line limit cannot be counted; shred run refuses the log
// before it destroys any key, saying how many lines, and report access
// prints the count of unreadable lines.
func TestShredRunRefusesAnUnreadableAuditLog(t *testing.T) {
	env := newTestEnv(t)
	logPath := enableFileAudit(t, env)
	b := closedCaseCLI(t, env, "UNR", []byte("casework"))
	padded := `{"type":"request","time":"` + time.Now().UTC().Format(time.RFC3339Nano) +
		`","request":{"id":"x","path":"cryptoshred-transit/decrypt/` + b.Key + `","data":{"pad":"` + strings.Repeat("a", audit.MaxLineBytes) + `"}}}` + "\n"
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(padded); err != nil {
		t.Fatal(err)
	}
	f.Close()
	priv, _ := signingKey(t, env)
	r := expectCode(t, exitError, env.srv, env.roles.admin, "shred", "run", "--case", "UNR", "--yes", "--sign-key", priv,
		"--vault-snapshot-retention", "1h", "-o", filepath.Join(env.dir, "unr.dsse.json"), "--vault-audit-log", logPath)
	if !strings.Contains(r.stderr, "1 line(s) or file(s) of the Vault audit log could not be read") ||
		!strings.Contains(r.stderr, "could not state every unwrap") || !strings.Contains(r.stderr, "nothing was destroyed") {
		t.Fatalf("shred run does not refuse the unreadable log:\n%s", r.stderr)
	}
	if key, err := env.srv.Root(t).Logical().Read("cryptoshred-transit/keys/" + b.Key); err != nil || key == nil {
		t.Fatalf("the key of %s is gone after a refused run: %v %v", b.ID, key, err)
	}
	text := expectCode(t, 0, env.srv, env.roles.auditor, "report", "access", "--vault-audit-log", logPath).stdout
	if !strings.Contains(text, "UNREADABLE: 1 line(s)") {
		t.Fatalf("report access does not print the unreadable count:\n%s", text)
	}
}
