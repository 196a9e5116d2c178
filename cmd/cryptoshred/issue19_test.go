package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

// firstLine returns the first line of s.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// expectStderr checks the exit code and that the first line of stderr
// contains want.
func expectStderr(t *testing.T, r result, want string) {
	t.Helper()
	if !strings.Contains(firstLine(r.stderr), want) {
		t.Fatalf("first line of stderr %q lacks %q\nstderr: %s", firstLine(r.stderr), want, r.stderr)
	}
}

// TestExtraArgumentsAreRefused: no command silently ignores a positional
// argument it does not handle.
func TestExtraArgumentsAreRefused(t *testing.T) {
	env := newTestEnv(t)
	tok := env.roles.admin
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"backup", "show", "bk-a", "bk-b"}, `backup show: unexpected argument "bk-b"`},
		{[]string{"backup", "list", "foo"}, `backup list: unexpected argument "foo"`},
		{[]string{"case", "list", "foo"}, `case list: unexpected argument "foo"`},
		{[]string{"case", "show", "A", "B"}, `case show: unexpected argument "B"`},
		{[]string{"case", "show", "--case", "A", "B"}, `case show: unexpected argument "B": the case is already given with --case`},
		{[]string{"case", "show"}, `case show: missing CASE (the first argument, or --case)`},
		{[]string{"backup", "dispose-original", "bk-a", "bk-b", "--method", "not-ours", "--note", "n"}, `unexpected argument "bk-b"`},
		{[]string{"backup", "open", "bk-a", "bk-b", "--purpose", "p", "-o", "x"}, `unexpected argument "bk-b"`},
		{[]string{"attest", "show", "a.json", "b.json"}, `unexpected argument "b.json"`},
		{[]string{"ledger", "verify", "x"}, `ledger verify: unexpected argument "x"`},
		{[]string{"attest", "keygen", "x"}, `unexpected argument "x"`},
		{[]string{"report", "access", "x"}, `unexpected argument "x"`},
		{[]string{"completion", "bash", "fish"}, `unexpected argument "fish"`},
		{[]string{"backup", "list", "--sytem", "casework"}, `unknown flag --sytem (did you mean "--system"?)`},
		{[]string{"backup", "protect", "f.tar", "-o", "dir"}, `unknown flag -o (this command writes into a directory or bucket: use --out)`},
		{[]string{"hold", "place", "--case", "bad/case", "bk-a"}, `invalid case`},
		{[]string{"case", "show", "bad/case"}, `invalid case`},
		{[]string{"shred", "plan", "--case", "bad/case"}, `invalid case`},
	} {
		r := expectCode(t, exitUsage, env.srv, tok, c.args...)
		expectStderr(t, r, c.want)
	}
}

// TestCaseFlagWorksOnCaseCommands: the case commands take the case as
// their first argument or, like every other command, with --case.
func TestCaseFlagWorksOnCaseCommands(t *testing.T) {
	env := newTestEnv(t)
	mustRun(t, env.srv, env.roles.compliance, "case", "open", "--case", "DPA-F", "--authority", "A", "--reference", "R",
		"--controller", "Example Ministry")
	mustRun(t, env.srv, env.roles.compliance, "case", "controller", "add", "--case", "DPA-F", "Example Agency")
	byFlag := mustRun(t, env.srv, env.roles.compliance, "case", "show", "--case", "DPA-F")
	byArg := mustRun(t, env.srv, env.roles.compliance, "case", "show", "DPA-F")
	if byFlag.stdout != byArg.stdout || !strings.Contains(byArg.stdout, "Example Ministry; Example Agency") {
		t.Fatalf("case show --case:\n%s\ncase show:\n%s", byFlag.stdout, byArg.stdout)
	}
	r := expectCode(t, exitUsage, env.srv, env.roles.compliance, "case", "controller", "add", "--case", "DPA-F")
	expectStderr(t, r, "case controller add: missing NAME")
}

// TestAttestVerifyChecksEveryFile: `attest verify good bad` fails
// because of bad, after reporting both.
func TestAttestVerifyChecksEveryFile(t *testing.T) {
	env := newTestEnv(t)
	closedCaseCLI(t, env, "DPA-V", []byte("casework"))
	priv, pub := signingKey(t, env)
	att := env.dir + "/good.dsse.json"
	mustRun(t, env.srv, env.roles.admin, "shred", "run", "--case", "DPA-V", "--yes", "--sign-key", priv,
		"--vault-snapshot-retention", "720h", "-o", att)
	bad := tamperPayload(t, att)
	r := expectCode(t, exitVerifyKO, env.srv, "", "attest", "verify", att, bad, "--key", pub)
	expectStderr(t, r, "1 of 2 attestation(s) failed")
	if !strings.Contains(r.stdout, "VERIFIED") || !strings.Contains(r.stdout, "FAIL  signature") {
		t.Fatalf("stdout: %s", r.stdout)
	}
	mustRun(t, env.srv, "", "attest", "verify", att, att, "--key", pub)
}

