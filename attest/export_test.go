package attest

// Fixtures for the external tests in package attest_test, which exist
// because internal/vaulttest imports shred, which imports attest.
var (
	FixtureStatement  = testStatement
	FixtureBlobDigest = hexSum(blobContent)
)
