package shred_test

import (
	"context"
	"testing"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// A hold release interrupted after it lifted the S3 legal hold is
// finished by its re-run, and then the legal hold is back on before case
// THREE holds the backup (the compliance officer set it with a plain S3
// call), so THREE's hold place finds it on and marks nothing afresh. Only
// the re-run's storageHoldLiftedUntimed mark tells the ledger that ONE's
// span ended: the attestation states the storage hold from THREE's hold,
// not from ONE's, across the unrecorded lift.
func TestS3UntimedLiftEndsTheSpanWithoutALaterPlacementFindingItOff(t *testing.T) {
	env := newS3Env(t)
	b := interruptedRelease(t, env)
	if released, err := env.compliance.ReleaseHolds(context.Background(), compliance, "ONE", []string{b.ID}, "placed by mistake"); err != nil || len(released) != 1 {
		t.Fatalf("re-run of the interrupted hold release: %v %v", released, err)
	}
	bucket, key, version := splitLoc(t, b.Ciphertext.Path)
	if _, err := env.complyS3.PutObjectLegalHold(context.Background(), &awss3.PutObjectLegalHoldInput{Bucket: &bucket, Key: &key, VersionId: &version,
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOn}}); err != nil {
		t.Fatal(err)
	}
	heldAgain := holdByThree(t, env, b)
	spanFromThree(t, shredThree(t, env, b), heldAgain)
}
