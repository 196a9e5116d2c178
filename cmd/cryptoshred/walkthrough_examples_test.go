package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/cryptoshred/cryptoshred/internal/testtools"
)

// walkthroughStory is the order in which the three walkthroughs of
// examples/ tell one story: the sections (by heading prefix), and for a
// section told in two places, which of its sh blocks run (from, to; -1 for
// the end).
var walkthroughStory = []storyStep{
	{"walkthrough-backup-admin.md", "## Before you start", 0, -1},
	{"walkthrough-backup-admin.md", "## 1.", 0, -1},
	{"walkthrough-backup-admin.md", "## 2.", 0, -1},
	{"walkthrough-compliance-officer.md", "# Walkthrough", 0, 0},
	{"walkthrough-compliance-officer.md", "## 1.", 0, -1},
	{"walkthrough-compliance-officer.md", "## 2.", 0, -1},
	{"walkthrough-backup-admin.md", "## 3.", 0, -1},
	{"walkthrough-backup-admin.md", "## 4.", 0, -1},
	{"walkthrough-compliance-officer.md", "## 3.", 0, -1},
	{"walkthrough-compliance-officer.md", "## 4.", 0, -1},
	{"walkthrough-auditor.md", "## 0.", 0, -1},
	{"walkthrough-backup-admin.md", "## 5.", 0, -1},
	{"walkthrough-backup-admin.md", "## 6.", 0, -1},
	{"walkthrough-compliance-officer.md", "## 5.", 0, 0},
	{"walkthrough-backup-admin.md", "## 7.", 0, -1},
	{"walkthrough-compliance-officer.md", "## 5.", 1, -1},
	{"walkthrough-auditor.md", "## 1.", 0, -1},
	{"walkthrough-auditor.md", "## 2.", 0, -1},
	{"walkthrough-auditor.md", "## 3.", 0, -1},
	{"walkthrough-auditor.md", "## 4.", 0, -1},
	{"walkthrough-auditor.md", "## 5.", 0, -1},
}

type storyStep struct {
	file, section string
	from, to      int
}

// walkthroughRoles is the Vault token each walkthrough's reader holds.
var walkthroughRoles = map[string]string{"walkthrough-backup-admin.md": "admin",
	"walkthrough-compliance-officer.md": "compliance", "walkthrough-auditor.md": "auditor"}

// TestExamplesWalkthroughsRunAsWritten runs every command of the
// examples/walkthrough-*.md files, in the order of their story, through
// bash against a real Vault, so the walkthroughs cannot drift from the CLI.
// What a reader brings is given: the synthetic data of
// demo/sample-data.sh in staging/, the decision letters and evidence the
// commands name, the audit log the Vault operators hand over (a file audit
// device writing audit.log). The ids and digests the documents quote are
// those of one past run: each is replaced by the one this run printed at
// the same place of the same command's output.
func TestExamplesWalkthroughsRunAsWritten(t *testing.T) {
	env := newTestEnv(t)
	w := newWalkthrough(t, env)
	for _, step := range walkthroughStory {
		blocks := docBlocks(t, "../../examples/"+step.file, step.section)
		to := step.to
		if to < 0 {
			to = len(blocks) - 1
		}
		if step.from > to || to >= len(blocks) {
			t.Fatalf("%s %q has %d sh blocks, the story wants %d..%d", step.file, step.section, len(blocks), step.from, to)
		}
		for _, b := range blocks[step.from : to+1] {
			w.runBlock(t, step.file, b)
		}
	}
	if w.ran < 40 {
		t.Fatalf("ran only %d commands of the walkthroughs", w.ran)
	}
	if dump := os.Getenv("WALKTHROUGH_DUMP"); dump != "" {
		for doc, real := range w.ids {
			appendDump(t, dump, "# id "+doc+" "+real, "")
		}
	}
}

// walkthrough is the state a reader's shell keeps between commands.
type walkthrough struct {
	env     testEnv
	home    string // stands for /srv/casework
	cwd     string
	bin     string
	exports map[string]map[string]string // each reader's shell: file -> exports
	ids     map[string]string            // document's id or digest -> this run's
	ran     int
}

