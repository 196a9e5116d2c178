package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

// closedCaseOfCLI protects n files, holds them for caseID and closes the
// case, and returns the backups sorted by id (the order of the parts).
func closedCaseOfCLI(t *testing.T, env testEnv, caseID string, n int) []*catalog.Backup {
	t.Helper()
	var backups []*catalog.Backup
	args := []string{"hold", "place", "--case", caseID}
	for i := range n {
		b := protectFile(t, env, fmt.Sprintf("%s-%d.tar", caseID, i), []byte(fmt.Sprintf("%s backup %d", caseID, i)), "--system", "casework")
		backups, args = append(backups, b), append(args, b.ID)
	}
	mustRun(t, env.srv, env.roles.compliance, "case", "open", caseID, "--authority", "Example DPA",
		"--reference", "J.nr. "+caseID, "--controller", "Example Ministry")
	mustRun(t, env.srv, env.roles.compliance, args...)
	mustRun(t, env.srv, env.roles.compliance, "case", "close", caseID, "--decision-ref", "closing letter",
		"--decision-file", decisionFile(t, env), "--yes")
	slices.SortFunc(backups, func(a, b *catalog.Backup) int { return strings.Compare(a.ID, b.ID) })
	return backups
}

// shredInPartsCLI runs shred run on caseID with parts of size, writing to
// DIR/NAME.dsse.json, and returns the index it wrote.
func shredInPartsCLI(t *testing.T, env testEnv, caseID, priv, name string, size int) attest.PartIndex {
	t.Helper()
	out := filepath.Join(env.dir, name+".dsse.json")
	r := mustRun(t, env.srv, env.roles.admin, "shred", "run", "--case", caseID, "--yes", "--sign-key", priv,
		"--vault-snapshot-retention", "720h", "--part-size", fmt.Sprint(size), "-o", out, "--bundle", filepath.Join(env.dir, name+".bundle.json"))
	if !strings.Contains(r.stderr, "parts written to "+out) {
		t.Fatalf("shred run: %s", r.stderr)
	}
	var idx attest.PartIndex
	raw, err := os.ReadFile(filepath.Join(env.dir, name+".index.json"))
	if err != nil || json.Unmarshal(raw, &idx) != nil {
		t.Fatalf("index: %v %s", err, raw)
	}
	for _, p := range idx.Parts {
		st, err := os.Stat(filepath.Join(env.dir, p.File))
		env, _ := os.ReadFile(filepath.Join(env.dir, p.File))
		if err != nil || st.Mode().Perm() != 0o600 || attest.SHA256Hex(env) != p.SHA256 {
			t.Fatalf("part %d file %s: %v, %v", p.Index, p.File, st, err)
		}
	}
	return idx
}

func partPaths(env testEnv, idx attest.PartIndex) []string {
	var out []string
	for _, p := range idx.Parts {
		out = append(out, filepath.Join(env.dir, p.File))
	}
	return out
}

