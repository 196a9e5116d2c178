// Package attest builds, signs, verifies and renders cryptoshred deletion
// attestations.
//
// An attestation is an in-toto Statement v1 whose predicate, of type
// https://cryptoshred.dev/deletion/v1, records a crypto-shredding: which
// backups were destroyed, under which case and decision, how the destruction
// was verified and which residual copies may remain. The statement is signed
// into a DSSE envelope with a sigstore signature.Signer, so that it can be
// checked offline with this package or with
//
//	cosign verify-blob-attestation --key pub.pem \
//	    --type https://cryptoshred.dev/deletion/v1 \
//	    --signature ATTESTATION --insecure-ignore-tlog BLOB
//
// The schema is documented in SCHEMA.md beside this file.
//
// Keys are local PEM files (ECDSA P-256 or Ed25519, optionally encrypted) or
// Vault Transit keys named hashivault://NAME. See LoadSigner.
package attest
