# cryptoshred-auditor: an auditor or the authority itself.
# Reads the catalog, the ledger and issued attestations, and key metadata.
# It can neither decrypt nor change anything.

path "cryptoshred-transit/keys/+" {
  capabilities = ["read"]
}

path "cryptoshred-transit/keys" {
  capabilities = ["list"]
}

path "cryptoshred-transit/config/keys" {
  capabilities = ["read"]
}

path "cryptoshred/data/*" {
  capabilities = ["read"]
}

path "cryptoshred/metadata/*" {
  capabilities = ["read", "list"]
}

path "cryptoshred-ledger/keys/*" {
  capabilities = ["read"]
}

# cryptoshred init appends token-self.hcl: the paths of Vault's default
# policy a role's token needs.
