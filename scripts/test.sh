#!/usr/bin/env bash
# Everything the tests need on a fresh Debian machine, then every test.
#   system: chromium (browser tests), postgresql (SQL importer tests), Java (HTML validator)
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v chromium >/dev/null || need+=(chromium)
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql)
command -v java >/dev/null || need+=(default-jre-headless)
command -v wrk >/dev/null || need+=(wrk)
# credit reports: the CJK font they embed; pdffonts/pdftoppm and zbarimg (QR) for the report tests
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
command -v pdftoppm >/dev/null || need+=(poppler-utils)
command -v zbarimg >/dev/null || need+=(zbar-tools)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
bash scripts/setup-env.sh test,bench
export PATH="$PWD/.venv/bin:$PATH"
# Meilisearch is not built or installed here: when its binary is on PATH (or MEILI_BIN), tests/meili.py starts
# a throw-away server and the Meilisearch half of the engine tests runs; otherwise it skips with the reason.
if meili="$(command -v "${MEILI_BIN:-meilisearch}")"; then echo "Meilisearch: $("$meili" --version)"; else
    echo "Meilisearch: not on PATH, its tests skip (install the official binary: README, Meilisearch)"; fi
ruff check portal search_api tests bench scripts
lint-imports  # the architecture's boundaries (.importlinter, docs/architecture.md)
mypy  # configuration in pyproject.toml ([tool.mypy], pydantic plugin)
exec pytest "$@"
