// Package timeutil holds time helpers the library packages share.
package timeutil

import "time"

// Later returns the later of a and b.
func Later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
