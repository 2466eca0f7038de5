#!/usr/bin/env bash
# make up: create .env with random passwords (Grafana's admin, Prometheus', Alertmanager's), render
# everything from the inventory, turn .env into Alertmanager's secret files, start
# the stack and wait until every service is healthy, then say where things are.
set -euo pipefail
cd "$(dirname "$0")/.."
VIGIL=${VIGIL:-.venv/bin/vigil}
INVENTORY=${INVENTORY:-inventory.yml}
export VIGIL_UID=${VIGIL_UID:-$(id -u)} VIGIL_GID=${VIGIL_GID:-$(id -g)}

DOCKER=${DOCKER:-docker}
scripts/need-docker.sh

# A random password for each variable .env leaves empty (or lacks): Grafana's admin, and user
# vigil's on Prometheus and Alertmanager (stack.basic_auth). Never one already set.
ensure_password() {   # NAME [random bytes, default 18]
  local name=$1 password
  if grep -q "^${name}=..*" .env; then return 0; fi
  password=$(python3 -c "import secrets; print(secrets.token_urlsafe(${2:-18}))")
  if grep -q "^${name}=" .env; then
    sed -i.bak "s|^${name}=.*|${name}=${password}|" .env && rm -f .env.bak
  else
    printf '%s=%s\n' "$name" "$password" >> .env
  fi
  echo "generated ${name} in .env"
}
umask 077
[ -f .env ] || { cp .env.example .env; echo "created .env from .env.example; add your Slack webhooks there"; }
for name in GF_SECURITY_ADMIN_PASSWORD VIGIL_PROMETHEUS_PASSWORD VIGIL_ALERTMANAGER_PASSWORD; do
  ensure_password "$name"
done

"$VIGIL" generate -i "$INVENTORY"
# Slack receivers whose webhook .env leaves empty deliver to the local inbox instead.
"$VIGIL" secrets -i "$INVENTORY" --inbox
tracker=$(grep -qx "  bugsink:" docker-compose.yml && echo yes || true)   # the inventory turns it on
if [ -n "$tracker" ]; then   # Bugsink's image runs `check --deploy`: a SECRET_KEY of 50 characters or more
  ensure_password BUGSINK_SECRET_KEY 48
  ensure_password BUGSINK_ADMIN_PASSWORD
fi
"$DOCKER" compose up -d --build --remove-orphans --wait --wait-timeout 240

DOCKER=$DOCKER VIGIL=$VIGIL INVENTORY=$INVENTORY scripts/tracker.sh   # the error tracker's token, projects and DSNs

bind=$("$DOCKER" compose port grafana 3000 2>/dev/null | cut -d: -f1)
bind=${bind:-127.0.0.1}
cat <<MSG

Vigil is up.
  Grafana       http://${bind}:3000   user admin, password: GF_SECURITY_ADMIN_PASSWORD in .env
  Prometheus    http://${bind}:9090   user vigil, password: VIGIL_PROMETHEUS_PASSWORD in .env
  Alertmanager  http://${bind}:9093   user vigil, password: VIGIL_ALERTMANAGER_PASSWORD in .env
  Inbox         http://${bind}:8025   Slack messages of receivers without a webhook in .env
MSG
[ -z "$tracker" ] || cat <<MSG
  Bugsink       http://${bind}:8010   errors; user admin@vigil.local, password: BUGSINK_ADMIN_PASSWORD in .env
                DSNs: SENTRY_DSN_<SERVICE> in .env, or vigil errors dsn SERVICE
MSG
# No heartbeat receiver: say how to point Watchdog at an external dead-man's switch (a warning line).
"$VIGIL" validate -i "$INVENTORY" --hints >/dev/null
cat <<MSG
Break the demo service and watch an alert arrive: make demo-break MODE=errors (then make demo-fix)
MSG
