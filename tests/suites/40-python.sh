#!/usr/bin/env bash
# Python: ruff (lint + format), mypy --strict, and pytest against the idpkit package built from
# bindings/python into $REPO/.venv (scripts/setup.d/40-python.sh builds it; re-run here so a
# changed core or binding is never tested stale — it is a no-op when nothing changed).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
venv=${IDPKIT_VENV:-$repo/.venv}

bash "$repo/scripts/setup.d/40-python.sh"

# The rig's endpoints (registries, CA, credentials) for the registry tests; without the rig
# those tests fail, naming the peer.
rig_env="${IDPKIT_RIG_DIR:-$repo/.rig}/rig.env"
if [ -f "$rig_env" ]; then
  set -a
  # shellcheck disable=SC1090
  . "$rig_env"
  set +a
fi

cd "$repo/bindings/python"
# The typed surface (_types.py, _ops.py, _idpkit.pyi) is generated from the call contract;
# a stale file fails here, naming the command that regenerates it.
echo "-- gen_types.py --check (against contract/idpkit.json)"
"$venv/bin/python" gen_types.py --check
echo "-- ruff"
"$venv/bin/ruff" check .
"$venv/bin/ruff" format --check .
echo "-- mypy --strict"
"$venv/bin/mypy"
echo "-- pytest"
"$venv/bin/python" -m pytest -q -p no:cacheprovider
# The same abi3 build on the oldest supported CPython, when setup found one.
if [ -x "$venv/py39/bin/python" ]; then
  echo "-- pytest on $("$venv/py39/bin/python" --version)"
  PYTHONPATH="$PWD/python" "$venv/py39/bin/python" -m pytest -q -p no:cacheprovider
fi
