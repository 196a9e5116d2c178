package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/cryptoshred/cryptoshred/shred/storage"
)

// partSize is the multipart part size, and partsInFlight how many parts
// upload at once while the next is filled: memory use of an upload is
// partsInFlight+1 parts, whatever the object's size.
const (
	partSize      = 16 << 20
	partsInFlight = 3
)

// Create implements storage.Backend. It refuses a key that holds an
// object already; the object appears only on Commit, which refuses one
// put there since (ifAbsent).
func (b *Backend) Create(ctx context.Context, loc string) (storage.Upload, error) {
	o, err := parse(loc)
	if err != nil {
		return nil, err
	}
	if _, err := b.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &o.bucket, Key: &o.key}); err == nil {
		return nil, fmt.Errorf("%s already exists: refusing to overwrite it", loc)
	}
	u := &upload{b: b, o: o, buf: make([]byte, 0, partSize), free: make(chan []byte, partsInFlight)}
	for range partsInFlight {
		u.free <- make([]byte, 0, partSize)
	}
	return u, nil
}

// upload streams an object: one PutObject if it fits in a part, else a
// multipart upload of fixed-size parts.
type upload struct {
	b      *Backend
	o      object
	buf    []byte
	id     string
	closed bool
	next   int32
	free   chan []byte // buffers not being uploaded
	wg     sync.WaitGroup

	mu    sync.Mutex
	parts []types.CompletedPart
	err   error
}

// Write implements io.Writer.
func (u *upload) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && u.failed() == nil {
		k := copy(u.buf[len(u.buf):cap(u.buf)], p)
		u.buf, p = u.buf[:len(u.buf)+k], p[k:]
		if len(u.buf) == cap(u.buf) {
			u.fail(u.flush(context.Background()))
		}
	}
	if err := u.failed(); err != nil {
		return 0, err
	}
	return n, nil
}

// flush starts uploading the full buffer as the next part and continues
// with a free buffer; it waits only when partsInFlight are uploading.
func (u *upload) flush(ctx context.Context) error {
	if u.id == "" {
		out, err := u.b.client.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: &u.o.bucket, Key: &u.o.key,
			ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
		if err != nil {
			return fmt.Errorf("failed to start upload to %s: %w", u.o, err)
		}
		u.id = aws.ToString(out.UploadId)
	}
	u.next++
	n, part := u.next, u.buf
	u.buf = (<-u.free)[:0]
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		u.fail(u.uploadPart(ctx, n, part))
		u.free <- part
	}()
	return nil
}

