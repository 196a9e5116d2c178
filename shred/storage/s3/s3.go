// Package s3 stores ciphertexts as objects on S3-compatible storage, with
// Object Lock legal holds that the storage itself enforces.
//
// It uses the AWS SDK for Go v2: it reads credentials, profile, region and
// endpoint the standard AWS way (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN, AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL_S3 or
// AWS_ENDPOINT_URL), implements every Object Lock and versioning call, and
// is maintained by the vendor whose API this is.
package s3

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/cryptoshred/cryptoshred/shred/errs"
	"github.com/cryptoshred/cryptoshred/shred/storage"
)

// Backend stores ciphertexts at locations s3://BUCKET/KEY?versionId=V.
type Backend struct {
	client *awss3.Client
	// locked are the buckets CanHold found with Object Lock enabled: S3
	// never turns it off again, so a bucket is asked once, not once per
	// object a hold place holds or a close releases.
	locked sync.Map
}

// New returns a back end configured from the environment. Path-style
// addressing is used for an endpoint that is localhost or an IP address,
// and whenever CRYPTOSHRED_S3_PATH_STYLE=1.
func New(ctx context.Context) (*Backend, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("failed to configure S3: %w", err)
	}
	return NewFromConfig(cfg, pathStyle()), nil
}

// NewFromConfig returns a back end using cfg, for callers that configure
// credentials and endpoint themselves.
func NewFromConfig(cfg aws.Config, pathStyle bool) *Backend {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	client := awss3.NewFromConfig(cfg, func(o *awss3.Options) {
		o.UsePathStyle = pathStyle
		// Object Lock requires an integrity checksum on every write.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenSupported
	})
	return &Backend{client: client}
}

func pathStyle() bool {
	if os.Getenv("CRYPTOSHRED_S3_PATH_STYLE") == "1" {
		return true
	}
	endpoint := os.Getenv("AWS_ENDPOINT_URL_S3")
	if endpoint == "" {
		endpoint = os.Getenv("AWS_ENDPOINT_URL")
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return false
	}
	host := u.Hostname()
	return host == "localhost" || net.ParseIP(host) != nil
}

// Properties implements storage.Backend.
func (*Backend) Properties() storage.Properties {
	return storage.Properties{Name: "s3", LegalHold: true}
}

// object is a parsed location.
type object struct {
	bucket, key, version string
}

func (o object) String() string {
	u := url.URL{Scheme: "s3", Host: o.bucket, Path: "/" + o.key}
	if o.version != "" {
		u.RawQuery = url.Values{"versionId": {o.version}}.Encode()
	}
	return u.String()
}

func parse(loc string) (object, error) {
	u, err := url.Parse(loc)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return object{}, fmt.Errorf("invalid S3 location %q: use s3://BUCKET/KEY", loc)
	}
	o := object{bucket: u.Host, key: strings.TrimPrefix(u.Path, "/"), version: u.Query().Get("versionId")}
	if o.key == "" || strings.HasSuffix(o.key, "/") {
		return object{}, fmt.Errorf("invalid S3 location %q: no object key", loc)
	}
	return o, nil
}

// Locate implements storage.Backend: dest is s3://BUCKET or
// s3://BUCKET/PREFIX.
func (*Backend) Locate(dest, name string) (string, error) {
	u, err := url.Parse(dest)
	if err != nil || u.Scheme != "s3" || u.Host == "" || u.RawQuery != "" {
		return "", fmt.Errorf("invalid S3 destination %q: use s3://BUCKET/PREFIX", dest)
	}
	return object{bucket: u.Host, key: path.Join(strings.TrimPrefix(u.Path, "/"), name)}.String(), nil
}

// For implements storage.Resolver.
func (b *Backend) For(string) (storage.Backend, error) { return b, nil }

// notFound maps S3's answers for a missing object or version to
// errs.ErrNotFound.
func notFound(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NoSuchVersion", "NotFound", "404":
			return fmt.Errorf("%w: %w", errs.ErrNotFound, err)
		}
	}
	return err
}

// IsAccessDenied reports whether S3 refused a request (403).
func IsAccessDenied(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "AccessDenied" || ae.ErrorCode() == "403")
}
