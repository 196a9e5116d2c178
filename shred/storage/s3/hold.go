package s3

import (
	"context"
	"fmt"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// CanHold implements storage.Holder: the bucket has Object Lock enabled.
func (b *Backend) CanHold(ctx context.Context, loc string) (bool, error) {
	o, err := parse(loc)
	if err != nil {
		return false, err
	}
	out, err := b.client.GetObjectLockConfiguration(ctx, &awss3.GetObjectLockConfigurationInput{Bucket: &o.bucket})
	if err != nil {
		return false, nil
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
