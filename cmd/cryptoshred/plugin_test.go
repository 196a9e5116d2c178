package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cryptoshred/cryptoshred/internal/fsutil"
	"github.com/cryptoshred/cryptoshred/internal/testtools"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/agefile"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// ageVersion is the age CLI the plugin is tested with.
const ageVersion = "v1.3.2"

// ageBinary finds the age CLI (AGE_BIN, the tool cache, GOPATH/bin or
// PATH). Without one the test fails; it never skips.
func ageBinary(t *testing.T) string {
	return testtools.Find(t, "AGE_BIN", "age", ageVersion, "`make tools`")
}

// buildPlugin builds age-plugin-cryptoshred into a fresh directory and
// returns the directory, to put on the age CLI's PATH.
func buildPlugin(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "age-plugin-cryptoshred"),
		"github.com/cryptoshred/cryptoshred/cmd/age-plugin-cryptoshred").CombinedOutput()
	if err != nil {
		t.Fatalf("go build age-plugin-cryptoshred: %v\n%s", err, out)
	}
	return dir
}

// ageCLI runs the stock age CLI with the plugin on its PATH, against a
// Vault with a token.
type ageCLI struct {
	t         *testing.T
	bin       string
	pluginDir string
	env       []string
}

func newAgeCLI(t *testing.T, env testEnv, token string) ageCLI {
	t.Helper()
	a := ageCLI{t: t, bin: ageBinary(t), pluginDir: buildPlugin(t), env: os.Environ()}
	return a.withEnv(append(env.srv.Env(token), "PATH="+a.pluginDir+string(os.PathListSeparator)+os.Getenv("PATH"))...)
}

// withEnv returns a with more environment settings; later ones win.
func (a ageCLI) withEnv(kv ...string) ageCLI {
	a.env = append(slices.Clip(a.env), kv...)
	return a
}

func (a ageCLI) command(args ...string) *exec.Cmd {
	cmd := exec.Command(a.bin, args...)
	cmd.Env = a.env
	return cmd
}

