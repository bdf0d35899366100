#!/usr/bin/env bash
# Nightly publish: run by deploy/portal-publish.timer (systemd) or deploy/portal.cron at 00:30 Asia/Shanghai.
#
# Every night the current set of department files is published again with `--trigger schedule`, even when
# no department sent anything new: the lifecycle is evaluated against today's date on each run, so entries
# leave the portal on the day their publication period ends and notices end on time without anybody
# remembering (docs/operations.md, "Nightly schedule").
#
# Which files make up the current set (the inbox is never emptied: files are kept, the newest set is used):
#   - each subdirectory of the inbox is one department; the newest data file in it (modification time, then
#     name) is that department's current full list, older files there stay as history and are not read;
#   - each data file directly in the inbox is used as it is (a department that overwrites one file name).
#   Data files end in .csv .tsv .txt .xlsx .xlsm .json .jsonl .ndjson. Hidden files, Excel lock files (~$…)
#   and anything else (e.g. an upload still named *.part) are ignored, so upload under a temporary name
#   and rename when complete.
#   An empty set is refused: publishing nothing would withdraw every entry.
#
# Usage: scripts/nightly.sh [--list]
#   --list   print the files that would be published, one per line, and exit without publishing
#
# Environment (relative paths are relative to the working directory, /srv/portal in deploy/):
#   PORTAL_INBOX     inbox directory                      (default: var/inbox)
#   PORTAL_VAR       deployment data directory            (default: var)
#   PORTAL_BIN       the portal command                   (default: this checkout's .venv/bin/portal,
#                                                          else `portal` on PATH)
#   PORTAL_ENV_FILE  optional KEY=value file loaded first (cron hosts; systemd uses EnvironmentFile=)
#   PORTAL_HMAC_KEY  required by the publish when PORTAL_ENV=production (normally from the env file)
#   PORTAL_TRIGGER   trigger written to the audit log          (default: schedule; `manual` for a hand run)
#   PORTAL_DB_URL    optional department database published together with the files (SQLAlchemy URL),
#   PORTAL_DB_TABLE  with its table (schema.table) or, instead,
#   PORTAL_DB_QUERY  its query. The URL holds a password: keep it in the env file, never on a command line.
#
# After the publish, applications past their retention are purged (`portal applications purge`,
# docs/applications.md "Retention"); a failed purge is reported but does not fail the night's publish.
#
# Exit status: 0 published (or listed); the publish's own status when it fails (2: a step failed, the
# live portal is unchanged); 64 bad usage; 66 inbox missing or holding no data file; 75 another nightly
# run is still going. Anything but 0 makes systemd mark the unit failed (cron: see deploy/portal.cron).
set -Eeuo pipefail

readonly EX_USAGE=64 EX_NOINPUT=66 EX_TEMPFAIL=75
readonly DATA_FILE_PATTERN='.*\.\(csv\|tsv\|txt\|xlsx\|xlsm\|json\|jsonl\|ndjson\)'

say() { printf 'nightly: %s\n' "$*"; }
fail() { local code=$1; shift; printf 'nightly: %s\n' "$*" >&2; exit "$code"; }

list_only=false
case "${1:-}" in
    "") ;;
    --list) list_only=true ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) fail "$EX_USAGE" "unknown argument: $1 (usage: nightly.sh [--list])" ;;
esac

# A database URL as it may be shown: user kept, password replaced.
without_password() { sed -E 's#(://[^:/@]*):.*@#\1:***@#' <<<"$1"; }

if [[ -n "${PORTAL_ENV_FILE:-}" ]]; then
    [[ -r "$PORTAL_ENV_FILE" ]] || fail "$EX_USAGE" "cannot read PORTAL_ENV_FILE=$PORTAL_ENV_FILE"
    set -a
    # shellcheck disable=SC1090  # the deployment's own env file (KEY=value lines)
    . "$PORTAL_ENV_FILE"
    set +a
fi

inbox="${PORTAL_INBOX:-var/inbox}"
var_dir="${PORTAL_VAR:-var}"
project_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -n "${PORTAL_BIN:-}" ]]; then
    portal_bin="$PORTAL_BIN"
