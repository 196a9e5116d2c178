package shred

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/cryptoshred/cryptoshred/shred/catalog"
)

// controllersBudget bounds the bytes the data controllers' names take in
// every part's predicate, which names those of the case and of all its
// backups. The part's room for entries is what they leave.
const controllersBudget = 256 << 10

// checkControllers reports a case naming more controllers than an
// attestation names.
func checkControllers(names []string) error {
	if n := catalog.ControllerBytes(names); n > controllersBudget {
		return fmt.Errorf("the case's data controllers' names take %d bytes, more than an attestation names (%d)", n, controllersBudget)
	}
	return nil
}

// statedControllers chooses the data controllers every part names: the
// case's, then those of the backups ok accepts, a backup's names only if
// all of them fit in controllersBudget, taking first the backups whose
// names beyond the case's take the fewest bytes. So registrations written
// by hand that name many controllers come after the backups that name one
// or a few, and cannot crowd those out.
func statedControllers(caseNames []string, backups []*catalog.Backup, ok func(i int) bool) map[string]bool {
	stated, used := map[string]bool{}, 0
	for _, n := range catalog.ControllerNames(caseNames) {
		stated[n] = true
		used += catalog.ControllerBytes([]string{n})
	}
	var order []int
	own := make([]int, len(backups))
	for i, b := range backups {
		if ok(i) {
			order = append(order, i)
			own[i] = catalog.ControllerBytes(unnamed(b.Controllers, stated))
		}
	}
	slices.SortStableFunc(order, func(i, j int) int { return cmp.Compare(own[i], own[j]) })
	for _, i := range order {
		fresh := unnamed(backups[i].Controllers, stated)
		if size := catalog.ControllerBytes(fresh); used+size <= controllersBudget {
			for _, n := range fresh {
				stated[n] = true
			}
			used += size
		}
	}
	return stated
}

// unnamed returns the distinct names of names that stated lacks.
func unnamed(names []string, stated map[string]bool) []string {
	return slices.DeleteFunc(catalog.ControllerNames(names), func(n string) bool { return stated[n] })
}

// unstated reports a backup whose controllers are not all among those
// stated.
func unstated(names []string, stated map[string]bool) error {
	for _, n := range catalog.ControllerNames(names) {
		if !stated[n] {
			return fmt.Errorf("its data controllers do not all fit in the attestation's list of controllers (%d bytes, the most widely named first)", controllersBudget)
		}
	}
	return nil
}
