package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/internal/testtools"
	"github.com/cryptoshred/cryptoshred/internal/tsatest"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

// TestShredRunBundleWithTrustedTime: shred run writes a Sigstore bundle
// with timestamps from a real timestamp-server (two, by naming it twice);
// attest verify checks them against the served chain and a trusted root and
// prints the trusted time; cosign v3.1.2 verifies the bundle independently;
// the certificate shows the time and the authority, and any warning about
// it; a tampered timestamp
// and another authority's chain fail with exit 5.
func TestShredRunBundleWithTrustedTime(t *testing.T) {
	env := newTestEnv(t)
	other := otherTSAChain(t, env.dir) // first: one server runs at a time
	srv := tsatest.Start(t)
	closedCaseCLI(t, env, "DPA-TS", []byte("old casework"))
	priv, pub := signingKey(t, env)
	att, bundle := filepath.Join(env.dir, "d.dsse.json"), filepath.Join(env.dir, "d.sigstore.json")
	run := mustRun(t, env.srv, env.roles.admin, "shred", "run", "--case", "DPA-TS", "--yes", "--sign-key", priv,
		"--vault-snapshot-retention", "720h", "-o", att, "--bundle", bundle, "--timestamp-url", srv.URL, "--timestamp-url", srv.URL)
	if !strings.Contains(run.stderr, "with 2 RFC 3161 timestamp(s)") {
		t.Fatalf("shred run: %s", run.stderr)
	}
	chain := srv.WriteChain(t, env.dir)
	root := srv.WriteTrustedRoot(t, env.dir)
	for _, trust := range [][]string{{"--tsa-chain", chain}, {"--trusted-root", root}} {
		v := mustRun(t, env.srv, "", append([]string{"attest", "verify", bundle, "--key", pub}, trust...)...)
		for _, want := range []string{"PASS  bundle", "PASS  signature", "PASS  timestamps", "TIME  ", "Test TSA Timestamping", "trusted time"} {
			if !strings.Contains(v.stdout, want) {
				t.Errorf("verify %v lacks %q:\n%s", trust, want, v.stdout)
			}
		}
		if strings.Contains(v.stdout, "differ by") {
			t.Errorf("time warning for a fresh timestamp:\n%s", v.stdout)
		}
	}
	plain := mustRun(t, env.srv, "", "attest", "verify", bundle, "--key", pub)
	if !strings.Contains(plain.stdout, "not verified") || strings.Contains(plain.stdout, "PASS  timestamps") {
		t.Errorf("verify without a chain must warn and not claim a trusted time:\n%s", plain.stdout)
	}
	expectCode(t, exitVerifyKO, env.srv, "", "attest", "verify", att, "--key", pub, "--tsa-chain", chain)
	short := mustRun(t, env.srv, "", "attest", "verify", bundle, "--key", pub, "--tsa-chain", chain, "--time-tolerance", "1ns")
	if !strings.Contains(short.stdout, "differ by") {
		t.Errorf("no warning with a 1ns tolerance:\n%s", short.stdout)
	}
	// A verifier that requires trusted time gets a check, not a warning.
	strict := mustRun(t, env.srv, "", "attest", "verify", bundle, "--key", pub, "--tsa-chain", chain, "--require-trusted-time")
	if !strings.Contains(strict.stdout, "PASS  times") {
		t.Errorf("required trusted time that agrees:\n%s", strict.stdout)
	}
	strict = expectCode(t, exitVerifyKO, env.srv, "", "attest", "verify", bundle, "--key", pub, "--tsa-chain", chain, "--require-trusted-time", "--time-tolerance", "1ns")
	if !strings.Contains(strict.stdout, "FAIL  times") || !strings.Contains(strict.stdout, "differ by") {
		t.Errorf("required trusted time that disagrees:\n%s", strict.stdout)
	}
	expectCode(t, exitUsage, env.srv, "", "attest", "verify", bundle, "--key", pub, "--require-trusted-time")

	cert := mustRun(t, env.srv, "", "attest", "show", bundle, "--key", pub, "--tsa-chain", chain)
	if !strings.Contains(cert.stdout, "Trusted time") || !strings.Contains(cert.stdout, "RFC 3161 timestamp by Test TSA Timestamping") {
		t.Errorf("certificate lacks the trusted time:\n%s", cert.stdout)
	}
	// What verification warns of, the certificate states too.
	late := mustRun(t, env.srv, "", "attest", "show", bundle, "--key", pub, "--tsa-chain", chain, "--time-tolerance", "1ns")
	if !strings.Contains(late.stdout, "WARNINGS\n  ! issuedAt") || !strings.Contains(late.stdout, "differ by") {
		t.Errorf("the certificate does not state the time warning:\n%s", late.stdout)
	}

	bad := expectCode(t, exitVerifyKO, env.srv, "", "attest", "verify", tamperTimestamp(t, bundle), "--key", pub, "--tsa-chain", chain)
	if !strings.Contains(bad.stdout, "FAIL  timestamps") {
		t.Errorf("tampered timestamp:\n%s", bad.stdout)
	}
	bad = expectCode(t, exitVerifyKO, env.srv, "", "attest", "verify", bundle, "--key", pub, "--tsa-chain", other)
	if !strings.Contains(bad.stdout, "FAIL  timestamps") {
		t.Errorf("another authority's chain:\n%s", bad.stdout)
	}

	wantCosignBundle(t, true, bundle, pub, "--use-signed-timestamps", "--insecure-ignore-tlog", "--trusted-root", root)
	wantCosignBundle(t, false, tamperTimestamp(t, bundle), pub, "--use-signed-timestamps", "--insecure-ignore-tlog", "--trusted-root", root)
	wantCosignBundle(t, false, bundle, pub, "--use-signed-timestamps", "--insecure-ignore-tlog", "--trusted-root", otherTrustedRoot(t, env.dir, other))
}

