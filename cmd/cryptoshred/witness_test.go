package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/internal/testtools"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// TestWitness: the auditor witnesses an attestation with a read-only
// token and its own key; attest verify passes only with both, and cosign
// verifies each envelope with its own key and rejects it with the other.
// The witness refuses when a key is back in Vault or a ciphertext is still
// where it was stored.
func TestWitness(t *testing.T) {
	env := newTestEnv(t)
	b := protectFile(t, env, "w.tar", []byte("witnessed"))
	keep := env.dir + "/kept-copy.age"
	copyFile(t, b.Ciphertext.Path, keep)
	shredCase(t, env, "WIT", b.ID)
	att := filepath.Join(env.dir, "WIT.dsse.json")
	_, adminPub := env.dir+"/attest.key", env.dir+"/attest.pub"
	auditorKey := filepath.Join(env.dir, "auditor")
	if err := attest.WriteKeyPair(auditorKey+".key", auditorKey+".pub", attest.Ed25519, nil); err != nil {
		t.Fatal(err)
	}
	wit := filepath.Join(env.dir, "WIT.witness.json")
	mustRun(t, env.srv, env.roles.auditor, "attest", "witness", att, "--key", adminPub, "--sign-key", auditorKey+".key", "-o", wit)

	r := mustRun(t, env.srv, "", "attest", "verify", att, "--key", adminPub, "--witness", wit, "--witness-key", auditorKey+".pub")
	if !strings.Contains(r.stdout, "PASS  witness") {
		t.Fatalf("attest verify with the witness:\n%s", r.stdout)
	}
	// A witness that fails is reported before any verdict, and none says
	// VERIFIED; in JSON it is a check of the one report.
	bad := expectCode(t, exitVerifyKO, env.srv, "", "attest", "verify", att, "--key", adminPub, "--witness", wit, "--witness-key", adminPub)
	if !strings.Contains(bad.stdout, "FAIL  witness") || strings.Contains(bad.stdout, "VERIFIED") {
		t.Fatalf("attest verify with a witness that fails:\n%s", bad.stdout)
	}
	js := mustRun(t, env.srv, "", "attest", "verify", att, "--format", "json", "--key", adminPub, "--witness", wit, "--witness-key", auditorKey+".pub")
	var rep attest.Report
	if err := json.Unmarshal([]byte(js.stdout), &rep); err != nil || rep.Checks[len(rep.Checks)-1].Name != attest.CheckWitness || rep.Statement == nil {
		t.Fatalf("attest verify --format json with the witness: %v\n%s", err, js.stdout)
	}
	r = mustRun(t, env.srv, "", "attest", "show", att, "--key", adminPub, "--witness", wit, "--witness-key", auditorKey+".pub")
	if !strings.Contains(r.stdout, "Witnessed by       token-auditor") {
		t.Fatalf("the certificate does not show the witness:\n%s", r.stdout)
	}
	wantCosign(t, true, att, wit, auditorKey+".pub", attest.WitnessPredicateType)
	wantCosign(t, false, att, wit, adminPub, attest.WitnessPredicateType)
	wantCosign(t, false, keep, att, auditorKey+".pub", attest.PredicateType)
	wantCosign(t, true, keep, att, adminPub, attest.PredicateType)

	copyFile(t, keep, b.Ciphertext.Path)
	r = expectCode(t, exitRefused, env.srv, env.roles.auditor, "attest", "witness", att, "--key", adminPub, "--sign-key", auditorKey+".key", "-o", wit+"2")
	if !strings.Contains(r.stderr, "ciphertext gone false") {
		t.Fatalf("witness with the ciphertext back in place: %s", r.stderr)
	}
	os.Remove(b.Ciphertext.Path)
	if _, err := env.srv.Root(t).Logical().Write("cryptoshred-transit/keys/"+b.Key, map[string]any{"type": "aes256-gcm96"}); err != nil {
		t.Fatal(err)
	}
	r = expectCode(t, exitRefused, env.srv, env.roles.auditor, "attest", "witness", att, "--key", adminPub, "--sign-key", auditorKey+".key", "-o", wit+"3")
	if !strings.Contains(r.stderr, "key absent false") {
		t.Fatalf("witness with the key re-created: %s", r.stderr)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// wantCosign runs cosign verify-blob-attestation on envelope, whose
// subject blob is, with key and predicate type typ.
func wantCosign(t *testing.T, ok bool, blob, envelope, key, typ string) {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testtools.Find(t, "COSIGN_BIN", "cosign", "v3.1.2", "`make tools`"),
		"verify-blob-attestation", "--key", key, "--type", typ, "--signature", envelope, "--insecure-ignore-tlog", blob)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir, "TUF_ROOT="+filepath.Join(dir, "tuf"))
	out, err := cmd.CombinedOutput()
	if ok && (err != nil || !strings.Contains(string(out), "Verified OK")) {
		t.Errorf("cosign rejected %s with %s:\n%s", envelope, key, out)
	}
	if !ok && err == nil {
		t.Errorf("cosign accepted %s with %s:\n%s", envelope, key, out)
	}
}

