package shred

import (
	"errors"

	"github.com/cryptoshred/cryptoshred/shred/audit"
	"github.com/cryptoshred/cryptoshred/shred/errs"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
)

// The errors callers test with errors.Is; the CLI maps them to exit
// codes. They are the shared values of package errs and ledger.
var (
	ErrRefused          = errs.ErrRefused
	ErrNotFound         = errs.ErrNotFound
	ErrConflict         = errs.ErrConflict
	ErrVaultUnavailable = errs.ErrUnavailable
	ErrPartial          = errs.ErrPartial
	ErrKeyDestroyed     = errs.ErrKeyDestroyed
	ErrLedgerBroken     = ledger.ErrBroken
	ErrUnrecordedUnwrap = audit.ErrUnrecorded
)

// RefusedError explains why an operation was refused.
type RefusedError = errs.RefusedError

// ErrTampered marks a ciphertext whose digest differs from the catalog's.
var ErrTampered = errors.New("ciphertext does not match its catalog digest (tampered, truncated or replaced)")
