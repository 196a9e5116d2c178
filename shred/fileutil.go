package shred

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
)

// atomicFile is an output written to a temporary file in the destination
// directory and moved into place only by Commit, so a reader never sees a
// partial output and a failure leaves nothing behind. Where the system
// allows (Linux O_TMPFILE) the temporary file has no name at all, so even a
// process killed mid-write leaves no partial plaintext on disk.
type atomicFile struct {
	*os.File
	final     string
	anonymous bool
	done      bool
	written   int64
	flushed   int64
}

// writebackEvery is how much an atomicFile writes before it asks the
// kernel to start writing it back, so Commit's sync has little left to do.
const writebackEvery = 32 << 20

// Write implements io.Writer.
func (a *atomicFile) Write(p []byte) (int, error) {
	n, err := a.File.Write(p)
	a.written += int64(n)
	if a.written-a.flushed >= writebackEvery {
		startWriteback(a.File, a.flushed, a.written-a.flushed)
		a.flushed = a.written
	}
	return n, err
}

// createAtomic starts writing final. It refuses if final exists.
func createAtomic(final string) (*atomicFile, error) {
	if _, err := os.Lstat(final); err == nil {
		return nil, fmt.Errorf("%s already exists: refusing to overwrite it", final)
	}
	if f := openAnonymous(filepath.Dir(final)); f != nil {
		return &atomicFile{File: f, final: final, anonymous: true}, nil
	}
	f, err := os.CreateTemp(filepath.Dir(final), "."+filepath.Base(final)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("failed to create output: %w", err)
	}
	return &atomicFile{File: f, final: final}, nil
}

// Commit syncs the file and links it into place without replacing anything
// that appeared meanwhile, then syncs the directory.
func (a *atomicFile) Commit() error {
	if err := a.Sync(); err != nil {
		return fmt.Errorf("failed to sync %s: %w", a.final, err)
	}
	if err := a.link(); err != nil {
		return fmt.Errorf("failed to move output into place: %w", err)
	}
	a.done = true
	if err := a.Close(); err != nil {
		return fmt.Errorf("failed to close %s: %w", a.final, err)
	}
	if !a.anonymous {
		_ = os.Remove(a.Name())
	}
	return syncDir(filepath.Dir(a.final))
}

// link gives the written file its final name, failing if that name exists.
func (a *atomicFile) link() error {
	if a.anonymous {
		return linkAnonymous(a.File, a.final)
	}
	return os.Link(a.Name(), a.final)
}

// Abort removes the temporary file unless Commit succeeded. It is safe to
// defer.
func (a *atomicFile) Abort() {
	if a.done {
		return
	}
	_ = a.Close()
	if !a.anonymous {
		_ = os.Remove(a.Name())
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("failed to sync directory %s: %w", dir, err)
	}
	return nil
}

// hashingReader counts and hashes what is read through it.
type hashingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func newHashingReader(r io.Reader) *hashingReader {
	return &hashingReader{r: r, h: sha256.New()}
}

func (hr *hashingReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	hr.h.Write(p[:n])
	hr.n += int64(n)
	return n, err
}

func (hr *hashingReader) sum() string { return hex.EncodeToString(hr.h.Sum(nil)) }

// FileSHA256 returns the SHA-256 and size of the file at path.
func FileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	hr := newHashingReader(f)
	if _, err := io.Copy(io.Discard, hr); err != nil {
		return "", 0, fmt.Errorf("failed to read %s: %w", path, err)
	}
	return hr.sum(), hr.n, nil
}

// WriteFileAtomic creates path (mode 0600) with what write produces. The
// file appears only complete: a failure leaves nothing behind. It refuses
// to replace an existing file.
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	f, err := createAtomic(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := write(f); err != nil {
		return err
	}
	return f.Commit()
}
