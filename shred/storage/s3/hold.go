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
	out, err := b.client.GetObjectLockConfiguration(ctx, &awss3.GetObjectLockConfigurationInput{Bucket: &o.bucket})
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "ObjectLockConfigurationNotFoundError" {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("failed to read the Object Lock configuration of bucket %s: %w", o.bucket, err)
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
	got, err := b.client.GetObjectLegalHold(ctx, &awss3.GetObjectLegalHoldInput{Bucket: &o.bucket, Key: &o.key, VersionId: version(o)})
	if err != nil {
		return fmt.Errorf("failed to read back the legal hold of %s: %w", o, err)
	}
	if got.LegalHold == nil || got.LegalHold.Status != want {
		return fmt.Errorf("the legal hold of %s reads back as %v, not %s", o, got.LegalHold, want)
	}
	return nil
}
