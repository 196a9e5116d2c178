package shred

// SetLedgerIDsPerEntry lowers how many backup ids one ledger entry lists,
// so a test splits entries without thousands of backups; the returned
// function restores it.
func SetLedgerIDsPerEntry(n int) func() {
	old := ledgerIDsPerEntry
	ledgerIDsPerEntry = n
	return func() { ledgerIDsPerEntry = old }
}
