package s3

import (
	"context"
	"errors"
	"fmt"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// CanHold implements storage.Holder: the bucket has Object Lock enabled.
func (b *Backend) CanHold(ctx context.Context, loc string) (bool, error) {
	o, err := parse(loc)
	if err != nil {
		return false, err
	}
	if _, ok := b.locked.Load(o.bucket); ok {
		return true, nil
	}
	can, err := b.lockEnabled(ctx, o.bucket)
	if can {
		b.locked.Store(o.bucket, true)
	}
	return can, err
}

// lockEnabled asks S3 whether bucket has Object Lock enabled.
func (b *Backend) lockEnabled(ctx context.Context, bucket string) (bool, error) {
	out, err := b.client.GetObjectLockConfiguration(ctx, &awss3.GetObjectLockConfigurationInput{Bucket: &bucket})
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "ObjectLockConfigurationNotFoundError" {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("failed to read the Object Lock configuration of bucket %s: %w", bucket, err)
	}
	return out.ObjectLockConfiguration != nil && out.ObjectLockConfiguration.ObjectLockEnabled == types.ObjectLockEnabledEnabled, nil
}

// SetHold implements storage.Holder: it sets the legal hold of the
// recorded version, then reads it back.
func (b *Backend) SetHold(ctx context.Context, loc string, on bool) error {
	o, err := parse(loc)
	if err != nil {
		return err
	}
	if o.version == "" {
		return fmt.Errorf("%s names no version: a legal hold set without one would apply to whichever version is newest", o)
	}
	want := types.ObjectLockLegalHoldStatusOff
	if on {
		want = types.ObjectLockLegalHoldStatusOn
	}
	if _, err := b.client.PutObjectLegalHold(ctx, &awss3.PutObjectLegalHoldInput{Bucket: &o.bucket, Key: &o.key,
		VersionId: version(o), LegalHold: &types.ObjectLockLegalHold{Status: want}}); err != nil {
		return fmt.Errorf("failed to set the legal hold of %s to %s: %w", o, want, notFound(err))
	}
	got, err := b.legalHold(ctx, o)
	if err != nil {
		return fmt.Errorf("failed to read back the legal hold of %s: %w", o, err)
	}
	if got != want {
		return fmt.Errorf("the legal hold of %s reads back as %q, not %s", o, got, want)
	}
	return nil
}

// Held implements storage.Holder: the legal hold of the recorded version
// is on. A location without a version is refused, as SetHold refuses it:
// the newest version's hold says nothing of the one on record.
func (b *Backend) Held(ctx context.Context, loc string) (bool, error) {
	o, err := parse(loc)
	if err != nil {
		return false, err
	}
	if o.version == "" {
		return false, fmt.Errorf("%s names no version: its newest version's legal hold says nothing of the one on record", o)
	}
	got, err := b.legalHold(ctx, o)
	if err != nil {
		return false, fmt.Errorf("failed to read the legal hold of %s: %w", o, err)
	}
	return got == types.ObjectLockLegalHoldStatusOn, nil
}

// legalHold reads the legal-hold status of o's version; a version on
// which no legal hold was ever set (S3 answers
// NoSuchObjectLockConfiguration) has it off.
func (b *Backend) legalHold(ctx context.Context, o object) (types.ObjectLockLegalHoldStatus, error) {
	out, err := b.client.GetObjectLegalHold(ctx, &awss3.GetObjectLegalHoldInput{Bucket: &o.bucket, Key: &o.key, VersionId: version(o)})
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchObjectLockConfiguration" {
		return types.ObjectLockLegalHoldStatusOff, nil
	}
	if err != nil {
		return "", notFound(err)
	}
	if out.LegalHold == nil {
		return "", nil
	}
	return out.LegalHold.Status, nil
}
