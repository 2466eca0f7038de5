"""docker-compose.yml: the whole stack, rendered from the inventory.

The file is rendered, not hand-written, for two reasons: the exporters the
inventory needs (one per postgres/mysql/redis/nginx service scraped at its
default `<name>-exporter:<port>`) appear and disappear with it, and every name
and port stays in one place — the container ports are those of the
`stack.endpoints` defaults (inventory.Endpoints), which the other renderers
point the stack's parts at, and an endpoint naming a Compose service must use
its port (checked when the inventory is read).

What every service gets: a pinned official image (the constants below), a
healthcheck with a tool the image really has, `restart: unless-stopped`,
configs mounted read-only from the rendered tree, state in named volumes,
a non-root user where the image allows it, and a published port only for what
a person opens in a browser — on stack.publish_address (127.0.0.1 by default).

Users, per image: Prometheus, Alertmanager's default, node-exporter, blackbox,
postgres and mysqld exporters run as nobody (their images' USER); Grafana as
472, Loki as 10001, the nginx exporter as 1001 (theirs); the redis exporter as
59000 (set here: the alpine variant does not). Alertmanager runs as the host
user (VIGIL_UID:VIGIL_GID, default 1000:1000), because it reads the secret
files `vigil secrets` writes for that user only (mode 0600, folder 0700); a
one-shot alertmanager-init hands its data volume to that user first. cAdvisor
and Alloy run as root: cAdvisor reads the host's cgroups and Docker's state,
Alloy the Docker socket (its image calls non-root experimental).
"""

from __future__ import annotations

import posixpath

from ..dashboards.builder import GRAFANA_IMAGE
from ..envfile import GRAFANA_PASSWORD
from ..exporters import host as exporter_host, run_by_stack, variable
from ..inventory import Endpoints, Inventory
from ..plan import Plan
from .grafana import DASHBOARDS_MOUNT
from .yamlout import dump

from .loki import ALLOY_CONFIG, ALLOY_DATA, ALLOY_IMAGE, DOCKER_SOCKET, LOKI_CONFIG, LOKI_DATA, LOKI_IMAGE, \
    LOKI_RULES, alloy_command

PATH = "docker-compose.yml"

PROMETHEUS_IMAGE = "prom/prometheus:v3.14.0"
ALERTMANAGER_IMAGE = "prom/alertmanager:v0.34.1"
NODE_EXPORTER_IMAGE = "prom/node-exporter:v1.12.1"
BLACKBOX_IMAGE = "prom/blackbox-exporter:v0.28.0"
CADVISOR_IMAGE = "gcr.io/cadvisor/cadvisor:v0.55.1"

DEMO = "demo"
DEMO_TARGET = "demo:8000"     # demo/Dockerfile listens on 8000 and has its own HEALTHCHECK

# Where the rendered tree goes in the containers (host paths are relative to docker-compose.yml).
# Whole directories, never single files: `vigil generate` replaces files atomically (a new
# inode), which a file bind mount would not see.
PROMETHEUS_DIR = "/etc/prometheus"       # rule_files globs in prometheus.yml are relative to it
ALERTMANAGER_DIR = "/etc/alertmanager"   # its working directory: *_file paths (secrets/) are relative to it
LOKI_DIR = posixpath.dirname(LOKI_CONFIG)   # loki/ (render/loki.py: its rules at LOKI_RULES, under it)
ALLOY_DIR = posixpath.dirname(ALLOY_CONFIG)  # loki/alloy/
BLACKBOX_DIR = "/etc/blackbox"
assert posixpath.dirname(LOKI_RULES) == LOKI_DIR

# Host user Alertmanager runs as (make exports them from `id -u` / `id -g`).
INBOX, INBOX_PORT = "inbox", 8025
INBOX_URL = f"http://{INBOX}:{INBOX_PORT}"     # as Alertmanager reaches it (`vigil secrets --inbox`)
UID = "${VIGIL_UID:-1000}"
GID = "${VIGIL_GID:-1000}"

VOLUMES = ("prometheus-data", "alertmanager-data", "grafana-data", "loki-data", "alloy-data")


def render(plan: Plan) -> dict[str, bytes]:
    return {PATH: dump(compose(plan.inventory))}


def port(component: str) -> int:
    """The port a part of the stack listens on: that of its stack.endpoints default."""
    return int(Endpoints.model_fields[component].default.rsplit(":", 1)[1])


def _literal(text: str) -> str:
    """A value from the inventory, safe from Compose's ${...} interpolation."""
    return text.replace("$", "$$")


