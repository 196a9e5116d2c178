#!/usr/bin/env bash
# Prints the path of a Chromium for the certificate rendering test,
# installing Debian's package when there is none.
set -euo pipefail
if [ -n "${CHROMIUM_BIN:-}" ]; then echo "$CHROMIUM_BIN"; exit 0; fi
for c in chromium chromium-browser; do
  if command -v "$c" >/dev/null 2>&1; then command -v "$c"; exit 0; fi
done
echo "installing Debian's chromium package" >&2
sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
$sudo apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >&2
command -v chromium
