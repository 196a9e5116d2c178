package catalog

// SetMaxDestructionsBytes sets the size at which a destruction record is
// split, until the returned function restores it.
func SetMaxDestructionsBytes(n int) (restore func()) {
	old := maxDestructionsBytes
	maxDestructionsBytes = n
	return func() { maxDestructionsBytes = old }
}
