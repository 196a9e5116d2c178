package agefile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"

	"github.com/cryptoshred/cryptoshred/internal/ctxio"
	"github.com/cryptoshred/cryptoshred/internal/fsutil"
)

// Digest is the size and SHA-256 of one side of an encryption.
type Digest struct {
	Size   int64
	SHA256 string
}

// Digests are the sizes and SHA-256 sums of one encryption pass.
type Digests struct {
	Plaintext  Digest
	Ciphertext Digest
}

const copyBufferSize = 1 << 20

// Encrypt streams src through age to dst, wrapping the file key with the
// key name through w, and returns the size and SHA-256 of both sides,
// computed in the same pass. Hashing and writing run on their own
// goroutines beside the encryption; memory use is constant. src is read
// only while ctx is live (ctxio.Reader): a file or stdin never looks at
// ctx, and an interrupted protect must stop rather than encrypt it all.
func Encrypt(ctx context.Context, w Wrapper, name string, src io.Reader, dst io.Writer) (Digests, error) {
	plain, cipher := fsutil.NewAsyncDigest(nil), fsutil.NewAsyncDigest(dst)
	err := encryptTo(ctx, w, name, ctxio.Reader(ctx, src), plain, cipher)
	perr, cerr := plain.Close(), cipher.Close()
	if err = errors.Join(err, perr, cerr); err != nil {
		return Digests{}, err
	}
	return Digests{
		Plaintext:  Digest{Size: plain.N, SHA256: plain.Sum()},
		Ciphertext: Digest{Size: cipher.N, SHA256: cipher.Sum()},
	}, nil
}

func encryptTo(ctx context.Context, wr Wrapper, name string, src io.Reader, plain *fsutil.AsyncDigest, dst io.Writer) error {
	w, err := age.Encrypt(dst, NewRecipient(ctx, wr, name))
	if err != nil {
		return fmt.Errorf("failed to start encryption: %w", err)
	}
	if err := plain.Feed(src, w); err != nil {
		return fmt.Errorf("failed to encrypt: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("failed to finish encryption: %w", err)
	}
	return nil
}

// Decrypt streams the age file src, binary or armored, to dst, accepting
// only a stanza that names the key name. dst may receive data before a
// later chunk fails to authenticate; callers that need all-or-nothing
// write to a temporary file. src is read only while ctx is live
// (ctxio.Reader), so an interrupted open stops at the next read.
func Decrypt(ctx context.Context, w Wrapper, name string, src io.Reader, dst io.Writer) error {
	in := &readErr{r: ctxio.Reader(ctx, src)}
	r, err := age.Decrypt(dearmor(in), NewIdentity(ctx, w, name))
	if err != nil && (in.err != nil || strings.HasPrefix(err.Error(), "failed to read header")) {
		return fmt.Errorf("failed to decrypt: %w", headerFailure(in, err)) // age's own error quotes the file
	}
	if err != nil {
		return fmt.Errorf("failed to decrypt: %w", err)
	}
	if _, err := io.CopyBuffer(dst, r, make([]byte, copyBufferSize)); err != nil {
		return fmt.Errorf("failed to decrypt: %w", err)
	}
	return nil
}
