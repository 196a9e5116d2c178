package main

import (
	"bytes"
	"encoding/csv"
	"testing"
)

func TestCSVNeutralisesFormulas(t *testing.T) {
	in := []string{"=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\t=1", "plain", "a=b", "", "line\nbreak\x1b[2K"}
	var buf bytes.Buffer
	if err := writeCSV(&buf, [][]string{in}); err != nil {
		t.Fatal(err)
	}
	got, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"'=HYPERLINK(\"http://x\")", "'+1", "'-2+3", "'@SUM(A1)", `'\x09=1`, "plain", "a=b", "", `line\x0abreak\x1b[2K`}
	for i := range want {
		if got[0][i] != want[i] {
			t.Errorf("cell %d: %q, want %q", i, got[0][i], want[i])
		}
	}
}