elif [[ -x "$project_root/.venv/bin/portal" ]]; then
    portal_bin="$project_root/.venv/bin/portal"
else
    portal_bin="$(command -v portal)" || fail "$EX_USAGE" "the portal command was not found (set PORTAL_BIN)"
fi

# Newest data file first: "<mtime>\t<path>\0" records sorted by time, then name, both descending.
data_files_newest_first() {
    find "$1" -mindepth 1 -maxdepth 1 -type f ! -name '.*' ! -name '~$*' -iregex "$DATA_FILE_PATTERN" \
        -printf '%T@\t%p\0' | sort -z -t $'\t' -k1,1nr -k2,2r | cut -z -f2-
}

select_sources() {
    local dir newest path
    while IFS= read -r -d '' path; do
        printf '%s\0' "$path"
    done < <(find "$inbox" -mindepth 1 -maxdepth 1 -type f ! -name '.*' ! -name '~$*' \
                 -iregex "$DATA_FILE_PATTERN" -print0 | sort -z)
    while IFS= read -r -d '' dir; do
        newest=""
        while IFS= read -r -d '' path; do newest="$path"; break; done < <(data_files_newest_first "$dir")
        if [[ -n "$newest" ]]; then
            printf '%s\0' "$newest"
        else
            say "warning: department directory ${dir#"$inbox"/} holds no data file; skipped" >&2
        fi
    done < <(find "$inbox" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -print0 | sort -z)
}

# One nightly run at a time. `portal publish` holds its own lock as well; this one also covers the file
# selection and makes an overlapping run (a very slow night, a manual run) say so and stop at once.
if ! $list_only; then
    mkdir -p "$var_dir"
    exec {lock_fd}>"$var_dir/.nightly.lock"
    if ! flock -n "$lock_fd"; then
        fail "$EX_TEMPFAIL" "another nightly run holds $var_dir/.nightly.lock; not started"
    fi
fi

[[ -d "$inbox" ]] || fail "$EX_NOINPUT" "inbox directory $inbox does not exist (set PORTAL_INBOX)"
sources=()
while IFS= read -r -d '' path; do sources+=("$path"); done < <(select_sources)
shown=("${sources[@]}")
db_options=()
if [[ -n "${PORTAL_DB_URL:-}" ]]; then
    if [[ -n "${PORTAL_DB_TABLE:-}" && -z "${PORTAL_DB_QUERY:-}" ]]; then
        db_options=(--table "$PORTAL_DB_TABLE")
    elif [[ -n "${PORTAL_DB_QUERY:-}" && -z "${PORTAL_DB_TABLE:-}" ]]; then
        db_options=(--query "$PORTAL_DB_QUERY")
    else
        fail "$EX_USAGE" "PORTAL_DB_URL needs exactly one of PORTAL_DB_TABLE and PORTAL_DB_QUERY"
    fi
    sources+=("$PORTAL_DB_URL")
    shown+=("$(without_password "$PORTAL_DB_URL") ${db_options[*]}")
fi
if [[ ${#sources[@]} -eq 0 ]]; then
    fail "$EX_NOINPUT" "no data file in $inbox: nothing published (publishing an empty set would withdraw every entry)"
fi

if $list_only; then
    printf '%s\n' "${shown[@]}"
    exit 0
fi

say "$(TZ=Asia/Shanghai date '+%Y-%m-%d %H:%M:%S %Z'): publishing ${#sources[@]} source(s) from $inbox"
printf '  %s\n' "${shown[@]}"
status=0
"$portal_bin" publish --var "$var_dir" --trigger "${PORTAL_TRIGGER:-schedule}" "${db_options[@]}" -- "${sources[@]}" \
    || status=$?
"$portal_bin" applications purge --var "$var_dir" --by nightly \
    || say "warning: purging expired applications failed (exit $?); run: $portal_bin applications purge --var $var_dir" >&2
if [[ $status -ne 0 ]]; then
    fail "$status" "publish failed (exit $status); the live portal is unchanged. Details: $portal_bin history --var $var_dir"
fi
say "$(TZ=Asia/Shanghai date '+%Y-%m-%d %H:%M:%S %Z'): done"
