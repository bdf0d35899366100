#!/usr/bin/env bash
# Create .venv and install the portal with the exact versions of the lock files (idempotent; fast when
# nothing changed).  No argument: the runtime, pinned by requirements.lock (what a deployment needs).  With
# extras (`sample` for up.sh, `test,bench` for CI): pinned by requirements-dev.lock.  The locks are pip
# constraints, so a dependency pyproject.toml declares that a lock does not hold yet is still installed
# (regenerate the locks with scripts/lock.sh).
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
    .venv/bin/python -m pip install --quiet --constraint "$LOCK" -e ".${EXTRAS:+[$EXTRAS]}"
    touch "$stamp"
fi
