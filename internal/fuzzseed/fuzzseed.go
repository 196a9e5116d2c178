// Package fuzzseed helps fuzz tests build their seeds.
package fuzzseed

import (
	"encoding/json"
	"testing"
	"time"
)

// Time is a fixed, JSON-safe time for seeds.
var Time = time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC)

// JSON marshals v or fails the test.
func JSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
