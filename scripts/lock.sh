#!/usr/bin/env bash
# Regenerate the lock files from pyproject.toml's ranges, preferring the versions installed in .venv (the
# ones the test suite last passed with), so that a re-lock changes only what pyproject.toml changed.
#   requirements.lock      runtime dependencies (what a deployment installs)
#   requirements-dev.lock  runtime + test, bench and sample extras (what CI installs)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
"$VENV/bin/python" -m pip install --quiet "uv>=0.13,<0.14"
installed="$(mktemp)"
trap 'rm -f "$installed"' EXIT
"$VENV/bin/python" -m pip freeze --exclude-editable | grep -v '^credit-portal' > "$installed" || true
common=(--python "$VENV/bin/python" --constraint "$installed" --no-header --no-annotate --quiet --python-version 3.11)
"$VENV/bin/uv" pip compile pyproject.toml "${common[@]}" -o requirements.lock
"$VENV/bin/uv" pip compile pyproject.toml --extra test --extra bench --extra sample "${common[@]}" \
    -o requirements-dev.lock
