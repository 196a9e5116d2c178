package shred_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

// BenchmarkPlanLargeBackups plans the shred of a closed case of
// PLAN_BENCH_FILES (default 8) local backups of PLAN_BENCH_MIB (default
// 256) MiB each, and compares the plan's time with reading and hashing
// every ciphertext once, which is what a plan did before it checked only
// each ciphertext's size and header; both measured in the same run, the
// files in the page cache for both. Run it with -benchtime 1x.
func BenchmarkPlanLargeBackups(b *testing.B) {
	ctx := context.Background()
	_, v := benchVault(b)
	files, mib := envInt("PLAN_BENCH_FILES", 8), envInt("PLAN_BENCH_MIB", 256)
	ids, paths := protectLarge(b, v, files, int64(mib)<<20)
	if _, err := v.OpenCase(ctx, compliance, catalog.Case{ID: "LARGE", Authority: "DPA", Reference: "r", Controllers: []string{"M"}}); err != nil {
		b.Fatal(err)
	}
	if _, err := v.PlaceHolds(ctx, compliance, "LARGE", shred.HoldSelector{IDs: ids}); err != nil {
		b.Fatal(err)
	}
	if _, err := v.CloseCase(ctx, compliance, shred.CloseRequest{Case: "LARGE", Reference: "r", Document: catalog.DocumentRef{Name: "d", SHA256: fmt.Sprintf("%064x", 7)}}); err != nil {
		b.Fatal(err)
	}
	for range b.N {
		start := time.Now()
		plan, err := v.PlanShred(ctx, "LARGE", catalog.Now())
		planned := time.Since(start)
		if err != nil || plan.Count(shred.ActionDestroy) != files {
			b.Fatalf("plan: %v", err)
		}
		rehash := timeHashing(b, paths)
		start = time.Now()
		results, err := v.VerifyBackups(ctx, nil, "LARGE")
		verified := time.Since(start)
		if err != nil || len(results) != files || !results[0].OK {
			b.Fatalf("verify: %v", err)
		}
		b.ReportMetric(planned.Seconds()/rehash.Seconds(), "x-rehash")
		fmt.Printf("plan of %d backups, %d MiB of ciphertext: %v; reading and hashing those ciphertexts once, one after another (what a plan did before): %v; ratio %.3fx; backup verify of the case (re-hash, %d at a time): %v\n",
			files, files*mib, planned.Round(time.Millisecond), rehash.Round(time.Millisecond), planned.Seconds()/rehash.Seconds(), shred.DefaultParallel, verified.Round(time.Millisecond))
	}
}

// protectLarge protects n random files of size bytes and returns their
// ids and ciphertext paths.
func protectLarge(b *testing.B, v *shred.Service, n int, size int64) (ids, paths []string) {
	dir := b.TempDir()
	for i := range n {
		src := filepath.Join(dir, fmt.Sprintf("large-%d.tar", i))
		writeRandomFile(b, src, size)
		bk, err := v.Protect(context.Background(), admin, shred.ProtectRequest{Source: src, OutDir: dir, AllowDuplicate: true})
		if err != nil {
			b.Fatal(err)
		}
		ids, paths = append(ids, bk.ID), append(paths, bk.Ciphertext.Path)
	}
	return ids, paths
}

// timeHashing reads and hashes each file once and returns how long it took.
func timeHashing(b *testing.B, paths []string) time.Duration {
	start := time.Now()
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		_, err = io.Copy(sha256.New(), f)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}
