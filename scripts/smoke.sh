#!/usr/bin/env bash
# make smoke: the real stack under Docker, end to end, then torn down (volumes too).
# Needs Docker with the Compose plugin and a registry to pull the pinned images from;
# where either is missing it says so and exits non-zero. Not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
VIGIL=${VIGIL:-.venv/bin/vigil}
fail() { echo "smoke: FAIL: $*" >&2; exit 1; }
command -v docker >/dev/null 2>&1 || fail "docker is not installed"
docker compose version >/dev/null 2>&1 || fail "the docker compose v2 plugin is not installed"
docker info >/dev/null 2>&1 || fail "the Docker daemon is not reachable"
docker compose pull --quiet --ignore-buildable || fail "cannot pull the pinned images (no registry access?)"

trap 'docker compose down --volumes --remove-orphans >/dev/null 2>&1 || true' EXIT
VIGIL=$VIGIL scripts/up.sh

wait_for() {  # what, seconds, command...
  local what=$1 deadline=$(( $(date +%s) + $2 )); shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "timed out waiting for $what"
    sleep 3
  done
  echo "smoke: ok: $what"
}
# up.sh waited for every healthcheck (docker compose up --wait); say which, if any, is not healthy.
not_healthy=$(docker compose ps --format '{{.Service}} {{.Health}}' | grep -v ' healthy$' || true)
[ -z "$not_healthy" ] || fail "not healthy: $not_healthy"
echo "smoke: ok: every service healthy"

password=$(grep '^GF_SECURITY_ADMIN_PASSWORD=' .env | cut -d= -f2-)
wait_for "the overview dashboard loaded by Grafana" 60 \
  curl -fsS -u "admin:${password}" http://127.0.0.1:3000/api/dashboards/uid/vigil-overview
# Loki is not published: ask it through Grafana's data source proxy, as the dashboards do.
grafana_api="curl -fsS -u admin:${password} http://127.0.0.1:3000/api/datasources"
wait_for "the demo service's logs in Loki" 120 bash -c \
  "$grafana_api/proxy/uid/loki/loki/api/v1/query -G --data-urlencode 'query=count_over_time({service=\"demo\"}[5m])' | grep -q '\"value\"'"
# Basic auth: nobody in without the password; Grafana's data sources and vigil get in with it.
for port in 9090 9093; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:${port}/-/reload")
  [ "$code" = 401 ] || fail "POST :${port}/-/reload without a password answered ${code}, not 401"
done
echo "smoke: ok: Prometheus and Alertmanager refuse requests without the password"
wait_for "Grafana's Prometheus data source through basic auth" 60 bash -c \
  "$grafana_api/proxy/uid/prometheus/api/v1/query -G --data-urlencode 'query=up{job=\"prometheus\"} == 1' | grep -q '\"value\"'"
wait_for "Grafana's Alertmanager data source through basic auth" 60 $grafana_api/proxy/uid/alertmanager/api/v2/status
wait_for "vigil status through basic auth" 60 "$VIGIL" status

docker compose exec -T demo python app.py mode down
wait_for "ServiceDown for demo delivered to the inbox" 240 bash -c \
  "curl -fsS http://127.0.0.1:8025/messages.json | grep -q ServiceDown"
docker compose exec -T demo python app.py mode ok || true
echo "smoke: PASS"
