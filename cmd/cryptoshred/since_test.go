package main

import (
	"testing"
	"time"
)

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"18mo":                      time.Date(2024, 10, 1, 12, 0, 0, 0, time.UTC), // AddDate normalises 31 Sep
		"90d":                       now.AddDate(0, 0, -90),
		"2w":                        time.Date(2026, 3, 17, 12, 0, 0, 0, time.UTC),
		"1y":                        time.Date(2025, 3, 31, 12, 0, 0, 0, time.UTC),
		"36h":                       time.Date(2026, 3, 30, 0, 0, 0, 0, time.UTC),
		"720h":                      now.Add(-720 * time.Hour),
		"2025-01-02T03:04:05+01:00": time.Date(2025, 1, 2, 2, 4, 5, 0, time.UTC),
		"2025-01-02":                time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC),
	} {
		got, err := parseSince(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("%s: %v %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0d", "-5h", "18 months", "mo", "1.5d", "2025-13-01", "9999999d"} {
		if _, err := parseSince(bad, now); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
