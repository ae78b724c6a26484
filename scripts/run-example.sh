#!/usr/bin/env bash
# The main job: build an image from examples/hello into the local store and show it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
idpkit="$repo/target/release/idpkit"
"$idpkit" build "$repo/examples/hello" \
  -t localhost/hello:latest \
  --prefix /app --workdir /app \
  --cmd '["python3", "/app/server.py"]' \
  --label org.opencontainers.image.source=examples/hello
"$idpkit" images
echo "store: ${IDPKIT_STORE:-${XDG_DATA_HOME:-$HOME/.local/share}/idpkit/store}"
