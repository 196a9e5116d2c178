// Package storage is where ciphertexts live. A Backend creates a
// ciphertext by streaming, opens it, tells whether it is there, and
// deletes it; every implementation passes the suite in storagetest.
package storage

import (
	"context"
	"errors"
	"io"
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
	// error per object, in order: nil when it was deleted and the
	// deletion is durable. It removes exactly what was checked, never
	// what a name points to a moment later.
	Delete(ctx context.Context, objs []Object) []error
	// Properties declares what the back end can do.
	Properties() Properties
}

// Object names a stored ciphertext to delete and how to recognise it.
type Object struct {
	Loc string
	// Check reads the start of the object (at least its age header) and
	// returns an error if it is not the one to delete.
	Check func(io.Reader) error
}

// Upload is a ciphertext being written. Exactly one of Commit or Abort
// takes effect; Abort after Commit does nothing, so it can be deferred.
type Upload interface {
	io.Writer
	Commit(ctx context.Context) error
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

// ErrNotDurable marks a deletion that happened but whose durability could
// not be confirmed (a directory sync failed).
var ErrNotDurable = errors.New("deleted, but the directory sync failed")
