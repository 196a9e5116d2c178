package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cryptoshred/cryptoshred/shred/errs"
	"github.com/cryptoshred/cryptoshred/shred/storage"
)

// Delete implements storage.Backend. For each object it deletes every
// version under its key whose content the check accepts, and every delete
// marker, then lists the key again to confirm none of those is left. A
// version the check rejects (another backup's, written under the same key
// later) is kept. If the version on record was not among those deleted,
// the result is errs.ErrNotFound with what was removed: the ciphertext was
// gone before, whatever copies of it were found.
func (b *Backend) Delete(ctx context.Context, objs []storage.Object) []storage.Result {
	out := make([]storage.Result, len(objs))
	for i, obj := range objs {
		out[i] = b.deleteOne(ctx, obj)
	}
	return out
}

func (b *Backend) deleteOne(ctx context.Context, obj storage.Object) storage.Result {
	o, err := parse(obj.Loc)
	if err != nil {
		return storage.Result{Err: err}
	}
	ours, markers, err := b.ourVersions(ctx, o, obj.Check)
	if err != nil {
		return storage.Result{Err: err}
	}
	if len(ours) == 0 {
		return storage.Result{Err: fmt.Errorf("%w: no version of %s is this backup's", errs.ErrNotFound, o)}
	}
	if err := b.deleteVersions(ctx, o, ours, markers); err != nil {
		return storage.Result{Err: err}
	}
	left, _, err := b.ourVersions(ctx, o, obj.Check)
	switch {
	case err != nil:
		return storage.Result{Removed: locations(o, ours), Err: fmt.Errorf("%w: could not confirm that nothing is left of %s: %v", storage.ErrNotDurable, o, err)}
	case len(left) > 0 && slices.Contains(ours, o.version) && !slices.ContainsFunc(left, func(v string) bool { return slices.Contains(ours, v) }):
		// None of what was deleted is there: these were put back since,
		// and the ciphertext on record is gone by this deletion.
		return storage.Result{Removed: locations(o, ours), Err: fmt.Errorf("%w: versions %v with this backup's header were written to %s after its deletion", storage.ErrNotDurable, left, o)}
	case len(left) > 0:
		return storage.Result{Err: fmt.Errorf("%s: versions %v are still there after their deletion", o, left)}
	}
	return storage.Result{Removed: locations(o, ours), Err: registeredGone(o, ours)}
}

// deleteVersions deletes the versions of o's key that are this backup's
// and its delete markers, past any that fails, and the version on record
// last, only once every other is gone: a run that fails on a copy leaves
// the ciphertext itself for its retry to delete, which records it as
// deleted, not as gone before shred.
func (b *Backend) deleteVersions(ctx context.Context, o object, ours, markers []string) error {
	var failed []error
	for _, v := range slices.Concat(slices.DeleteFunc(slicesClone(ours), func(v string) bool { return v == o.version }), markers) {
		failed = append(failed, b.deleteVersion(ctx, o, v))
	}
	err := errors.Join(failed...)
	switch {
	case err != nil && slices.Contains(ours, o.version):
		return fmt.Errorf("%w; version %s on record is left for a retry", err, o.version)
	case err != nil || !slices.Contains(ours, o.version):
		return err
	}
	return b.deleteVersion(ctx, o, o.version)
}

func (b *Backend) deleteVersion(ctx context.Context, o object, v string) error {
	_, err := b.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &o.bucket, Key: &o.key, VersionId: aws.String(v)})
	switch {
	case err == nil:
		return nil
	case IsAccessDenied(err):
		return fmt.Errorf("S3 refused to delete version %s of %s (%w): %s", v, o, err, refusedAdvice(o, v))
	}
	return fmt.Errorf("failed to delete version %s of %s: %w", v, o, err)
}

// refusedAdvice says who ends a refused deletion: a run retried as it is
// is refused again. A legal hold that no case's close lifted (one set by
// hand, or by a hold place cut before its hold record noted it) is lifted
// only by the compliance officer; the admin may not read it to tell. The
// command's arguments are quoted: a key is whatever a registration names,
// and pasted unquoted it could run more than this one command.
func refusedAdvice(o object, v string) string {
	return fmt.Sprintf("if it is under a legal hold no case needs, the compliance officer lifts it "+
		"(aws s3api put-object-legal-hold --bucket %s --key %s --version-id %s --legal-hold Status=OFF); "+
		"otherwise a retention period or the bucket policy denies the deletion",
		shellQuoted(o.bucket), shellQuoted(o.key), shellQuoted(v))
}

