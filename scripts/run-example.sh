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
store=${IDPKIT_STORE:-${XDG_DATA_HOME:-$HOME/.local/share}/idpkit/store}
cat <<EOT
store: $store

Try next:
  $idpkit inspect localhost/hello:latest            # manifest and config as JSON
  skopeo inspect oci:$store:localhost/hello:latest   # any OCI tool reads the store
  # push it to a registry (a local one: docker-registry serve, or the rig: make test)
  $idpkit push localhost/hello:latest 127.0.0.1:5000/demo/hello:latest
  # the same from Python or Node (pip install ./bindings/python, npm install ./bindings/node):
  python3 -c 'import idpkit; print(idpkit.Store().images())'
  node -e 'const {Store}=require("./bindings/node"); new Store().images().then(console.log)'
EOT
