// Package storage is where ciphertexts live. A Backend creates a
// ciphertext by streaming, opens it, tells whether it is there, and
// deletes it; every implementation passes the suite in storagetest.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Backend stores ciphertexts at locations it names itself: an absolute
// path for the local back end. Errors for a location that holds nothing
// wrap errs.ErrNotFound.
type Backend interface {
	// Locate returns the location name gets under dest (a directory, or
	// a bucket prefix), checking that dest can be written to.
	Locate(dest, name string) (string, error)
	// Create starts writing a new ciphertext at loc; it refuses a loc
	// that holds one. Nothing appears at loc until Commit.
	Create(ctx context.Context, loc string) (Upload, error)
	// Open reads the ciphertext at loc.
	Open(ctx context.Context, loc string) (io.ReadCloser, error)
	// Stat describes the ciphertext at loc.
	Stat(ctx context.Context, loc string) (Info, error)
	// Delete removes each object that its Check accepts and returns one
	// Result per object, in order. It removes exactly what was checked,
	// never what a name points to a moment later.
	Delete(ctx context.Context, objs []Object) []Result
	// Find returns where at obj.Loc a ciphertext is stored that obj.Check
	// accepts: the file, or each version of the S3 key, whichever version
	// obj.Loc names, since a plain read of the key returns whatever was
	// written under it last. Nothing accepted is no error; something that
	// could not be read or checked (Check wraps ErrUnchecked) is one.
	Find(ctx context.Context, obj Object) ([]string, error)
	// Properties declares what the back end can do.
	Properties() Properties
}

// Object names a stored ciphertext to delete and how to recognise it.
type Object struct {
	Loc string
	// Check reads the start of the object (at least its age header) and
	// returns an error if it is not the one to delete, or one wrapping
	// ErrUnchecked if reading it failed.
	Check func(io.Reader) error
}

// CheckBytes is how much of an object a back end hands its Check, where
// it reads only the start: more than any age header cryptoshred writes,
// and a large object that is no age file is not read to its end.
const CheckBytes = 64 << 10

// ErrUnchecked marks a Check that could not read the object (the
// connection broke, the disk failed): it says nothing of whose the object
// is, so a back end fails the deletion rather than passing the object
// over as another's, which would record it as gone before the shred.
var ErrUnchecked = errors.New("could not read the object to check it")

// ErrNotAFile marks an Open that found at a location something other
// than a stored object (a directory, a FIFO, a socket, a symbolic link
// loop): the ciphertext is not there as such, though something is, so it
// is neither "not found" nor a storage that could not answer.
var ErrNotAFile = errors.New("not a stored object")

// Result is what Delete did with one object: Err is nil when it was
// deleted and the deletion is durable; Removed names what was removed
// (the file, or each S3 version).
type Result struct {
	Removed []string
	Err     error
}

// Upload is a ciphertext being written. Exactly one of Commit or Abort
// takes effect; Abort after Commit does nothing, so it can be deferred.
type Upload interface {
	io.Writer
	// Commit makes the object appear and returns its final location,
	// which may name the version written (S3). It never replaces an
	// object put at the location since Create: it fails with an error
	// wrapping fs.ErrExist instead.
	Commit(ctx context.Context) (string, error)
	Abort()
}

// Info describes a stored ciphertext.
type Info struct {
	Size int64
}

// Properties are what a back end declares about itself.
type Properties struct {
	// Name is the back end's kind, as locations show it ("file").
	Name string
	// LegalHold is true when the storage itself can refuse to delete a
	// held ciphertext.
	LegalHold bool
}

// Holder is a back end whose storage itself can refuse to delete or
// overwrite a stored object: S3 Object Lock legal holds.
type Holder interface {
	// CanHold reports whether objects at loc can be put under a hold
	// (for S3: the bucket has Object Lock enabled).
	CanHold(ctx context.Context, loc string) (bool, error)
	// SetHold puts the object at loc under a legal hold (on) or lifts
	// it, and reads the hold back to confirm.
	SetHold(ctx context.Context, loc string, on bool) error
	// Held reports whether the object at loc is under a legal hold now.
	// hold place asks before it sets one: a hold found off means nothing
	// held the object since the last hold the ledger may still show open.
	Held(ctx context.Context, loc string) (bool, error)
}

// Remainder is a back end that can list everything left at a location,
// beyond what Stat sees: every object version and delete marker of an S3
// key. A witness asks it that nothing at all is left.
type Remainder interface {
	Remains(ctx context.Context, loc string) ([]string, error)
}

// Pinner is a back end whose locations can name one version of an
// object: Pin returns the location of exactly what is there now.
type Pinner interface {
	Pin(ctx context.Context, loc string) (string, error)
}

// Resolver picks the back end that stores a location.
type Resolver interface {
	For(loc string) (Backend, error)
}

// ErrNotDurable marks a deletion that happened but whose durability could
// not be confirmed (a directory sync failed).
var ErrNotDurable = errors.New("deleted, but the directory sync failed")

// Router sends each location to its back end: s3://... to S3, an absolute
// path to local files. The S3 back end is made on first use, so whoever
// keeps backups only in files needs no AWS configuration.
type Router struct {
	Local Backend
	NewS3 func() (Backend, error)

	once  sync.Once
	s3    Backend
	s3err error
}

// For implements Resolver.
func (r *Router) For(loc string) (Backend, error) {
	switch {
	case strings.HasPrefix(loc, "s3://"):
		r.once.Do(func() { r.s3, r.s3err = r.NewS3() })
		return r.s3, r.s3err
	case strings.Contains(loc, "://"):
		return nil, fmt.Errorf("unsupported location %q: use a directory or s3://BUCKET/PREFIX", loc)
	}
	return r.Local, nil
}
