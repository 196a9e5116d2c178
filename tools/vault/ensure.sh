#!/usr/bin/env bash
# Prints the path of the Vault server binary the tests and the demo use:
# $VAULT_BIN, else `vault` on PATH, else the pinned version built once into
# the cache (about 13 minutes on 2 cores the first time).
set -euo pipefail
if [ -n "${VAULT_BIN:-}" ]; then echo "$VAULT_BIN"; exit 0; fi
if command -v vault >/dev/null 2>&1; then command -v vault; exit 0; fi
cache=${CRYPTOSHRED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cryptoshred}
bin=$cache/vault-1.19.0
if [ ! -x "$bin" ]; then
  echo "building the pinned Vault 1.19.0 server into $bin (about 13 minutes the first time)" >&2
  mkdir -p "$cache"
  (cd "$(dirname "$0")" && go build -trimpath -ldflags='-s -w' -o "$bin.tmp" github.com/hashicorp/vault)
  mv "$bin.tmp" "$bin"
fi
echo "$bin"
