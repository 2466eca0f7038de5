#!/usr/bin/env bash
# Make sure the real Prometheus and Alertmanager tools are here: on Debian/Ubuntu
# as root install them; elsewhere say exactly what to install, and fail.
set -euo pipefail
missing=()
for tool in promtool prometheus amtool prometheus-alertmanager prometheus-node-exporter prometheus-blackbox-exporter; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages for: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager \
    prometheus-node-exporter prometheus-blackbox-exporter >/dev/null
  exit 0
fi
cat >&2 <<MSG
missing: ${missing[*]}
Vigil checks its rendered configs with the real Prometheus and Alertmanager tools.
  Debian/Ubuntu:  sudo apt-get install --no-install-recommends prometheus prometheus-alertmanager \
                    prometheus-node-exporter prometheus-blackbox-exporter
  macOS:          brew install prometheus alertmanager node_exporter blackbox_exporter (link the
                  binaries as prometheus-alertmanager, prometheus-node-exporter and
                  prometheus-blackbox-exporter on your PATH, as Debian names them)
  elsewhere:      the release archives of prometheus and alertmanager from prometheus.io/download
MSG
exit 1
