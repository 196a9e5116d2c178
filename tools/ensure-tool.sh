#!/usr/bin/env bash
# ensure-tool.sh NAME MODULE@VERSION: prints the path of a pinned Go tool.
# A NAME already installed (in the cache, GOPATH/bin or PATH) is used if it
# reports VERSION; otherwise the tool is installed once into the cache.
set -euo pipefail
name=$1 pkg=$2
version=${pkg##*@}
cache=${CRYPTOSHRED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cryptoshred}
bin=$cache/bin/$version/$name
# The output is read whole first: grep -q stopping early would SIGPIPE a long
# banner and fail the pipeline under pipefail.
reports_version() { local out; out=$({ "$1" --version 2>&1 || "$1" version 2>&1; }); grep -q -- "$version" <<<"$out"; }
# Some tools (versitygw) do not report their module version; the cache
# keeps a note of the version it installed beside the binary.
if [ -x "$bin" ] && [ "$(cat "$bin.installed" 2>/dev/null)" = "$pkg" ]; then echo "$bin"; exit 0; fi
for candidate in "$bin" "$(go env GOPATH)/bin/$name" "$(command -v "$name" || true)"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ] && reports_version "$candidate"; then
    echo "$candidate"; exit 0
  fi
done
echo "installing $pkg into $(dirname "$bin") (a few minutes the first time)" >&2
mkdir -p "$(dirname "$bin")"
GOBIN=$(dirname "$bin") go install -trimpath "$pkg"
echo "$pkg" > "$bin.installed"
echo "$bin"