// Junk a role writes into the next ledger slot, and a head hint it writes
// past the end, cannot stop a witness: no role can remove either, and
// the witness refused every attestation for good after one plain write
// with the admin's token. The witness signs, states the slots it found
// (which `ledger verify` still reports, exit 5), and attest verify shows
// them; cosign still verifies the witness. An attestation issued after
// the junk names the digest of the slots (the junk links to nothing, so
// its head commits to no slot before it) and is witnessed too. An
// attested head that is not in the chain, or one after junk without that
// digest, is still refused beside such findings.
func TestWitnessStatesLedgerJunkInsteadOfRefusing(t *testing.T) {
	env := newTestEnv(t)
	b := protectFile(t, env, "w.tar", []byte("witnessed through junk"))
	shredCase(t, env, "WJ", b.ID)
	att, adminPub := filepath.Join(env.dir, "WJ.dsse.json"), env.dir+"/attest.pub"
	junk := int64(lastLedgerSeq(t, env) + 1)
	admin := env.srv.Client(t, env.roles.admin).Logical()
	if _, err := admin.Write(fmt.Sprintf("cryptoshred/data/ledger/%012d", junk), map[string]any{"data": map[string]any{"not": "an entry"}}); err != nil {
		t.Fatalf("the admin writing junk into the next slot: %v", err)
	}
	past := map[string]any{"data": map[string]any{"seq": 999999999, "hash": "sha256:" + strings.Repeat("0", 64)}}
	if _, err := admin.Write("cryptoshred/data/ledger/head", past); err != nil {
		t.Fatalf("the admin writing the head: %v", err)
	}
	expectCode(t, exitVerifyKO, env.srv, env.roles.auditor, "ledger", "verify")

	auditorKey := filepath.Join(env.dir, "auditor")
	if err := attest.WriteKeyPair(auditorKey+".key", auditorKey+".pub", attest.Ed25519, nil); err != nil {
		t.Fatal(err)
	}
	wit := filepath.Join(env.dir, "WJ.witness.json")
	mustRun(t, env.srv, env.roles.auditor, "attest", "witness", att, "--key", adminPub, "--sign-key", auditorKey+".key", "-o", wit)
	v, err := attest.LoadVerifier(mustRead(t, auditorKey+".pub"))
	if err != nil {
		t.Fatal(err)
	}
	ws, err := attest.VerifyWitness(context.Background(), mustRead(t, wit), mustRead(t, att), v)
	if err != nil || !slices.Equal(ws.Predicate.Ledger.Findings, []int64{junk, 0}) || !ws.Predicate.Ledger.AttestedHeadInChain {
		t.Fatalf("the witness's ledger: %+v, %v; want findings at slot %d and the head", ws.Predicate.Ledger, err, junk)
	}
	r := mustRun(t, env.srv, "", "attest", "verify", att, "--key", adminPub, "--witness", wit, "--witness-key", auditorKey+".pub")
	if want := fmt.Sprintf("at ledger slot(s) %d, the head hint", junk); !strings.Contains(r.stdout, "PASS  witness") || !strings.Contains(r.stdout, want) {
		t.Fatalf("attest verify with the witness, want %q:\n%s", want, r.stdout)
	}
	wantCosign(t, true, att, wit, auditorKey+".pub", attest.WitnessPredicateType)

	closedCaseCLI(t, env, "WJ2", []byte("attested after the junk"))
	att2 := filepath.Join(env.dir, "WJ2.dsse.json")
	mustRun(t, env.srv, env.roles.admin, "shred", "run", "--case", "WJ2", "--yes", "--sign-key", env.dir+"/attest.key", "--vault-snapshot-retention", "720h", "-o", att2)
	st2, err := attest.ParseUnverified(mustRead(t, att2))
	if err != nil || st2.Predicate.Ledger.Slots == "" {
		t.Fatalf("an attestation issued after junk names no digest of the slots: %+v %v", st2.Predicate.Ledger, err)
	}
	mustRun(t, env.srv, env.roles.auditor, "attest", "witness", att2, "--key", adminPub, "--sign-key", auditorKey+".key", "-o", wit+"2")
	mustRun(t, env.srv, "", "attest", "verify", att2, "--key", adminPub, "--witness", wit+"2", "--witness-key", auditorKey+".pub")
	undigested := writeTestFile(t, env.dir, "undigested.dsse.json", string(editStatement(t, mustRead(t, att2), `,"slots":"`+st2.Predicate.Ledger.Slots+`"`, "")))
	r = expectCode(t, exitVerifyKO, env.srv, env.roles.auditor, "ledger", "verify", "--attestation", undigested)
	if !strings.Contains(r.stdout+r.stderr, "names no digest of the slots") {
		t.Fatalf("ledger verify of a head after junk without the slots' digest:\n%s%s", r.stdout, r.stderr)
	}

	st, err := attest.ParseUnverified(mustRead(t, att))
	if err != nil {
		t.Fatal(err)
	}
	moved := writeTestFile(t, env.dir, "moved.dsse.json", string(editStatement(t, mustRead(t, att), st.Predicate.Ledger.Head, "sha256:"+strings.Repeat("1", 64))))
	r = expectCode(t, exitVerifyKO, env.srv, env.roles.auditor, "ledger", "verify", "--attestation", moved)
	if !strings.Contains(r.stdout+r.stderr, "no longer in the chain") {
		t.Fatalf("ledger verify of a head not in the chain, beside findings:\n%s%s", r.stdout, r.stderr)
	}
}

