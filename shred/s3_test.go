package shred_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cryptoshred/cryptoshred/internal/s3test"
	"github.com/cryptoshred/cryptoshred/internal/testtools"
	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/agefile"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
	"github.com/cryptoshred/cryptoshred/shred/storage"
	"github.com/cryptoshred/cryptoshred/shred/storage/local"
	"github.com/cryptoshred/cryptoshred/shred/storage/s3"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// s3Env is a Vault and a versitygw whose bucket "backups" has Object
// Lock and the bucket policy of examples/s3: the admin's S3 user may
// write and delete versions, the compliance user may set legal holds.
type s3Env struct {
	vault                *vaulttest.Server
	gw                   *s3test.Server
	admin, compliance    *shred.Service
	adminS3, complyS3    *awss3.Client
	adminKey, adminSec   string
	complyKey, complySec string
}

// newS3Env starts Vault and the gateway with a locked bucket "backups"
// under examples/s3/bucket-policy.json, to which each of grants (a policy
// statement with the principals ADMIN and COMPLIANCE) is added.
func newS3Env(t *testing.T, grants ...string) s3Env {
	srv, _ := newVault(t)
	gw := s3test.Start(t)
	ak, as := gw.CreateUser(t, "admin")
	ck, cs := gw.CreateUser(t, "compliance")
	gw.CreateLockedBucketAs(t, "backups")
	policy, err := os.ReadFile("../examples/s3/bucket-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range grants {
		policy = bytes.Replace(policy, []byte("\n  ]\n}"), []byte(",\n"+g+"\n  ]\n}"), 1)
	}
	p := strings.NewReplacer("ADMIN_ACCESS_KEY_OR_ARN", ak, "COMPLIANCE_ACCESS_KEY_OR_ARN", ck, "BUCKET", "backups",
		`"ADMIN"`, `"`+ak+`"`, `"COMPLIANCE"`, `"`+ck+`"`).Replace(string(policy))
	gw.PutBucketPolicy(t, "backups", p)
	return s3Env{vault: srv, gw: gw,
		admin:      roleServiceOn(t, srv, vault.PolicyAdmin, s3.NewFromConfig(gw.Config(ak, as), true)),
		compliance: roleServiceOn(t, srv, vault.PolicyCompliance, s3.NewFromConfig(gw.Config(ck, cs), true)),
		adminS3:    gw.Client(ak, as), complyS3: gw.Client(ck, cs), adminKey: ak, adminSec: as, complyKey: ck, complySec: cs}
}

// The bucket policy's Deny statements hold whatever else grants a role:
// with every S3 action allowed to both roles besides, the admin still
// cannot lift a legal hold and the compliance officer still cannot
// delete a version, even of a backup no hold protects.
func TestBucketPolicyDeniesWhatAnotherGrantGives(t *testing.T) {
	env := newS3Env(t, `{"Effect": "Allow", "Principal": {"AWS": ["ADMIN", "COMPLIANCE"]}, "Action": ["s3:*"], "Resource": ["arn:aws:s3:::backups", "arn:aws:s3:::backups/*"]}`)
	ctx := context.Background()
	b, _ := protectTo(t, env.admin, "s3://backups/casework", []byte("held"))
	openCase(t, env.compliance, "DENY")
	hold(t, env.compliance, "DENY", b.ID)
	bucket, key, version := splitLoc(t, b.Ciphertext.Path)
	_, err := env.adminS3.PutObjectLegalHold(ctx, &awss3.PutObjectLegalHoldInput{Bucket: &bucket, Key: &key, VersionId: &version,
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOff}})
	if !s3.IsAccessDenied(err) {
		t.Fatalf("the admin lifted a legal hold that another statement allows it: %v", err)
	}
	unheld, _ := protectTo(t, env.admin, "s3://backups/unheld", []byte("not held"))
	bucket, key, version = splitLoc(t, unheld.Ciphertext.Path)
	_, err = env.complyS3.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &bucket, Key: &key, VersionId: &version})
	if !s3.IsAccessDenied(err) {
		t.Fatalf("the compliance officer deleted a version that another statement allows it to: %v", err)
	}
}

// roleServiceOn is roleVault with ciphertexts on the S3 back end b.
func roleServiceOn(t *testing.T, srv *vaulttest.Server, policy string, b storage.Backend) *shred.Service {
	v := vault.New(srv.Client(t, srv.TokenWithPolicies(t, policy, policy)), vault.DefaultMounts)
	return shred.New(shred.Config{Records: v, Keys: v, Guard: v, Signer: v,
		Storage: &storage.Router{Local: local.New(), NewS3: func() (storage.Backend, error) { return b, nil }}})
}

