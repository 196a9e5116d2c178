package agefile_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/cryptoshred/cryptoshred/shred/agefile"
)

// TestHeaderErrorsQuoteNothing: reading the header of a file that is not
// an age file says so without quoting the file, whatever it holds (a
// forged registration can point a backup at a token or password file).
func TestHeaderErrorsQuoteNothing(t *testing.T) {
	for _, content := range []string{"hvs.CAESIsecret-token\n", "secret", "age-encryption.org/v1\n-> X25519 secret\n"} {
		_, err := agefile.HeaderStanzas(strings.NewReader(content))
		if err == nil || !strings.Contains(err.Error(), "not an age file") || strings.Contains(err.Error(), "secret") {
			t.Errorf("header of %q: %v", content, err)
		}
	}
}

// TestDecryptErrorsQuoteNothing: the same for a decryption, which reads
// the header first.
func TestDecryptErrorsQuoteNothing(t *testing.T) {
	err := agefile.Decrypt(context.Background(), nil, "bk-x", strings.NewReader("hvs.CAESIsecret-token\n"), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not an age file") || strings.Contains(err.Error(), "secret") {
		t.Errorf("decrypt of a token file: %v", err)
	}
}

// TestHeaderReadErrorIsNotNotAgeFile: a file that cannot be read is
// reported as such, not as "not an age file" (which reads as tampering).
func TestHeaderReadErrorIsNotNotAgeFile(t *testing.T) {
	broken := io.MultiReader(strings.NewReader("age-encry"), iotest.ErrReader(errors.New("connection reset")))
	_, err := agefile.HeaderStanzas(broken)
	if err == nil || !strings.Contains(err.Error(), "failed to read the file: connection reset") {
		t.Errorf("header of a file whose read fails: %v", err)
	}
}

// TestArmorLineIsNotReadWhole: an armored file whose line runs on for
// 10 MiB is refused after a few KiB of it, not read into memory whole.
func TestArmorLineIsNotReadWhole(t *testing.T) {
	read := &countingReader{r: io.MultiReader(strings.NewReader("-----BEGIN AGE ENCRYPTED FILE-----\n"), strings.NewReader(strings.Repeat("A", 10<<20)))}
	_, err := agefile.HeaderStanzas(read)
	if err == nil || read.n > 64<<10 {
		t.Fatalf("header of a 10 MiB armored line: %v after reading %d bytes", err, read.n)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