// editStatement returns the envelope env with old replaced by new in its
// statement, its signature no longer matching.
func editStatement(t *testing.T, env []byte, old, new string) []byte {
	var e map[string]any
	if err := json.Unmarshal(env, &e); err != nil {
		t.Fatal(err)
	}
	payload, err := base64.StdEncoding.DecodeString(e["payload"].(string))
	if err != nil || !strings.Contains(string(payload), old) {
		t.Fatalf("the statement holds no %q: %v", old, err)
	}
	e["payload"] = base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(payload), old, new, 1)))
	out, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A restored snapshot that lost the slots after a junk slot, refilled by
// the admin with plain writes (its own validly signed entries in place of
// the lost ones, the junk again, then copies of the slots after it), holds
// the attested head's hash at its slot: the junk links to nothing, so the
// head commits to no slot before it. The attestation, issued after the
// junk, names the digest of every slot, and the witness refuses the
// rebuilt chain. Found by a review of the witness's findings.
func TestWitnessRefusesAChainRebuiltBehindJunk(t *testing.T) {
	env := newTestEnv(t)
	attested := protectFile(t, env, "a.tar", []byte("attested backup"))
	snapshotEnd := int64(lastLedgerSeq(t, env))
	opened := protectFile(t, env, "b.tar", []byte("evidence"))
	mustRun(t, env.srv, env.roles.admin, "backup", "open", opened.ID, "--purpose", "copied out", "-o", filepath.Join(env.dir, "out"))
	junk := int64(lastLedgerSeq(t, env) + 1)
	admin := env.srv.Client(t, env.roles.admin)
	slot := func(seq int64) string { return fmt.Sprintf("cryptoshred/data/ledger/%012d", seq) }
	if _, err := admin.Logical().Write(slot(junk), map[string]any{"data": map[string]any{"not": "an entry"}}); err != nil {
		t.Fatal(err)
	}
	shredCase(t, env, "C", attested.ID)
	att, adminPub := filepath.Join(env.dir, "C.dsse.json"), env.dir+"/attest.pub"
	end := int64(lastLedgerSeq(t, env))
	saved := map[int64]any{}
	for seq := junk; seq <= end; seq++ {
		sec, err := admin.Logical().Read(slot(seq))
		if err != nil {
			t.Fatal(err)
		}
		saved[seq] = sec.Data["data"]
	}
	for seq := snapshotEnd + 1; seq <= end; seq++ { // the restore, with the operator's root token
		if _, err := env.srv.Root(t).Logical().Delete(fmt.Sprintf("cryptoshred/metadata/ledger/%012d", seq)); err != nil {
			t.Fatal(err)
		}
	}
	vc := vault.New(admin, vault.DefaultMounts)
	for seq := snapshotEnd + 1; seq < junk; seq++ {
		if _, err := ledger.New(vc, vc).Append(context.Background(), "token:admin", ledger.Event{Kind: ledger.KindBackupProtected, Backups: []string{opened.ID}}); err != nil {
			t.Fatal(err)
		}
	}
	for seq := junk; seq <= end; seq++ {
		if _, err := admin.Logical().Write(slot(seq), map[string]any{"data": saved[seq]}); err != nil {
			t.Fatalf("slot %d: %v", seq, err)
		}
	}
	auditorKey := filepath.Join(env.dir, "auditor")
	if err := attest.WriteKeyPair(auditorKey+".key", auditorKey+".pub", attest.Ed25519, nil); err != nil {
		t.Fatal(err)
	}
	r := expectCode(t, exitRefused, env.srv, env.roles.auditor, "attest", "witness", att, "--key", adminPub, "--sign-key", auditorKey+".key", "-o", filepath.Join(env.dir, "w.json"))
	if !strings.Contains(r.stderr, "are not those it was issued on") {
		t.Fatalf("witness of a chain rebuilt behind junk:\n%s", r.stderr)
	}
}

