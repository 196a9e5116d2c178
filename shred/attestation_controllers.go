package shred

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

// controllersBudget bounds the bytes the data controllers' names take in
// every part's predicate, which names those of the case and of all its
// backups. The part's room for entries is what they leave.
const controllersBudget = 256 << 10

// backupControllersBudget bounds the bytes one backup's own controllers'
// names take: a backup names one or a few, and a registration written by
// hand may name any number.
const backupControllersBudget = 4 << 10

// controllerNames returns the distinct names of names that are not blank,
// in their order.
func controllerNames(names []string) []string {
	seen := make(map[string]bool, len(names))
	var out []string
	for _, n := range names {
		if strings.TrimSpace(n) != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// namesBytes is how many bytes names take in a statement's list.
func namesBytes(names []string) int {
	n := 0
	for _, name := range names {
		quoted, _ := json.Marshal(name)
		n += len(quoted) + 1
	}
	return n
}

// checkControllers reports a case naming more controllers than an
// attestation names.
func checkControllers(names []string) error {
	if n := namesBytes(controllerNames(names)); n > controllersBudget {
		return fmt.Errorf("the case's data controllers' names take %d bytes, more than an attestation names (%d)", n, controllersBudget)
	}
	return nil
}

// statedControllers chooses the data controllers every part names: the
// case's, then those of the backups ok accepts, the most widely named
// first (then the shortest), while they fit in controllersBudget. So the
// names a few registrations written by hand give come after those the
// case's backups share, and cannot crowd those out.
func statedControllers(caseNames []string, backups []*catalog.Backup, ok func(i int) bool) map[string]bool {
	count := map[string]int{}
	for i, b := range backups {
		if ok(i) {
			for _, n := range controllerNames(b.Controllers) {
				count[n]++
			}
		}
	}
	for _, n := range controllerNames(caseNames) {
		count[n] = math.MaxInt
	}
	names := slices.SortedFunc(maps.Keys(count), func(a, b string) int {
		return cmp.Or(cmp.Compare(count[b], count[a]), cmp.Compare(len(a), len(b)), strings.Compare(a, b))
	})
	stated, used := map[string]bool{}, 0
	for _, n := range names {
		if size := namesBytes([]string{n}); used+size <= controllersBudget {
			stated[n] = true
			used += size
		}
	}
	return stated
}

// unstated reports a backup whose controllers are not all among those
// stated.
func unstated(names []string, stated map[string]bool) error {
	for _, n := range controllerNames(names) {
		if !stated[n] {
			return fmt.Errorf("its data controllers do not all fit in the attestation's list of controllers (%d bytes, the most widely named first)", controllersBudget)
		}
	}
	return nil
}