// run runs age and returns its stdout, stderr and error.
func (a ageCLI) run(args ...string) ([]byte, string, error) {
	var stdout, stderr bytes.Buffer
	cmd := a.command(args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.Bytes(), stderr.String(), err
}

// plugin runs age-plugin-cryptoshred by hand and returns the line it prints.
func (a ageCLI) plugin(flag, value string) string {
	a.t.Helper()
	out, err := exec.Command(filepath.Join(a.pluginDir, "age-plugin-cryptoshred"), flag, value).Output()
	if err != nil {
		a.t.Fatalf("age-plugin-cryptoshred %s %s: %v", flag, value, err)
	}
	return strings.TrimSpace(string(out))
}

// identityFile writes the identity for key ("any": every key) to a file.
func (a ageCLI) identityFile(key string) string {
	a.t.Helper()
	path := filepath.Join(a.t.TempDir(), key+".identity")
	if err := os.WriteFile(path, []byte(a.plugin("-identity", key)+"\n"), 0o600); err != nil {
		a.t.Fatal(err)
	}
	return path
}

// encryptTar runs `tar -cf - -C dir names...` | `age -r RECIPIENT -o out`
// and returns the tar stream age encrypted and what age printed.
func (a ageCLI) encryptTar(recipient, out, dir string, names ...string) ([]byte, string) {
	a.t.Helper()
	tar := exec.Command("tar", append([]string{"-cf", "-", "-C", dir}, names...)...)
	pipe, err := tar.StdoutPipe()
	if err != nil || tar.Start() != nil {
		a.t.Fatalf("tar: %v", err)
	}
	var plain, stderr bytes.Buffer
	enc := a.command("-r", recipient, "-o", out)
	enc.Stdin, enc.Stderr = io.TeeReader(pipe, &plain), &stderr
	if err := enc.Run(); err != nil {
		a.t.Fatalf("tar | age -r %s: %v\n%s", recipient, err, stderr.String())
	}
	if err := tar.Wait(); err != nil {
		a.t.Fatalf("tar: %v", err)
	}
	return plain.Bytes(), stderr.String()
}

// decrypt runs `age -d -i identity file` and fails the test unless it
// prints want.
func (a ageCLI) decrypt(identity, file string, want []byte) {
	a.t.Helper()
	got, stderr, err := a.run("-d", "-i", identity, file)
	if err != nil || !bytes.Equal(got, want) {
		a.t.Fatalf("age -d %s: %v (%d bytes, want %d)\n%s", filepath.Base(file), err, len(got), len(want), stderr)
	}
}

// tarSources writes a few files to tar into a fresh directory.
func tarSources(t *testing.T) (dir string, names []string) {
	dir = t.TempDir()
	files := map[string]string{
		"cases.csv":  strings.Repeat("2019-0042;Jane Doe;health\n", 3000),
		"notes.txt":  "interview notes\n",
		"scan.bin":   string(bytes.Repeat([]byte{0, 1, 2, 0xff}, 40000)),
		"empty.file": "",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	return dir, names
}

// registerJSON runs `backup register` and returns the backups it prints.
func registerJSON(t *testing.T, env testEnv, args ...string) []*catalog.Backup {
	t.Helper()
	r := mustRun(t, env.srv, env.roles.admin, append([]string{"--format", "json", "backup", "register"}, args...)...)
	var out []*catalog.Backup
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("register output %q: %v", r.stdout, err)
	}
	return out
}

// adminKey creates a per-backup key with the admin token.
func adminKey(t *testing.T, env testEnv) string {
	t.Helper()
	name := catalog.NewBackupID()
	v := newService(vault.New(env.srv.Client(t, env.roles.admin), vault.DefaultMounts))
	if err := v.CreateKey(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestAgePluginEncryptRegisterDecrypt(t *testing.T) {
	env := newTestEnv(t)
	a := newAgeCLI(t, env, env.roles.admin)
	key := adminKey(t, env)
	src, names := tarSources(t)
	file := filepath.Join(env.dir, "casework.tar.age")
	plain, _ := a.encryptTar(a.plugin("-recipient", key), file, src, names...)

	b := registerJSON(t, env, file, "--system", "casework", "--category", "health", "--label", "site=dc1")
	sum, size, _ := fsutil.FileSHA256(file)
	if len(b) != 1 || b[0].ID != key || b[0].Ciphertext.SHA256 != sum || b[0].Ciphertext.Size != size || b[0].System != "casework" {
		t.Fatalf("registered: %+v", b)
	}
	a.decrypt(a.identityFile("any"), file, plain)
	a.decrypt(a.identityFile(key), file, plain)
	if got, stderr, err := a.run("-d", "-j", "cryptoshred", file); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("age -d -j cryptoshred: %v\n%s", err, stderr)
	}
	if _, stderr, err := a.run("-d", "-i", a.identityFile("bk-someone-else"), file); err == nil || !strings.Contains(stderr, "no identity matched") {
		t.Fatalf("identity for another key: %v %s", err, stderr)
	}

	restored := filepath.Join(env.dir, "restored.tar")
	mustRun(t, env.srv, env.roles.admin, "backup", "open", key, "--purpose", "subject access request 18", "-o", restored)
	if got, _ := os.ReadFile(restored); !bytes.Equal(got, plain) {
		t.Fatal("cryptoshred backup open of an age CLI file differs")
	}
	again := expectCode(t, exitRefused, env.srv, env.roles.admin, "backup", "register", file)
	if !strings.Contains(again.stderr, "already in the catalog") {
		t.Fatalf("second register: %s", again.stderr)
	}
}

func TestAgePluginNewRecipientCreatesAKeyPerFile(t *testing.T) {
	env := newTestEnv(t)
	a := newAgeCLI(t, env, env.roles.admin)
	src, names := tarSources(t)
	recipient := a.plugin("-recipient", "new")
	var files []string
	var plains [][]byte
	keys := map[string]bool{}
	for i := range 2 {
		file := filepath.Join(env.dir, names[i]+".tar.age")
		plain, stderr := a.encryptTar(recipient, file, src, names[i])
		key := headerKey(t, file)
		if keys[key] || !strings.Contains(stderr, "wrapped to new key "+key) {
			t.Fatalf("file %d: key %s (seen before: %v), age said %q", i, key, keys[key], stderr)
		}
		keys[key] = true
		checkFreshKey(t, env, key)
		files, plains = append(files, file), append(plains, plain)
	}
	b := registerJSON(t, env, files...)
	if len(b) != 2 || !keys[b[0].ID] || !keys[b[1].ID] || b[0].ID == b[1].ID {
		t.Fatalf("registered: %+v", b)
	}
	id := a.identityFile("any")
	for i, file := range files {
		a.decrypt(id, file, plains[i])
	}
}

// headerKey returns the one cryptoshred key an age file is wrapped to.
func headerKey(t *testing.T, file string) string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stanzas, err := agefile.HeaderStanzas(f)
	if err != nil {
		t.Fatal(err)
	}
	key, err := agefile.RegistrableKey(stanzas)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return key
}

// checkFreshKey checks that key was created as protect creates keys.
func checkFreshKey(t *testing.T, env testEnv, key string) {
	t.Helper()
	info, err := shredRoot(t, env).KeyInfo(context.Background(), key)
	if err != nil || info == nil || info.Type != shred.KeyType || info.DeletionAllowed || info.Shreddable() != nil {
		t.Fatalf("key %s: %+v %v", key, info, err)
	}
}

func TestAgePluginOpensFilesUntilTheirKeysAreShredded(t *testing.T) {
	env := newTestEnv(t)
	a := newAgeCLI(t, env, env.roles.admin)
	data := bytes.Repeat([]byte("case 2019-0042;Jane Doe;health\n"), 2000)
	protected := protectFile(t, env, "protected.tar", data)
	src, names := tarSources(t)
	made := filepath.Join(env.dir, "made.tar.age")
	plain, _ := a.encryptTar(a.plugin("-recipient", "new"), made, src, names...)
	registered := registerJSON(t, env, made)[0]

	id := a.identityFile("any")
	a.decrypt(id, protected.Ciphertext.Path, data)
	a.decrypt(a.identityFile(protected.ID), protected.Ciphertext.Path, data)
	a.decrypt(id, made, plain)
	copies := []string{keepCopy(t, protected.Ciphertext.Path), keepCopy(t, made)}

	shredCase(t, env, "DPA-9", protected.ID, registered.ID)
	for _, file := range copies {
		_, stderr, err := a.run("-d", "-i", id, file)
		if err == nil || !strings.Contains(stderr, "destroyed in Vault") {
			t.Fatalf("age -d after shred: %v\n%s", err, stderr)
		}
	}
}

// keepCopy copies file aside, since shred run deletes the ciphertext.
func keepCopy(t *testing.T, file string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), filepath.Base(file))
	if err := os.WriteFile(cp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return cp
}