def _health(test: list, start: str = "20s") -> dict:
    return {"test": test, "interval": "10s", "timeout": "5s", "retries": 5, "start_period": start}


def _wget(component: str, path: str) -> dict:
    """For images with busybox (or alpine's) wget; it exits non-zero on an HTTP error."""
    return _health(["CMD", "wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{port(component)}{path}"])


def _healthy(*names: str) -> dict:
    return {n: {"condition": "service_healthy"} for n in names}


def compose(inv: Inventory) -> dict:
    stack = inv.stack
    address = stack.publish_address

    def publish(p: int) -> list:
        return [{"target": p, "published": str(p), "host_ip": address, "protocol": "tcp"}]

    def base(image: str) -> dict:
        return {"image": image, "restart": "unless-stopped"}

    services = {}
    services["prometheus"] = {
        **base(PROMETHEUS_IMAGE),
        "command": [f"--config.file={PROMETHEUS_DIR}/prometheus.yml",
                    "--storage.tsdb.path=/prometheus",
                    f"--storage.tsdb.retention.time={stack.retention}",
                    f"--web.listen-address=:{port('prometheus')}",
                    "--web.enable-lifecycle"],       # POST /-/reload: `vigil reload`
        "volumes": [f"./prometheus:{PROMETHEUS_DIR}:ro", "prometheus-data:/prometheus"],
        "ports": publish(port("prometheus")),
        "healthcheck": _wget("prometheus", "/-/ready"),
        "depends_on": _healthy("alertmanager"),
    }
    services["alertmanager-init"] = {
        # One-shot: the data volume starts owned by the image's nobody; Alertmanager runs as the host user.
        "image": ALERTMANAGER_IMAGE,
        "user": "0:0",
        "entrypoint": ["chown", "-R", f"{UID}:{GID}", "/alertmanager"],
        "volumes": ["alertmanager-data:/alertmanager"],
        "network_mode": "none",
        "restart": "no",
    }
    services["alertmanager"] = {
        **base(ALERTMANAGER_IMAGE),
        "user": f"{UID}:{GID}",
        "working_dir": ALERTMANAGER_DIR,
        "command": [f"--config.file={ALERTMANAGER_DIR}/alertmanager.yml",
                    "--storage.path=/alertmanager",    # silences and the notification log
                    f"--web.listen-address=:{port('alertmanager')}",
                    "--cluster.listen-address="],      # a single instance: no gossip
        "volumes": [f"./alertmanager:{ALERTMANAGER_DIR}:ro", "alertmanager-data:/alertmanager"],
        "ports": publish(port("alertmanager")),
        "healthcheck": _wget("alertmanager", "/-/ready"),
        "depends_on": {"alertmanager-init": {"condition": "service_completed_successfully"}},
    }
    services["grafana"] = {
        **base(GRAFANA_IMAGE),
        "environment": {
            "GF_SECURITY_ADMIN_USER": "${GF_SECURITY_ADMIN_USER:-admin}",
            GRAFANA_PASSWORD: f"${{{GRAFANA_PASSWORD}:?set {GRAFANA_PASSWORD} in .env (see .env.example)}}",
            "GF_SERVER_ROOT_URL": _literal(stack.grafana_url),
            "GF_SERVER_HTTP_PORT": str(port("grafana")),
            "GF_AUTH_ANONYMOUS_ENABLED": "false",
            "GF_USERS_ALLOW_SIGN_UP": "false",
            # no plugins: Grafana's background installer fetches none, at start or later
            "GF_PLUGINS_PREINSTALL_DISABLED": "true",
            "GF_PLUGINS_PREINSTALL_AUTO_UPDATE": "false",
            "GF_ANALYTICS_REPORTING_ENABLED": "false",
            "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
            "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES": "false",
            "GF_NEWS_NEWS_FEED_ENABLED": "false",
        },
        "volumes": ["./grafana/provisioning:/etc/grafana/provisioning:ro",
                    f"./grafana/dashboards:{DASHBOARDS_MOUNT}:ro",
                    "grafana-data:/var/lib/grafana"],
        "ports": publish(port("grafana")),
        "healthcheck": _wget("grafana", "/api/health"),
        "depends_on": _healthy("prometheus", "loki"),
    }
    services["loki"] = {
        **base(LOKI_IMAGE),
        "command": [f"-config.file={LOKI_CONFIG}"],
        "volumes": [f"./loki:{LOKI_DIR}:ro", f"loki-data:{LOKI_DATA}"],
        "ports": publish(port("loki")),
        # distroless/static:debug: busybox's wget is on PATH. /ready waits for the ingester to join.
        "healthcheck": {**_wget("loki", "/ready"), "start_period": "60s"},
    }
    services["alloy"] = {
        **base(ALLOY_IMAGE),
        "command": alloy_command(stack),    # HTTP on 0.0.0.0 (its default is 127.0.0.1), data in ALLOY_DATA
        "volumes": [f"./loki/alloy:{ALLOY_DIR}:ro", f"alloy-data:{ALLOY_DATA}",
                    f"{DOCKER_SOCKET}:{DOCKER_SOCKET}:ro"],
        # Ubuntu-based: bash, but no curl or wget.
        "healthcheck": _health(["CMD", "bash", "-c",
                                f"exec 3<>/dev/tcp/127.0.0.1/{port('alloy')} && "
                                "printf 'GET /-/ready HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]),
        "depends_on": _healthy("loki"),
    }
    services["node-exporter"] = {
        **base(NODE_EXPORTER_IMAGE),
        "command": ["--path.rootfs=/host", "--path.procfs=/host/proc", "--path.sysfs=/host/sys",
                    f"--web.listen-address=:{port('node_exporter')}"],
        "pid": "host",
        "volumes": ["/proc:/host/proc:ro", "/sys:/host/sys:ro", "/:/host:ro,rslave"],
        "healthcheck": _wget("node_exporter", "/"),
    }
    services["cadvisor"] = {
        **base(CADVISOR_IMAGE),
        "command": [f"--port={port('cadvisor')}",
                    "--store_container_labels=true",   # container_label_com_docker_compose_service
                    "--docker_only=true",
                    "--housekeeping_interval=10s"],
        "volumes": ["/:/rootfs:ro", "/var/run:/var/run:ro", "/sys:/sys:ro",
                    "/var/lib/docker/:/var/lib/docker:ro", "/dev/disk/:/dev/disk:ro"],
        "healthcheck": _wget("cadvisor", "/healthz"),
    }
    services["blackbox"] = {
        **base(BLACKBOX_IMAGE),
        "command": [f"--config.file={BLACKBOX_DIR}/blackbox.yml",
                    f"--web.listen-address=:{port('blackbox')}"],
        "volumes": [f"./blackbox:{BLACKBOX_DIR}:ro"],
        "healthcheck": _wget("blackbox", "/-/healthy"),
    }
    services[INBOX] = {
        # The local Slack-compatible inbox (`vigil inbox`): where Slack receivers without a webhook in
        # .env deliver (`vigil secrets --inbox`). Image: generator/Dockerfile.
        "build": {"context": ".", "dockerfile": "generator/Dockerfile"},
        "restart": "unless-stopped",
        "ports": publish(INBOX_PORT),
        # healthcheck: generator/Dockerfile's HEALTHCHECK
    }
    if has_demo(inv):
        services[DEMO] = {
            "build": "./demo",
            "restart": "unless-stopped",
            "ports": publish(int(DEMO_TARGET.rsplit(":", 1)[1])),
            # healthcheck: demo/Dockerfile's HEALTHCHECK
        }
    for service, exporter in run_by_stack(inv):
        svc = {**base(exporter.image)}
        if exporter.user:
            svc["user"] = exporter.user
        flags = [f"{s.flag}=${{{variable(service, s)}:?set {variable(service, s)} in .env}}"
                 for s in exporter.settings if s.flag]
        flags.append(f"--web.listen-address=:{exporter.port}")
        svc["command"] = flags
        env = {s.env: (f"${{{variable(service, s)}:?set {variable(service, s)} in .env}}" if s.required
                       else f"${{{variable(service, s)}:-}}") for s in exporter.settings if s.env}
        if env:
            svc["environment"] = env
        if exporter.health_path is not None:
            svc["healthcheck"] = _health(["CMD", "wget", "-q", "-O", "/dev/null",
                                          f"http://127.0.0.1:{exporter.port}{exporter.health_path}"])
        services[exporter_host(service)] = svc
    return {"name": stack.name, "services": services, "volumes": {v: {} for v in VOLUMES}}


def has_demo(inv: Inventory) -> bool:
    """The demo app runs when the inventory watches it: a service `demo` scraped at demo:8000."""
    return any(s.name == DEMO and DEMO_TARGET in (s.targets or ()) for s in inv.services)