func versionsLeft(t *testing.T, c *awss3.Client, prefix string) int {
	t.Helper()
	out, err := c.ListObjectVersions(context.Background(), &awss3.ListObjectVersionsInput{Bucket: aws.String("backups"), Prefix: &prefix})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Versions) + len(out.DeleteMarkers)
}

func TestS3HoldIsEnforcedByStorageAndShredLeavesNothing(t *testing.T) {
	env := newS3Env(t)
	ctx := context.Background()
	fromFile, _ := protectTo(t, env.admin, "s3://backups/casework", []byte("file backup"))
	stream := []byte("pg_dump output")
	fromStdin, err := env.admin.Protect(ctx, admin, shred.ProtectRequest{Input: bytes.NewReader(stream), Name: "db-2026-11-28.sql",
		OutDir: "s3://backups/casework", System: "casework"})
	if err != nil {
		t.Fatalf("protect from a stream: %v", err)
	}
	if fromStdin.Original != nil || !strings.Contains(fromStdin.Ciphertext.Path, "versionId=") {
		t.Fatalf("stream backup: original %+v, location %s", fromStdin.Original, fromStdin.Ciphertext.Path)
	}
	openCase(t, env.compliance, "S3")
	hold(t, env.compliance, "S3", fromFile.ID, fromStdin.ID)

	bucket, key, version := splitLoc(t, fromFile.Ciphertext.Path)
	_, err = env.adminS3.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &bucket, Key: &key, VersionId: &version})
	if !s3.IsAccessDenied(err) {
		t.Fatalf("the admin's own S3 credentials deleted a held version: %v", err)
	}
	_, err = env.adminS3.PutObjectLegalHold(ctx, &awss3.PutObjectLegalHoldInput{Bucket: &bucket, Key: &key, VersionId: &version,
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOff}})
	if !s3.IsAccessDenied(err) {
		t.Fatalf("the admin's own S3 credentials lifted a legal hold: %v", err)
	}
	if got, err := open(t, env.admin, fromStdin.ID); err != nil || !bytes.Equal(got, stream) {
		t.Fatalf("restore from S3: %q %v", got, err)
	}

	closeCase(t, env.compliance, "S3")
	res, err := env.admin.RunShred(ctx, admin, "S3", runOpts(t))
	if err != nil || len(res.Destroyed) != 2 {
		t.Fatalf("shred run: %+v %v", res, err)
	}
	for _, b := range res.Destroyed {
		if !b.Destruction.CiphertextDeleted || len(b.Destruction.CiphertextRemoved) == 0 {
			t.Fatalf("%s: %+v", b.ID, b.Destruction)
		}
	}
	if n := versionsLeft(t, env.adminS3, "casework/"); n != 0 {
		t.Fatalf("%d versions or delete markers left after shred", n)
	}
	st := attestedStatement(t, res.Attestation)
	for _, ab := range st.Predicate.Backups {
		ct := ab.Ciphertext
		if !ct.Deleted || ct.Storage != "s3" || !strings.HasPrefix(ct.Locations[0], "s3://backups/casework/") ||
			len(ct.Removed) == 0 || !strings.Contains(ct.Removed[0], "versionId=") || ct.StorageHold == nil || ct.StorageHold.To.IsZero() {
			t.Fatalf("attested ciphertext %+v", ab.Ciphertext)
		}
	}
}

func TestS3ProtectRefusesBucketWithoutObjectLock(t *testing.T) {
	env := newS3Env(t)
	unlockedBucket(t, env)
	dir := t.TempDir()
	src := writeFile(t, dir, "x.tar", []byte("x"))
	_, err := env.admin.Protect(context.Background(), admin, shred.ProtectRequest{Source: src, OutDir: "s3://unlocked/p"})
	if !errors.Is(err, shred.ErrRefused) || !strings.Contains(err.Error(), "no Object Lock") {
		t.Fatalf("protect into a bucket without Object Lock: %v", err)
	}
	b, err := env.admin.Protect(context.Background(), admin, shred.ProtectRequest{Source: src, OutDir: "s3://unlocked/p", NoStorageHold: true})
	if err != nil {
		t.Fatalf("protect with --no-storage-hold: %v", err)
	}
	// The compliance officer, who may not read this bucket's lock
	// configuration, holds it (the key hold stands; the storage hold is
	// reported as not placed) and closes the case: with no storage hold
	// on record, the close has none to lift and releases it.
	openCase(t, env.compliance, "UNLOCKED")
	_, err = env.compliance.PlaceHolds(context.Background(), compliance, "UNLOCKED", shred.HoldSelector{IDs: []string{b.ID}})
	if err == nil || !strings.Contains(err.Error(), "failed to read the Object Lock configuration of bucket unlocked") {
		t.Errorf("hold where the lock configuration cannot be read, reported as: %v", err)
	}
	if res := closeCase(t, env.compliance, "UNLOCKED"); len(res.Released) != 1 {
		t.Fatalf("close of a backup without a storage hold: %+v", res)
	}
}

