#!/usr/bin/env bash
# Bring the whole portal up on this machine with the embedded engine (no other server):
# environment, sample department files, one publish (ingest → site → index → switch), then serve
# the site on http://127.0.0.1:8000/ and the API on http://127.0.0.1:8001/api/v1 until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-env.sh sample  # the sample generator (Faker) makes the department files below
PORTAL=".venv/bin/portal"
ROWS="${PORTAL_SAMPLE_ROWS:-5000}"
if [ ! -f var/samples/sample-manifest.json ]; then
    "$PORTAL" sample --rows "$ROWS" --out var/samples
fi
shopt -s nullglob
"$PORTAL" publish var/samples/*.csv var/samples/*.xlsx --var var
exec "$PORTAL" serve --var var "$@"
