package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/cryptoshred/cryptoshred/attest"

	"github.com/cryptoshred/cryptoshred/shred"
)

// Exit codes, the only place they are defined.
const (
	exitOK       = 0
	exitError    = 1
	exitUsage    = 2
	exitPartial  = 3
	exitRefused  = 4
	exitVerifyKO = 5 // also: a ciphertext missing or changed, an unwrap without a recorded purpose
)

const exitCodesHelp = `EXIT CODES:
   0  success
   1  error
   2  usage error
   3  partial: some backups failed, the rest are done
   4  refused: a hold, a Vault policy or a precondition forbids it
   5  verification failed: an attestation, the ledger, a ciphertext missing or changed
      (backup verify, hold place), or a key unwrap without a recorded purpose`

// usageError marks a mistake on the command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitCode maps an error to the process exit code.
func exitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case verificationFailed(err):
		return exitVerifyKO
	case errors.Is(err, shred.ErrPartial):
		return exitPartial
	case errors.Is(err, shred.ErrRefused):
		return exitRefused
	}
	return exitError
}

// verificationFailed reports whether err is, or holds, a failed
// verification: the errors that exit 5.
func verificationFailed(err error) bool {
	return errors.Is(err, attest.ErrVerification) || errors.Is(err, shred.ErrLedgerBroken) ||
		errors.Is(err, shred.ErrCiphertextChanged) || errors.Is(err, shred.ErrUnrecordedUnwrap)
}

// reportError prints err, if any, on stderr and returns its exit code.
func reportError(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	msg := strings.TrimSpace(errorText(err))
	fmt.Fprintf(stderr, "cryptoshred: %s\n", msg)
	return exitCode(err)
}
