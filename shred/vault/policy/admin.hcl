# cryptoshred-admin: the backup administrator.
# Protects and opens backups, deletes keys that compliance released, and
# records what it did. It cannot change a key's configuration, so it can never
# unlatch deletion_allowed on a held key, even with plain `vault` commands.

# Create per-backup keys (Transit treats creation as an update). Only the
# key type may be passed, so exportable and allow_plaintext_backup always
# stay false.
path "cryptoshred-transit/keys/+" {
  capabilities       = ["create", "update", "read", "delete"]
  allowed_parameters = { "type" = ["aes256-gcm96"] }
}

path "cryptoshred-transit/keys/+/config" {
  capabilities = ["deny"]
}

path "cryptoshred-transit/keys" {
  capabilities = ["list"]
}

path "cryptoshred-transit/config/keys" {
  capabilities = ["read"]
}

path "cryptoshred-transit/encrypt/+" {
  capabilities = ["update"]
}

path "cryptoshred-transit/decrypt/+" {
  capabilities = ["update"]
}

# Registrations are written once, when a backup is protected or
# registered: create but never update, so the ciphertext, digests and
# original on record cannot be changed afterwards.
path "cryptoshred/data/registrations/*" {
  capabilities = ["create", "read"]
}

# The catalog's indexes (by system, plaintext size and digest, and the
# marks of digests more than one backup shares): entries
# created once, before the registration they index, never updated or
# deleted, so no backup can be hidden from a listing or a duplicate check.
path "cryptoshred/data/systems/*" {
  capabilities = ["create", "read"]
}

path "cryptoshred/data/plaintext-sizes/*" {
  capabilities = ["create", "read"]
}

path "cryptoshred/data/digests/*" {
  capabilities = ["create", "read"]
}

path "cryptoshred/data/shared/*" {
  capabilities = ["create", "read"]
}

# Written by init alone: whether every shared digest is marked.
path "cryptoshred/data/indexes/*" {
  capabilities = ["read"]
}

path "cryptoshred/data/backups/*" {
  capabilities = ["create", "update", "read"]
}

# A shred run records, once per batch and before deleting its keys, which
# keys it is about to destroy: the next run finishes recording a
# destruction that a stopped run left half done. Created once, never
# updated.
path "cryptoshred/data/intents/*" {
  capabilities = ["create", "read"]
}

# A shred run records, once per batch and after verifying its keys gone,
# each backup's destruction (in place of a status write per backup).
# Created once, never updated.
path "cryptoshred/data/destructions/*" {
  capabilities = ["create", "read"]
}

path "cryptoshred/data/attestations/*" {
  capabilities = ["create", "read"]
}

# Ledger slots are created once and never updated, so no role can edit or
# replace an entry; the head is only a hint of where the chain ends.
path "cryptoshred/data/ledger/0*" {
  capabilities = ["create", "read"]
}

path "cryptoshred/data/ledger/head" {
  capabilities = ["create", "update", "read"]
}

path "cryptoshred/data/cases/*" {
  capabilities = ["read"]
}

path "cryptoshred/data/holds/*" {
  capabilities = ["read"]
}

path "cryptoshred/metadata/*" {
  capabilities = ["read", "list"]
}

# Each role signs its ledger entries with its own key, and only with it:
# an entry claiming another role's kind cannot carry that role's
# signature.
path "cryptoshred-ledger/sign/ledger-admin" {
  capabilities = ["update"]
}

path "cryptoshred-ledger/keys/*" {
  capabilities = ["read"]
}

# cryptoshred init appends token-self.hcl: the paths of Vault's default
# policy a role's token needs.