// TestShredRunBundleWithoutTimestamps: a bundle without timestamps verifies
// with attest verify and with cosign --insecure-ignore-tlog.
func TestShredRunBundleWithoutTimestamps(t *testing.T) {
	env := newTestEnv(t)
	closedCaseCLI(t, env, "DPA-NOTS", []byte("old casework"))
	priv, pub := signingKey(t, env)
	bundle := filepath.Join(env.dir, "d.sigstore.json")
	mustRun(t, env.srv, env.roles.admin, "shred", "run", "--case", "DPA-NOTS", "--yes", "--sign-key", priv,
		"--vault-snapshot-retention", "720h", "-o", filepath.Join(env.dir, "d.dsse.json"), "--bundle", bundle)
	v := mustRun(t, env.srv, "", "attest", "verify", bundle, "--key", pub)
	if !strings.Contains(v.stdout, "PASS  bundle") || !strings.Contains(v.stdout, "no trusted time verified") {
		t.Errorf("verify:\n%s", v.stdout)
	}
	wantCosignBundle(t, true, bundle, pub, "--insecure-ignore-tlog")
	expectCode(t, exitUsage, env.srv, env.roles.admin, "shred", "run", "--case", "DPA-NOTS", "--yes", "--sign-key", priv,
		"--vault-snapshot-retention", "720h", "--timestamp-url", "http://127.0.0.1:1/api/v1/timestamp")
}

// TestShredRunRefusesWithoutTrustedTime: a stopped authority and an
// endpoint that answers something else stop shred run with exit 4 before
// any key is destroyed.
func TestShredRunRefusesWithoutTrustedTime(t *testing.T) {
	env := newTestEnv(t)
	srv := tsatest.Start(t)
	b := closedCaseCLI(t, env, "DPA-TSX", []byte("old casework"))
	priv, _ := signingKey(t, env)
	stopped := srv.URL
	for _, u := range []string{srv.Base() + "/api/v1/timestamp/certchain", env.srv.Addr + "/v1/sys/health", stopped} {
		if u == stopped {
			srv.Stop()
		}
		r := expectCode(t, exitRefused, env.srv, env.roles.admin, "shred", "run", "--case", "DPA-TSX", "--yes", "--sign-key", priv,
			"--vault-snapshot-retention", "720h", "--bundle", filepath.Join(env.dir, "b.json"), "--timestamp-url", u, "--timestamp-timeout", "5s")
		if !strings.Contains(r.stderr, "no trusted timestamp") || !strings.Contains(r.stderr, "nothing was destroyed") {
			t.Errorf("%s: stderr: %s", u, r.stderr)
		}
	}
	if _, key := backupAndKey(t, shredRoot(t, env), b); key == nil {
		t.Fatal("the key was destroyed although no timestamp could be issued")
	}
	if fresh, _ := backupAndKey(t, shredRoot(t, env), b); fresh.State == catalog.StateShredded {
		t.Fatalf("backup state %s after a refused run", fresh.State)
	}
}

