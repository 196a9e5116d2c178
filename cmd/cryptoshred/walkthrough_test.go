package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeQuickStartRunsAsWritten extracts the commands of the README's
// quick start and runs them in order against a real Vault, so the README
// cannot drift from the CLI. Placeholders are replaced: the address by
// the test server's, each <ROLE token> by a token of that role, /backups by
// a scratch directory; confirmations are answered on a pseudo-terminal.
func TestReadmeQuickStartRunsAsWritten(t *testing.T) {
	blocks := docBlocks(t, "../../README.md", "## Quick start against your Vault")
	if len(blocks) == 0 {
		t.Fatal("no sh block in the README's quick start")
	}
	lines := blocks[0].lines
	env := newTestEnv(t)
	t.Chdir(env.dir)
	if err := os.Mkdir("backups", 0o700); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile("casework-2019-11-30.tar", []byte("casework 2019-11-30"), 0o600)
	_ = os.WriteFile("closing-letter.pdf", []byte("%PDF-1.4 closing letter"), 0o600)
	t.Setenv(passwordEnv, "quick start password")
	tokens := map[string]string{"operator": env.srv.Token, "backup-admin": env.roles.admin,
		"compliance": env.roles.compliance, "auditor": env.roles.auditor}
	token, ran := "", 0
	placeholder := regexp.MustCompile(`<([a-z-]+) token>`)
	for _, line := range lines {
		words := shellWords(t, placeholder.ReplaceAllString(line, "<$1-token>"))
		if len(words) == 0 {
			continue
		}
		cmdToken := token
		if k, v, ok := strings.Cut(words[0], "="); ok && k == "VAULT_TOKEN" {
			cmdToken, words = roleToken(t, tokens, v), words[1:]
		}
		if words[0] == "export" {
			if k, v, _ := strings.Cut(words[1], "="); k == "VAULT_TOKEN" {
				token = roleToken(t, tokens, v)
			}
			continue
		}
		if words[0] != "cryptoshred" {
			t.Fatalf("README quick start line %q is not a cryptoshred command", line)
		}
		for i, w := range words {
			if w == "/backups" {
				words[i] = filepath.Join(env.dir, "backups")
			}
		}
		runAnswering(t, env, cmdToken, words[1:], "DPA-2021-0211\n")
		ran++
	}
	if ran < 10 {
		t.Fatalf("ran only %d commands of the quick start", ran)
	}
	if page, err := os.ReadFile("certificate.html"); err != nil || !bytes.Contains(page, []byte("Cryptographic Erase")) {
		t.Fatalf("the quick start left no certificate: %v", err)
	}
}

// runAnswering runs one command with a terminal as stdin on which answer
// is already typed, and fails the test unless it exits 0.
func runAnswering(t *testing.T, env testEnv, token string, args []string, answer string) {
	t.Helper()
	master, slave := openPTY(t)
	if _, err := master.WriteString(answer); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VAULT_ADDR", env.srv.Addr)
	t.Setenv("VAULT_TOKEN", token)
	var out, errb bytes.Buffer
	if code := run(context.Background(), append([]string{"cryptoshred"}, args...), slave, &out, &errb); code != 0 {
		t.Fatalf("README: cryptoshred %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out.String(), errb.String())
	}
}

func roleToken(t *testing.T, tokens map[string]string, placeholder string) string {
	t.Helper()
	m := regexp.MustCompile(`^<([a-z-]+)-token>$`).FindStringSubmatch(placeholder)
	if m == nil || tokens[m[1]] == "" {
		t.Fatalf("unknown token placeholder %q in the README", placeholder)
	}
	return tokens[m[1]]
}

// shellWords splits a line as sh would for the simple commands of the
// documentation: quotes, and a comment from an unquoted #.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord, quote := false, rune(0)
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == '#' && !inWord:
			return words
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		t.Fatalf("unterminated quote in %q", line)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}
