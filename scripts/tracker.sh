#!/usr/bin/env bash
# The error tracker, after `docker compose up` (make up, make reload): an API token created once in Bugsink
# and kept in .env, then one team per team and one project per reporting service (vigil errors provision,
# idempotent) with their DSNs into .env; the exporter and the demo are re-created to pick them up.
# Does nothing when the inventory has the tracker off (no bugsink service in docker-compose.yml).
set -euo pipefail
cd "$(dirname "$0")/.."
VIGIL=${VIGIL:-.venv/bin/vigil}
INVENTORY=${INVENTORY:-inventory.yml}
grep -qx "  bugsink:" docker-compose.yml || exit 0
if ! grep -q '^BUGSINK_API_TOKEN=.' .env; then
  token=$(docker compose exec -T bugsink bugsink-manage create_auth_token | tail -n 1 | tr -d '\r')
  sed -i.bak '/^BUGSINK_API_TOKEN=/d' .env && rm -f .env.bak
  printf 'BUGSINK_API_TOKEN=%s\n' "$token" >> .env
fi
"$VIGIL" errors provision -i "$INVENTORY" --env .env
# shellcheck disable=SC2046  # the demo only where the stack runs it
docker compose up -d --wait --wait-timeout 120 errors-exporter $(docker compose config --services | grep -x demo || true)
