#!/usr/bin/env bash
# Python: a virtualenv at $REPO/.venv (gitignored) with maturin, pytest, mypy and ruff, and the
# idpkit package from bindings/python installed into it (`maturin develop --release`: the
# pure-Python layer is used in place, the native module is rebuilt only when its sources
# change). A fast no-op when nothing changed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

venv=${IDPKIT_VENV:-$repo/.venv}
python=${PYTHON:-python3}

if ! command -v "$python" >/dev/null; then
  echo "setup(python): $python is missing; install CPython >= 3.9 and re-run" >&2
  exit 1
fi

# The tools, pinned so every machine checks the same way; bump them here.
tools=(maturin==1.16.0 pytest==9.2.0 mypy==2.4.1 ruff==0.17.6)
tools_stamp="$venv/.idpkit-tools"

if [ ! -x "$venv/bin/python" ]; then
  echo "setup(python): creating $venv"
  "$python" -m venv "$venv"
fi
if [ "$(cat "$tools_stamp" 2>/dev/null)" != "${tools[*]}" ]; then
  echo "setup(python): installing ${tools[*]}"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${tools[@]}"
  printf '%s' "${tools[*]}" >"$tools_stamp"
fi

# The oldest CPython the abi3 wheel claims (3.9), when this machine has one (pyenv ships it):
# a second venv ($venv/py39) with pytest only; the suite runs the tests there against the same build.
oldest=${IDPKIT_PYTHON_OLDEST:-}
if [ -z "$oldest" ]; then
  for candidate in python3.9 "$(pyenv root 2>/dev/null)"/versions/3.9*/bin/python3.9; do
    if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 9)' 2>/dev/null; then
      oldest=$candidate
      break
    fi
  done
fi
venv_oldest="$venv/py39"
if [ -z "$oldest" ] && [ ! -x "$venv_oldest/bin/pytest" ]; then
  echo "setup(python): no CPython 3.9 found (python3.9 on PATH, pyenv's 3.9.x or IDPKIT_PYTHON_OLDEST);" \
    "tests/suites/40-python.sh tests the requires-python floor and fails without it: pyenv install 3.9" >&2
fi
if [ -n "$oldest" ] && [ ! -x "$venv_oldest/bin/pytest" ]; then
  echo "setup(python): creating $venv_oldest for the Python 3.9 test run"
  "$oldest" -m venv "$venv_oldest"
  "$venv_oldest/bin/python" -m pip install --quiet --disable-pip-version-check pytest==8.4.2
fi

# Everything the native module is built from: the binding crate, the core, the lock file.
hash=$(
  {
    git ls-files -co --exclude-standard -- Cargo.lock Cargo.toml core bindings/python/Cargo.toml \
      bindings/python/src bindings/python/pyproject.toml | LC_ALL=C sort | while read -r f; do
      [ -f "$f" ] && printf '%s ' "$f" && sha256sum <"$f"
    done
    "$venv/bin/python" -c 'import sys; print(sys.version)'
  } | sha256sum | cut -d' ' -f1
)
stamp="$venv/.idpkit-python-build"
if [ "$(cat "$stamp" 2>/dev/null)" = "$hash" ] &&
  "$venv/bin/python" -c 'import idpkit' 2>/dev/null; then
  exit 0
fi

echo "setup(python): building and installing bindings/python into $venv"
(
  cd bindings/python
  VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" "$venv/bin/maturin" develop --release --locked --quiet
)
"$venv/bin/python" -c 'import idpkit; print("setup(python): idpkit", idpkit.__version__, "installed")'
printf '%s' "$hash" >"$stamp"
