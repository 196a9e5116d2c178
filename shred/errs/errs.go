// Package errs holds the error values every cryptoshred package shares, so
// that callers can test outcomes with errors.Is and errors.As whichever
// package produced them. The CLI maps them to exit codes.
package errs

import (
	"errors"
	"fmt"
)

// ErrRefused marks an operation refused by a hold, a policy or a
// precondition. The CLI maps it to exit code 4.
var ErrRefused = errors.New("refused")

// ErrNotFound marks a record or object that does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict marks a check-and-set write that lost a race with another
// writer.
var ErrConflict = errors.New("concurrent update")

// ErrUnavailable marks a server (Vault) that could not be reached or is
// sealed. The operation changed nothing that a re-run will not complete.
var ErrUnavailable = errors.New("vault is unavailable")

// ErrPartial marks a run in which some items failed and the rest were
// done. The CLI maps it to exit code 3.
var ErrPartial = errors.New("partially done")

// ErrKeyDestroyed marks a backup whose key was destroyed in Vault.
var ErrKeyDestroyed = errors.New("the backup's key was destroyed in Vault; the backup can no longer be decrypted")

// RefusedError explains why an operation was refused.
type RefusedError struct {
	Reason string
}

func (e *RefusedError) Error() string { return e.Reason }

// Is reports that a RefusedError is an ErrRefused.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// Refusedf returns a RefusedError with a formatted reason.
func Refusedf(format string, args ...any) error {
	return &RefusedError{Reason: fmt.Sprintf(format, args...)}
}
