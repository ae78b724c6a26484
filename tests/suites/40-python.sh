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
. "$repo/tests/counts.sh"
# run_pytest NAME PYTHON: the tests under PYTHON; fails when no test, or no test of some
# tests/test_*.py, ran (pytest itself exits 5 only when nothing at all was collected).
run_pytest() {
  local name=$1 python=$2 xml="$repo/target/pytest-$1.xml"
  rm -f "$xml"
  "$python" -m pytest -q -p no:cacheprovider --junitxml="$xml"
  pytest_counts "$xml" >"$repo/target/pytest-$name-per-file.txt"
  require_tests "python ($name)" "$(awk -F'\t' '{s += $1} END {print s + 0}' "$repo/target/pytest-$name-per-file.txt")"
  require_per_file "python ($name)" "$repo/target/pytest-$name-per-file.txt" tests/test_*.py
}
echo "-- pytest"
run_pytest default "$venv/bin/python"
# The same abi3 build on the oldest CPython pyproject.toml claims (requires-python >= 3.9):
# the claim is tested, so a machine without that interpreter fails here rather than passing
# untested.
if [ ! -x "$venv/py39/bin/python" ]; then
  echo "40-python: $venv/py39 (CPython 3.9, the oldest requires-python claims) is missing;" \
    "install CPython 3.9 (pyenv install 3.9, or a python3.9 on PATH, or IDPKIT_PYTHON_OLDEST=/path/to/python3.9)" \
    "and re-run scripts/setup.d/40-python.sh" >&2
  exit 1
fi
echo "-- pytest on $("$venv/py39/bin/python" --version)"
PYTHONPATH="$PWD/python" run_pytest py39 "$venv/py39/bin/python"
