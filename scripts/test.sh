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
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
bash scripts/setup-env.sh test,bench
export PATH="$PWD/.venv/bin:$PATH"
ruff check portal search_api tests bench scripts
lint-imports  # the architecture's boundaries (.importlinter, docs/architecture.md)
mypy  # configuration in pyproject.toml ([tool.mypy], pydantic plugin)
exec pytest "$@"
