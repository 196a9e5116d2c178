package catalog

import (
	"fmt"
	"strings"
	"testing"
)

// A backup names at most MaxControllerBytes of data controllers, counted
// as an attestation's list states them (HTML characters escaped, each
// name once), since every part of its case's attestation names them all.
func TestBackupControllersFitAnAttestation(t *testing.T) {
	var fits, over []string
	for i := range 15 {
		fits = append(fits, fmt.Sprintf("%02d %s", i, strings.Repeat("a", 250))) // 256 bytes, 259 in the list
	}
	for range 2 {
		fits = append(fits, fits[0]) // named again: counted once
	}
	for i := range 3 {
		over = append(over, fmt.Sprintf("%02d %s", i, strings.Repeat("<", 250))) // \u003c: 1,506 bytes each in the list
	}
	if err := (Metadata{Controllers: fits}).Validate(); err != nil {
		t.Fatalf("15 names of 256 bytes (%d in the list): %v", ControllerBytes(fits), err)
	}
	if err := (Metadata{Controllers: over}).Validate(); err == nil || !strings.Contains(err.Error(), "more than one backup may name") {
		t.Fatalf("3 names of 1,506 bytes in the list (%d): %v", ControllerBytes(over), err)
	}
}
