package fsutil

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
)

// AtomicFile is an output written to a temporary file in the destination
// directory and moved into place only by Commit, so a reader never sees a
// partial output and a failure leaves nothing behind. Where the system
// allows (Linux O_TMPFILE) the temporary file has no name at all, so even a
// process killed mid-write leaves no partial plaintext on disk.
type AtomicFile struct {
	*os.File
	final     string
	anonymous bool
	done      bool
	written   int64
	flushed   int64
}

// writebackEvery is how much an AtomicFile writes before it asks the
// kernel to start writing it back, so Commit's sync has little left to do.
const writebackEvery = 32 << 20

// Write implements io.Writer.
func (a *AtomicFile) Write(p []byte) (int, error) {
	n, err := a.File.Write(p)
	a.written += int64(n)
	if a.written-a.flushed >= writebackEvery {
		startWriteback(a.File, a.flushed, a.written-a.flushed)
		a.flushed = a.written
	}
	return n, err
}

// Final returns the name the file gets on Commit.
func (a *AtomicFile) Final() string { return a.final }

// CheckCreatable returns an error if Create(final) would refuse now: final
// exists or its directory does not. A command that does irreversible work
// before it writes its output calls it first.
func CheckCreatable(final string) error {
	if _, err := os.Lstat(final); err == nil {
		return fmt.Errorf("%s already exists: refusing to overwrite it", final)
	}
	if st, err := os.Stat(filepath.Dir(final)); err != nil || !st.IsDir() {
		return fmt.Errorf("cannot create %s: its directory %s does not exist or is not a directory", final, filepath.Dir(final))
	}
	return nil
}

// Create starts writing final. It refuses if final exists.
func Create(final string) (*AtomicFile, error) {
	if err := CheckCreatable(final); err != nil {
		return nil, err
	}
	if f := openAnonymous(filepath.Dir(final)); f != nil {
		return &AtomicFile{File: f, final: final, anonymous: true}, nil
	}
	f, err := os.CreateTemp(filepath.Dir(final), "."+filepath.Base(final)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("failed to create output: %w", err)
	}
	return &AtomicFile{File: f, final: final}, nil
}

// Commit syncs the file and links it into place without replacing anything
// that appeared meanwhile, then syncs the directory.
func (a *AtomicFile) Commit() error {
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
	return SyncDir(filepath.Dir(a.final))
}

// link gives the written file its final name, failing if that name exists.
func (a *AtomicFile) link() error {
	if a.anonymous {
		return linkAnonymous(a.File, a.final)
	}
	return os.Link(a.Name(), a.final)
}

// Abort removes the temporary file unless Commit succeeded. It is safe to
// defer.
func (a *AtomicFile) Abort() {
	if a.done {
		return
	}
	_ = a.Close()
	if !a.anonymous {
		_ = os.Remove(a.Name())
	}
}

// SyncDir syncs the directory dir, so entries added or removed in it last.
func SyncDir(dir string) error {
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

// HashingReader counts and hashes what is read through it.
type HashingReader struct {
	r io.Reader
	h hash.Hash
	N int64
}

// NewHashingReader returns a HashingReader over r.
func NewHashingReader(r io.Reader) *HashingReader {
	return &HashingReader{r: r, h: sha256.New()}
}

// Read implements io.Reader.
func (hr *HashingReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	hr.h.Write(p[:n])
	hr.N += int64(n)
	return n, err
}

// Sum returns the hex SHA-256 of what was read.
func (hr *HashingReader) Sum() string { return hex.EncodeToString(hr.h.Sum(nil)) }

// FileSHA256 returns the SHA-256 and size of the file at path.
func FileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	hr := NewHashingReader(f)
	if _, err := io.Copy(io.Discard, hr); err != nil {
		return "", 0, fmt.Errorf("failed to read %s: %w", path, err)
	}
	return hr.Sum(), hr.N, nil
}

// WriteFileAtomic creates path (mode 0600) with what write produces. The
// file appears only complete: a failure leaves nothing behind. It refuses
// to replace an existing file.
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := write(f); err != nil {
		return err
	}
	return f.Commit()
}