// A re-run that the same refusal stops after an earlier run destroyed the
// key says that this run destroyed nothing, not that nothing was destroyed:
// the operator must not read it as "the keys are still there".
func TestRefusedReRunDoesNotSayNothingWasDestroyed(t *testing.T) {
	env := newTestEnv(t)
	srv := tsatest.Start(t)
	closedCaseCLI(t, env, "DPA-RERUN", []byte("destroyed by the first run"))
	priv, _ := signingKey(t, env)
	run := []string{"shred", "run", "--case", "DPA-RERUN", "--yes", "--sign-key", priv, "--vault-snapshot-retention", "720h"}
	mustRun(t, env.srv, env.roles.admin, append(run, "-o", filepath.Join(env.dir, "first.dsse.json"))...)
	srv.Stop()
	r := expectCode(t, exitRefused, env.srv, env.roles.admin, append(run, "-o", filepath.Join(env.dir, "again.dsse.json"),
		"--bundle", filepath.Join(env.dir, "again.bundle.json"), "--timestamp-url", srv.URL, "--timestamp-timeout", "5s")...)
	if strings.Contains(r.stderr, "nothing was destroyed") || !strings.Contains(r.stderr, "this run destroyed no key (the keys of 1 backup(s) that earlier runs destroyed are gone for good)") {
		t.Fatalf("stderr: %s", r.stderr)
	}
}

// tamperTimestamp flips one byte inside every timestamp's signed time (cosign
// accepts a bundle when one timestamp verifies) and writes the bundle beside
// the original.
func tamperTimestamp(t *testing.T, path string) string {
	t.Helper()
	raw, _ := os.ReadFile(path)
	var b map[string]any
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	tvd := b["verificationMaterial"].(map[string]any)["timestampVerificationData"].(map[string]any)
	for _, ts := range tvd["rfc3161Timestamps"].([]any) {
		m := ts.(map[string]any)
		der, _ := base64.StdEncoding.DecodeString(m["signedTimestamp"].(string))
		i := strings.Index(string(der), time.Now().UTC().Format("2006"))
		if i < 0 {
			t.Fatal("no time in the timestamp")
		}
		der[i+3] ^= 1
		m["signedTimestamp"] = base64.StdEncoding.EncodeToString(der)
	}
	out, _ := json.Marshal(b)
	bad := path + ".tampered"
	_ = os.WriteFile(bad, out, 0o600)
	return bad
}

// otherTSAChain is the chain of another real timestamp-server (its memory
// signer makes a new chain at each start).
func otherTSAChain(t *testing.T, dir string) string {
	t.Helper()
	sub := filepath.Join(dir, "other")
	_ = os.MkdirAll(sub, 0o700)
	other := tsatest.Start(t)
	defer other.Stop()
	return other.WriteChain(t, sub)
}

func otherTrustedRoot(t *testing.T, dir, chain string) string {
	t.Helper()
	pemBytes, _ := os.ReadFile(chain)
	b, err := tsatest.TrustedRoot(pemBytes, "http://other")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "other", "trusted_root.json")
	_ = os.WriteFile(p, b, 0o600)
	return p
}

// wantCosignBundle runs cosign verify-blob-attestation --bundle offline.
func wantCosignBundle(t *testing.T, ok bool, bundle, pub string, extra ...string) {
	t.Helper()
	dir := t.TempDir()
	args := append([]string{"verify-blob-attestation", "--bundle", bundle, "--key", pub, "--type", attest.PredicateType,
		"--check-claims=false"}, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testtools.Find(t, "COSIGN_BIN", "cosign", "v3.1.2", "`make tools`"), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir, "TUF_ROOT="+filepath.Join(dir, "tuf"))
	out, err := cmd.CombinedOutput()
	t.Logf("cosign %v (want ok=%v): %v\n%s", extra, ok, err, out)
	if ok && (err != nil || !strings.Contains(string(out), "Verified OK")) {
		t.Errorf("cosign rejected a good bundle (%v):\n%s", err, out)
	}
	if !ok && err == nil {
		t.Errorf("cosign accepted a bad bundle:\n%s", out)
	}
}