func TestShredRunInPartsThenVerifyThem(t *testing.T) {
	env := newTestEnv(t)
	priv, pub := signingKey(t, env)
	backups := closedCaseOfCLI(t, env, "DPA-P", 5)
	blob := filepath.Join(env.dir, "blob.age")
	if ct, err := os.ReadFile(backups[2].Ciphertext.Path); err != nil || os.WriteFile(blob, ct, 0o600) != nil {
		t.Fatal(err)
	}
	idx := shredInPartsCLI(t, env, "DPA-P", priv, "deletion", 2)
	files := partPaths(env, idx)
	if len(idx.Parts) != 3 || idx.Backups != 5 || idx.Parts[1].File != "deletion.part-0002.dsse.json" || idx.Parts[1].First != backups[2].ID {
		t.Fatalf("index: %+v", idx)
	}
	all := mustRun(t, env.srv, "", append([]string{"attest", "verify", "--key", pub}, files...)...)
	if want := fmt.Sprintf("VERIFIED: attestation %s of case DPA-P complete: 5 backups in 3 parts", idx.AttestationID); !strings.Contains(all.stdout, want) {
		t.Fatalf("verify all parts lacks %q:\n%s", want, all.stdout)
	}
	one := mustRun(t, env.srv, "", "attest", "verify", "--key", pub, files[1])
	if !strings.Contains(one.stdout, "VERIFIED: part 2 of 3 of attestation "+idx.AttestationID) {
		t.Fatalf("verify one part:\n%s", one.stdout)
	}
	missing := expectCode(t, exitVerifyKO, env.srv, "", "attest", "verify", "--key", pub, files[0], files[2])
	if want := "cryptoshred: verification failed: parts: attestation " + idx.AttestationID + " has 3 parts but part(s) 2 were not given"; !strings.HasPrefix(missing.stderr, want) {
		t.Fatalf("missing part: first line of stderr %q, want %q", firstLine(missing.stderr), want)
	}
	closedCaseOfCLI(t, env, "DPA-Q", 3)
	other := partPaths(env, shredInPartsCLI(t, env, "DPA-Q", priv, "other", 2))
	// In JSON the failed part set is a document of its own after each
	// part's report, not left to the exit code alone.
	missingJSON := expectCode(t, exitVerifyKO, env.srv, "", "attest", "verify", "--format", "json", "--key", pub, files[0], files[2])
	if !strings.Contains(missingJSON.stdout, `"name": "parts"`) || !strings.Contains(missingJSON.stdout, "part(s) 2 were not given") {
		t.Errorf("a failed part set in JSON:\n%s", missingJSON.stdout)
	}
	mixed := expectCode(t, exitVerifyKO, env.srv, "", "attest", "verify", "--key", pub, files[0], other[1], files[2])
	if want := "cryptoshred: verification failed: parts: parts of 2 different attestations were given"; !strings.HasPrefix(mixed.stderr, want) {
		t.Fatalf("mixed parts: first line of stderr %q", firstLine(mixed.stderr))
	}
	mustRun(t, env.srv, "", "attest", "verify", "--key", pub, "--backup", blob, files[1])
	expectCode(t, exitVerifyKO, env.srv, "", "attest", "verify", "--key", pub, "--backup", blob, files[0])
	show := mustRun(t, env.srv, "", "attest", "show", files[1], "--key", pub)
	if !strings.Contains(show.stdout, "PART 2 OF 3: this certificate covers backups "+backups[2].ID+" to "+backups[3].ID+" only.") {
		t.Fatalf("certificate of part 2:\n%s", show.stdout)
	}
	checkBundlesOfParts(t, env, pub)
}

// checkBundlesOfParts verifies the bundle written for each part.
func checkBundlesOfParts(t *testing.T, env testEnv, pub string) {
	t.Helper()
	for _, name := range []string{"deletion.bundle.json", "deletion.part-0002.bundle.json", "deletion.part-0003.bundle.json"} {
		r := mustRun(t, env.srv, "", "attest", "verify", "--key", pub, filepath.Join(env.dir, name))
		if !strings.Contains(r.stdout, "PASS  bundle") {
			t.Errorf("bundle %s:\n%s", name, r.stdout)
		}
	}
}

