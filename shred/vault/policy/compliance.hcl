# cryptoshred-compliance: the compliance officer or DPO.
# Opens cases, places holds, records the authority's closing decision and
# releases keys for destruction. It may set deletion_allowed only to true and
# cannot delete keys itself: releasing and destroying are two people's acts.

path "cryptoshred-transit/keys/+/config" {
  capabilities       = ["update"]
  allowed_parameters = { "deletion_allowed" = [true] }
}

path "cryptoshred-transit/keys/+" {
  capabilities = ["read"]
}

path "cryptoshred-transit/keys" {
  capabilities = ["list"]
}

path "cryptoshred-transit/config/keys" {
  capabilities = ["read"]
}

path "cryptoshred/data/cases/*" {
  capabilities = ["create", "update", "read"]
}

path "cryptoshred/data/holds/*" {
  capabilities = ["create", "update", "read"]
}

path "cryptoshred/data/backups/*" {
  capabilities = ["update", "read"]
}

path "cryptoshred/data/ledger/*" {
  capabilities = ["create", "update", "read"]
}

path "cryptoshred/data/attestations/*" {
  capabilities = ["read"]
}

path "cryptoshred/metadata/*" {
  capabilities = ["read", "list"]
}