// shellQuoted quotes s as one word of a POSIX shell command.
func shellQuoted(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// registeredGone is an errs.ErrNotFound when the version on record was not
// among those deleted: what was deleted were other copies carrying this
// backup's header, and the ciphertext itself was gone before.
func registeredGone(o object, deleted []string) error {
	if o.version == "" || slices.Contains(deleted, o.version) {
		return nil
	}
	return fmt.Errorf("%w: version %s on record was gone before shred; %d other version(s) with this backup's header were deleted", errs.ErrNotFound, o.version, len(deleted))
}

// locations names each version of o's key as a location.
func locations(o object, versions []string) []string {
	out := make([]string, len(versions))
	for i, v := range versions {
		o.version = v
		out[i] = o.String()
	}
	return out
}

// ourVersions lists the key's versions the check accepts, and its delete
// markers.
func (b *Backend) ourVersions(ctx context.Context, o object, check func(io.Reader) error) (ours, markers []string, err error) {
	p := awss3.NewListObjectVersionsPaginator(b.client, &awss3.ListObjectVersionsInput{Bucket: &o.bucket, Prefix: &o.key})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("failed to list the versions of %s: %w", o, err)
		}
		for _, m := range page.DeleteMarkers {
			if aws.ToString(m.Key) == o.key {
				markers = append(markers, aws.ToString(m.VersionId))
			}
		}
		mine, err := b.checked(ctx, o, page.Versions, check)
		if err != nil {
			return nil, nil, err
		}
		ours = append(ours, mine...)
	}
	return ours, markers, nil
}

func (b *Backend) checked(ctx context.Context, o object, versions []types.ObjectVersion, check func(io.Reader) error) ([]string, error) {
	var ours []string
	for _, v := range versions {
		if aws.ToString(v.Key) != o.key {
			continue
		}
		id := aws.ToString(v.VersionId)
		err := b.checkVersion(ctx, o, id, check)
		if errors.Is(err, errNotOurs) {
			continue
		}
		if err != nil {
			return nil, err
		}
		ours = append(ours, id)
	}
	return ours, nil
}

var errNotOurs = errors.New("not this backup's")

func (b *Backend) checkVersion(ctx context.Context, o object, id string, check func(io.Reader) error) error {
	out, err := b.client.GetObject(ctx, &awss3.GetObjectInput{Bucket: &o.bucket, Key: &o.key, VersionId: &id,
		Range: aws.String(fmt.Sprintf("bytes=0-%d", storage.CheckBytes-1))})
	if err != nil {
		return fmt.Errorf("failed to read version %s of %s: %w", id, o, err)
	}
	defer out.Body.Close()
	switch err := check(out.Body); {
	case errors.Is(err, storage.ErrUnchecked):
		return fmt.Errorf("failed to read version %s of %s: %w", id, o, err)
	case err != nil:
		return errNotOurs
	}
	return nil
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

// Remains implements storage.Remainder: every version and delete marker
// of loc's key, whoever wrote it.
func (b *Backend) Remains(ctx context.Context, loc string) ([]string, error) {
	o, err := parse(loc)
	if err != nil {
		return nil, err
	}
	all := func(io.Reader) error { return nil }
	versions, markers, err := b.ourVersions(ctx, o, all)
	if err != nil {
		return nil, err
	}
	return locations(o, append(versions, markers...)), nil
}

// Find implements storage.Backend: every version of loc's key that the
// check accepts, listed as Delete lists them, so that a copy put back
// under the key after its deletion (a new version) is found.
func (b *Backend) Find(ctx context.Context, obj storage.Object) ([]string, error) {
	o, err := parse(obj.Loc)
	if err != nil {
		return nil, err
	}
	ours, _, err := b.ourVersions(ctx, o, obj.Check)
	if err != nil {
		return nil, err
	}
	return locations(o, ours), nil
}
