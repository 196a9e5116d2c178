package fsutil

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
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

// CheckCreatable returns an error if Create would refuse or fail now for
// any of names: one exists, or its directory does not exist or no file
// can be created in it (CheckDirCreatable, tried once per directory). A
// command that does irreversible work before it writes its outputs calls
// it first, with every name it will create.
func CheckCreatable(names ...string) error {
	dirs := map[string]error{}
	for _, name := range names {
		if err := checkAbsent(name); err != nil {
			return err
		}
		dir := filepath.Dir(name)
		err, tried := dirs[dir]
		if !tried {
			err = CheckDirCreatable(dir)
			dirs[dir] = err
		}
		if err != nil {
			return fmt.Errorf("cannot create %s: %w", name, err)
		}
	}
	return nil
}

// CheckDirCreatable returns an error if Create could not create a file in
// dir now: dir is not a directory, or a file opened there as Create opens
// one (then closed and removed) cannot be, as in a read-only file system,
// a directory the user may not write or /proc. The error does not name
// the file tried.
func CheckDirCreatable(dir string) error {
	if err := checkDir(dir); err != nil {
		return err
	}
	f, anonymous, err := openTemp(dir, ".cryptoshred-check.*.tmp")
	if err != nil {
		return err
	}
	_ = f.Close()
	if !anonymous {
		_ = os.Remove(f.Name())
	}
	return nil
}

func checkAbsent(final string) error {
	if _, err := os.Lstat(final); err == nil {
		return fmt.Errorf("%s already exists: refusing to overwrite it", final)
	}
	return nil
}

func checkDir(dir string) error {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("its directory %s does not exist or is not a directory", dir)
	}
	return nil
}

// openTemp opens a new file in dir: unnamed where the system allows, else
// named from pattern (os.CreateTemp). Its error names dir, not the file.
func openTemp(dir, pattern string) (f *os.File, anonymous bool, err error) {
	if f := openAnonymous(dir); f != nil {
		return f, true, nil
	}
	f, err = os.CreateTemp(dir, pattern)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, false, fmt.Errorf("no file can be created in its directory %s: %w", dir, err)
	}
	return f, false, nil
}

// Create starts writing final. It refuses if final exists.
func Create(final string) (*AtomicFile, error) {
	if err := checkAbsent(final); err != nil {
		return nil, err
	}
	dir := filepath.Dir(final)
	if err := checkDir(dir); err != nil {
		return nil, fmt.Errorf("cannot create %s: %w", final, err)
	}
	f, anonymous, err := openTemp(dir, "."+filepath.Base(final)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("cannot create %s: %w", final, err)
	}
	return &AtomicFile{File: f, final: final, anonymous: anonymous}, nil
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
