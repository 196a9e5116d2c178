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

path "cryptoshred/data/backups/*" {
  capabilities = ["create", "update", "read"]
}

path "cryptoshred/data/attestations/*" {
  capabilities = ["create", "read"]
}

path "cryptoshred/data/ledger/*" {
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
