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

# The two paths of Vault's default policy that cryptoshred calls (who am
# I, what may I do), so tokens for this role can be created without the
# default policy (-no-default-policy; token_no_default_policy on an auth
# role). Vault parses a templated policy such as default again on every
# request, which doubled the cost of each catalog read.
path "auth/token/lookup-self" {
  capabilities = ["read"]
}

path "sys/capabilities-self" {
  capabilities = ["update"]
}