func newWalkthrough(t *testing.T, env testEnv) *walkthrough {
	home := filepath.Join(env.dir, "casework")
	for _, d := range []string{"staging", "evidence", "bin"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("bash", "../../examples/demo/sample-data.sh", filepath.Join(home, "staging")).CombinedOutput(); err != nil {
		t.Fatalf("sample-data.sh: %v\n%s", err, out)
	}
	for name, text := range map[string]string{"closing-letter-2021-0211.txt": "closing letter 2021-0211\n",
		"closing-letter-2022-0042.txt":          "closing letter 2022-0042\n",
		"evidence/tape-sanitisation-CW0412.txt": "tapes CW0412-CW0419 degaussed\n"} {
		if err := os.WriteFile(filepath.Join(home, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	err := env.srv.Root(t).Sys().EnableAuditWithOptions("file", &api.EnableAuditOptions{
		Type: "file", Options: map[string]string{"file_path": filepath.Join(home, "audit.log")}})
	if err != nil {
		t.Fatal(err)
	}
	exports := map[string]map[string]string{}
	for file := range walkthroughRoles {
		exports[file] = map[string]string{}
	}
	return &walkthrough{env: env, home: home, cwd: home, bin: walkthroughBin(t, home), exports: exports,
		ids: map[string]string{}}
}

// walkthroughBin returns a directory with the programs the walkthroughs
// call by name: cryptoshred (this test binary as the CLI) and cosign.
func walkthroughBin(t *testing.T, home string) string {
	bin := filepath.Join(home, "bin")
	script := fmt.Sprintf("#!/bin/sh\nCRYPTOSHRED_TEST_AS_CLI=1 exec %q \"$@\"\n", os.Args[0])
	if err := os.WriteFile(filepath.Join(bin, "cryptoshred"), []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	cosign := testtools.Find(t, "COSIGN_BIN", "cosign", "v3.1.2", "`make tools`")
	if err := os.Symlink(cosign, filepath.Join(bin, "cosign")); err != nil {
		t.Fatal(err)
	}
	return bin
}

// docBlock is one sh block of a document and the output block shown
// right after it, if any.
type docBlock struct {
	lines  []string
	output string
}

var fence = regexp.MustCompile("(?m)^```([a-z]*)\n")

// docBlocks returns the sh blocks of the section of file whose heading
// starts with section, up to the next heading of the same level.
func docBlocks(t *testing.T, file, section string) []docBlock {
	t.Helper()
	doc, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := sectionText(t, string(doc), section)
	var blocks []docBlock
	for {
		loc := fence.FindStringSubmatchIndex(text)
		if loc == nil {
			return blocks
		}
		lang := text[loc[2]:loc[3]]
		body, rest, _ := strings.Cut(text[loc[1]:], "```\n")
		text = rest
		if lang == "sh" {
			blocks = append(blocks, docBlock{lines: strings.Split(strings.ReplaceAll(body, "\\\n", " "), "\n")})
			continue
		}
		if lang == "" && len(blocks) > 0 && blocks[len(blocks)-1].output == "" && !strings.HasPrefix(body, "$ ") {
			blocks[len(blocks)-1].output = body
		}
	}
}

func sectionText(t *testing.T, doc, section string) string {
	t.Helper()
	i := strings.Index(doc, "\n"+section)
	if !strings.HasPrefix(doc, section) && i < 0 {
		t.Fatalf("no section %q", section)
	}
	start := max(i+1, 0)
	level := strings.Count(strings.Fields(section)[0], "#")
	text := doc[start:]
	next := regexp.MustCompile(`(?m)^#{1,`+fmt.Sprint(level)+`} `).FindAllStringIndex(text, 2)
	if len(next) == 2 {
		text = text[:next[1][0]]
	}
	return text
}

// runBlock runs each command of b, then learns this run's ids and digests
// from their output where b's output block quotes the document's.
func (w *walkthrough) runBlock(t *testing.T, file string, b docBlock) {
	t.Helper()
	var output bytes.Buffer
	for _, line := range b.lines {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if w.builtin(t, file, line) {
			continue
		}
		output.Write(w.runLine(t, file, w.substitute(t, line)))
		w.learnIDs(b.output, output.String())
	}
}

// builtin handles what changes the reader's shell itself: cd and export.
func (w *walkthrough) builtin(t *testing.T, file, line string) bool {
	words := shellWords(t, line)
	switch {
	case words[0] == "cd":
		w.cwd = w.localPath(words[1])
		return true
	case words[0] != "export":
		return false
	}
	name, value, _ := strings.Cut(words[1], "=")
	switch name {
	case "VAULT_TOKEN":
		value = map[string]string{"admin": w.env.roles.admin, "compliance": w.env.roles.compliance,
			"auditor": w.env.roles.auditor}[walkthroughRoles[file]]
	case "VAULT_ADDR":
		value = w.env.srv.Addr
	case "VAULT_CACERT":
		return true // the test server speaks plain HTTP on loopback
	}
	w.exports[file][name] = value
	return true
}

func (w *walkthrough) localPath(p string) string {
	if rest, ok := strings.CutPrefix(p, "/srv/casework"); ok {
		return w.home + rest
	}
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(w.cwd, p)
}

// runLine runs one command line through bash, with a terminal as stdin on
// which the case id it names is typed (for the confirmations), in the
// shell of file's reader, and fails the test unless it exits 0. All three
// readers work in /srv/casework, where the files they hand each other are.
func (w *walkthrough) runLine(t *testing.T, file, line string) []byte {
	t.Helper()
	master, slave := openPTY(t)
	if id := regexp.MustCompile(`DPA-\d{4}-\d{4}`).FindString(line); id != "" {
		if _, err := master.WriteString(id + "\n"); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("bash", "-o", "pipefail", "-c", line)
	cmd.Dir, cmd.Stdin = w.cwd, slave
	cmd.Env = []string{"PATH=" + w.bin + ":" + os.Getenv("PATH"), "HOME=" + w.home}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VAULT_") && !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, "HOME=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range w.exports[file] {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %s\n%v\nstdout:\n%s\nstderr:\n%s", file, line, err, stdout.String(), stderr.String())
	}
	w.ran++
	if dump := os.Getenv("WALKTHROUGH_DUMP"); dump != "" {
		appendDump(t, dump, line, stdout.String()+stderr.String())
	}
	return append(stdout.Bytes(), stderr.Bytes()...)
}

func appendDump(t *testing.T, file, line, output string) {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "$ %s\n%s\n", line, output)
}

// docToken matches what differs from run to run: backup and attestation
// ids and SHA-256 digests.
var docToken = regexp.MustCompile(`\b(bk|att)-[0-9a-z]{26}\b|\b[0-9a-f]{64}\b`)

// substitute replaces the document's ids and digests in line by this
// run's, and /srv/casework by the scratch directory; an id the run never
// printed fails the test.
func (w *walkthrough) substitute(t *testing.T, line string) string {
	t.Helper()
	line = strings.ReplaceAll(line, "/srv/casework", w.home)
	return docToken.ReplaceAllStringFunc(line, func(tok string) string {
		real, ok := w.ids[tok]
		if !ok {
			t.Fatalf("%q names %s, which no earlier output of the walkthroughs shows", line, tok)
		}
		return real
	})
}

// learnIDs pairs the document's ids and digests that are new, in the order
// they first appear in its output block, with the new ones this run
// printed, in the same order and of the same kind.
func (w *walkthrough) learnIDs(docOutput, realOutput string) {
	known := map[string]bool{}
	for _, v := range w.ids {
		known[v] = true
	}
	fresh := map[string][]string{}
	for _, tok := range unique(docToken.FindAllString(realOutput, -1)) {
		if !known[tok] {
			fresh[tokenKind(tok)] = append(fresh[tokenKind(tok)], tok)
		}
	}
	for _, tok := range unique(docToken.FindAllString(docOutput, -1)) {
		kind := tokenKind(tok)
		if _, ok := w.ids[tok]; ok || len(fresh[kind]) == 0 {
			continue
		}
		w.ids[tok], fresh[kind] = fresh[kind][0], fresh[kind][1:]
	}
}

func tokenKind(tok string) string {
	kind, _, _ := strings.Cut(tok, "-")
	if len(kind) == 64 {
		return "sha256"
	}
	return kind
}

func unique(toks []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, tok := range toks {
		if !seen[tok] {
			seen[tok] = true
			out = append(out, tok)
		}
	}
	return out
}
