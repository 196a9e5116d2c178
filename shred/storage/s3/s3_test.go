package s3_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/cryptoshred/cryptoshred/internal/s3test"
	"github.com/cryptoshred/cryptoshred/shred/storage"
	"github.com/cryptoshred/cryptoshred/shred/storage/s3"
	"github.com/cryptoshred/cryptoshred/shred/storage/storagetest"
)

func TestSuite(t *testing.T) {
	srv := s3test.Start(t)
	srv.SetEnv(t, srv.AccessKey, srv.SecretKey)
	n := 0
	storagetest.Run(t, func(t *testing.T) (storage.Backend, string) {
		b, err := s3.New(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n++
		bucket := fmt.Sprintf("suite-%d", n)
		s3test.CreateLockedBucket(t, bucket)
		return b, "s3://" + bucket + "/backups"
	})
}

// lockedBucket starts the gateway, creates a bucket with Object Lock and
// returns the gateway and a backend on its root credentials.
func lockedBucket(t *testing.T, bucket string) (*s3test.Server, *s3.Backend) {
	t.Helper()
	srv := s3test.Start(t)
	srv.SetEnv(t, srv.AccessKey, srv.SecretKey)
	s3test.CreateLockedBucket(t, bucket)
	b, err := s3.New(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return srv, b
}

func TestLegalHoldRefusesDeleteForEveryone(t *testing.T) {
	_, b := lockedBucket(t, "held")
	ctx := context.Background()
	loc, _ := b.Locate("s3://held/x", "one.age")
	up, err := b.Create(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	up.Write([]byte("age-encryption.org/v1\n"))
	final, err := up.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := b.CanHold(ctx, final); !ok || err != nil {
		t.Fatalf("CanHold on a locked bucket: %t %v", ok, err)
	}
	unversioned, _, _ := strings.Cut(final, "?")
	if err := b.SetHold(ctx, unversioned, true); err == nil || !strings.Contains(err.Error(), "names no version") {
		t.Fatalf("a hold on a location without a version, which would follow the newest: %v", err)
	}
	if held, err := b.Held(ctx, final); held || err != nil {
		t.Fatalf("Held of a version never held: %t %v", held, err)
	}
	if _, err := b.Held(ctx, unversioned); err == nil || !strings.Contains(err.Error(), "names no version") {
		t.Fatalf("Held of a location without a version: %v", err)
	}
	if err := b.SetHold(ctx, final, true); err != nil {
		t.Fatal(err)
	}
	if held, err := b.Held(ctx, final); !held || err != nil {
		t.Fatalf("Held of a held version: %t %v", held, err)
	}
	res := b.Delete(ctx, []storage.Object{{Loc: final, Check: func(r io.Reader) error { return nil }}})
	if res[0].Err == nil || !s3.IsAccessDenied(errors.Unwrap(res[0].Err)) && !strings.Contains(res[0].Err.Error(), "AccessDenied") {
		t.Fatalf("delete of a held version: %+v", res[0])
	}
	if err := b.SetHold(ctx, final, false); err != nil {
		t.Fatal(err)
	}
	if held, err := b.Held(ctx, final); held || err != nil {
		t.Fatalf("Held of a version whose hold was lifted: %t %v", held, err)
	}
	if res := b.Delete(ctx, []storage.Object{{Loc: final, Check: func(io.Reader) error { return nil }}}); res[0].Err != nil {
		t.Fatalf("delete after the hold was lifted: %v", res[0].Err)
	}
}

// A key whose latest version is a delete marker answers 404 to HEAD but
// still holds its versions: Remains lists them.
func TestRemainsSeesVersionsBehindADeleteMarker(t *testing.T) {
	srv, b := lockedBucket(t, "marked")
	ctx := context.Background()
	loc, _ := b.Locate("s3://marked", "x.age")
	up, _ := b.Create(ctx, loc)
	up.Write([]byte("age"))
	if _, err := up.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	c := srv.Client(srv.AccessKey, srv.SecretKey)
	if _, err := c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("marked"), Key: aws.String("x.age")}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Stat(ctx, loc); err == nil {
		t.Fatal("Stat found the key behind its delete marker")
	}
	left, err := b.Remains(ctx, loc)
	if err != nil || len(left) != 2 {
		t.Fatalf("Remains: %v %v, want the version and the marker", left, err)
	}
}

// A copy of the ciphertext under the same key, older than the version on
// record and under a legal hold, cannot be deleted: the version on record
// is left for the retry, which, once the hold is lifted, deletes both and
// reports the ciphertext deleted, not gone before shred.
func TestDeleteLeavesTheVersionOnRecordWhenACopyFails(t *testing.T) {
	srv, b := lockedBucket(t, "copies")
	ctx := context.Background()
	loc, _ := b.Locate("s3://copies/x", "one.age")
	older := commit(t, b, loc)
	put, err := srv.Client(srv.AccessKey, srv.SecretKey).PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("copies"), Key: aws.String("x/one.age"),
		Body: strings.NewReader("age-encryption.org/v1\n"), ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
	if err != nil {
		t.Fatal(err)
	}
	onRecord := loc + "?versionId=" + aws.ToString(put.VersionId)
	if err := b.SetHold(ctx, older, true); err != nil {
		t.Fatal(err)
	}
	accept := func(io.Reader) error { return nil }
	res := b.Delete(ctx, []storage.Object{{Loc: onRecord, Check: accept}})
	if res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "left for a retry") || len(res[0].Removed) != 0 {
		t.Fatalf("delete with a held copy: %+v", res[0])
	}
	if left, err := b.Remains(ctx, loc); err != nil || len(left) != 2 {
		t.Fatalf("after the failed delete: %v %v, want both versions", left, err)
	}
	if err := b.SetHold(ctx, older, false); err != nil {
		t.Fatal(err)
	}
	res = b.Delete(ctx, []storage.Object{{Loc: onRecord, Check: accept}})
	if res[0].Err != nil || !slices.Contains(res[0].Removed, onRecord) || len(res[0].Removed) != 2 {
		t.Fatalf("retry once the hold is lifted: %+v", res[0])
	}
}

// commit writes an age header at loc and returns the version's location.
func commit(t *testing.T, b *s3.Backend, loc string) string {
	t.Helper()
	up, err := b.Create(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	up.Write([]byte("age-encryption.org/v1\n"))
	final, err := up.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return final
}

// A copy put back under the key between the deletion and the listing that
// confirms it (an admin racing the run with their own S3 credentials)
// does not make the ciphertext the deletion removed look gone before
// shred: the result names it as deleted, not confirmed durable.
func TestCopyPutBackDuringDeleteIsStillDeleted(t *testing.T) {
	srv := s3test.Start(t)
	srv.SetEnv(t, srv.AccessKey, srv.SecretKey)
	s3test.CreateLockedBucket(t, "race")
	raw := srv.Client(srv.AccessKey, srv.SecretKey)
	var armed atomic.Bool
	var lists atomic.Int32
	cfg := srv.Config(srv.AccessKey, srv.SecretKey)
	cfg.HTTPClient = &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		if armed.Load() && r.Method == http.MethodGet && r.URL.Query().Has("versions") && lists.Add(1) == 2 {
			if _, err := raw.PutObject(r.Context(), &awss3.PutObjectInput{Bucket: aws.String("race"), Key: aws.String("x/one.age"),
				Body: strings.NewReader("age-encryption.org/v1\n"), ChecksumAlgorithm: types.ChecksumAlgorithmSha256}); err != nil {
				t.Error(err)
			}
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	b := s3.NewFromConfig(cfg, true)
	loc, _ := b.Locate("s3://race/x", "one.age")
	onRecord := commit(t, b, loc)
	armed.Store(true)
	res := b.Delete(context.Background(), []storage.Object{{Loc: onRecord, Check: func(io.Reader) error { return nil }}})
	if !errors.Is(res[0].Err, storage.ErrNotDurable) || !slices.Contains(res[0].Removed, onRecord) || lists.Load() != 2 {
		t.Fatalf("delete raced by a copy put back (%d listings): %+v", lists.Load(), res[0])
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// In a bucket without versioning (--no-storage-hold allows one) a commit
// that replaced the key would lose what is there: two uploads to one key
// that both passed Create, as single PUTs and as multipart uploads, and
// the second commit fails with fs.ErrExist, leaving the first whole.
func TestCommitNeverReplacesInAnUnversionedBucket(t *testing.T) {
	srv := s3test.Start(t)
	srv.SetEnv(t, srv.AccessKey, srv.SecretKey)
	ctx := context.Background()
	if _, err := srv.Client(srv.AccessKey, srv.SecretKey).CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("plain")}); err != nil {
		t.Fatal(err)
	}
	b, err := s3.New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, size := range map[string]int{"put": 10, "multipart": 16<<20 + 1} {
		loc, _ := b.Locate("s3://plain/dumps", name+".age")
		first, second := uploadOf(t, b, loc, size, 'a'), uploadOf(t, b, loc, size, 'b')
		if _, err := first.Commit(ctx); err != nil {
			t.Fatalf("%s: first Commit: %v", name, err)
		}
		if _, err := second.Commit(ctx); !errors.Is(err, fs.ErrExist) {
			t.Fatalf("%s: second Commit onto the first: %v, want fs.ErrExist", name, err)
		}
		if got := readAll(t, b, loc); len(got) != size || got[size-1] != 'a' {
			t.Fatalf("%s: the first object was replaced (%d bytes ending %q)", name, len(got), got[len(got)-1])
		}
	}
}

// uploadOf starts an upload at loc and writes size bytes of fill to it.
func uploadOf(t *testing.T, b *s3.Backend, loc string, size int, fill byte) storage.Upload {
	t.Helper()
	up, err := b.Create(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(up.Abort)
	if _, err := up.Write(bytes.Repeat([]byte{fill}, size)); err != nil {
		t.Fatal(err)
	}
	return up
}

func readAll(t *testing.T, b *s3.Backend, loc string) []byte {
	t.Helper()
	r, err := b.Open(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// A commit whose answer is lost after S3 wrote the object, sent again by
// the SDK, in a bucket with Object Lock: versitygw answers a single PUT
// 412 (fs.ErrExist) and a multipart completion 200 with no version id.
// Neither commit returns a location, since one naming no version could
// never be held; the object S3 wrote is left for the protect's re-run.
// Before, the multipart commit returned the key without a version.
func TestCommitWhoseAnswerIsLostReturnsNoUnversionedLocation(t *testing.T) {
	srv := s3test.Start(t)
	srv.SetEnv(t, srv.AccessKey, srv.SecretKey)
	s3test.CreateLockedBucket(t, "lost")
	var dropped atomic.Bool
	cfg := srv.Config(srv.AccessKey, srv.SecretKey)
	cfg.HTTPClient = &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		commit := (r.Method == http.MethodPut && r.URL.Query().Get("x-id") == "PutObject") || (r.Method == http.MethodPost && r.URL.Query().Has("uploadId"))
		resp, err := http.DefaultTransport.RoundTrip(r)
		if commit && err == nil && dropped.CompareAndSwap(false, true) {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return nil, io.ErrUnexpectedEOF
		}
		return resp, err
	})}
	b := s3.NewFromConfig(cfg, true)
	ctx := context.Background()
	for name, size := range map[string]int{"put": 10, "multipart": 16<<20 + 1} {
		dropped.Store(false)
		loc, _ := b.Locate("s3://lost/x", name+".age")
		final, err := uploadOf(t, b, loc, size, 'n').Commit(ctx)
		if err == nil || final != "" || !dropped.Load() {
			t.Fatalf("%s: commit whose answer was lost: %q %v", name, final, err)
		}
		if left, err := b.Remains(ctx, loc); err != nil || len(left) != 1 {
			t.Fatalf("%s: versions S3 wrote: %v %v", name, left, err)
		}
	}
}

// A hold place or a close asks, for every object, whether its bucket can
// hold: a bucket found with Object Lock enabled is asked once (S3 never
// turns the lock off), and one found without it every time (it may be
// enabled later).
func TestCanHoldAsksALockedBucketOnce(t *testing.T) {
	srv := s3test.Start(t)
	srv.SetEnv(t, srv.AccessKey, srv.SecretKey)
	s3test.CreateLockedBucket(t, "locked")
	s3test.CreateBucket(t, "plain")
	asked := map[string]int{}
	cfg := srv.Config(srv.AccessKey, srv.SecretKey)
	cfg.HTTPClient = &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		if r.URL.Query().Has("object-lock") {
			asked[strings.Trim(r.URL.Path, "/")]++
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	b := s3.NewFromConfig(cfg, true)
	for _, loc := range []string{"s3://locked/a.age", "s3://locked/b.age", "s3://plain/a.age", "s3://plain/b.age"} {
		can, err := b.CanHold(context.Background(), loc)
		if err != nil || can != strings.HasPrefix(loc, "s3://locked/") {
			t.Fatalf("CanHold(%s): %v %v", loc, can, err)
		}
	}
	if asked["locked"] != 1 || asked["plain"] != 2 {
		t.Fatalf("Object Lock configuration asked %v times, want locked once and plain twice", asked)
	}
}
