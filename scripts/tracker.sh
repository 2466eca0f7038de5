#!/usr/bin/env bash
# The error tracker, after `docker compose up` (make up, make reload): an API token created in Bugsink and
# kept in .env, then one team per team and one project per reporting service (vigil errors provision,
# idempotent) with their DSNs into .env; the exporter and the demo are re-created to pick them up.
# The token in .env is checked first (vigil errors token, one API call): one Bugsink no longer knows
# (make clean removed its volume, and the token with it, but not .env) is replaced by a fresh one.
# Does nothing when the inventory has the tracker off (no bugsink service in docker-compose.yml).
set -euo pipefail
cd "$(dirname "$0")/.."
VIGIL=${VIGIL:-.venv/bin/vigil}
INVENTORY=${INVENTORY:-inventory.yml}
DOCKER=${DOCKER:-docker}
grep -qx "  bugsink:" docker-compose.yml || exit 0

new_token() {   # REASON: create an API token in Bugsink and put it in .env, in place of any other
  local token
  token=$("$DOCKER" compose exec -T bugsink bugsink-manage create_auth_token | tail -n 1 | tr -d '\r')
  if ! [[ $token =~ ^[0-9a-f]{40}$ ]]; then   # never write what is not a token into .env
    echo "bugsink-manage create_auth_token did not print a token (got '${token}')" >&2
    exit 1
  fi
  sed -i.bak '/^BUGSINK_API_TOKEN=/d' .env && rm -f .env.bak
  printf 'BUGSINK_API_TOKEN=%s\n' "$token" >> .env
  echo "created BUGSINK_API_TOKEN in .env ($1)"
}
if ! grep -q '^BUGSINK_API_TOKEN=.' .env; then
  new_token "there was none"
else
  status=0
  "$VIGIL" errors token -i "$INVENTORY" --env .env || status=$?
  case $status in
    0) ;;
    4) new_token "Bugsink no longer knew the old one" ;;   # stale (cli.EXIT_TOKEN_STALE): vigil said why
    *) exit "$status" ;;                                  # unreachable, say: nothing to replace
  esac
fi
"$VIGIL" errors provision -i "$INVENTORY" --env .env
# shellcheck disable=SC2046  # the demo only where the stack runs it
"$DOCKER" compose up -d --wait --wait-timeout 120 errors-exporter $("$DOCKER" compose config --services | grep -x demo || true)