func (u *upload) uploadPart(ctx context.Context, n int32, part []byte) error {
	out, err := u.b.client.UploadPart(ctx, &awss3.UploadPartInput{Bucket: &u.o.bucket, Key: &u.o.key, UploadId: &u.id,
		PartNumber: &n, Body: bytes.NewReader(part), ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
	if err != nil {
		return fmt.Errorf("failed to upload part %d of %s: %w", n, u.o, err)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.parts = append(u.parts, types.CompletedPart{PartNumber: &n, ETag: out.ETag, ChecksumSHA256: out.ChecksumSHA256})
	return nil
}

func (u *upload) fail(err error) {
	if err == nil {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.err == nil {
		u.err = err
	}
}

func (u *upload) failed() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.err
}

// Commit implements storage.Upload and returns the location with the
// version id S3 assigned.
func (u *upload) Commit(ctx context.Context) (string, error) {
	if err := u.failed(); err != nil {
		u.Abort()
		return "", err
	}
	version, err := u.finish(ctx)
	if err != nil {
		u.Abort()
		return "", err
	}
	u.closed = true
	o := u.o
	o.version = version
	return o.String(), nil
}

func (u *upload) finish(ctx context.Context) (string, error) {
	if u.id == "" {
		out, err := u.b.client.PutObject(ctx, &awss3.PutObjectInput{Bucket: &u.o.bucket, Key: &u.o.key,
			Body: bytes.NewReader(u.buf), ChecksumAlgorithm: types.ChecksumAlgorithmSha256, IfNoneMatch: ifAbsent})
		if err != nil {
			return "", fmt.Errorf("failed to write %s: %w", u.o, exists(err))
		}
		return u.versionOf(ctx, out.VersionId)
	}
	if len(u.buf) > 0 {
		if err := u.flush(ctx); err != nil {
			return "", err
		}
	}
	u.wg.Wait()
	if err := u.failed(); err != nil {
		return "", err
	}
	slices.SortFunc(u.parts, func(a, b types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
	out, err := u.b.client.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: &u.o.bucket, Key: &u.o.key,
		UploadId: &u.id, MultipartUpload: &types.CompletedMultipartUpload{Parts: u.parts}, IfNoneMatch: ifAbsent})
	if err != nil {
		return "", fmt.Errorf("failed to complete the upload of %s: %w", u.o, exists(err))
	}
	return u.versionOf(ctx, out.VersionId)
}

// versionOf returns the version id of S3's answer to the commit. An
// answer without one is refused in a bucket with Object Lock, which is
// versioned: S3 wrote a version (an answer lost, and the commit sent
// again, is answered so), but which one is unknown, and a location
// naming none could never be held while the admin's own S3 keys delete
// the version unheld. The error leaves the protect to its re-run, which
// writes the ciphertext again; the bucket is asked only then.
func (u *upload) versionOf(ctx context.Context, id *string) (string, error) {
	if aws.ToString(id) != "" {
		return *id, nil
	}
	locked, err := u.b.CanHold(ctx, u.o.String())
	if err != nil {
		return "", fmt.Errorf("%s was written with no version id in S3's answer: %w", u.o, err)
	}
	if locked {
		return "", fmt.Errorf("%s was written, but S3's answer names no version, in a bucket with Object Lock "+
			"(the answer to a commit sent again after its first answer was lost): its version is not known, so it is not recorded", u.o)
	}
	return "", nil
}

// ifAbsent makes a commit conditional on the key holding no object: S3
// checks it as it writes, so an object put there after Create looked (a
// second protect to the same name) is never replaced, which in a bucket
// without versioning would lose it.
var ifAbsent = aws.String("*")

// exists marks S3's refusal of a conditional commit (412 Precondition
// Failed) as fs.ErrExist, as a local link onto an existing name fails.
// The object there may be this upload's own, if S3 wrote it and the SDK
// retried the commit after losing its answer.
func exists(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) && (ae.ErrorCode() == "PreconditionFailed" || ae.ErrorCode() == "412") {
		return fmt.Errorf("an object is already there, refusing to overwrite it: %w: %w", fs.ErrExist, err)
	}
	return err
}

// Abort implements storage.Upload.
func (u *upload) Abort() {
	if u.closed {
		return
	}
	u.closed = true
	u.wg.Wait()
	if u.id != "" {
		_, _ = u.b.client.AbortMultipartUpload(context.Background(), &awss3.AbortMultipartUploadInput{Bucket: &u.o.bucket, Key: &u.o.key, UploadId: &u.id})
	}
}

// Open implements storage.Backend: it reads the recorded version.
func (b *Backend) Open(ctx context.Context, loc string) (io.ReadCloser, error) {
	o, err := parse(loc)
	if err != nil {
		return nil, err
	}
	out, err := b.client.GetObject(ctx, &awss3.GetObjectInput{Bucket: &o.bucket, Key: &o.key, VersionId: version(o)})
	if err != nil {
		return nil, notFound(err)
	}
	return out.Body, nil
}

// Stat implements storage.Backend.
func (b *Backend) Stat(ctx context.Context, loc string) (storage.Info, error) {
	o, err := parse(loc)
	if err != nil {
		return storage.Info{}, err
	}
	out, err := b.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &o.bucket, Key: &o.key, VersionId: version(o)})
	if err != nil {
		return storage.Info{}, notFound(err)
	}
	return storage.Info{Size: aws.ToInt64(out.ContentLength)}, nil
}

func version(o object) *string {
	if o.version == "" {
		return nil
	}
	return &o.version
}

// Pin implements storage.Pinner: the location of the key's current
// version.
func (b *Backend) Pin(ctx context.Context, loc string) (string, error) {
	o, err := parse(loc)
	if err != nil {
		return "", err
	}
	out, err := b.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &o.bucket, Key: &o.key, VersionId: version(o)})
	if err != nil {
		return "", notFound(err)
	}
	o.version = aws.ToString(out.VersionId)
	return o.String(), nil
}