func TestAttestGetAndListParts(t *testing.T) {
	env := newTestEnv(t)
	priv, pub := signingKey(t, env)
	closedCaseOfCLI(t, env, "DPA-G", 3)
	idx := shredInPartsCLI(t, env, "DPA-G", priv, "deletion", 2)
	id := idx.AttestationID
	list := mustRun(t, env.srv, env.roles.auditor, "attest", "list", "--case", "DPA-G")
	if !strings.Contains(list.stdout, id+"-p0001  DPA-G  1/2") || !strings.Contains(list.stdout, id+"-p0002  DPA-G  2/2") {
		t.Fatalf("list:\n%s", list.stdout)
	}
	r := expectCode(t, exitUsage, env.srv, env.roles.auditor, "attest", "get", id)
	if !strings.HasPrefix(r.stderr, "cryptoshred: attestation "+id+" has 2 parts: write them all with -o FILE") {
		t.Fatalf("get of parts to stdout: %s", r.stderr)
	}
	if r := expectCode(t, exitUsage, env.srv, env.roles.auditor, "attest", "get", id, "--part", "3"); !strings.Contains(r.stderr, "--part must be 1 to 2") {
		t.Fatalf("get --part 3 of 2: %s", r.stderr)
	}
	part2 := mustRun(t, env.srv, env.roles.auditor, "attest", "get", id, "--part", "2")
	want, _ := os.ReadFile(filepath.Join(env.dir, idx.Parts[1].File))
	if part2.stdout != string(want) {
		t.Fatal("attest get --part 2 is not part 2 as issued")
	}
	dir := t.TempDir()
	mustRun(t, env.srv, env.roles.auditor, "attest", "get", id, "-o", filepath.Join(dir, "got.dsse.json"))
	got := []string{filepath.Join(dir, "got.dsse.json"), filepath.Join(dir, "got.part-0002.dsse.json")}
	v := mustRun(t, env.srv, "", append([]string{"attest", "verify", "--key", pub}, got...)...)
	if !strings.Contains(v.stdout, "complete: 3 backups in 2 parts") {
		t.Fatalf("verify of the parts got:\n%s", v.stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "got.index.json")); err != nil {
		t.Fatal(err)
	}
}

// signerFailingAfter signs n messages and then fails, as a signing
// service that stops answering would.
type signerFailingAfter struct {
	signature.Signer
	n atomic.Int32
}

func (s *signerFailingAfter) SignMessage(r io.Reader, opts ...signature.SignOption) ([]byte, error) {
	if s.n.Add(-1) < 0 {
		return nil, errors.New("signing service unavailable")
	}
	return s.Signer.SignMessage(r, opts...)
}

// A signer that fails after part 1 leaves an incomplete attestation in
// Vault; shred run says so, removes the files it wrote for it, and a
// re-run with the same file names issues a complete one.
func TestShredRunRemovesTheFilesOfAnIncompleteAttestation(t *testing.T) {
	env := newTestEnv(t)
	priv, pub := signingKey(t, env)
	closedCaseOfCLI(t, env, "DPA-I", 5)
	key, err := attest.LoadSigner(context.Background(), priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	signer := &signerFailingAfter{Signer: key}
	signer.n.Store(2) // the signer check before any key is destroyed, and part 1
	v := shredRoot(t, env)
	plan, err := v.PlanShred(context.Background(), "DPA-I", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	out, bundle := filepath.Join(env.dir, "deletion.dsse.json"), filepath.Join(env.dir, "deletion.bundle.json")
	var stderr bytes.Buffer
	opts := shredRunOptions{Output: out, Bundle: bundle, PartSize: 2, SnapshotRetention: time.Hour}
	err = runPlan(context.Background(), globalOptions{Format: "text"}, v, shred.Actor{DisplayName: "admin"}, plan, signer, opts, io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), "parts 1 to 1 are stored as an incomplete attestation: ") {
		t.Fatalf("run with a signer failing at part 2: %v", err)
	}
	for _, name := range []string{out, bundle} {
		if _, serr := os.Stat(name); !os.IsNotExist(serr) || !strings.Contains(stderr.String(), "removed "+name) {
			t.Fatalf("%s left behind (%v):\n%s", name, serr, stderr.String())
		}
	}
	mustRun(t, env.srv, env.roles.admin, "shred", "run", "--case", "DPA-I", "--yes", "--sign-key", priv,
		"--vault-snapshot-retention", "720h", "--part-size", "2", "-o", out)
	files := []string{out, attest.PartFileName(out, 2), attest.PartFileName(out, 3)}
	all := mustRun(t, env.srv, "", append([]string{"attest", "verify", "--key", pub}, files...)...)
	if !strings.Contains(all.stdout, "complete: 5 backups in 3 parts") {
		t.Fatalf("the re-run's attestation:\n%s", all.stdout)
	}
}
