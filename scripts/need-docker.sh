#!/usr/bin/env bash
# The one Docker check of every make target that runs Compose (and of scripts/up.sh):
# Docker with the Compose v2 plugin, and a daemon that answers. Says what is missing.
set -euo pipefail
docker=${DOCKER:-docker}
fail() { echo "$*" >&2; exit 1; }
command -v "$docker" >/dev/null 2>&1 ||
  fail "this needs Docker with the Compose v2 plugin, and '$docker' is not on PATH: https://docs.docker.com/engine/install/ (without Docker, run the parts natively: README, 'Without Docker')"
"$docker" compose version >/dev/null 2>&1 ||
  fail "'$docker compose' does not work: install the Compose v2 plugin (https://docs.docker.com/compose/install/linux/)"
"$docker" info >/dev/null 2>&1 ||
  fail "the Docker daemon does not answer ('$docker info' fails): start it, or add yourself to the docker group"
