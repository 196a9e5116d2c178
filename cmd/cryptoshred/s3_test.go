package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/internal/s3test"
)

// s3CLI is a test environment whose CLI runs reach a versitygw with a
// locked bucket "backups", as the root S3 user.
func s3CLI(t *testing.T) (testEnv, *s3test.Server) {
	env := newTestEnv(t)
	gw := s3test.Start(t)
	gw.SetEnv(t, gw.AccessKey, gw.SecretKey)
	gw.CreateLockedBucketAs(t, "backups")
	return env, gw
}

// TestProtectGiBStreamToS3: a 1 GiB stream from standard input goes to
// S3 without being held in memory; the child's peak RSS is reported and
// must stay well under the stream's size (62 MiB when run alone here).
func TestProtectGiBStreamToS3(t *testing.T) {
	env, _ := s3CLI(t)
	const size = 1 << 30
	cmd := child(env.srv, env.roles.admin, "--format", "json", "backup", "protect", "-", "--name", "big.dump", "--out", "s3://backups/big")
	pr, pw := io.Pipe()
	cmd.Stdin = pr
	h := sha256.New()
	go func() {
		src := io.LimitReader(rand.NewChaCha8([32]byte{1}), size)
		_, err := io.Copy(io.MultiWriter(pw, h), src)
		pw.CloseWithError(err)
	}()
	start := time.Now()
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	peak := watchPeakRSS(cmd.Process.Pid)
	err := cmd.Wait()
	out, rss := stdout.Bytes(), peak()>>10
	if err != nil {
		t.Fatalf("protect of a 1 GiB stream: %v\n%s", err, out)
	}
	t.Logf("protected a 1 GiB stream to S3 in %v, peak RSS %d MiB", time.Since(start).Round(time.Millisecond), rss)
	if !strings.Contains(string(out), fmt.Sprintf("%x", h.Sum(nil))) {
		t.Fatalf("the recorded plaintext digest is not the stream's: %s", out)
	}
	if rss > 512 {
		t.Fatalf("peak RSS %d MiB for a 1 GiB stream: not constant memory", rss)
	}
}

// TestS3StoppedMidRun: the gateway stops while shred runs; the run fails
// (exit 1 or 3), and once it is back a re-run finishes with nothing left.
func TestS3StoppedMidRun(t *testing.T) {
	env, gw := s3CLI(t)
	var ids []string
	for i := range 6 {
		src := env.dir + fmt.Sprintf("/s%d.tar", i)
		os.WriteFile(src, []byte(src), 0o600)
		r := mustRun(t, env.srv, env.roles.admin, "--format", "json", "backup", "protect", src, "--out", "s3://backups/run")
		ids = append(ids, strings.Split(strings.Split(r.stdout, `"id": "`)[1], `"`)[0])
	}
	mustRun(t, env.srv, env.roles.compliance, "case", "open", "GW", "--authority", "A", "--reference", "R", "--controller", "C")
	mustRun(t, env.srv, env.roles.compliance, append([]string{"hold", "place", "--case", "GW"}, ids...)...)
	mustRun(t, env.srv, env.roles.compliance, "case", "close", "GW", "--decision-ref", "D", "--decision-file", decisionFile(t, env), "--yes")
	key := env.dir + "/signer"
	if err := attest.WriteKeyPair(key+".key", key+".pub", attest.ECDSAP256, nil); err != nil {
		t.Fatal(err)
	}
	gw.Stop()
	run := []string{"shred", "run", "--case", "GW", "--yes", "--sign-key", key + ".key", "--vault-snapshot-retention", "1h", "-o", env.dir + "/att.json"}
	r := runCLI(t, env.srv, env.roles.admin, run...)
	if r.code != exitError && r.code != exitPartial {
		t.Fatalf("shred run with S3 down: exit %d\n%s", r.code, r.stderr)
	}
	gw.Restart(t)
	os.Remove(env.dir + "/att.json")
	mustRun(t, env.srv, env.roles.admin, run...)
	out, err := gw.Client(gw.AccessKey, gw.SecretKey).ListObjectVersions(context.Background(),
		&awss3.ListObjectVersionsInput{Bucket: aws.String("backups"), Prefix: aws.String("run/")})
	if err != nil || len(out.Versions) != 0 {
		t.Fatalf("versions left after the re-run: %d (%v)", len(out.Versions), err)
	}
}

// TestVersitygwRetentionDefectStillThere documents a known defect of
// versitygw v1.8.0 that is why cryptoshred never sets retention periods:
// once a version's retention period has expired, its legal hold is no
// longer checked. If an upgrade fixes it, this test fails: revisit then.
func TestVersitygwRetentionDefectStillThere(t *testing.T) {
	_, gw := s3CLI(t)
	c := gw.Client(gw.AccessKey, gw.SecretKey)
	ctx := context.Background()
	put, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("backups"), Key: aws.String("r"),
		Body: strings.NewReader("x"), ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
	if err != nil {
		t.Fatal(err)
	}
	v := put.VersionId
	if _, err := c.PutObjectRetention(ctx, &awss3.PutObjectRetentionInput{Bucket: aws.String("backups"), Key: aws.String("r"), VersionId: v,
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeGovernance, RetainUntilDate: aws.Time(time.Now().Add(2 * time.Second))}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObjectLegalHold(ctx, &awss3.PutObjectLegalHoldInput{Bucket: aws.String("backups"), Key: aws.String("r"), VersionId: v,
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOn}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	_, err = c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("backups"), Key: aws.String("r"), VersionId: v})
	if err != nil {
		t.Fatalf("versitygw now refuses to delete a legally held version after its retention expired (%v): the defect is fixed", err)
	}
}

// watchPeakRSS samples the peak resident set (VmHWM, KiB) of process pid
// until the returned function is called, which returns the last sample.
// The process's own VmHWM is read, not its rusage: a child started with
// vfork inherits the parent's high-water mark in ru_maxrss, so that
// measured the test binary rather than the command.
func watchPeakRSS(pid int) func() int64 {
	var peak atomic.Int64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
				for _, line := range strings.Split(string(b), "\n") {
					if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
						kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
						peak.Store(max(peak.Load(), kb))
					}
				}
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() int64 {
		close(done)
		<-stopped
		return peak.Load()
	}
}