// TestVerifyRefusesAWitnessOverTheLimit: attest verify --witness reads no
// more of a witness file than an envelope may hold (attest.MaxEnvelopeSize)
// and refuses a larger one at once, naming it (a 300 MiB witness was read
// whole, 3.7 GiB allocated), as attest show --witness does.
func TestVerifyRefusesAWitnessOverTheLimit(t *testing.T) {
	env := newTestEnv(t)
	b := protectFile(t, env, "w.tar", []byte("witnessed"))
	shredCase(t, env, "BIGWIT", b.ID)
	att, pub := filepath.Join(env.dir, "BIGWIT.dsse.json"), filepath.Join(env.dir, "attest.pub")
	big := filepath.Join(env.dir, "big.witness.json")
	if err := os.WriteFile(big, []byte(`{"payloadType":"application/vnd.in-toto+json"`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, attest.MaxEnvelopeSize+1); err != nil { // sparse
		t.Fatal(err)
	}
	for _, cmd := range []string{"verify", "show"} {
		start := time.Now()
		r := expectCode(t, exitError, env.srv, "", "attest", cmd, att, "--key", pub, "--witness", big, "--witness-key", pub)
		if took := time.Since(start); took > 5*time.Second || !strings.Contains(r.stderr, fmt.Sprintf("%s is larger than %d bytes", big, attest.MaxEnvelopeSize)) {
			t.Errorf("attest %s of a witness over the limit (after %v): %s", cmd, took, r.stderr)
		}
	}
}
