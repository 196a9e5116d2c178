# The paths of Vault's default policy a role's token needs: the two that
# cryptoshred calls (who am I, what may I do), and renewing and revoking
# the token itself. Tokens for this role are meant to be created without
# the default policy (-no-default-policy; token_no_default_policy on an
# auth method): Vault parses a templated policy such as default again on
# every request, which doubled the time of shred plan and shred run.
path "auth/token/lookup-self" {
  capabilities = ["read"]
}

path "sys/capabilities-self" {
  capabilities = ["update"]
}

path "auth/token/renew-self" {
  capabilities = ["update"]
}

path "auth/token/revoke-self" {
  capabilities = ["update"]
}
