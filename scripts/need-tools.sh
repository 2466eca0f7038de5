#!/usr/bin/env bash
# Make sure the real Prometheus and Alertmanager tools, and node/npm (Grafana's
# LogQL grammar, tests/logql), are here: on Debian/Ubuntu as root install them;
# elsewhere say exactly what to install, and fail. A node already on PATH (maybe
# a newer one from elsewhere) is kept: Debian's nodejs/npm only when there is none.
set -euo pipefail
missing=()
packages=()
find_missing() {
  missing=()
  packages=()
  for tool in promtool prometheus amtool prometheus-alertmanager prometheus-node-exporter prometheus-blackbox-exporter \
              prometheus-postgres-exporter prometheus-mysqld-exporter prometheus-redis-exporter \
              prometheus-nginx-exporter prometheus-pushgateway chromium redis-server nginx mariadbd mariadb-install-db \
              openssl; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  # The inbox's page is checked in real headless Chromium (tests/test_inbox.py).
  command -v chromium >/dev/null 2>&1 || { missing+=(chromium); packages+=(chromium fonts-noto-color-emoji); }
  # Debian keeps PostgreSQL's server programs off PATH, under /usr/lib/postgresql/<version>/bin.
  compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || command -v postgres >/dev/null 2>&1 \
    || missing+=(postgres)
  [ ${#missing[@]} -eq 0 ] || packages+=(prometheus prometheus-alertmanager prometheus-node-exporter \
                                           prometheus-blackbox-exporter prometheus-postgres-exporter \
                                           prometheus-mysqld-exporter prometheus-redis-exporter \
                                           prometheus-nginx-exporter prometheus-pushgateway chromium postgresql \
                                           mariadb-server redis-server nginx openssl)
  if ! command -v node >/dev/null 2>&1; then
    missing+=(node npm)
    packages+=(nodejs npm)
  elif ! command -v npm >/dev/null 2>&1; then
    missing+=(npm)  # not from apt: Debian's npm would bring its own node next to this one
  fi
}
find_missing
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ ${#packages[@]} -gt 0 ]; then
  echo "installing Debian packages for: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  find_missing
  [ ${#missing[@]} -eq 0 ] && exit 0
fi
cat >&2 <<MSG
missing: ${missing[*]}
Vigil checks its rendered configs with the real Prometheus and Alertmanager tools, its exporter
kinds against the real exporters and servers (started by the tests on 127.0.0.1, throw-away data),
and its dashboards' LogQL with Grafana's grammar under node (any node >= 18 with its npm will do).
  Debian/Ubuntu:  sudo apt-get install --no-install-recommends prometheus prometheus-alertmanager \\
                    prometheus-node-exporter prometheus-blackbox-exporter prometheus-postgres-exporter \\
                    prometheus-mysqld-exporter prometheus-redis-exporter prometheus-nginx-exporter \\
                    prometheus-pushgateway postgresql mariadb-server redis-server nginx openssl chromium \\
                    fonts-noto-color-emoji nodejs npm
                  (leave out nodejs npm when a node is already on PATH: use the npm that came with it)
  macOS:          brew install prometheus alertmanager node_exporter blackbox_exporter node (link the
                  binaries as prometheus-alertmanager, prometheus-node-exporter and
                  prometheus-blackbox-exporter on your PATH, as Debian names them)
  elsewhere:      the release archives of prometheus and alertmanager from prometheus.io/download,
                  node from nodejs.org/download
MSG
exit 1
