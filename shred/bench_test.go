package shred_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// BenchmarkShred10k shreds 10,000 protected backups of one closed case and
// reports backups per second, next to a shell loop of `vault` CLI calls
// doing the same per-key work (delete, then read back) on 100 keys in the
// same run. Run it with -benchtime 1x.
func BenchmarkShred10k(b *testing.B) {
	n := 10000
	if s := os.Getenv("SHRED_BENCH_N"); s != "" {
		fmt.Sscan(s, &n)
	}
	for range b.N {
		srv, v := benchVault(b)
		setupCase(b, v, "BENCH", n)
		b.ResetTimer()
		start := time.Now()
		res, err := v.RunShred(context.Background(), admin, "BENCH", runOpts(b))
		elapsed := time.Since(start)
		b.StopTimer()
		if err != nil || len(res.Destroyed) != n {
			b.Fatalf("shred: %d destroyed, %v", len(res.Destroyed), err)
		}
		rate := float64(n) / elapsed.Seconds()
		reportLedgerAndAttestation(b, v, "BENCH")
		ref := vaultCLIRate(b, srv, 100)
		b.ReportMetric(rate, "backups/s")
		b.ReportMetric(ref, "vault-cli-keys/s")
		b.ReportMetric(rate/ref, "x-vault-cli")
		fmt.Printf("shred: %d backups in %v = %.0f backups/s (all verified); vault CLI loop: %.1f keys/s; ratio %.0fx\n",
			n, elapsed.Round(time.Millisecond), rate, ref, rate/ref)
	}
}

// reportLedgerAndAttestation times the ledger walk and the attestation of
// the whole case, which both read every ledger entry.
func reportLedgerAndAttestation(b *testing.B, v *shred.Service, caseID string) {
	ctx := context.Background()
	start := time.Now()
	rep, err := v.VerifyLedger(ctx)
	if err != nil {
		b.Fatal(err)
	}
	verify := time.Since(start)
	start = time.Now()
	a, err := v.Attest(ctx, admin, caseID, shred.AttestOptions{Signer: testSigner(b), SnapshotRetention: time.Hour, ToolVersion: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	fmt.Printf("ledger verify: %d entries in %v; attestation of %d backups (%d KiB) in %v\n",
		rep.Entries, verify.Round(time.Millisecond), a.Backups, len(a.Envelope)>>10, time.Since(start).Round(time.Millisecond))
}

func benchVault(b *testing.B) (*vaulttest.Server, *shred.Service) {
	srv, err := vaulttest.StartServer()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Stop)
	c, err := srv.NewClient(srv.Token)
	if err != nil {
		b.Fatal(err)
	}
	v := vault.New(c, vault.DefaultMounts)
	if _, err := v.Init(context.Background()); err != nil {
		b.Fatal(err)
	}
	return srv, newService(v)
}

// setupCase protects n tiny backups, holds them for caseID and closes it.
func setupCase(b *testing.B, v *shred.Service, caseID string, n int) {
	ctx := context.Background()
	dir := b.TempDir()
	ids := make([]string, n)
	var g errgroup.Group
	g.SetLimit(16)
	for i := range n {
		g.Go(func() error {
			src := filepath.Join(dir, fmt.Sprintf("b%05d", i))
			if err := os.WriteFile(src, []byte(src), 0o600); err != nil {
				return err
			}
			bk, err := v.Protect(ctx, admin, shred.ProtectRequest{Source: src, OutDir: dir, AllowDuplicate: true})
			if err == nil {
				ids[i] = bk.ID
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	if _, err := v.OpenCase(ctx, compliance, catalog.Case{ID: caseID, Authority: "DPA", Reference: "bench", Controllers: []string{"Ministry"}}); err != nil {
		b.Fatal(err)
	}
	if _, err := v.PlaceHolds(ctx, compliance, caseID, shred.HoldSelector{IDs: ids}); err != nil {
		b.Fatal(err)
	}
	if _, err := v.CloseCase(ctx, compliance, shred.CloseRequest{Case: caseID, Reference: "r",
		Document: catalog.DocumentRef{Name: "d", SHA256: fmt.Sprintf("%064x", 7)}}); err != nil {
		b.Fatal(err)
	}
}

// vaultCLIRate deletes n released keys with a shell loop of `vault` CLI
// calls (delete, then read to verify) and returns keys per second.
func vaultCLIRate(b *testing.B, srv *vaulttest.Server, n int) float64 {
	c, _ := srv.NewClient(srv.Token)
	for i := range n {
		name := fmt.Sprintf("cryptoshred-transit/keys/ref-%d", i)
		if _, err := c.Logical().Write(name, map[string]any{"type": "aes256-gcm96"}); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Logical().Write(name+"/config", map[string]any{"deletion_allowed": true}); err != nil {
			b.Fatal(err)
		}
	}
	bin, err := vaulttest.Binary()
	if err != nil {
		b.Fatal(err)
	}
	script := fmt.Sprintf(`for i in $(seq 0 %d); do
  "$VAULT" delete cryptoshred-transit/keys/ref-$i >/dev/null
  if "$VAULT" read cryptoshred-transit/keys/ref-$i >/dev/null 2>&1; then echo "ref-$i still there"; exit 1; fi
done`, n-1)
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = append(os.Environ(), append(srv.Env(srv.Token), "VAULT="+bin)...)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("vault CLI loop: %v\n%s", err, out)
	}
	return float64(n) / time.Since(start).Seconds()
}