// unlockedBucket creates the bucket "unlocked", without Object Lock, that
// only the admin may use.
func unlockedBucket(t *testing.T, env s3Env) {
	t.Helper()
	env.gw.SetEnv(t, env.gw.AccessKey, env.gw.SecretKey)
	s3test.CreateBucket(t, "unlocked")
	env.gw.PutBucketPolicy(t, "unlocked", strings.ReplaceAll(allowAll, "ADMIN", env.adminKey))
}

const allowAll = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["ADMIN"]},"Action":["s3:*"],"Resource":["arn:aws:s3:::unlocked","arn:aws:s3:::unlocked/*"]}]}`

func protectTo(t *testing.T, v *shred.Service, out string, data []byte) (*catalog.Backup, string) {
	t.Helper()
	src := writeFile(t, t.TempDir(), "casework.tar", data)
	b, err := v.Protect(context.Background(), admin, shred.ProtectRequest{Source: src, OutDir: out, System: "casework"})
	if err != nil {
		t.Fatalf("protect to %s: %v", out, err)
	}
	return b, src
}

func splitLoc(t *testing.T, loc string) (bucket, key, version string) {
	t.Helper()
	rest := strings.TrimPrefix(loc, "s3://")
	bucket, rest, _ = strings.Cut(rest, "/")
	key, q, _ := strings.Cut(rest, "?versionId=")
	return bucket, key, q
}

// TestS3RegisterAdoptsAnObject: an age file the stock age CLI (or any
// pipeline) wrote to S3 is registered in place, pinned to its version,
// and restores.
func TestS3RegisterAdoptsAnObject(t *testing.T) {
	env := newS3Env(t)
	ctx := context.Background()
	data := []byte("written by a backup pipeline straight to S3")
	putAgeObject(t, env, "backups", "pipeline/db.age", data)
	b, err := env.admin.Register(ctx, admin, shred.RegisterRequest{File: "s3://backups/pipeline/db.age"})
	if err != nil {
		t.Fatalf("register an S3 object: %v", err)
	}
	if b.Name != "db.age" || !strings.Contains(b.Ciphertext.Path, "versionId=") {
		t.Fatalf("registered %q at %s", b.Name, b.Ciphertext.Path)
	}
	if got, err := open(t, env.admin, b.ID); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("restore of the registered object: %q %v", got, err)
	}
}

// putAgeObject writes data, encrypted with age to a new backup key, as
// object key of bucket with the admin's S3 credentials.
func putAgeObject(t *testing.T, env s3Env, bucket, key string, data []byte) {
	t.Helper()
	ctx := context.Background()
	name := newBackupKey(t, roleVault(t, env.vault, vault.PolicyAdmin))
	body, err := os.ReadFile(ageFileTo(t, data, agefile.NewRecipient(ctx, rootKeys(t, env.vault), name)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.adminS3.PutObject(ctx, &awss3.PutObjectInput{Bucket: &bucket, Key: &key,
		Body: bytes.NewReader(body), ChecksumAlgorithm: types.ChecksumAlgorithmSha256}); err != nil {
		t.Fatal(err)
	}
}

// An age file a pipeline wrote to a bucket without Object Lock is
// refused, as protect refuses to write there, unless the request allows
// a ciphertext no hold can protect.
func TestS3RegisterRefusesBucketWithoutObjectLock(t *testing.T) {
	env := newS3Env(t)
	unlockedBucket(t, env)
	putAgeObject(t, env, "unlocked", "pipeline/db.age", []byte("no lock here"))
	req := shred.RegisterRequest{File: "s3://unlocked/pipeline/db.age"}
	_, err := env.admin.Register(context.Background(), admin, req)
	if !errors.Is(err, shred.ErrRefused) || !strings.Contains(err.Error(), "no Object Lock") {
		t.Fatalf("register from a bucket without Object Lock: %v", err)
	}
	req.NoStorageHold = true
	if b, err := env.admin.Register(context.Background(), admin, req); err != nil || b.Ciphertext.Path == "" {
		t.Fatalf("register with --no-storage-hold: %+v %v", b, err)
	}
}

// A shred whose read of the recorded version's header breaks off midway
// (the connection dropped) fails that ciphertext's deletion and reports
// it, so the next run deletes it. Before, the unread header counted as
// another backup's, and the ciphertext still in the bucket was recorded
// and attested as gone before the shred.
func TestS3HeaderReadCutShortIsNotTakenForAnAbsentCiphertext(t *testing.T) {
	env := newS3Env(t)
	ctx := context.Background()
	heldOnS3(t, env, "CUT", []byte("file backup"))
	closeCase(t, env.compliance, "CUT")
	ranged := func(r *http.Request) bool { return r.Header.Get("Range") != "" }
	via := roleServiceOn(t, env.vault, vault.PolicyAdmin, cuttingBackend(t, env, env.adminKey, env.adminSec, ranged))
	res, err := via.RunShred(ctx, admin, "CUT", runOpts(t))
	if len(res.Destroyed) != 1 || !errors.Is(err, errs.ErrPartial) {
		t.Fatalf("shred run: %+v %v", res, err)
	}
	d := res.Destroyed[0].Destruction
	if d.CiphertextAbsent || d.CiphertextDeleted || !strings.Contains(d.CiphertextNote, "could not read the object to check it") {
		t.Fatalf("destruction after a cut header read: %+v", d)
	}
	if n := versionsLeft(t, env.adminS3, "casework/"); n == 0 {
		t.Fatal("nothing left in the bucket")
	}
	res, err = env.admin.RunShred(ctx, admin, "CUT", runOpts(t))
	if err != nil || versionsLeft(t, env.adminS3, "casework/") != 0 {
		t.Fatalf("the next run: %+v %v", res, err)
	}
}

// A hold whose check of the ciphertext's header breaks off midway places
// no storage hold: an unread header may name another backup's key. (Since
// a failed read is no longer taken for another key's header, the hold
// refuses any failed check, not only a header naming another key.)
func TestS3HoldOnAnUncheckedCiphertextIsNotPlaced(t *testing.T) {
	env := newS3Env(t)
	ctx := context.Background()
	b, _ := protectTo(t, env.admin, "s3://backups/casework", []byte("file backup"))
	openCase(t, env.compliance, "CUT")
	object := strings.TrimPrefix(strings.SplitN(b.Ciphertext.Path, "?", 2)[0], "s3:/")
	ofObject := func(r *http.Request) bool { return r.URL.Path == object }
	via := roleServiceOn(t, env.vault, vault.PolicyCompliance, cuttingBackend(t, env, env.complyKey, env.complySec, ofObject))
	_, err := via.PlaceHolds(ctx, compliance, "CUT", shred.HoldSelector{IDs: []string{b.ID}})
	if err == nil || !strings.Contains(err.Error(), "no storage hold placed") {
		t.Fatalf("hold through a cut header read: %v", err)
	}
	bucket, key, version := splitLoc(t, b.Ciphertext.Path)
	lh, _ := env.complyS3.GetObjectLegalHold(ctx, &awss3.GetObjectLegalHoldInput{Bucket: &bucket, Key: &key, VersionId: &version})
	if legalHold(lh) == types.ObjectLockLegalHoldStatusOn {
		t.Fatal("a legal hold was placed on a ciphertext whose header was not read")
	}
}

// cuttingBackend is the S3 back end of the user key, secret, reached
// through a headerCuttingProxy that cuts the first read picks chooses.
func cuttingBackend(t *testing.T, env s3Env, key, secret string, picks func(*http.Request) bool) storage.Backend {
	cfg := env.gw.Config(key, secret)
	cfg.BaseEndpoint = aws.String(headerCuttingProxy(t, env.gw.Endpoint, picks))
	return s3.NewFromConfig(cfg, true)
}

// headerCuttingProxy forwards to the S3 endpoint, but breaks off the
// first read of an object that picks (a header check) after a few bytes.
func headerCuttingProxy(t *testing.T, endpoint string, picks func(*http.Request) bool) string {
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var cut atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !picks(r) || !cut.CompareAndSwap(false, true) {
			proxy.ServeHTTP(w, r)
			return
		}
		if err := testtools.BreakOffAnswer(w, "HTTP/1.1 206 Partial Content\r\nContent-Type: application/octet-stream\r\nContent-Length: 4096\r\n"+
			"Content-Range: bytes 0-4095/8192\r\n\r\nage-encryption.org/v1\n-> cryptoshred"); err != nil {
			t.Error(err)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
