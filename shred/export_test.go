package shred

import "github.com/cryptoshred/cryptoshred/shred/catalog"

// SetLedgerIDsPerEntry lowers how many backup ids one ledger entry lists,
// so a test splits entries without thousands of backups; the returned
// function restores it.
func SetLedgerIDsPerEntry(n int) func() {
	old := ledgerIDsPerEntry
	ledgerIDsPerEntry = n
	return func() { ledgerIDsPerEntry = old }
}

// DestructionDigest is destructionDigest, for tests that write what an
// older version's run listed.
func DestructionDigest(d *catalog.Destruction) string { return destructionDigest(d) }

// SetPartBudget lowers how many bytes one part's statement may take, so a
// test splits parts by size with a few backups; the returned function
// restores it.
func SetPartBudget(n int) func() {
	old := partBudget
	partBudget = n
	return func() { partBudget = old }
}
