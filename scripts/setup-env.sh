#!/usr/bin/env bash
# Create .venv and install the portal with the exact versions of the lock files (idempotent; fast when
# nothing changed).  No argument: requirements.lock (runtime, what a deployment needs).  With extras
# (e.g. `test,bench`): requirements-dev.lock (runtime + test, bench and sample extras, what CI installs).
# The package itself is then installed editable with its extras, which adds anything pyproject.toml
# declares that a lock does not hold yet (regenerate the locks with scripts/lock.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
EXTRAS="${1:-}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
if [ -n "$EXTRAS" ]; then LOCK=requirements-dev.lock; else LOCK=requirements.lock; fi
stamp=".venv/.installed-$(cat pyproject.toml "$LOCK" | sha256sum | cut -c1-16)${EXTRAS:+-$EXTRAS}"
if [ ! -f "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -r "$LOCK"
    .venv/bin/python -m pip install --quiet -e ".${EXTRAS:+[$EXTRAS]}"
    touch "$stamp"
fi
