package shred

import (
	"slices"
	"testing"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

// Parts close at the part size or before the entry that would take them
// past the byte budget, whichever comes first.
func TestPartsCloseAtTheCountOrTheBudget(t *testing.T) {
	d := &deletion{predicate: &attest.Deletion{AttestationID: "att-x"}}
	budget := partBudget - d.shellSize(nil)
	sizes := []int{budget - 5, 5, 1, budget, 10, 10, 10, 10, 10} // a and b fill the budget exactly
	for i := range sizes {
		d.backups = append(d.backups, &catalog.Backup{ID: string(rune('a' + i))})
	}
	d.sizes = sizes
	var got [][]string
	for _, part := range d.parts(3) {
		var ids []string
		for _, b := range part {
			ids = append(ids, b.ID)
		}
		got = append(got, ids)
	}
	want := [][]string{{"a", "b"}, {"c"}, {"d"}, {"e", "f", "g"}, {"h", "i"}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("parts %v, want %v", got, want)
	}
}
