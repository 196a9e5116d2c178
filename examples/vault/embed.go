// Package vault holds the Vault policies cryptoshred installs, written for
// the default mount names (cryptoshred-transit and cryptoshred).
package vault

import "embed"

// Policies holds admin.hcl, compliance.hcl and auditor.hcl.
//
//go:embed *.hcl
var Policies embed.FS
