package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/internal/fsutil"
)

// TestAttackWitnessChecksWhatTheRegistrationNames: the admin holds the
// attestation's signing key, so it can sign any statement. Re-signing a
// real attestation so that it names a live backup with the destroyed
// one's key, or the destroyed one with a location where nothing ever was
// while its ciphertext is back in place, or with another file's digest,
// must not get it witnessed: the witness checks the key and the file the
// backup's write-once registration names.
func TestAttackWitnessChecksWhatTheRegistrationNames(t *testing.T) {
	env := newTestEnv(t)
	gone := protectFile(t, env, "gone.tar", []byte("destroyed one"))
	live := protectFile(t, env, "live.tar", []byte("still readable"))
	keep := env.dir + "/kept-copy.age"
	copyFile(t, gone.Ciphertext.Path, keep)
	shredCase(t, env, "W", gone.ID)
	att := mustRead(t, filepath.Join(env.dir, "W.dsse.json"))
	liveDigest, _, err := fsutil.FileSHA256(live.Ciphertext.Path)
	if err != nil {
		t.Fatal(err)
	}
	auditorKey := filepath.Join(env.dir, "auditor")
	if err := attest.WriteKeyPair(auditorKey+".key", auditorKey+".pub", attest.Ed25519, nil); err != nil {
		t.Fatal(err)
	}
	witness := func(name, want string, edit func(st *attest.Statement)) {
		t.Helper()
		forged := resign(t, env, att, edit)
		file := writeTestFile(t, env.dir, name+".dsse.json", string(forged))
		r := expectCode(t, exitRefused, env.srv, env.roles.auditor, "attest", "witness", file, "--key", env.dir+"/attest.pub",
			"--sign-key", auditorKey+".key", "-o", filepath.Join(env.dir, name+".witness.json"))
		if !strings.Contains(r.stderr, want) {
			t.Fatalf("%s: witness said %q, want %q", name, r.stderr, want)
		}
	}
	witness("live", "registration names key "+live.Key, func(st *attest.Statement) {
		b := &st.Predicate.Backups[0]
		b.BackupID, b.Subject, st.Subject[0].Name = live.ID, "live.tar", "live.tar"
		st.Subject[0].Digest = map[string]string{"sha256": liveDigest}
		st.Subject[0].Annotations["backupId"] = live.ID
	})
	witness("digest", "not its registered ciphertext's", func(st *attest.Statement) {
		st.Subject[0].Digest = map[string]string{"sha256": liveDigest}
	})
	copyFile(t, keep, gone.Ciphertext.Path)
	witness("elsewhere", "ciphertext gone false", func(st *attest.Statement) {
		st.Predicate.Backups[0].Ciphertext.Locations = []string{"file://" + env.dir + "/never-was-here.age"}
	})
}

// resign returns the attestation env with its statement edited and signed
// again with the test's attestation key, as its holder can.
func resign(t *testing.T, env testEnv, att []byte, edit func(st *attest.Statement)) []byte {
	t.Helper()
	st, err := attest.ParseUnverified(att)
	if err != nil {
		t.Fatal(err)
	}
	edit(st)
	signer, err := attest.LoadSigner(context.Background(), env.dir+"/attest.key", nil)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := attest.Sign(context.Background(), st, signer)
	if err != nil {
		t.Fatal(err)
	}
	return forged
}
