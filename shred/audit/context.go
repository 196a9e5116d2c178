package audit

import "context"

type ledgerEntryKey struct{}

// WithLedgerEntry returns ctx carrying the hash of the ledger entry that
// records why the key unwraps made with it happen. The Vault client sends
// it in the LedgerHeader of its Transit decrypt requests, so the audit
// log names the entry. It lives here, not in shred/vault, so the service
// sets it without importing the Vault client.
func WithLedgerEntry(ctx context.Context, hash string) context.Context {
	return context.WithValue(ctx, ledgerEntryKey{}, hash)
}

// LedgerEntry returns the entry hash WithLedgerEntry put in ctx, or "".
func LedgerEntry(ctx context.Context) string {
	s, _ := ctx.Value(ledgerEntryKey{}).(string)
	return s
}
