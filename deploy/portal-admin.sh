#!/usr/bin/env bash
# The operators' entry point on the server (docs/operations.md, "Operator commands"). Installed twice:
#     install -m 0755 /opt/portal/deploy/portal-admin.sh /usr/local/bin/portal
#     ln -sf portal /usr/local/bin/portal-publish-inbox
# `sudo portal <command> …` runs the portal CLI as the portal user, in /srv/portal, with the deployment's
# environment (PORTAL_HMAC_KEY …), so that a manual publish digests with the same key as the nightly one and
# writes files the services can read. `sudo portal-publish-inbox [--list]` runs the nightly publish now,
# recorded in the audit log with trigger `manual`.
set -euo pipefail

if [[ $EUID -ne 0 ]]; then
    exec sudo -- "$0" "$@"
fi
readonly PORTAL_HOME=/srv/portal PORTAL_CODE=/opt/portal ENV_FILE=/etc/portal/portal.env

export PORTAL_ENV=production PORTAL_VAR=var PORTAL_INBOX=var/inbox
set -a
# shellcheck disable=SC1090  # KEY=value lines; their values win over the defaults above, as in the units
. "$ENV_FILE"
set +a
umask 0027
cd "$PORTAL_HOME"
case "$(basename "$0")" in
    portal-publish-inbox)
        exec runuser -u portal -- env PORTAL_TRIGGER=manual "$PORTAL_CODE/scripts/nightly.sh" "$@" ;;
    *)
        exec runuser -u portal -- "$PORTAL_CODE/.venv/bin/portal" "$@" ;;
esac
