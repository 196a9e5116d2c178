package s3

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cryptoshred/cryptoshred/shred/storage"
)

// partSize is the multipart part size: memory use of an upload is one
// part, whatever the object's size.
const partSize = 16 << 20

// Create implements storage.Backend. It refuses a key that holds an
// object already; the object appears only on Commit.
func (b *Backend) Create(ctx context.Context, loc string) (storage.Upload, error) {
	o, err := parse(loc)
	if err != nil {
		return nil, err
	}
	if _, err := b.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &o.bucket, Key: &o.key}); err == nil {
		return nil, fmt.Errorf("%s already exists: refusing to overwrite it", loc)
	}
	return &upload{b: b, o: o, buf: make([]byte, 0, partSize)}, nil
}

// upload streams an object: one PutObject if it fits in a part, else a
// multipart upload of fixed-size parts.
type upload struct {
	b      *Backend
	o      object
	buf    []byte
	id     string
	parts  []types.CompletedPart
	ctx    context.Context
	err    error
	closed bool
}

// Write implements io.Writer.
func (u *upload) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && u.err == nil {
		k := copy(u.buf[len(u.buf):cap(u.buf)], p)
		u.buf, p = u.buf[:len(u.buf)+k], p[k:]
		if len(u.buf) == cap(u.buf) {
			u.err = u.flush(context.Background())
		}
	}
	if u.err != nil {
		return 0, u.err
	}
	return n, nil
}

func (u *upload) flush(ctx context.Context) error {
	if u.id == "" {
		out, err := u.b.client.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: &u.o.bucket, Key: &u.o.key,
			ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
		if err != nil {
			return fmt.Errorf("failed to start upload to %s: %w", u.o, err)
		}
		u.id = aws.ToString(out.UploadId)
	}
	n := int32(len(u.parts) + 1)
	out, err := u.b.client.UploadPart(ctx, &awss3.UploadPartInput{Bucket: &u.o.bucket, Key: &u.o.key, UploadId: &u.id,
		PartNumber: &n, Body: bytes.NewReader(u.buf), ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
	if err != nil {
		return fmt.Errorf("failed to upload part %d of %s: %w", n, u.o, err)
	}
	u.parts = append(u.parts, types.CompletedPart{PartNumber: &n, ETag: out.ETag, ChecksumSHA256: out.ChecksumSHA256})
	u.buf = u.buf[:0]
	return nil
}

// Commit implements storage.Upload and returns the location with the
// version id S3 assigned.
func (u *upload) Commit(ctx context.Context) (string, error) {
	if u.err != nil {
		return "", u.err
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
			Body: bytes.NewReader(u.buf), ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
		if err != nil {
			return "", fmt.Errorf("failed to write %s: %w", u.o, err)
		}
		return aws.ToString(out.VersionId), nil
	}
	if len(u.buf) > 0 {
		if err := u.flush(ctx); err != nil {
			return "", err
		}
	}
	out, err := u.b.client.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: &u.o.bucket, Key: &u.o.key,
		UploadId: &u.id, MultipartUpload: &types.CompletedMultipartUpload{Parts: u.parts}})
	if err != nil {
		return "", fmt.Errorf("failed to complete the upload of %s: %w", u.o, err)
	}
	return aws.ToString(out.VersionId), nil
}

// Abort implements storage.Upload.
func (u *upload) Abort() {
	if u.closed {
		return
	}
	u.closed = true
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
