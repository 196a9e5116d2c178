// Package s3test starts real versitygw S3 gateways for tests: a POSIX back
// end with versioning, on free loopback ports, stopped when the test ends.
// There are no mocks: a test that needs S3 and cannot start the gateway
// fails.
package s3test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/cryptoshred/cryptoshred/internal/testtools"
)

// Server is a running versitygw.
type Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	Admin     string // http://127.0.0.1:PORT of the admin API
	AccessKey string // root
	SecretKey string
	Dir       string

	bin  string
	args []string
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	log  testtools.LockedBuffer
}

// Binary returns the versitygw binary: $VERSITYGW_BIN or the cached one.
func Binary() (string, error) {
	if b := os.Getenv("VERSITYGW_BIN"); b != "" {
		return b, nil
	}
	home, _ := os.UserHomeDir()
	b := filepath.Join(home, ".cache", "cryptoshred", "bin", "v1.8.0", "versitygw")
	if _, err := os.Stat(b); err != nil {
		return "", fmt.Errorf("versitygw not found: set VERSITYGW_BIN or run `make tools`")
	}
	return b, nil
}

// Start runs a gateway for the test and stops it at the end.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, d := range []string{"iam", "versions", "data"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	s := &Server{AccessKey: "root" + testtools.RandomHex(6), SecretKey: testtools.RandomHex(20), Dir: dir, bin: bin}
	if err := s.startOnFreePorts(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// startOnFreePorts launches the gateway, choosing new ports while another
// process takes the chosen ones between choice and bind.
func (s *Server) startOnFreePorts() error {
	var err error
	for range 5 {
		if err = s.choosePorts(); err != nil {
			return err
		}
		if err = s.launch(); err == nil || !strings.Contains(err.Error(), "address already in use") {
			return err
		}
	}
	return err
}

func (s *Server) choosePorts() error {
	ports, err := testtools.FreePorts(2)
	if err != nil {
		return err
	}
	port, admin := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])
	s.Endpoint, s.Admin = "http://"+port, "http://"+admin
	s.args = []string{"--port", port, "--admin-port", admin, "--iam-dir", filepath.Join(s.Dir, "iam"),
		"posix", "--versioning-dir", filepath.Join(s.Dir, "versions"), filepath.Join(s.Dir, "data")}
	return nil
}

func (s *Server) launch() error {
	cmd := exec.Command(s.bin, s.args...)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
	cmd.Stdout, cmd.Stderr = &s.log, &s.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("failed to start versitygw: %w", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(s.done)
	if err := s.waitReady(20 * time.Second); err != nil {
		s.Stop()
		return fmt.Errorf("versitygw did not start: %w\n%s", err, testtools.Tail(s.log.String(), 20))
	}
	return nil
}

func (s *Server) waitReady(limit time.Duration) error {
	return testtools.WaitReady(s.done, limit, func() bool {
		resp, err := http.Get(s.Endpoint)
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
}

// Stop kills the gateway; the data directory stays until the test ends.
func (s *Server) Stop() {
	if s.cmd != nil {
		_ = s.cmd.Process.Kill()
		<-s.done
		s.cmd = nil
	}
}

// Restart starts a stopped gateway again on the same ports and data.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.launch(); err != nil {
		t.Fatal(err)
	}
}

// CreateUser adds a user with role "user" and returns its keys.
func (s *Server) CreateUser(t testing.TB, name string) (access, secret string) {
	t.Helper()
	access, secret = name+testtools.RandomHex(4), testtools.RandomHex(20)
	out, err := exec.Command(s.bin, "admin", "-a", s.AccessKey, "-s", s.SecretKey, "-er", s.Admin,
		"create-user", "-a", access, "-s", secret, "-r", "user").CombinedOutput()
	if err != nil {
		t.Fatalf("create user %s: %v: %s", name, err, out)
	}
	return access, secret
}

// Env returns AWS environment variables that point an S3 client at the
// gateway with the given keys.
func (s *Server) Env(access, secret string) []string {
	return []string{"AWS_ACCESS_KEY_ID=" + access, "AWS_SECRET_ACCESS_KEY=" + secret,
		"AWS_ENDPOINT_URL_S3=" + s.Endpoint, "AWS_REGION=us-east-1"}
}

// SetEnv points this process's S3 clients at the gateway with the keys.
func (s *Server) SetEnv(t testing.TB, access, secret string) {
	t.Helper()
	for _, kv := range s.Env(access, secret) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(s.Dir, "no-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(s.Dir, "no-credentials"))
}

// Log returns what the gateway printed.
func (s *Server) Log() string { return s.log.String() }

// CreateLockedBucket creates bucket with Object Lock (and so versioning)
// enabled, with the credentials in the environment.
func CreateLockedBucket(t testing.TB, bucket string) {
	t.Helper()
	c := client(t)
	_, err := c.CreateBucket(context.Background(), &awss3.CreateBucketInput{Bucket: &bucket, ObjectLockEnabledForBucket: aws.Bool(true)})
	if err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
}

// CreateBucket creates bucket without Object Lock, versioned.
func CreateBucket(t testing.TB, bucket string) {
	t.Helper()
	c := client(t)
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
	if _, err := c.PutBucketVersioning(ctx, &awss3.PutBucketVersioningInput{Bucket: &bucket,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatalf("enable versioning on %s: %v", bucket, err)
	}
}

// client returns a plain SDK client configured from the environment, as
// an independent S3 client would be.
func client(t testing.TB) *awss3.Client {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return awss3.NewFromConfig(cfg, func(o *awss3.Options) { o.UsePathStyle = true })
}

// Client returns a plain SDK client with the given keys, for tests that
// act as a role with its own credentials.
func (s *Server) Client(access, secret string) *awss3.Client {
	return awss3.New(awss3.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(access, secret, "")})
}

// Config returns an AWS configuration for the gateway with the keys.
func (s *Server) Config(access, secret string) aws.Config {
	return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(s.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(access, secret, "")}
}

// PutBucketPolicy sets bucket's policy with the root credentials.
func (s *Server) PutBucketPolicy(t testing.TB, bucket, policy string) {
	t.Helper()
	c := s.Client(s.AccessKey, s.SecretKey)
	if _, err := c.PutBucketPolicy(context.Background(), &awss3.PutBucketPolicyInput{Bucket: &bucket, Policy: &policy}); err != nil {
		t.Fatalf("put bucket policy: %v", err)
	}
}

// CreateLockedBucketAs creates bucket with Object Lock with the root keys.
func (s *Server) CreateLockedBucketAs(t testing.TB, bucket string) {
	t.Helper()
	c := s.Client(s.AccessKey, s.SecretKey)
	if _, err := c.CreateBucket(context.Background(), &awss3.CreateBucketInput{Bucket: &bucket, ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
}