// TestListTyposAreNotEmptyResults: an unknown --case is refused, and a
// --system that matches nothing says so with the systems there are.
func TestListTyposAreNotEmptyResults(t *testing.T) {
	env := newTestEnv(t)
	protectFile(t, env, "a.tar", []byte("a"), "--system", "casework")
	r := expectCode(t, exitRefused, env.srv, env.roles.auditor, "backup", "list", "--case", "DPA-2021-021")
	expectStderr(t, r, "case DPA-2021-021 does not exist")
	r = expectCode(t, exitOK, env.srv, env.roles.auditor, "backup", "list", "--system", "casewrok")
	expectStderr(t, r, `note: no backup in the catalog has system "casewrok" (did you mean "casework"?); systems: casework`)
}

// TestUnverifiedCertificateIsUnmistakable: without --key the text and the
// HTML certificate open with an UNVERIFIED banner, and stderr says so.
func TestUnverifiedCertificateIsUnmistakable(t *testing.T) {
	env := newTestEnv(t)
	closedCaseCLI(t, env, "DPA-U", []byte("casework"))
	priv, pub := signingKey(t, env)
	att := env.dir + "/u.dsse.json"
	mustRun(t, env.srv, env.roles.admin, "shred", "run", "--case", "DPA-U", "--yes", "--sign-key", priv,
		"--vault-snapshot-retention", "720h", "-o", att)
	r := expectCode(t, exitOK, env.srv, "", "attest", "show", att)
	expectStderr(t, r, "warning: UNVERIFIED certificate")
	if !strings.Contains(firstLine(r.stdout), "UNVERIFIED") {
		t.Fatalf("text certificate does not open with the banner:\n%s\n%s", r.stdout, r.stderr)
	}
	html := expectCode(t, exitOK, env.srv, "", "attest", "show", att, "--format", "html")
	body := html.stdout[strings.Index(html.stdout, "<body>"):]
	if !strings.Contains(html.stdout, "<title>UNVERIFIED") || !strings.HasPrefix(strings.TrimPrefix(body, "<body>\n"), `<div class="unverified"`) {
		t.Fatalf("html certificate lacks the banner at the top:\n%.600s", body)
	}
	ok := mustRun(t, env.srv, "", "attest", "show", att, "--key", pub)
	if strings.Contains(ok.stdout, "UNVERIFIED") || ok.stderr != "" {
		t.Fatalf("verified certificate carries the banner: %s %s", ok.stdout, ok.stderr)
	}
}