// shredCase holds ids for a new case, closes it and shreds them.
func shredCase(t *testing.T, env testEnv, caseID string, ids ...string) {
	t.Helper()
	mustRun(t, env.srv, env.roles.compliance, "case", "open", caseID, "--authority", "Example DPA",
		"--reference", "J.nr. "+caseID, "--controller", "Example Ministry")
	mustRun(t, env.srv, env.roles.compliance, append([]string{"hold", "place", "--case", caseID}, ids...)...)
	mustRun(t, env.srv, env.roles.compliance, "case", "close", caseID, "--decision-ref", "closing letter",
		"--decision-file", decisionFile(t, env), "--yes")
	priv, _ := signingKey(t, env)
	mustRun(t, env.srv, env.roles.admin, "shred", "run", "--case", caseID, "--yes", "--sign-key", priv,
		"--vault-snapshot-retention", "720h", "-o", filepath.Join(env.dir, caseID+".dsse.json"))
}

func TestAgePluginErrorsAreClear(t *testing.T) {
	env := newTestEnv(t)
	a := newAgeCLI(t, env, env.roles.admin)
	src, names := tarSources(t)
	out := filepath.Join(env.dir, "x.age")
	_, stderr, err := a.run("-r", a.plugin("-recipient", "bk-never-created"), "-o", out, filepath.Join(src, names[0]))
	if err == nil || !strings.Contains(stderr, "bk-never-created is not in Vault") {
		t.Fatalf("encrypt to a missing key: %v\n%s", err, stderr)
	}
	plain, _ := a.encryptTar(a.plugin("-recipient", "new"), out, src, names...)
	noToken := a.withEnv("VAULT_TOKEN=")
	if _, stderr, err := noToken.run("-d", "-i", a.identityFile("any"), out); err == nil || !strings.Contains(stderr, "VAULT_TOKEN is not set") {
		t.Fatalf("decrypt without a token: %v\n%s", err, stderr)
	}
	auditor := a.withEnv("VAULT_TOKEN=" + env.roles.auditor)
	if _, stderr, err := auditor.run("-d", "-i", a.identityFile("any"), out); err == nil || !strings.Contains(stderr, "vault denied") {
		t.Fatalf("decrypt as auditor: %v\n%s", err, stderr)
	}
	a.decrypt(a.identityFile("any"), out, plain)
}
