package attest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sigstore/sigstore/pkg/signature"
)

var update = flag.Bool("update", false, "rewrite the test vectors and fuzz seeds in testdata")

var vectorAlgs = []Algorithm{ECDSAP256, Ed25519}

// TestVectors verifies the committed attestations, so that a change to the
// format, the encoding or the verifier that breaks old attestations fails.
func TestVectors(t *testing.T) {
	if *update {
		writeVectors(t)
	}
	for _, alg := range vectorAlgs {
		t.Run(string(alg), func(t *testing.T) {
			env := readTestdata(t, "vector-"+string(alg)+".intoto.json")
			r, err := Verify(context.Background(), env, vectorVerifier(t, alg), VerifyOptions{SubjectDigest: hexSum(blobContent)})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r.Statement, testStatement()) {
				t.Errorf("vector decodes to another statement:\n%+v", r.Statement)
			}
			payload, _ := base64.StdEncoding.DecodeString(decodeEnv(t, env).Payload)
			if again, _ := json.Marshal(r.Statement); !bytes.Equal(again, payload) {
				t.Error("Sign would now encode the same statement differently")
			}
		})
	}
	if got := readTestdata(t, "vector.blob"); string(got) != blobContent {
		t.Error("vector.blob changed")
	}
}

func TestSchemaExample(t *testing.T) {
	var st Statement
	if err := decodeStrict(readTestdata(t, "statement.json"), &st); err != nil {
		t.Fatal(err)
	}
	if err := st.Validate(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&st, testStatement()) {
		t.Error("testdata/statement.json is not testStatement(); run go test -run TestVectors -update")
	}
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func vectorVerifier(t testing.TB, alg Algorithm) signature.Verifier {
	t.Helper()
	v, err := LoadVerifier(readTestdata(t, "vector-"+string(alg)+".pub"))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// writeVectors signs testStatement with new keys and rewrites testdata.
func writeVectors(t *testing.T) {
	for _, alg := range vectorAlgs {
		s, _, pub := newFileSigner(t, alg, nil)
		writeTestdata(t, "vector-"+string(alg)+".intoto.json", signTest(t, s))
		p, _ := os.ReadFile(pub)
		writeTestdata(t, "vector-"+string(alg)+".pub", p)
	}
	writeTestdata(t, "vector.blob", []byte(blobContent))
	st, _ := json.MarshalIndent(testStatement(), "", "  ")
	writeTestdata(t, "statement.json", append(st, '\n'))
	writeFuzzSeeds(t)
}

func writeTestdata(t *testing.T, name string, b []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeFuzzSeeds writes valid and broken envelopes as FuzzVerify seeds and
// statements as FuzzStatement seeds, in the go test fuzz v1 format.
func writeFuzzSeeds(t *testing.T) {
	env := readTestdata(t, "vector-ecdsa-p256.intoto.json")
	e := decodeEnv(t, env)
	seeds := map[string][]byte{
		"valid":             env,
		"valid-ed25519":     readTestdata(t, "vector-ed25519.intoto.json"),
		"tampered-payload":  tamper(t, env),
		"no-signatures":     encodeEnv(t, envelope{e.PayloadType, e.Payload, nil}),
		"dup-signature":     encodeEnv(t, envelope{e.PayloadType, e.Payload, append(e.Signatures, e.Signatures...)}),
		"payload-type":      bytes.Replace(env, []byte(PayloadType), []byte("application/json"), 1),
		"line-break":        bytes.Replace(env, []byte(`"payload":"ey`), []byte(`"payload":"e\ny`), 1),
		"duplicate-key":     bytes.Replace(env, []byte(`{"payloadType"`), []byte(`{"payloadType":"x","payloadType"`), 1),
		"empty-object":      []byte(`{}`),
		"null":              []byte(`null`),
		"deep":              []byte(strings.Repeat("[", 40) + strings.Repeat("]", 40)),
		"truncated":         env[:len(env)/2],
		"signature-only":    []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"","sig":"MEUCIQ=="}]}`),
		"url-safe-payload":  encodeEnv(t, envelope{e.PayloadType, base64.URLEncoding.EncodeToString([]byte(`{"_type":1}`)), e.Signatures}),
		"unicode-key":       []byte(`{"payloadType":"x","payload":"e30=","signatures":[],"\u212a":1}`),
		"signatures-object": []byte(`{"payloadType":"x","payload":"e30=","signatures":{}}`),
	}
	for name, b := range seeds {
		writeTestdata(t, filepath.Join("fuzz", "FuzzVerify", name), fuzzSeed(b))
	}
	st := readTestdata(t, "statement.json")
	for name, b := range map[string][]byte{
		"valid":          st,
		"no-predicate":   []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"https://cryptoshred.dev/deletion/v1"}`),
		"null-original":  bytes.Replace(st, []byte(`"original": {`), []byte(`"original": null, "x": {`), 1),
		"wrong-types":    []byte(`{"_type":1,"subject":{},"predicateType":[],"predicate":"x"}`),
		"empty-backups":  bytes.Replace(st, []byte(`"backups": [`), []byte(`"backups": [{}, `), 1),
		"duplicate-keys": []byte(`{"_type":"a","_type":"b"}`),
	} {
		writeTestdata(t, filepath.Join("fuzz", "FuzzStatement", name), fuzzSeed(b))
	}
}

func fuzzSeed(b []byte) []byte {
	return fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", b)
}
