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

# Registrations are written once, when a backup is protected or
# registered: create but never update, so the ciphertext, digests and
# original on record cannot be changed afterwards.
path "cryptoshred/data/registrations/*" {
  capabilities = ["read"]
}

path "cryptoshred/data/systems/*" {
  capabilities = ["read"]
}

path "cryptoshred/data/plaintext-sizes/*" {
  capabilities = ["read"]
}

path "cryptoshred/data/digests/*" {
  capabilities = ["read"]
}

path "cryptoshred/data/shared/*" {
  capabilities = ["read"]
}

# Written by init alone: whether every shared digest is marked.
path "cryptoshred/data/indexes/*" {
  capabilities = ["read"]
}

path "cryptoshred/data/backups/*" {
  capabilities = ["update", "read"]
}

# Ledger slots are created once and never updated, so no role can edit or
# replace an entry; the head is only a hint of where the chain ends.
path "cryptoshred/data/ledger/0*" {
  capabilities = ["create", "read"]
}

path "cryptoshred/data/ledger/head" {
  capabilities = ["create", "update", "read"]
}

# The shred runs' intents: plans made with this token (shred cancel)
# finish what a stopped run began, as the admin's do.
path "cryptoshred/data/intents/*" {
  capabilities = ["read"]
}

# The shred runs' destruction records: plans and attestations made with
# this token read what the runs destroyed.
path "cryptoshred/data/destructions/*" {
  capabilities = ["read"]
}

path "cryptoshred/data/attestations/*" {
  capabilities = ["read"]
}

path "cryptoshred/metadata/*" {
  capabilities = ["read", "list"]
}

# Each role signs its ledger entries with its own key, and only with it:
# an entry claiming another role's kind cannot carry that role's
# signature.
path "cryptoshred-ledger/sign/ledger-compliance" {
  capabilities = ["update"]
}

path "cryptoshred-ledger/keys/*" {
  capabilities = ["read"]
}

# cryptoshred init appends token-self.hcl: the paths of Vault's default
# policy a role's token needs.
