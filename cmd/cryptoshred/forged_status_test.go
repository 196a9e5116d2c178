package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/internal/tsatest"
	"github.com/cryptoshred/cryptoshred/shred"
)

// forgedStatus is the status text of a timestamp response that no one
// signed: it tries to print lines of its own after the failure.
const forgedStatus = "\nPASS  timestamps      1 RFC 3161 timestamp(s) over the signature verify\nVERIFIED: attestation FORGED, all good"

// TestTimestampStatusTextPrintsNoLinesOfItsOwn: a bundle whose timestamp
// response is a rejection with a status text holding line breaks fails
// (exit 5) with that text on the failure's line, escaped: no line of
// attest verify or attest show, on stdout or stderr, starts with what it
// forged. Several failures stay one per line.
func TestTimestampStatusTextPrintsNoLinesOfItsOwn(t *testing.T) {
	dir := t.TempDir()
	bundle, pub := forgedStatusBundle(t, dir)
	chain := timestampingChain(t, dir)
	t.Setenv("VAULT_ADDR", "http://127.0.0.1:1")
	t.Setenv("VAULT_TOKEN", "unused")
	for _, args := range [][]string{
		{"attest", "verify", bundle, "--key", pub, "--tsa-chain", chain},
		{"attest", "verify", bundle, bundle, "--key", pub, "--tsa-chain", chain},
		{"attest", "show", bundle, "--key", pub, "--tsa-chain", chain},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"cryptoshred"}, args...), strings.NewReader(""), &out, &errb)
		if code != exitVerifyKO || !strings.Contains(out.String()+errb.String(), `\x0aVERIFIED: attestation FORGED`) {
			t.Errorf("%v: exit %d, want %d with the status text escaped\nstdout: %s\nstderr: %s", args[:2], code, exitVerifyKO, out.String(), errb.String())
		}
		for name, text := range map[string]string{"stdout": out.String(), "stderr": errb.String()} {
			for _, line := range strings.Split(text, "\n") {
				if strings.HasPrefix(line, "VERIFIED") || strings.HasPrefix(line, "PASS  timestamps") || strings.Contains(line, "FORGED") && !strings.Contains(line, `\x0a`) {
					t.Errorf("%v: the timestamp's status text printed a line of its own on %s: %q\n%s", args[:2], name, line, text)
				}
			}
		}
		if len(args) > 2 && args[3] == bundle {
			if lines := strings.Split(strings.TrimSpace(errb.String()), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[1], "verification failed: timestamps") {
				t.Errorf("two failed attestations are not reported one a line:\n%s", errb.String())
			}
		}
	}
}

// forgedStatusBundle writes a bundle whose envelope is signed (its
// payload is never read: the timestamps are checked first) and whose one
// timestamp response is a rejection carrying forgedStatus, and the public
// key; it returns their paths.
func forgedStatusBundle(t *testing.T, dir string) (bundle, pub string) {
	t.Helper()
	key, err := attest.GenerateKey(attest.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte("{}")
	sig, err := key.Sign(rand.Reader, dsse.PAE(attest.PayloadType, payload), crypto.Hash(0))
	if err != nil {
		t.Fatal(err)
	}
	env, err := json.Marshal(map[string]any{"payloadType": attest.PayloadType, "payload": base64.StdEncoding.EncodeToString(payload),
		"signatures": []map[string]string{{"keyid": "", "sig": base64.StdEncoding.EncodeToString(sig)}}})
	if err != nil {
		t.Fatal(err)
	}
	// TimeStampResp ::= SEQUENCE { status PKIStatusInfo, ... } with
	// PKIStatusInfo ::= SEQUENCE { status 2 (rejection), statusString SEQUENCE OF UTF8String }
	// (a SEQUENCE of one UTF8String is encoded as a SEQUENCE OF it is).
	type freeText struct {
		Text string `asn1:"utf8"`
	}
	type statusInfo struct {
		Status       int
		StatusString freeText
	}
	resp, err := asn1.Marshal(struct{ Status statusInfo }{statusInfo{Status: 2, StatusString: freeText{forgedStatus}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := attest.NewBundle(env, key.Public(), [][]byte{resp})
	if err != nil {
		t.Fatal(err)
	}
	pemPub, err := attest.MarshalPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	bundle, pub = filepath.Join(dir, "forged.sigstore.json"), filepath.Join(dir, "signer.pub")
	if err := os.WriteFile(bundle, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pub, pemPub, 0o600); err != nil {
		t.Fatal(err)
	}
	return bundle, pub
}

// timestampingChain writes the chain of an authority made here, a
// self-signed timestamping certificate, and returns its path.
func timestampingChain(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "tsa-chain.pem")
	if err := os.WriteFile(path, tsatest.SelfSignedChainPEM(t, "Test TSA"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestErrorTextKeepsIntendedLineBreaks: the messages written over several
// lines on purpose keep their lines, beside a failed verification too (hold
// place joins a batch's failures with the ciphertexts found changed); a
// line break inside a failed verification is escaped.
func TestErrorTextKeepsIntendedLineBreaks(t *testing.T) {
	batch := &shred.BatchError{Done: 1, Failed: []*shred.ItemError{{ID: "bk-1", Err: errors.New("no")}, {ID: "bk-2", Err: errors.New("no")}}}
	changed := fmt.Errorf("backup bk-3: bk-3.age\nVERIFIED is missing: %w", shred.ErrCiphertextChanged)
	for err, want := range map[error]string{
		batch:                       "1 done, 2 failed\n  bk-1: no\n  bk-2: no",
		errors.Join(batch, changed): "1 done, 2 failed\n  bk-1: no\n  bk-2: no\nbackup bk-3: bk-3.age\\x0aVERIFIED is missing: ciphertext missing or changed",
		fmt.Errorf("2 failed: %w", errors.Join(changed, changed)):      "2 failed: backup bk-3: bk-3.age\\x0aVERIFIED is missing: ciphertext missing or changed\nbackup bk-3: bk-3.age\\x0aVERIFIED is missing: ciphertext missing or changed",
		&attest.VerificationError{Check: "x", Err: errors.New("a\nb")}: `verification failed: x: a\x0ab`,
	} {
		if got := errorText(err); got != want {
			t.Errorf("errorText(%q) = %q, want %q", err, got, want)
		}
	}
}
