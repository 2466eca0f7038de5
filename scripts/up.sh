#!/usr/bin/env bash
# make up: on first run create .env with a random Grafana admin password, render
# everything from the inventory, turn .env into Alertmanager's secret files, start
# the stack and wait until every service is healthy, then say where things are.
set -euo pipefail
cd "$(dirname "$0")/.."
VIGIL=${VIGIL:-.venv/bin/vigil}
INVENTORY=${INVENTORY:-inventory.yml}
export VIGIL_UID=${VIGIL_UID:-$(id -u)} VIGIL_GID=${VIGIL_GID:-$(id -g)}

if ! command -v docker >/dev/null 2>&1 || ! docker compose version >/dev/null 2>&1; then
  echo "make up needs Docker with the Compose v2 plugin (docker compose): https://docs.docker.com/engine/install/" >&2
  exit 1
fi

if [ ! -f .env ]; then
  umask 077
  cp .env.example .env
  password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
  if grep -q '^GF_SECURITY_ADMIN_PASSWORD=' .env; then
    sed -i.bak "s|^GF_SECURITY_ADMIN_PASSWORD=.*|GF_SECURITY_ADMIN_PASSWORD=${password}|" .env && rm -f .env.bak
  else
    printf 'GF_SECURITY_ADMIN_PASSWORD=%s\n' "$password" >> .env
  fi
  echo "created .env with a random Grafana admin password (user admin); add your Slack webhooks there"
fi

"$VIGIL" generate -i "$INVENTORY"
# Slack receivers whose webhook .env leaves empty deliver to the local inbox instead.
"$VIGIL" secrets -i "$INVENTORY" --inbox
docker compose up -d --build --remove-orphans --wait --wait-timeout 240

bind=$(docker compose port grafana 3000 2>/dev/null | cut -d: -f1)
bind=${bind:-127.0.0.1}
cat <<MSG

Vigil is up.
  Grafana       http://${bind}:3000   user admin, password: GF_SECURITY_ADMIN_PASSWORD in .env
  Prometheus    http://${bind}:9090
  Alertmanager  http://${bind}:9093
  Inbox         http://${bind}:8025   Slack messages of receivers without a webhook in .env
Break the demo service and watch an alert arrive: make demo-break MODE=errors (then make demo-fix)
MSG
