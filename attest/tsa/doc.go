// Package tsa requests and verifies RFC 3161 timestamps, the trusted time of
// a deletion attestation.
//
// A Client asks one timestamping authority for a timestamp over a message
// (the attestation's signature bytes, hashed with SHA-256) and checks the
// response before returning it: status granted, the message imprint it
// asked for, its nonce, and a signing certificate whose critical extended
// key usage is id-kp-timeStamping. Verify checks a stored response offline
// against the chains of the authorities a verifier trusts, the way
// sigstore-go and cosign do. The package uses no network except in Client
// and has no Vault dependency.
package tsa
