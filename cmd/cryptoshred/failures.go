package main

import (
	"errors"
	"io"

	"github.com/cryptoshred/cryptoshred/shred"
)

// failedItems returns every item the batch err reports failed (a
// shred.BatchError anywhere in its chain), or none: the error's text
// lists only the first shred.MaxListedFailures, and for hold place, hold
// release and case close nothing else names the rest.
func failedItems(err error) []*shred.ItemError {
	var be *shred.BatchError
	if errors.As(err, &be) {
		return be.Failed
	}
	return []*shred.ItemError{}
}

// printUnlisted prints on stderr one line per item, prefixed by what,
// when the error's text names only the first of them, so that each is
// named somewhere (the text names all of a shorter list already).
func printUnlisted(stderr io.Writer, what string, items []*shred.ItemError) {
	if len(items) <= shred.MaxListedFailures {
		return
	}
	for _, f := range items {
		printf(stderr, "%s %s: %v\n", what, f.ID, f.Err)
	}
}
