package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
// S3 in constant memory; the child's own peak RSS is reported and bounded.
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
	var stdout strings.Builder
	cmd.Stdout = &stdout
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	peak := watchPeakRSS(cmd.Process.Pid)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("protect of a 1 GiB stream: %v\n%s", err, stdout.String())
	}
	out, rss := stdout.String(), <-peak
	t.Logf("protected a 1 GiB stream to S3 in %v, peak RSS %d MiB", time.Since(start).Round(time.Millisecond), rss)
	if !strings.Contains(string(out), fmt.Sprintf("%x", h.Sum(nil))) {
		t.Fatalf("the recorded plaintext digest is not the stream's: %s", out)
	}
	if rss > 256 {
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

// watchPeakRSS samples the process's own high-water mark (VmHWM) until it
// exits. The rusage of a child includes the parent's resident set at the
// moment of fork, so it cannot tell the child's own peak.
func watchPeakRSS(pid int) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var peak int64
		for {
			status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if err != nil {
				out <- peak
				return
			}
			for _, line := range strings.Split(string(status), "\n") {
				if kb, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					var n int64
					fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(kb), " kB"), &n)
					peak = max(peak, n>>10)
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return out
}

// TestS3ShredSurvivesSIGKILL: shred run on S3 backups is killed at spread
// moments (some while it deletes object versions); a re-run finishes it,
// and then no key and no version or delete marker is left.
func TestS3ShredSurvivesSIGKILL(t *testing.T) {
	env, gw := s3CLI(t)
	key := env.dir + "/signer"
	if err := attest.WriteKeyPair(key+".key", key+".pub", attest.ECDSAP256, nil); err != nil {
		t.Fatal(err)
	}
	run := func(caseID string) *exec.Cmd {
		return child(env.srv, env.roles.admin, "shred", "run", "--case", caseID, "--yes", "--sign-key", key+".key",
			"--vault-snapshot-retention", "1h", "-o", filepath.Join(env.dir, caseID+".json"))
	}
	for i, delay := range []time.Duration{150 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond} {
		caseID := fmt.Sprintf("S3KILL-%d", i)
		ids := s3ClosedCase(t, env, caseID, 20)
		killAfter(t, run(caseID), delay)
		os.Remove(filepath.Join(env.dir, caseID+".json"))
		if out, err := run(caseID).CombinedOutput(); err != nil {
			t.Fatalf("re-run after a kill at %v: %v\n%s", delay, err, out)
		}
		for _, id := range ids {
			if alive, _ := keyState(t, env, id); alive {
				t.Fatalf("%s: key still in Vault after the re-run", id)
			}
		}
		out, err := gw.Client(gw.AccessKey, gw.SecretKey).ListObjectVersions(context.Background(),
			&awss3.ListObjectVersionsInput{Bucket: aws.String("backups"), Prefix: aws.String(caseID + "/")})
		if err != nil || len(out.Versions)+len(out.DeleteMarkers) != 0 {
			t.Fatalf("kill at %v: %d versions and %d markers left (%v)", delay, len(out.Versions), len(out.DeleteMarkers), err)
		}
	}
	mustRun(t, env.srv, env.roles.auditor, "ledger", "verify")
}

// s3ClosedCase protects n files to s3://backups/CASE, holds them for the
// case and closes it; it returns the backup ids.
func s3ClosedCase(t *testing.T, env testEnv, caseID string, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		src := filepath.Join(env.dir, fmt.Sprintf("%s-%d.tar", caseID, i))
		os.WriteFile(src, []byte(src), 0o600)
		r := mustRun(t, env.srv, env.roles.admin, "--format", "json", "backup", "protect", src, "--out", "s3://backups/"+caseID)
		ids = append(ids, strings.Split(strings.Split(r.stdout, `"id": "`)[1], `"`)[0])
	}
	mustRun(t, env.srv, env.roles.compliance, "case", "open", caseID, "--authority", "A", "--reference", "R", "--controller", "C")
	mustRun(t, env.srv, env.roles.compliance, append([]string{"hold", "place", "--case", caseID}, ids...)...)
	mustRun(t, env.srv, env.roles.compliance, "case", "close", caseID, "--decision-ref", "D", "--decision-file", decisionFile(t, env), "--yes")
	return ids
}

func keyState(t *testing.T, env testEnv, key string) (alive, latched bool) {
	t.Helper()
	sec, err := env.srv.Root(t).Logical().Read("cryptoshred-transit/keys/" + key)
	if err != nil {
		t.Fatal(err)
	}
	return sec != nil, sec != nil && sec.Data["deletion_allowed"] != true
}
