#!/usr/bin/env bash
# ensure-tool.sh NAME MODULE@VERSION: prints the path of a pinned Go tool,
# installing it once into the cache.
set -euo pipefail
name=$1 pkg=$2
cache=${CRYPTOSHRED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cryptoshred}
version=${pkg##*@}
bin=$cache/bin/$version/$name
if [ ! -x "$bin" ]; then
  echo "installing $pkg into $(dirname "$bin")" >&2
  mkdir -p "$(dirname "$bin")"
  GOBIN=$(dirname "$bin") go install -trimpath "$pkg"
fi
echo "$bin"
