package main

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// calendarSpan is a span in calendar units: years, months, weeks, days.
var calendarSpan = regexp.MustCompile(`^([0-9]{1,6})(y|mo|w|d)$`)

// parseSince turns a --since value into the earliest time to report: a
// span back from now in calendar units (18mo, 90d, 2w, 1y) or as a Go
// duration (36h, 90m, 720h), an RFC 3339 time, or an RFC 3339 date
// (midnight UTC).
func parseSince(s string, now time.Time) (time.Time, error) {
	if m := calendarSpan.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		if n == 0 {
			return time.Time{}, fmt.Errorf("--since must be positive, not %q", s)
		}
		return calendarBack(now, n, m[2]), nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("--since must be positive, not %q", s)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--since %q is neither a span (18mo, 90d, 2w, 36h) nor an RFC 3339 time or date", s)
}

func calendarBack(now time.Time, n int, unit string) time.Time {
	switch unit {
	case "y":
		return now.AddDate(-n, 0, 0)
	case "mo":
		return now.AddDate(0, -n, 0)
	case "w":
		return now.AddDate(0, 0, -7*n)
	}
	return now.AddDate(0, 0, -n)
}

// dayUnits is a duration in days or weeks: 30d, 2w.
var dayUnits = regexp.MustCompile(`^([0-9]{1,6})(d|w)$`)

// parseDuration reads a duration flag: days or weeks (30d, 2w, a day being
// 24 hours) or a Go duration (720h, 90m).
func parseDuration(flag, s string) (time.Duration, error) {
	if m := dayUnits.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		if m[2] == "w" {
			n *= 7
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("--%s %q: want a duration such as 30d, 2w, 720h or 90m", flag, s)
	}
	return d, nil
}
