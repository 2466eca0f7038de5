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

Users, per image: Alertmanager's default, node-exporter, blackbox, postgres and
mysqld exporters run as nobody (their images' USER); Grafana as 472, Loki as
10001, the nginx exporter as 1001 (theirs); Alloy as 473 (its image's alloy
user); the redis exporter as 59000 (set here: the alpine variant does not).
Prometheus and Alertmanager run as the host user (VIGIL_UID:VIGIL_GID, default
1000:1000), because they read the secret files `vigil secrets` writes for that
user only (mode 0600, folder 0700); a one-shot volumes-init hands their data
volumes (and Alloy's) to their users first. cAdvisor runs as root: it reads the
host's container state whatever its owner.

Hardened (harden()): every container has a read-only root filesystem (tmpfs where
the program writes scratch files), no capabilities but those CAPS gives back (and
says why), no-new-privileges, a memory and pids limit (LIMITS: caps against a
runaway, far above a laptop stack's needs) and rotated logs. The Docker socket goes
into one container only, a read-only filtering proxy (DOCKER_PROXY_ENV: the API
sections Alloy's discovery and cAdvisor read) on an internal network; Alloy and
cAdvisor ask it over TCP.
"""

from __future__ import annotations

import posixpath

from ..dashboards.builder import GRAFANA_IMAGE
from .. import webauth
from ..envfile import GRAFANA_DEFAULT_USER, GRAFANA_PASSWORD, GRAFANA_USER
from ..exporters import host as exporter_host, run_by_stack, variable
from ..inventory import Endpoints, Inventory
from ..plan import Plan
from .. import statuspage, tracker
from .grafana import DASHBOARDS_MOUNT
from .yamlout import dump

from .loki import ALLOY_CONFIG, ALLOY_DATA, ALLOY_IMAGE, DOCKER_PROXY, DOCKER_SOCKET, LOKI_CONFIG, LOKI_DATA, \
    LOKI_IMAGE, LOKI_RULES, alloy_command

PATH = "docker-compose.yml"

PROMETHEUS_IMAGE = "prom/prometheus:v3.14.0"
ALERTMANAGER_IMAGE = "prom/alertmanager:v0.34.1"
NODE_EXPORTER_IMAGE = "prom/node-exporter:v1.12.1"
BLACKBOX_IMAGE = "prom/blackbox-exporter:v0.28.0"
CADVISOR_IMAGE = "gcr.io/cadvisor/cadvisor:v0.55.1"
DOCKER_PROXY_IMAGE = "tecnativa/docker-socket-proxy:v0.5.0"   # HAProxy on alpine: busybox wget
PUSHGATEWAY_IMAGE = "prom/pushgateway:v1.11.1"
PUSHGATEWAY_USER = "65534:65534"   # nobody, its image's USER

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
STATUS_PAGE_DIR = "/etc/vigil-status"
assert posixpath.dirname(LOKI_RULES) == LOKI_DIR

# Host user Alertmanager runs as (make exports them from `id -u` / `id -g`).
INBOX, INBOX_PORT = "inbox", 8025
INBOX_URL = f"http://{INBOX}:{INBOX_PORT}"     # as Alertmanager reaches it (`vigil secrets --inbox`)
UID = "${VIGIL_UID:-1000}"
GID = "${VIGIL_GID:-1000}"

VOLUMES = ("prometheus-data", "alertmanager-data", "grafana-data", "loki-data", "alloy-data",
           "pushgateway-data")
ALLOY_USER = "473:473"          # the alloy user of its image (root only for components Vigil does not use)

DOCKER_PROXY_HOST, DOCKER_PROXY_PORT = DOCKER_PROXY.rsplit(":", 1)
DOCKER_API_NETWORK = "docker-api"   # internal: only the proxy and its two clients are on it
# What the socket proxy lets through: GET and HEAD only (POST=0), and of those only the API sections
# Alloy's discovery.docker (containers, networks) and loki.source.docker (inspect, logs) and
# cAdvisor (info, version, inspect) read. Everything else (exec, images, volumes, events, ...) is a 403.
DOCKER_PROXY_ENV = {"CONTAINERS": "1", "ALLOW_LOGS": "1", "NETWORKS": "1", "INFO": "1", "VERSION": "1",
                    "PING": "1", "EVENTS": "0", "POST": "0"}

LOGGING = {"driver": "json-file", "options": {"max-size": "10m", "max-file": "3"}}
# (memory, pids): generous caps against a runaway, not sizing. Go programs count a pid per OS thread.
LIMITS = {
    "prometheus": ("4g", 1024), "loki": ("2g", 1024), "grafana": ("1g", 1024), "alloy": ("1g", 512),
    "alertmanager": ("512m", 512), "cadvisor": ("512m", 512), "inbox": ("256m", 128), DEMO: ("256m", 128),
    "docker-socket-proxy": ("128m", 128), "volumes-init": ("64m", 32),
    "bugsink": ("1g", 512),      # gunicorn and snappea's workers (tracker.py)
}
DEFAULT_LIMITS = ("256m", 256)   # the exporters, node-exporter, blackbox
# Capabilities given back after cap_drop: [ALL], and why. Nothing else needs any: no service binds a
# port under 1024, the blackbox modules are HTTP only (ICMP would need NET_RAW).
CAPS = {
    "volumes-init": ("CHOWN",            # its whole job: chown the data volumes to their users
                     "DAC_READ_SEARCH"),  # walk directories whatever their owner and mode
    "cadvisor": ("DAC_READ_SEARCH",),     # read the host's container state (read-only mounts) whatever its owner
}
# Writable scratch directories in a read-only root filesystem.
TMPFS = {
    "grafana": ("/tmp",), "loki": ("/tmp",), "alloy": ("/tmp",), "cadvisor": ("/tmp",),
    "inbox": ("/tmp",), DEMO: ("/tmp",), "status-page": ("/tmp",),
    "bugsink": ("/tmp",), "errors-exporter": ("/tmp",),   # Bugsink's snappea queue is /tmp/snappea.sqlite3
    "docker-socket-proxy": ("/tmp", "/run"),   # its entrypoint writes /tmp/haproxy.cfg; HAProxy /run/haproxy.pid
}


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


def _wget(component: str, path: str, authorization: str | None = None) -> dict:
    """For images with busybox (or alpine's) wget; it exits non-zero on an HTTP error. A part behind
    basic auth asks its own healthcheck for the password too: `authorization` is the file holding the
    header value (webauth.AUTHORIZATION, written by `vigil secrets`), read by the container's shell."""
    url = f"http://127.0.0.1:{port(component)}{path}"
    if authorization is None:
        return _health(["CMD", "wget", "-q", "-O", "/dev/null", url])
    return _health(["CMD-SHELL", f'wget -q -O /dev/null --header "Authorization: $$(cat {authorization})" {url}'])


def harden(name: str, service: dict) -> dict:
    """What every container gets (see the module's docstring)."""
    memory, pids = LIMITS.get(name, DEFAULT_LIMITS)
    out = {**service, "read_only": True, "cap_drop": ["ALL"]}
    if name in CAPS:
        out["cap_add"] = list(CAPS[name])
    out |= {"security_opt": ["no-new-privileges:true"], "mem_limit": memory, "pids_limit": pids, "logging": LOGGING}
    if name in TMPFS:
        out["tmpfs"] = list(TMPFS[name])
    return out


def _external(part: str, stack) -> list[str]:
    """Links the part makes (Silence buttons, alert sources) use the inventory's URL of it, not a
    container hostname; it still serves at / (a proxy under a path strips it), so healthchecks and
    the stack's own addresses stay as they are."""
    return [f"--web.external-url={_literal(stack.external_url(part))}", "--web.route-prefix=/"]


def _healthy(*names: str) -> dict:
    return {n: {"condition": "service_healthy"} for n in names}


def _done(*names: str) -> dict:
    return {n: {"condition": "service_completed_successfully"} for n in names}


def compose(inv: Inventory) -> dict:
    stack = inv.stack
    address = stack.publish_address

    def publish(p: int) -> list:
        return [{"target": p, "published": str(p), "host_ip": address, "protocol": "tcp"}]

    def base(image: str) -> dict:
        return {"image": image, "restart": "unless-stopped"}

    auth = stack.basic_auth
    required = {v: f"${{{v}:?set {v} in .env (make up generates it)}}" for v in webauth.PASSWORDS.values()}

    def web_config(directory: str) -> list:
        return [f"--web.config.file={directory}/{webauth.WEB_CONFIG}"] if auth else []

    def health(part: str, directory: str, path: str) -> dict:
        return _wget(part, path, f"{directory}/{webauth.AUTHORIZATION}" if auth else None)

    services = {}
    services["prometheus"] = {
        **base(PROMETHEUS_IMAGE),
        "user": f"{UID}:{GID}",     # reads prometheus/secrets/ (0600, the host user's)
        "command": [f"--config.file={PROMETHEUS_DIR}/prometheus.yml",
                    "--storage.tsdb.path=/prometheus",
                    f"--storage.tsdb.retention.time={stack.retention}",
                    f"--web.listen-address=:{port('prometheus')}",
                    *web_config(PROMETHEUS_DIR),
                    "--web.enable-lifecycle",       # POST /-/reload: `vigil reload`
                    *_external("prometheus", stack)],
        "volumes": [f"./prometheus:{PROMETHEUS_DIR}:ro", "prometheus-data:/prometheus"],
        "ports": publish(port("prometheus")),
        "healthcheck": health("prometheus", PROMETHEUS_DIR, "/-/ready"),
        "depends_on": _healthy("alertmanager") | _done("volumes-init"),
    }
    services["volumes-init"] = {
        # One-shot: data volumes start owned by their image's user (or by whoever ran an older Vigil);
        # Prometheus and Alertmanager run as the host user, Alloy as its image's alloy user.
        "image": ALERTMANAGER_IMAGE,
        "user": "0:0",
        "entrypoint": ["sh", "-c", f"chown -R {UID}:{GID} /prometheus /alertmanager && "
                                   f"chown -R {ALLOY_USER} /alloy && chown -R {PUSHGATEWAY_USER} /pushgateway"],
        "volumes": ["prometheus-data:/prometheus", "alertmanager-data:/alertmanager", "alloy-data:/alloy",
                    "pushgateway-data:/pushgateway"],
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
                    *web_config(ALERTMANAGER_DIR),
                    "--cluster.listen-address=",      # a single instance: no gossip
                    *_external("alertmanager", stack)],
        "volumes": [f"./alertmanager:{ALERTMANAGER_DIR}:ro", "alertmanager-data:/alertmanager"],
        "ports": publish(port("alertmanager")),
        "healthcheck": health("alertmanager", ALERTMANAGER_DIR, "/-/ready"),
        "depends_on": _done("volumes-init"),
    }
    services["grafana"] = {
        **base(GRAFANA_IMAGE),
        "environment": {
            GRAFANA_USER: f"${{{GRAFANA_USER}:-{GRAFANA_DEFAULT_USER}}}",
            GRAFANA_PASSWORD: f"${{{GRAFANA_PASSWORD}:?set {GRAFANA_PASSWORD} in .env (see .env.example)}}",
            "GF_SERVER_ROOT_URL": _literal(stack.external_url("grafana")),
            "GF_SERVER_HTTP_PORT": str(port("grafana")),
            "GF_AUTH_ANONYMOUS_ENABLED": "false",
            "GF_USERS_ALLOW_SIGN_UP": "false",
            "GF_LOG_MODE": "console",        # not also to files: the root filesystem is read-only
            # no plugins: Grafana's background installer fetches none, at start or later
            "GF_PLUGINS_PREINSTALL_DISABLED": "true",
            "GF_PLUGINS_PREINSTALL_AUTO_UPDATE": "false",
            "GF_ANALYTICS_REPORTING_ENABLED": "false",
            "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
            "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES": "false",
            "GF_NEWS_NEWS_FEED_ENABLED": "false",
            # what its data sources send to Prometheus and Alertmanager (provisioning expands ${VAR})
            **(required if auth else {}),
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
        # Not published: Grafana and Alloy reach it on the Compose network; nobody else needs it.
        "command": [f"-config.file={LOKI_CONFIG}", *(["-config.expand-env=true"] if auth else [])],
        **({"environment": {webauth.variable("alertmanager"): required[webauth.variable("alertmanager")]}}
           if auth else {}),      # its ruler's password for Alertmanager (loki.yml names it as ${VAR})
        "volumes": [f"./loki:{LOKI_DIR}:ro", f"loki-data:{LOKI_DATA}"],
        # distroless/static:debug: busybox's wget is on PATH. /ready waits for the ingester to join.
        "healthcheck": {**_wget("loki", "/ready"), "start_period": "60s"},
    }
    services["alloy"] = {
        **base(ALLOY_IMAGE),
        "user": ALLOY_USER,
        "command": alloy_command(stack),    # HTTP on 0.0.0.0 (its default is 127.0.0.1), data in ALLOY_DATA
        "volumes": [f"./loki/alloy:{ALLOY_DIR}:ro", f"alloy-data:{ALLOY_DATA}"],
        "networks": ["default", DOCKER_API_NETWORK],   # Docker's API through the proxy only
        # Ubuntu-based: bash, but no curl or wget.
        "healthcheck": _health(["CMD", "bash", "-c",
                                f"exec 3<>/dev/tcp/127.0.0.1/{port('alloy')} && "
                                "printf 'GET /-/ready HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]),
        "depends_on": _healthy("loki", DOCKER_PROXY_HOST) | _done("volumes-init"),
    }
    services[DOCKER_PROXY_HOST] = {
        # The only container with the Docker socket. Root, to open it (root:docker 0660), with no
        # capabilities; on the internal network alone, unpublished.
        **base(DOCKER_PROXY_IMAGE),
        "environment": DOCKER_PROXY_ENV,
        "volumes": [f"{DOCKER_SOCKET}:{DOCKER_SOCKET}:ro"],
        "networks": [DOCKER_API_NETWORK],
        "healthcheck": _health(["CMD", "wget", "-q", "-O", "/dev/null",
                                f"http://127.0.0.1:{DOCKER_PROXY_PORT}/_ping"], "5s"),
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
                    f"--docker=tcp://{DOCKER_PROXY}",  # Docker's API through the proxy, not the socket
                    "--store_container_labels=true",   # container_label_com_docker_compose_service
                    "--docker_only=true",
                    "--housekeeping_interval=10s"],
        # The host's cgroups and container state, read-only; no /var/run (the socket) any more.
        "volumes": ["/:/rootfs:ro", "/sys:/sys:ro", "/var/lib/docker/:/var/lib/docker:ro", "/dev/disk/:/dev/disk:ro"],
        "networks": ["default", DOCKER_API_NETWORK],
        "healthcheck": _wget("cadvisor", "/healthz"),
        "depends_on": _healthy(DOCKER_PROXY_HOST),
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
    services.update(dora_and_status_page(inv, publish, required if auth else {}))
    if has_demo(inv):
        services[DEMO] = {
            "build": "./demo",
            "restart": "unless-stopped",
            "ports": publish(int(DEMO_TARGET.rsplit(":", 1)[1])),
            # healthcheck: demo/Dockerfile's HEALTHCHECK
        }
        if demo_reports(inv):
            # its DSN (`vigil errors provision` writes it to .env) names the tracker's public address;
            # inside the stack the demo reaches it by its Compose name
            services[DEMO]["environment"] = {"SENTRY_DSN": f"${{{tracker.dsn_variable(DEMO)}:-}}",
                                             "SENTRY_TRACKER_HOST": stack.endpoints.bugsink,
                                             "SENTRY_RELEASE": "demo@1.0.0"}
    volumes = list(VOLUMES)
    if tracker.enabled(stack):
        services.update(_tracker(inv, publish))
        volumes.append(TRACKER_VOLUME)
    for service, exporter in run_by_stack(inv):
        svc = {**base(exporter.image)}
        if exporter.user:
            svc["user"] = exporter.user
        flags = [f"{s.flag}=${{{variable(service, s)}:?set {variable(service, s)} in .env}}"
                 for s in exporter.settings if s.flag]
        flags += [*exporter.flags, f"--web.listen-address=:{exporter.port}"]
        svc["command"] = flags
        env = {s.env: (f"${{{variable(service, s)}:?set {variable(service, s)} in .env}}" if s.required
                       else f"${{{variable(service, s)}:-}}") for s in exporter.settings if s.env}
        if env:
            svc["environment"] = env
        if exporter.health_path is not None:
            svc["healthcheck"] = _health(["CMD", "wget", "-q", "-O", "/dev/null",
                                          f"http://127.0.0.1:{exporter.port}{exporter.health_path}"])
        services[exporter_host(service)] = svc
    return {"name": stack.name, "services": {n: harden(n, svc) for n, svc in services.items()},
            "networks": {DOCKER_API_NETWORK: {"internal": True}}, "volumes": {v: {} for v in volumes}}


TRACKER_VOLUME = "bugsink-data"


def _python_get(component: str, path: str, start: str = "20s") -> dict:
    """For Python images without curl or wget."""
    url = f"http://127.0.0.1:{port(component)}{path}"
    return _health(["CMD", "python", "-c", f"import urllib.request as u; u.urlopen('{url}', timeout=4)"], start)


def _tracker(inv: Inventory, publish) -> dict:
    """Bugsink (SQLite on its volume, settings from the environment, secrets from .env) and the exporter
    that turns its issues into metrics (`vigil errors exporter`, image generator/Dockerfile). The API
    token the exporter reads is created once by `make up` (scripts/up.sh)."""
    stack = inv.stack
    out = {tracker.SERVICE: {
        "image": tracker.IMAGE, "restart": "unless-stopped",
        "environment": {k: _literal(v) if "${" not in v else v for k, v in tracker.container_env(stack).items()},
        "volumes": [f"{TRACKER_VOLUME}:/data"],
        "ports": publish(port("bugsink")),
        "healthcheck": _python_get("bugsink", "/health/ready", "60s"),   # migrations run at start
    }, tracker.EXPORTER: {
        "build": {"context": ".", "dockerfile": "generator/Dockerfile"},
        "restart": "unless-stopped",
        "command": ["errors", "exporter", "--host", "0.0.0.0", "--port", str(port("errors_exporter")),
                    "--url", f"http://{stack.endpoints.bugsink}", "--public-url", _literal(stack.error_tracker.url)],
        "environment": {tracker.TOKEN: f"${{{tracker.TOKEN}:-}}"},
        "healthcheck": _python_get("errors_exporter", "/-/healthy"),
        "depends_on": _healthy(tracker.SERVICE),
    }}
    return out


def dora_and_status_page(inv: Inventory, publish, passwords: dict) -> dict:
    """The Pushgateway holding deploy events (dora.py; published: `vigil deploy` runs on the host or in
    CI) and the public status page (statuspage.py), served by the vigil image from its rendered config."""
    page = inv.stack.status_page
    return {
        "pushgateway": {
            "image": PUSHGATEWAY_IMAGE, "restart": "unless-stopped",
            # Deploy events are the DORA history: on a volume, not only in memory.
            "command": [f"--web.listen-address=:{port('pushgateway')}",
                        "--persistence.file=/pushgateway/events.db", "--persistence.interval=1m"],
            "volumes": ["pushgateway-data:/pushgateway"],
            "ports": publish(port("pushgateway")),
            "healthcheck": _wget("pushgateway", "/-/healthy"),
            "depends_on": _done("volumes-init"),
        },
        statuspage.SERVICE: {
            "build": {"context": ".", "dockerfile": "generator/Dockerfile"},
            "restart": "unless-stopped",
            "command": ["status-page", "--serve", "--config", f"{STATUS_PAGE_DIR}/{statuspage.CONFIG}",
                        "--host", "0.0.0.0", "--port", str(page.port),
                        "--prometheus-url", f"http://{inv.stack.endpoints.prometheus}"],
            "volumes": [f"./{statuspage.DIR}:{STATUS_PAGE_DIR}:ro"],
            # HEALTH_PORT: generator/Dockerfile's HEALTHCHECK; the password: Prometheus' basic auth
            "environment": {"HEALTH_PORT": str(page.port),
                            **{v: passwords[v] for v in passwords if v == webauth.variable("prometheus")}},
            "ports": publish(page.port),
            "depends_on": _healthy("prometheus"),
        },
    }


def has_demo(inv: Inventory) -> bool:
    """The demo app runs when the inventory watches it: a service `demo` scraped at demo:8000."""
    return any(s.name == DEMO and DEMO_TARGET in (s.targets or ()) for s in inv.services)


def demo_reports(inv: Inventory) -> bool:
    """The demo runs and reports its errors: Compose hands it its DSN."""
    return has_demo(inv) and any(s.name == DEMO and s.errors for s in inv.services)
