package shred_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/internal/s3test"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/storage"
	"github.com/cryptoshred/cryptoshred/shred/storage/local"
	"github.com/cryptoshred/cryptoshred/shred/storage/s3"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// BenchmarkProtect1GiBToS3 protects a 1 GiB file into a versitygw bucket
// with Object Lock (the whole command: key, encryption, both digests,
// multipart upload, registration, ledger) and reports it as a ratio to the
// age CLI writing the same file locally, measured in the same run. The
// gateway writes to the same disk, so the ratio includes its own cost.
func BenchmarkProtect1GiBToS3(b *testing.B) {
	ageBin, dir, src, size := protectBenchInput(b)
	srv, _ := benchVault(b)
	gw := s3test.Start(b)
	gw.CreateLockedBucketAs(b, "bench")
	c, err := srv.NewClient(srv.Token)
	if err != nil {
		b.Fatal(err)
	}
	v := vault.New(c, vault.DefaultMounts)
	be := s3.NewFromConfig(gw.Config(gw.AccessKey, gw.SecretKey), true)
	svc := shred.New(shred.Config{Records: v, Keys: v, Guard: v, Signer: v,
		Storage: &storage.Router{Local: local.New(), NewS3: func() (storage.Backend, error) { return be, nil }}})
	for range b.N {
		n := 0
		ageTime, ours := medianRounds(3, func() time.Duration {
			return timeAgeCLI(b, ageBin, src, filepath.Join(dir, "age-out.age"), false)
		}, func() time.Duration {
			n++
			start := time.Now()
			if _, err := svc.Protect(context.Background(), admin, shred.ProtectRequest{Source: src, OutDir: fmt.Sprintf("s3://bench/r%d", n), AllowDuplicate: true}); err != nil {
				b.Fatal(err)
			}
			return time.Since(start)
		})
		mbs := func(d time.Duration) float64 { return float64(size) / d.Seconds() / 1e6 }
		b.ReportMetric(ageTime.Seconds()/ours.Seconds(), "x-age-cli")
		fmt.Printf("protect to S3: %d MiB in %v = %.0f MB/s; age CLI to a local file: %v = %.0f MB/s; ratio %.2fx\n",
			size>>20, ours.Round(time.Millisecond), mbs(ours), ageTime.Round(time.Millisecond), mbs(ageTime), ageTime.Seconds()/ours.Seconds())
	}
}
