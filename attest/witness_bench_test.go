package attest_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/internal/testtools"
	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/storage/local"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// BenchmarkWitness10k witnesses an attestation of 10,000 backups against
// a real dev Vault: the signature check, 10,000 registration reads (each
// backup is registered first, untimed), 10,000 key reads with the mount
// confirmed, 10,000 storage checks, the ledger walk and the signing. It
// prints the time and the witness's size.
func BenchmarkWitness10k(b *testing.B) {
	const n = 10000
	srv := vaulttest.Start(b)
	v := vault.New(srv.Root(b), vault.DefaultMounts)
	if _, err := v.Init(context.Background()); err != nil {
		b.Fatal(err)
	}
	svc := shred.New(shred.Config{Records: v, Keys: v, Guard: v, Signer: v, Storage: local.New()})
	signer := benchSigner(b)
	if _, err := svc.OpenCase(context.Background(), shred.Actor{DisplayName: "bench"}, catalog.Case{ID: "BENCH", Authority: "A", Reference: "R"}); err != nil {
		b.Fatal(err)
	}
	rep, err := svc.VerifyLedger(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	st := manySubjectStatement(n, attest.Ledger{Head: rep.Head, Entries: rep.Entries})
	registerSubjects(b, v, st)
	env, err := attest.Sign(context.Background(), st, signer)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		w, err := svc.Witness(context.Background(), shred.Actor{DisplayName: "bench-auditor"}, env,
			shred.WitnessOptions{Verifier: signer, Signer: signer, ToolVersion: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		fmt.Printf("attest witness: %d subjects in %v (witness %d KiB)\n", n, time.Since(start).Round(time.Millisecond), len(w)>>10)
	}
}

func manySubjectStatement(n int, head attest.Ledger) *attest.Statement {
	st := attest.FixtureStatement()
	d := st.Predicate
	one := d.Backups[0]
	d.Backups = nil
	digests := map[string]string{}
	for i := range n {
		bk := one
		bk.BackupID, bk.Subject = fmt.Sprintf("bk-bench%07d", i), fmt.Sprintf("bench-%07d.age", i)
		bk.Key.Name = bk.BackupID
		bk.Ciphertext.Locations = []string{fmt.Sprintf("file:///nonexistent/bench-%07d.age", i)}
		d.Backups = append(d.Backups, bk)
		digests[bk.Subject] = fmt.Sprintf("%064x", i)
	}
	d.Ledger = head
	return attest.NewStatement(d, digests)
}

// registerSubjects writes the write-once registration of each backup st
// attests, naming its key, its ciphertext's path and its subject's digest:
// witness checks what the registration names and refuses a backup that
// has none.
func registerSubjects(b *testing.B, v *vault.Client, st *attest.Statement) {
	cat := catalog.New(v)
	digests := map[string]string{}
	for _, sub := range st.Subject {
		digests[sub.Name] = sub.Digest["sha256"]
	}
	backups := st.Predicate.Backups
	err := testtools.Each(len(backups), 16, func(i int) error {
		bk := backups[i]
		path := strings.TrimPrefix(bk.Ciphertext.Locations[0], "file://")
		return cat.PutRegistration(context.Background(), &catalog.Registration{ID: bk.BackupID, Key: bk.Key.Name,
			Ciphertext: catalog.FileInfo{Path: path, SHA256: digests[bk.Subject]}})
	})
	if err != nil {
		b.Fatal(err)
	}
}

func benchSigner(b *testing.B) signature.SignerVerifier {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, err := signature.LoadECDSASignerVerifier(key, crypto.SHA256)
	if err != nil {
		b.Fatal(err)
	}
	return s
}