// TestDuplicateProtectIsRefusedAndNamedInPlan: the same content protected
// twice is refused unless --allow-duplicate, and a shred plan names the
// live backup that would keep the data readable.
func TestDuplicateProtectIsRefusedAndNamedInPlan(t *testing.T) {
	env := newTestEnv(t)
	data := []byte("casework 2019-11-30")
	b := closedCaseCLI(t, env, "DPA-D", data)
	r := expectCode(t, exitRefused, env.srv, env.roles.admin, "backup", "protect", b.Original.Path, "--out", env.dir+"/again")
	expectStderr(t, r, "has the same content (sha256 "+b.Plaintext.SHA256+") as backup "+b.ID+" (released)")
	copyPath := env.dir + "/copy-of-casework.tar"
	if err := os.WriteFile(copyPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	expectCode(t, exitRefused, env.srv, env.roles.admin, "backup", "protect", copyPath, "--out", env.dir)
	dup := mustRun(t, env.srv, env.roles.admin, "--format", "json", "backup", "protect", copyPath, "--out", env.dir, "--allow-duplicate")
	var out []*catalog.Backup
	if err := json.Unmarshal([]byte(dup.stdout), &out); err != nil || len(out) != 1 {
		t.Fatalf("protect --allow-duplicate: %s %v", dup.stdout, err)
	}
	plan := mustRun(t, env.srv, env.roles.admin, "shred", "plan", "--case", "DPA-D")
	if !strings.Contains(plan.stdout, "backup "+out[0].ID+" (protected, system -) holds the same plaintext") {
		t.Fatalf("plan does not name the duplicate:\n%s", plan.stdout)
	}
	priv, pub := signingKey(t, env)
	att := env.dir + "/d.dsse.json"
	mustRun(t, env.srv, env.roles.admin, "backup", "dispose-original", b.ID, "--method", "not-ours", "--note", "n")
	mustRun(t, env.srv, env.roles.admin, "shred", "run", "--case", "DPA-D", "--yes", "--sign-key", priv, "--vault-snapshot-retention", "1d", "-o", att)
	v := mustRun(t, env.srv, "", "attest", "verify", att, "--key", pub)
	if !strings.Contains(v.stdout, "holds the same plaintext as "+out[0].ID+", not destroyed: the data stays readable there") {
		t.Fatalf("verify does not name the duplicate:\n%s", v.stdout)
	}
	if cert := mustRun(t, env.srv, "", "attest", "show", att, "--key", pub); !strings.Contains(cert.stdout, "Same data still in !! "+out[0].ID) {
		t.Fatalf("certificate does not name the duplicate:\n%s", cert.stdout)
	}
}

// TestHoldReleaseBeforeCloseAndHoldList: a hold placed by mistake is
// released with a reason by the compliance role only; the key stays
// latched, the backup is protected again and can be held again.
func TestHoldReleaseBeforeCloseAndHoldList(t *testing.T) {
	env := newTestEnv(t)
	b := protectFile(t, env, "wrong.tar", []byte("wrong system"), "--system", "hr")
	c := env.roles.compliance
	mustRun(t, env.srv, c, "case", "open", "DPA-H", "--authority", "A", "--reference", "R", "--controller", "Example Ministry")
	mustRun(t, env.srv, c, "hold", "place", "--case", "DPA-H", b.ID)
	list := mustRun(t, env.srv, env.roles.auditor, "hold", "list")
	if !strings.Contains(list.stdout, "DPA-H") || !strings.Contains(list.stdout, "active") {
		t.Fatalf("hold list: %s", list.stdout)
	}
	r := expectCode(t, exitUsage, env.srv, c, "hold", "release", "--case", "DPA-H", b.ID)
	expectStderr(t, r, "hold release needs --case, --reason and the backup IDs")
	r = expectCode(t, exitRefused, env.srv, env.roles.admin, "hold", "release", "--case", "DPA-H", b.ID, "--reason", "mistake")
	expectStderr(t, r, "cryptoshred: ")
	r = expectCode(t, exitRefused, env.srv, c, "hold", "release", "--case", "DPA-H", "bk-01nosuchbackup0000000000", "--reason", "mistake")
	expectStderr(t, r, "case DPA-H does not hold backup bk-01nosuchbackup0000000000")
	rel := mustRun(t, env.srv, c, "hold", "release", "--case", "DPA-H", b.ID, "--reason", "held by mistake: wrong system")
	if !strings.Contains(rel.stdout, "released case DPA-H's hold on "+b.ID) {
		t.Fatalf("release: %s", rel.stdout)
	}
	show := mustRun(t, env.srv, env.roles.auditor, "backup", "show", b.ID)
	if !strings.Contains(show.stdout, "protected") || !strings.Contains(show.stdout, "deletion not allowed") {
		t.Fatalf("after release: %s", show.stdout)
	}
	list = mustRun(t, env.srv, env.roles.auditor, "hold", "list", "--case", "DPA-H")
	if !strings.Contains(list.stdout, "released") || !strings.Contains(list.stdout, "held by mistake: wrong system") {
		t.Fatalf("hold list after release: %s", list.stdout)
	}
	expectStderr(t, expectCode(t, exitRefused, env.srv, env.roles.auditor, "hold", "list", "--case", "NOPE"), "case NOPE does not exist")
	ledger := mustRun(t, env.srv, env.roles.auditor, "ledger", "show")
	if !strings.Contains(ledger.stdout, `reason="held by mistake: wrong system"`) {
		t.Fatalf("ledger: %s", ledger.stdout)
	}
	mustRun(t, env.srv, c, "hold", "place", "--case", "DPA-H", b.ID)
	list = mustRun(t, env.srv, env.roles.auditor, "hold", "list", "--case", "DPA-H")
	if !strings.Contains(list.stdout, "active") {
		t.Fatalf("hold list after holding again: %s", list.stdout)
	}
	// Released early again, it stays latched when the case closes.
	mustRun(t, env.srv, c, "hold", "release", "--case", "DPA-H", b.ID, "--reason", "mistake again")
	closed := mustRun(t, env.srv, c, "case", "close", "DPA-H", "--decision-ref", "d", "--decision-file", decisionFile(t, env), "--yes")
	if !strings.Contains(closed.stdout, "0 backup(s) released") {
		t.Fatalf("close: %s", closed.stdout)
	}
	if show := mustRun(t, env.srv, env.roles.auditor, "backup", "show", b.ID); !strings.Contains(show.stdout, "deletion not allowed") {
		t.Fatalf("after close: %s", show.stdout)
	}
}

// TestShredCancelReturnsToReleased: after shred cancel a plain plan
// destroys the backups, and once an operator closes the latch they can be
// held again.
func TestShredCancelReturnsToReleased(t *testing.T) {
	env := newTestEnv(t)
	b := closedCaseCLI(t, env, "DPA-C", []byte("cancel me"))
	a := env.roles.admin
	mustRun(t, env.srv, a, "shred", "run", "--case", "DPA-C", "--grace", "1h", "--yes")
	plan := mustRun(t, env.srv, a, "shred", "plan", "--case", "DPA-C")
	if !strings.Contains(plan.stdout, "grace period runs until") {
		t.Fatalf("plan during grace: %s", plan.stdout)
	}
	r := mustRun(t, env.srv, a, "shred", "cancel", "--case", "DPA-C")
	if !strings.Contains(r.stdout, "they are released again") {
		t.Fatalf("cancel: %s", r.stdout)
	}
	plan = mustRun(t, env.srv, a, "shred", "plan", "--case", "DPA-C")
	if !strings.Contains(plan.stdout, "1 to destroy") {
		t.Fatalf("plan after cancel: %s", plan.stdout)
	}
	c := env.roles.compliance
	mustRun(t, env.srv, c, "case", "open", "DPA-C2", "--authority", "A", "--reference", "R", "--controller", "Example Ministry")
	r = expectCode(t, exitRefused, env.srv, c, "hold", "place", "--case", "DPA-C2", b.ID)
	expectStderr(t, r, "deletion latch is open and only a Vault operator can close it")
	if _, err := env.srv.Root(t).Logical().Write("cryptoshred-transit/keys/"+b.Key+"/config", map[string]any{"deletion_allowed": false}); err != nil {
		t.Fatal(err)
	}
	mustRun(t, env.srv, c, "hold", "place", "--case", "DPA-C2", b.ID)
	plan = mustRun(t, env.srv, a, "shred", "plan", "--case", "DPA-C")
	if !strings.Contains(plan.stdout, "still held by case(s) DPA-C2") {
		t.Fatalf("plan after holding again: %s", plan.stdout)
	}
}

// TestCaseOpenNeedsControllerAndCloseConfirms: case open requires a
// controller; case close without --yes and without a terminal is a usage
// error, --dry-run shows what it would release and changes nothing.
func TestCaseOpenNeedsControllerAndCloseConfirms(t *testing.T) {
	env := newTestEnv(t)
	c := env.roles.compliance
	r := expectCode(t, exitUsage, env.srv, c, "case", "open", "DPA-N", "--authority", "A", "--reference", "R")
	expectStderr(t, r, "case open needs --authority, --reference and at least one --controller")
	r = expectCode(t, exitUsage, env.srv, c, "case", "open", "bad/id", "--authority", "A", "--reference", "R", "--controller", "M")
	expectStderr(t, r, "invalid case")
	b := protectFile(t, env, "n.tar", []byte("n"))
	mustRun(t, env.srv, c, "case", "open", "DPA-N", "--authority", "A", "--reference", "R", "--controller", "Example Ministry")
	mustRun(t, env.srv, c, "hold", "place", "--case", "DPA-N", b.ID)
	doc := decisionFile(t, env)
	r = expectCode(t, exitUsage, env.srv, c, "case", "close", "DPA-N", "--decision-ref", "d", "--decision-file", doc)
	expectStderr(t, r, "case close releases keys for destruction and cannot be undone: pass --yes")
	dry := mustRun(t, env.srv, c, "case", "close", "DPA-N", "--decision-ref", "d", "--decision-file", doc, "--dry-run")
	if !strings.Contains(dry.stdout, "would release "+b.ID) || !strings.Contains(dry.stdout, "closing would release 1 backup(s)") {
		t.Fatalf("dry run: %s", dry.stdout)
	}
	if show := mustRun(t, env.srv, c, "case", "show", "DPA-N"); !strings.Contains(show.stdout, "open") ||
		!strings.Contains(show.stdout, "Example Ministry") {
		t.Fatalf("case after dry run: %s", show.stdout)
	}
	mustRun(t, env.srv, c, "case", "controller", "add", "DPA-N", "Example Agency")
	r = expectCode(t, exitRefused, env.srv, c, "case", "controller", "add", "DPA-N", "Example Agency")
	expectStderr(t, r, "case DPA-N already names Example Agency")
	mustRun(t, env.srv, c, "case", "close", "DPA-N", "--decision-ref", "d", "--decision-file", doc, "--yes")
}

// TestAttestGetAndList: an attestation stored in Vault can be listed and
// fetched again, byte for byte.
func TestAttestGetAndList(t *testing.T) {
	env := newTestEnv(t)
	closedCaseCLI(t, env, "DPA-G", []byte("get me"))
	priv, pub := signingKey(t, env)
	att := env.dir + "/g.dsse.json"
	mustRun(t, env.srv, env.roles.admin, "shred", "run", "--case", "DPA-G", "--yes", "--sign-key", priv,
		"--vault-snapshot-retention", "720h", "-o", att)
	list := mustRun(t, env.srv, env.roles.auditor, "--format", "json", "attest", "list", "--case", "DPA-G")
	var infos []struct{ ID, Case string }
	if err := json.Unmarshal([]byte(list.stdout), &infos); err != nil || len(infos) != 1 || infos[0].Case != "DPA-G" {
		t.Fatalf("attest list: %s %v", list.stdout, err)
	}
	got := mustRun(t, env.srv, env.roles.auditor, "attest", "get", infos[0].ID)
	if want, _ := os.ReadFile(att); got.stdout != string(want) {
		t.Fatal("attest get differs from the issued envelope")
	}
	again := env.dir + "/again.dsse.json"
	mustRun(t, env.srv, env.roles.compliance, "attest", "get", infos[0].ID, "-o", again)
	mustRun(t, env.srv, "", "attest", "verify", again, "--key", pub)
	r := expectCode(t, exitRefused, env.srv, env.roles.auditor, "attest", "get", "att-01nosuchattestation00000")
	expectStderr(t, r, "no attestation att-01nosuchattestation00000 is stored in Vault")
	if all := mustRun(t, env.srv, env.roles.admin, "attest", "list"); !strings.Contains(all.stdout, infos[0].ID) {
		t.Fatalf("attest list (admin): %s", all.stdout)
	}
}

// runAt runs the CLI in-process against addr with token.
func runAt(t *testing.T, addr, token string, args ...string) result {
	t.Helper()
	t.Setenv("VAULT_ADDR", addr)
	t.Setenv("VAULT_TOKEN", token)
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"cryptoshred"}, args...), strings.NewReader(""), &out, &errb)
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// TestNothingListensFailsFast: a refused connection is reported at once,
// naming the address, instead of after seconds of retries.
func TestNothingListensFailsFast(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + l.Addr().String()
	l.Close()
	start := time.Now()
	r := runAt(t, addr, "some-token", "backup", "list")
	took := time.Since(start)
	t.Logf("connection refused reported after %v", took)
	if r.code != exitError {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	expectStderr(t, r, "nothing answers at "+addr+" (connection refused)")
	if took > 2*time.Second {
		t.Fatalf("took %v to report a refused connection", took)
	}
}

// TestUnknownCAPointsToVaultCACert: a server certificate from an unknown
// CA names VAULT_CACERT.
func TestUnknownCAPointsToVaultCACert(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	t.Setenv("VAULT_CACERT", "")
	r := runAt(t, srv.URL, "some-token", "backup", "list")
	if r.code != exitError {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	expectStderr(t, r, "is signed by an unknown authority: set VAULT_CACERT")
}

// TestOpenToStdout: -o - streams the plaintext to stdout, and the ledger
// records where each open's plaintext went.
func TestOpenToStdout(t *testing.T) {
	env := newTestEnv(t)
	data := bytes.Repeat([]byte("casework;Jane Doe\n"), 50000)
	b := protectFile(t, env, "s.tar", data)
	r := mustRun(t, env.srv, env.roles.admin, "backup", "open", b.ID, "--purpose", "restore test", "-o", "-")
	if r.stdout != string(data) {
		t.Fatalf("stdout has %d bytes, want %d", len(r.stdout), len(data))
	}
	expectStderr(t, r, "opened "+b.ID+" into stdout (access recorded in the ledger)")
	if _, err := os.Stat("-"); err == nil {
		t.Fatal("a file named - was created")
	}
	out := env.dir + "/restored.tar"
	mustRun(t, env.srv, env.roles.admin, "backup", "open", b.ID, "--purpose", "inspection", "-o", out)
	ledger := mustRun(t, env.srv, env.roles.auditor, "ledger", "show")
	if !strings.Contains(ledger.stdout, `output="stdout"`) || !strings.Contains(ledger.stdout, `output="`+out+`"`) {
		t.Fatalf("ledger does not record where the plaintext went:\n%s", ledger.stdout)
	}
	r = expectCode(t, exitError, env.srv, env.roles.admin, "backup", "open", b.ID, "--purpose", "p", "-o", env.dir+"/no/such/dir/f")
	if strings.Contains(r.stderr, ".tmp") {
		t.Fatalf("error names a temporary file: %s", r.stderr)
	}
	t.Logf("missing directory: %s", firstLine(r.stderr))
}

// TestUnattendedRunPrintsWarningsAndTakesDays: shred run --yes puts the
// plan's warnings on stderr; durations take days; the retention's help
// shows no misleading default.
func TestUnattendedRunPrintsWarningsAndTakesDays(t *testing.T) {
	env := newTestEnv(t)
	b := closedCaseCLI(t, env, "DPA-W", []byte("warn me"))
	priv, pub := signingKey(t, env)
	att := env.dir + "/w.dsse.json"
	r := expectCode(t, exitUsage, env.srv, env.roles.admin, "shred", "run", "--case", "DPA-W", "--yes", "--sign-key", priv,
		"--vault-snapshot-retention", "30 days")
	expectStderr(t, r, `--vault-snapshot-retention "30 days": want a duration such as 30d, 2w, 720h or 90m`)
	r = mustRun(t, env.srv, env.roles.admin, "shred", "run", "--case", "DPA-W", "--yes", "--sign-key", priv,
		"--vault-snapshot-retention", "30d", "-o", att)
	expectStderr(t, r, "warning: "+b.ID+": the plaintext original")
	js := mustRun(t, env.srv, "", "attest", "show", att, "--key", pub, "--format", "json")
	var st struct {
		Predicate struct {
			Backups []struct {
				DestroyedAt, ResidualCopiesUntil time.Time
			}
		}
	}
	if err := json.Unmarshal([]byte(js.stdout), &st); err != nil || len(st.Predicate.Backups) != 1 {
		t.Fatalf("statement: %v\n%s", err, js.stdout)
	}
	if d := st.Predicate.Backups[0].ResidualCopiesUntil.Sub(st.Predicate.Backups[0].DestroyedAt); d != 30*24*time.Hour {
		t.Fatalf("residual copies for %v, want 30 days", d)
	}
	help := mustRun(t, env.srv, "", "shred", "run", "--help")
	if strings.Contains(help.stdout, "(default: 0s)") || !strings.Contains(help.stdout, "(required without --grace)") {
		t.Fatalf("help:\n%s", help.stdout)
	}
}

// TestKeygenEncryptsAndPrintsFingerprint: keygen encrypts unless
// --no-password, and prints the fingerprint verify shows.
func TestKeygenEncryptsAndPrintsFingerprint(t *testing.T) {
	env := newTestEnv(t)
	if !isTerminal(os.Stdin) {
		t.Setenv(passwordEnv, "")
		r := expectCode(t, exitUsage, env.srv, "", "attest", "keygen", "-o", env.dir+"/nopw.key")
		expectStderr(t, r, "attest keygen encrypts the private key: set "+passwordEnv+", run it on a terminal to be asked, or pass --no-password")
	}
	r := mustRun(t, env.srv, "", "attest", "keygen", "-o", env.dir+"/plain.key", "--no-password")
	expectStderr(t, r, "warning: "+env.dir+"/plain.key is not encrypted (--no-password)")
	t.Setenv(passwordEnv, "correct horse")
	r = mustRun(t, env.srv, "", "attest", "keygen", "-o", env.dir+"/enc.key")
	if !strings.Contains(r.stdout, "encrypted: true") || r.stderr != "" {
		t.Fatalf("keygen: %s %s", r.stdout, r.stderr)
	}
	_, fp, ok := strings.Cut(r.stdout, "fingerprint ")
	if !ok || !strings.HasPrefix(fp, "SHA256:") {
		t.Fatalf("no fingerprint: %s", r.stdout)
	}
	closedCaseCLI(t, env, "DPA-K", []byte("keygen"))
	att := env.dir + "/k.dsse.json"
	mustRun(t, env.srv, env.roles.admin, "shred", "run", "--case", "DPA-K", "--yes", "--sign-key", env.dir+"/enc.key",
		"--vault-snapshot-retention", "1d", "-o", att)
	v := mustRun(t, env.srv, "", "attest", "verify", att, "--key", env.dir+"/enc.pub")
	if !strings.Contains(v.stdout, "signed by key "+strings.TrimSpace(fp)) {
		t.Fatalf("verify names another fingerprint than keygen printed (%s):\n%s", fp, v.stdout)
	}
	js := mustRun(t, env.srv, "", "--format", "json", "attest", "keygen", "-o", env.dir+"/js.key")
	if !strings.Contains(js.stdout, `"fingerprint": "SHA256:`) {
		t.Fatalf("keygen --format json: %s", js.stdout)
	}
	show := mustRun(t, env.srv, "", "--format", "json", "attest", "show", att, "--key", env.dir+"/enc.pub")
	if !strings.HasPrefix(show.stdout, "{") {
		t.Fatalf("attest show ignores the global --format json: %.200s", show.stdout)
	}
}

// TestMessagesSayOneThingOnce: each refusal names its one cause once.
func TestMessagesSayOneThingOnce(t *testing.T) {
	env := newTestEnv(t)
	missing := env.dir + "/missing.tar"
	r := expectCode(t, exitError, env.srv, env.roles.admin, "backup", "protect", missing, "--out", env.dir)
	if strings.Count(r.stderr, missing) != 1 {
		t.Fatalf("missing file named %d times: %s", strings.Count(r.stderr, missing), r.stderr)
	}
	expectStderr(t, r, "cannot read "+missing+": no such file or directory")
	b := protectFile(t, env, "d.tar", []byte("d"))
	r = expectCode(t, exitUsage, env.srv, env.roles.admin, "backup", "dispose-original", b.ID, "--method", "shredded", "--note", "n")
	expectStderr(t, r, `--method "shredded": want one of deleted, media-sanitized, not-ours`)
	r = expectCode(t, exitUsage, env.srv, env.roles.admin, "backup", "dispose-original", b.ID, "--method", "deleted")
	expectStderr(t, r, "--note is required")
	mustRun(t, env.srv, env.roles.compliance, "case", "open", "X", "--authority", "A", "--reference", "R", "--controller", "C")
	r = expectCode(t, exitRefused, env.srv, env.roles.admin, "hold", "place", "--case", "X", b.ID)
	expectStderr(t, r, `this needs a token with the cryptoshred-compliance policy as this version's `+"`cryptoshred init`"+` writes it: the Vault token lacks the "create" capability on cryptoshred/data/holds/*`)
	if strings.Contains(r.stderr, "preflight") {
		t.Fatalf("message names an internal path: %s", r.stderr)
	}
}

// TestEveryCommandHelpHasExamples walks the command tree: each command's
// help has an EXAMPLES section.
func TestEveryCommandHelpHasExamples(t *testing.T) {
	var walk func(prefix []string, cmds []*cli.Command)
	walk = func(prefix []string, cmds []*cli.Command) {
		for _, c := range cmds {
			path := append(append([]string{}, prefix...), c.Name)
			if len(c.Subcommands) > 0 {
				walk(path, c.Subcommands)
				continue
			}
			var out bytes.Buffer
			code := run(context.Background(), append(append([]string{"cryptoshred"}, path...), "--help"), strings.NewReader(""), &out, &out)
			if code != exitOK || !strings.Contains(out.String(), "EXAMPLES:") || !strings.Contains(out.String(), "cryptoshred "+strings.Join(path, " ")) {
				t.Errorf("%s --help (exit %d) has no examples of itself:\n%s", strings.Join(path, " "), code, out.String())
			}
		}
	}
	walk(nil, newApp(nil, nil, nil).Commands)
}

// TestProgressBarsOnlyOnATerminal: protect and open of a large file draw
// a byte-count bar on a terminal stderr, and nothing on a pipe.
func TestProgressBarsOnlyOnATerminal(t *testing.T) {
	env := newTestEnv(t)
	src := env.dir + "/big.tar"
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(80 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	slave, drawn := terminalRecorder(t)
	t.Setenv("VAULT_ADDR", env.srv.Addr)
	t.Setenv("VAULT_TOKEN", env.roles.admin)
	var out bytes.Buffer
	if code := run(context.Background(), []string{"cryptoshred", "--format", "json", "backup", "protect", src, "--out", env.dir},
		strings.NewReader(""), &out, slave); code != 0 {
		t.Fatalf("protect: exit %d", code)
	}
	var bs []*catalog.Backup
	if err := json.Unmarshal(out.Bytes(), &bs); err != nil || len(bs) != 1 {
		t.Fatalf("protect: %s %v", out.String(), err)
	}
	if code := run(context.Background(), []string{"cryptoshred", "backup", "open", bs[0].ID, "--purpose", "restore test", "-o", env.dir + "/restored"},
		strings.NewReader(""), &out, slave); code != 0 {
		t.Fatalf("open: exit %d", code)
	}
	shown := drawn("protecting "+src, "opening "+bs[0].ID)
	if !strings.Contains(shown, "protecting "+src) || !strings.Contains(shown, "opening "+bs[0].ID) || !strings.Contains(shown, "MB") {
		t.Fatalf("terminal shows no bars:\n%q", shown)
	}
	r := mustRun(t, env.srv, env.roles.admin, "backup", "open", bs[0].ID, "--purpose", "p", "-o", env.dir+"/restored2")
	if strings.Contains(r.stderr, "opening") {
		t.Fatalf("progress drawn on a pipe: %q", r.stderr)
	}
}

// TestBulkCommandsDrawProgressOnATerminal: hold place, hold release, case
// close and shred plan, which take minutes for a case of 100,000 backups,
// draw a bar of backups done on a terminal stderr, and nothing on a pipe.
func TestBulkCommandsDrawProgressOnATerminal(t *testing.T) {
	env := newTestEnv(t)
	var ids []string
	for i := range 3 {
		ids = append(ids, protectFile(t, env, fmt.Sprintf("bulk-%d.tar", i), []byte(fmt.Sprintf("casework %d", i))).ID)
	}
	mustRun(t, env.srv, env.roles.compliance, "case", "open", "BULK", "--authority", "Example DPA", "--reference", "J.nr. 7", "--controller", "Example Ministry")
	if r := mustRun(t, env.srv, env.roles.compliance, "hold", "place", "--case", "BULK", ids[0]); strings.Contains(r.stderr, "placing holds") {
		t.Fatalf("progress drawn on a pipe: %q", r.stderr)
	}
	decision := writeTestFile(t, env.dir, "decision.pdf", "the authority's decision")
	slave, drawn := terminalRecorder(t)
	t.Setenv("VAULT_ADDR", env.srv.Addr)
	t.Setenv("VAULT_TOKEN", env.roles.compliance)
	for _, args := range [][]string{
		append([]string{"hold", "place", "--case", "BULK"}, ids[1:]...),
		{"hold", "release", "--case", "BULK", "--reason", "not relevant", ids[2]},
		{"case", "close", "BULK", "--decision-ref", "J.nr. 7-final", "--decision-file", decision, "--yes"},
		{"shred", "plan", "--case", "BULK"},
	} {
		if args[0] == "shred" {
			t.Setenv("VAULT_TOKEN", env.roles.admin)
		}
		var out bytes.Buffer
		if code := run(context.Background(), append([]string{"cryptoshred"}, args...), strings.NewReader(""), &out, slave); code != 0 {
			t.Fatalf("%s: exit %d\n%s", strings.Join(args, " "), code, out.String())
		}
	}
	want := []string{"placing holds", "2/2", "releasing holds", "1/1", "closing case BULK", "planning", "3/3"}
	if shown := drawn(want...); !containsAll(shown, want) {
		t.Fatalf("terminal shows no bars of backups done:\n%q", shown)
	}
}

// TestRestoredCopiesAreWarnedUntilDisposed: each open's output is in the
// attestation, which warns about every copy whose disposal is not
// recorded with dispose-restore.
func TestRestoredCopiesAreWarnedUntilDisposed(t *testing.T) {
	env := newTestEnv(t)
	b := closedCaseCLI(t, env, "DPA-R", []byte("restore me"))
	a := env.roles.admin
	copyPath := env.dir + "/inspection-copy.tar"
	mustRun(t, env.srv, a, "backup", "open", b.ID, "--purpose", "DPA inspection", "-o", copyPath)
	mustRun(t, env.srv, a, "backup", "open", b.ID, "--purpose", "restore test", "-o", "-")
	r := expectCode(t, exitRefused, env.srv, a, "backup", "dispose-restore", b.ID, "--output", env.dir+"/other.tar", "--note", "n")
	expectStderr(t, r, "no restored copy of "+b.ID+" at "+env.dir+"/other.tar awaits disposal (copies not yet disposed of: "+copyPath+", stdout)")
	r = expectCode(t, exitUsage, env.srv, a, "backup", "dispose-restore", b.ID, "--note", "n")
	expectStderr(t, r, "dispose-restore needs --output PATH (- for stdout) or --all, not both")
	d := mustRun(t, env.srv, a, "backup", "dispose-restore", b.ID, "--output", copyPath, "--note", "deleted after the inspection")
	if !strings.Contains(d.stdout, "recorded the restored copy of "+b.ID+" at "+copyPath+" as disposed of") {
		t.Fatalf("dispose-restore: %s", d.stdout)
	}
	mustRun(t, env.srv, a, "backup", "dispose-original", b.ID, "--method", "not-ours", "--note", "the supplier's copy")
	priv, pub := signingKey(t, env)
	att := env.dir + "/r.dsse.json"
	mustRun(t, env.srv, a, "shred", "run", "--case", "DPA-R", "--yes", "--sign-key", priv, "--vault-snapshot-retention", "30d", "-o", att)
	v := mustRun(t, env.srv, "", "attest", "verify", att, "--key", pub)
	if !strings.Contains(v.stdout, "WARN  backup "+b.ID+" (") || !strings.Contains(v.stdout, "was restored to stdout and the disposal of that copy is not recorded") ||
		strings.Contains(v.stdout, copyPath+" and the disposal") {
		t.Fatalf("verify warnings:\n%s", v.stdout)
	}
	cert := mustRun(t, env.srv, "", "attest", "show", att, "--key", pub)
	if !strings.Contains(cert.stdout, "Restored copy      "+copyPath) || !strings.Contains(cert.stdout, "disposed of") ||
		!strings.Contains(cert.stdout, "Restored copy      !! stdout") {
		t.Fatalf("certificate:\n%s", cert.stdout)
	}
}
