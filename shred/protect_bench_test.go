package shred_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/cryptoshred/cryptoshred/shred"
)

// BenchmarkProtect1GiB protects a 1 GiB file (encryption, both digests and
// the write) and reports its throughput next to the age CLI encrypting the
// same file in the same run, as a ratio of medians over three alternating
// rounds. Protect syncs its output to disk before it returns; the age CLI
// does not, so the ratio is conservative. AGE_BIN names the age v1.3.2
// binary (make bench installs it). Run it with -benchtime 1x.
func BenchmarkProtect1GiB(b *testing.B) {
	ageBin, dir, src, size := protectBenchInput(b)
	_, v := benchVault(b)
	for range b.N {
		ageTime, ours := medianRounds(3, func() time.Duration {
			return timeAgeCLI(b, ageBin, src, filepath.Join(dir, "age-out.age"))
		}, func() time.Duration {
			return timeProtect(b, v, src, dir)
		})
		mbs := func(d time.Duration) float64 { return float64(size) / d.Seconds() / 1e6 }
		b.ReportMetric(mbs(ours), "protect-MB/s")
		b.ReportMetric(mbs(ageTime), "age-cli-MB/s")
		b.ReportMetric(ageTime.Seconds()/ours.Seconds(), "x-age-cli")
		fmt.Printf("protect: %d MiB in %v = %.0f MB/s; age CLI: %v = %.0f MB/s; ratio %.2fx\n",
			size>>20, ours.Round(time.Millisecond), mbs(ours), ageTime.Round(time.Millisecond), mbs(ageTime), ageTime.Seconds()/ours.Seconds())
	}
}

// medianRounds times a and b alternately, rounds times each, starting
// every timing with no dirty pages so that one's writeback does not slow
// the other, and returns the median of each.
func medianRounds(rounds int, a, b func() time.Duration) (time.Duration, time.Duration) {
	var as, bs []time.Duration
	for range rounds {
		syscall.Sync()
		as = append(as, a())
		syscall.Sync()
		bs = append(bs, b())
	}
	slices.Sort(as)
	slices.Sort(bs)
	return as[rounds/2], bs[rounds/2]
}

// protectBenchInput returns the age CLI from AGE_BIN and a random source
// file of PROTECT_BENCH_BYTES (1 GiB by default) in a fresh directory.
func protectBenchInput(b *testing.B) (ageBin, dir, src string, size int64) {
	ageBin = os.Getenv("AGE_BIN")
	if ageBin == "" {
		b.Fatal("AGE_BIN is not set: run make bench, or point it at filippo.io/age/cmd/age@v1.3.2")
	}
	size = 1 << 30
	if s := os.Getenv("PROTECT_BENCH_BYTES"); s != "" {
		fmt.Sscan(s, &size)
	}
	dir = b.TempDir()
	src = filepath.Join(dir, "backup.tar")
	writeRandomFile(b, src, size)
	return ageBin, dir, src, size
}

func writeRandomFile(b *testing.B, path string, size int64) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r := rand.NewChaCha8([32]byte{1})
	if _, err := io.CopyN(f, r, size); err != nil {
		b.Fatal(err)
	}
}

func timeAgeCLI(b *testing.B, bin, src, out string) time.Duration {
	id, _ := age.GenerateX25519Identity()
	_ = os.Remove(out)
	start := time.Now()
	if msg, err := exec.Command(bin, "-r", id.Recipient().String(), "-o", out, src).CombinedOutput(); err != nil {
		b.Fatalf("age CLI: %v\n%s", err, msg)
	}
	d := time.Since(start)
	_ = os.Remove(out)
	return d
}

func timeProtect(b *testing.B, v *shred.Service, src, dir string) time.Duration {
	out := b.TempDir()
	start := time.Now()
	bk, err := v.Protect(context.Background(), admin, shred.ProtectRequest{Source: src, OutDir: out, AllowDuplicate: true})
	d := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	_ = os.Remove(bk.Ciphertext.Path)
	return d
}
