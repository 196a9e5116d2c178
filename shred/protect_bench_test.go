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

// BenchmarkProtect1GiB protects a 1 GiB file (encryption, both digests,
// the write and its fsync) and reports its throughput next to the age CLI
// encrypting the same file in the same run, with and without an fsync of
// age's output afterwards (protect syncs before it returns, so age + sync
// is the like-for-like reference), as ratios of medians over three
// alternating rounds. AGE_BIN names the age v1.3.2 binary (make bench
// installs it). Run it with -benchtime 1x.
func BenchmarkProtect1GiB(b *testing.B) {
	ageBin, dir, src, size := protectBenchInput(b)
	_, v := benchVault(b)
	ageOut := filepath.Join(dir, "age-out.age")
	for range b.N {
		ageTime, ours := medianRounds(3, func() time.Duration { return timeAgeCLI(b, ageBin, src, ageOut, false) },
			func() time.Duration { return timeProtect(b, v, src, dir) })
		ageSynced, _ := medianRounds(3, func() time.Duration { return timeAgeCLI(b, ageBin, src, ageOut, true) },
			func() time.Duration { return 0 })
		mbs := func(d time.Duration) float64 { return float64(size) / d.Seconds() / 1e6 }
		b.ReportMetric(mbs(ours), "protect-MB/s")
		b.ReportMetric(ageSynced.Seconds()/ours.Seconds(), "x-age-cli+sync")
		b.ReportMetric(ageTime.Seconds()/ours.Seconds(), "x-age-cli")
		fmt.Printf("protect: %d MiB in %v = %.0f MB/s; age CLI + fsync: %v, ratio %.2fx; age CLI alone: %v, ratio %.2fx\n",
			size>>20, ours.Round(time.Millisecond), mbs(ours), ageSynced.Round(time.Millisecond), ageSynced.Seconds()/ours.Seconds(),
			ageTime.Round(time.Millisecond), ageTime.Seconds()/ours.Seconds())
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

// timeAgeCLI times the age CLI encrypting src to out, and with synced an
// fsync of out as well.
func timeAgeCLI(b *testing.B, bin, src, out string, synced bool) time.Duration {
	id, _ := age.GenerateX25519Identity()
	_ = os.Remove(out)
	start := time.Now()
	if msg, err := exec.Command(bin, "-r", id.Recipient().String(), "-o", out, src).CombinedOutput(); err != nil {
		b.Fatalf("age CLI: %v\n%s", err, msg)
	}
	if synced {
		syncFile(b, out)
	}
	d := time.Since(start)
	_ = os.Remove(out)
	return d
}

func syncFile(b *testing.B, path string) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
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
