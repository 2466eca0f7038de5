"""loki/: Loki's config (single binary, filesystem storage), its ruler's rules,
and the log shipper's config (Grafana Alloy).

- loki/loki.yml                 Loki, mounted at LOKI_CONFIG
- loki/rules/fake/vigil.yml     the ruler's rules: loki/rules/ is mounted at LOKI_RULES;
                                the local rule store reads <dir>/<tenant>/*.yml, and the
                                tenant is "fake" while auth_enabled is false
- loki/alloy/config.alloy       Alloy, mounted at ALLOY_CONFIG

What logs mean (labels, JSON fields, the error-spike alert, the redactions) is in
vigil.logs; this module only knows the file formats.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from .. import logs, tracker, webauth
from .. import stack as stack_part
from ..inventory import Stack
from ..kinds import KINDS
from ..kinds.base import Context, annotations, service_labels
from ..plan import Plan
from ..units import Duration
from .yamlout import HEADER, dump

from ..exporters import host as exporter_host
from ..exporters import run_by_stack

# The images Compose runs, for the versions these configs were checked against.
LOKI_VERSION = "3.7.7"
LOKI_IMAGE = f"grafana/loki:{LOKI_VERSION}"
ALLOY_VERSION = "v1.21.2"
ALLOY_IMAGE = f"grafana/alloy:{ALLOY_VERSION}"

# Paths inside the containers (the Compose file mounts the rendered files there).
LOKI_CONFIG = "/etc/loki/loki.yml"           # <- loki/loki.yml (read-only)
LOKI_RULES = "/etc/loki/rules"               # <- loki/rules/ (read-only)
LOKI_DATA = "/loki"                          # a named volume, writable by the image's user (10001)
ALLOY_CONFIG = "/etc/alloy/config.alloy"     # <- loki/alloy/config.alloy (read-only)
ALLOY_DATA = "/var/lib/alloy/data"           # a named volume: positions of the tailed containers
DOCKER_SOCKET = "/var/run/docker.sock"       # the host's: only the socket proxy mounts it (render/compose.py)
DOCKER_PROXY = "docker-socket-proxy:2375"    # Docker's API through that proxy: read-only, filtered

TENANT = "fake"                              # Loki's tenant id when auth_enabled is false
RULES_FILE = f"loki/rules/{TENANT}/vigil.yml"
RULE_GROUP = "vigil:logs"
SCHEMA_FROM = "2024-01-01"                   # the one schema period: tsdb, v13, from before any data
MIN_RETENTION = Duration.parse("24h")        # Loki's compactor refuses less
RULER_INTERVAL = "1m"                        # LogQL rules read chunks: once a minute is plenty

COMPOSE_SERVICE_LABEL = "__meta_docker_container_label_com_docker_compose_service"
CONTAINER_NAME_LABEL = "__meta_docker_container_name"
# The stack's own Compose services (render/compose.py), whose logs belong to stack.team.
STACK_SERVICES = ("prometheus", "alertmanager", "volumes-init", "grafana", "loki", "alloy", "node-exporter",
                  "cadvisor", "blackbox", "inbox", "docker-socket-proxy",
                  "pushgateway", "status-page")


def stack_services(stack: Stack) -> tuple[str, ...]:
    """STACK_SERVICES, and the error tracker's when it runs."""
    return STACK_SERVICES + (tracker.COMPOSE_SERVICES if tracker.enabled(stack) else ())


def render(plan: Plan) -> dict[str, bytes]:
    inv = plan.inventory
    return {
        "loki/loki.yml": dump(config(inv.stack)),
        RULES_FILE: dump(rules(plan)),
        "loki/alloy/config.alloy": alloy(plan).encode(),
    }


# ---------------------------------------------------------------- loki.yml


def _port(hostport: str) -> int:
    return int(hostport.rsplit(":", 1)[1])


def retention(stack: Stack) -> Duration:
    """Logs are kept as long as metrics (stack.retention), and at least a day."""
    return max(stack.retention, MIN_RETENTION)


def config(stack: Stack) -> dict:
    return {
        "auth_enabled": False,
        "server": {"http_listen_port": _port(stack.endpoints.address("loki")), "log_level": "info"},
        # Single binary, one process: in-memory rings, one replica, everything under the data volume.
        # common.storage.filesystem also makes the ruler's rule store local, reading rules_directory.
        "common": {
            "instance_addr": "127.0.0.1",
            "path_prefix": LOKI_DATA,
            "replication_factor": 1,
            "ring": {"kvstore": {"store": "inmemory"}},
            "storage": {"filesystem": {"chunks_directory": f"{LOKI_DATA}/chunks",
                                       "rules_directory": LOKI_RULES}},
        },
        "schema_config": {"configs": [{"from": SCHEMA_FROM, "store": "tsdb", "object_store": "filesystem",
                                       "schema": "v13", "index": {"prefix": "index_", "period": "24h"}}]},
        "storage_config": {"tsdb_shipper": {"active_index_directory": f"{LOKI_DATA}/tsdb-index",
                                            "cache_location": f"{LOKI_DATA}/tsdb-cache"}},
        # Sized for a laptop: a few MB/s of logs, queries that answer a dashboard.
        "limits_config": {
            "retention_period": str(retention(stack)),
            "reject_old_samples": True,
            "reject_old_samples_max_age": "168h",
            "ingestion_rate_mb": 4,
            "ingestion_burst_size_mb": 8,
            "max_global_streams_per_user": 5000,
            "max_query_series": 1000,
            "max_entries_limit_per_query": 5000,
        },
        # Retention is applied by the compactor; without retention_enabled logs live forever.
        "compactor": {
            "working_directory": f"{LOKI_DATA}/compactor",
            "compaction_interval": "10m",
            "retention_enabled": True,
            "retention_delete_delay": "2h",
            "delete_request_store": "filesystem",
        },
        "ruler": {
            "alertmanager_url": f"http://{stack.endpoints.alertmanager}",
            # -config.expand-env=true (render/compose.py): the password comes from Loki's environment.
            **({"alertmanager_client": {"basic_auth_username": webauth.USER,
                                        "basic_auth_password": webauth.reference("alertmanager")}}
               if stack.basic_auth else {}),
            "enable_api": True,
            "evaluation_interval": RULER_INTERVAL,
            "rule_path": f"{LOKI_DATA}/rules-temp",
        },
        "analytics": {"reporting_enabled": False},
    }


# ---------------------------------------------------------------- the ruler's rules


def log_alerts(plan: Plan) -> list[dict]:
    """ErrorLogSpike for every service whose kind logs to Vigil's conventions, in inventory order."""
    ctx = Context.of(plan.inventory.stack)
    out = []
    for service in plan.inventory.services:
        if service.kind not in logs.ERROR_SPIKE_KINDS:
            continue
        window = logs.ERROR_SPIKE_WINDOW
        out.append({
            "alert": logs.ERROR_SPIKE,
            "expr": logs.error_spike(service.name),
            "for": logs.ERROR_SPIKE_FOR,
            "labels": {**service_labels(service), "severity": logs.ERROR_SPIKE_SEVERITY},
            "annotations": annotations(
                ctx, service, KINDS[service.kind].dashboard(service), logs.ERROR_SPIKE,
                f"{service.name}: {{{{ $value }}}} error lines in {window}",
                f"{service.name} logged {{{{ $value }}}} lines at level {'/'.join(logs.ERROR_LEVELS)} over the "
                f"last {window}: more than {logs.ERROR_SPIKE_FLOOR}, and more than {logs.ERROR_SPIKE_RATIO}x its "
                f"average {window} over the {logs.ERROR_SPIKE_BASELINE} before. See Top errors and the Logs "
                f"panel of its dashboard."),
        })
    return out


def rules(plan: Plan) -> dict:
    alerts = log_alerts(plan)
    return {"groups": [{"name": RULE_GROUP, "rules": alerts}] if alerts else []}


# ---------------------------------------------------------------- Alloy syntax

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Ref:
    """A reference to another component's export, written bare: loki.write.default.receiver."""
    path: str


@dataclass
class Block:
    name: str                               # e.g. "discovery.relabel", or "rule" inside one
    label: str | None = None                # components have one; inner blocks don't
    body: list = field(default_factory=list)   # (attribute, value) pairs and Blocks, in order
    comment: str | None = None              # a `//` line above the block

    def attr(self, name: str, value) -> Block:
        self.body.append((name, value))
        return self

    def block(self, child: Block) -> Block:
        self.body.append(child)
        return self


def string(value: str) -> str:
    """An Alloy string literal. JSON's escapes (\\" \\\\ \\n \\t \\uXXXX below U+0020) are a subset of
    Alloy's Go-like ones; with ensure_ascii=False nothing else is escaped, so no surrogate pairs."""
    return json.dumps(value, ensure_ascii=False)


def value(v, indent: str) -> str:
    if isinstance(v, Ref):
        return v.path
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return string(v)
    if isinstance(v, list):
        return "[" + ", ".join(value(x, indent) for x in v) + "]"
    if isinstance(v, dict):
        if not v:
            return "{}"
        inner = indent + "  "
        items = [f"{inner}{k if _IDENT.match(k) else string(k)} = {value(x, inner)},\n" for k, x in v.items()]
        return "{\n" + "".join(items) + indent + "}"
    raise TypeError(f"cannot write {type(v).__name__} in Alloy syntax")


def emit(block: Block, indent: str = "") -> str:
    head = block.name + (f" {string(block.label)}" if block.label is not None else "")
    above = f"{indent}// {block.comment}\n" if block.comment else ""
    if not block.body:
        return f"{above}{indent}{head} {{}}\n"
    inner = indent + "  "
    width = max((len(x[0]) for x in block.body if isinstance(x, tuple)), default=0)
    lines = [f"{above}{indent}{head} {{\n"]
    previous = None
    for item in block.body:
        if isinstance(item, Block):
            if previous is not None:
                lines.append("\n")
            lines.append(emit(item, inner))
        else:
            if isinstance(previous, Block):
                lines.append("\n")
            name, v = item
            lines.append(f"{inner}{name.ljust(width)} = {value(v, inner)}\n")
        previous = item
    lines.append(f"{indent}}}\n")
    return "".join(lines)


# ---------------------------------------------------------------- config.alloy


def team_rules(plan: Plan) -> list[tuple[str, str]]:
    """(Compose service name regex, team): each inventory service, the exporters Compose runs
    for exporter kinds without targets, and the stack's own parts."""
    inv = plan.inventory
    out = [(s.name, s.team) for s in inv.services]
    out += [(exporter_host(s), s.team) for s, _ in run_by_stack(inv)]
    out.append(("|".join(stack_services(inv.stack)), stack_part.team_of(inv.stack)))
    return out


def alloy_command(stack: Stack) -> list[str]:
    """The Alloy container's command: its HTTP server (UI, /metrics, /-/reload) on the
    port of stack.endpoints.alloy, where Prometheus scrapes it."""
    return ["run", f"--server.http.listen-addr=0.0.0.0:{_port(stack.endpoints.address('alloy'))}",
            f"--storage.path={ALLOY_DATA}", ALLOY_CONFIG]


def alloy_blocks(plan: Plan) -> list[Block]:
    stack = plan.inventory.stack
    docker = f"tcp://{DOCKER_PROXY}"

    relabel = Block("discovery.relabel", "containers").attr("targets", [])
    relabel.block(Block("rule").attr("source_labels", [COMPOSE_SERVICE_LABEL]).attr("target_label", logs.SERVICE))
    relabel.block(Block("rule").attr("source_labels", [CONTAINER_NAME_LABEL]).attr("regex", "/(.*)")
                  .attr("target_label", logs.CONTAINER))
    for names, team in team_rules(plan):
        relabel.block(Block("rule").attr("source_labels", [COMPOSE_SERVICE_LABEL]).attr("regex", names)
                      .attr("target_label", logs.TEAM).attr("replacement", team))

    process = Block("loki.process", "vigil").attr("forward_to", [Ref("loki.write.loki.receiver")])
    for rule in logs.redactions(stack):   # on the raw line, before anything reads it
        process.block(Block("stage.replace", comment=f"redact: {rule.name}").attr("expression", rule.pattern)
                      .attr("replace", rule.replace))
    # JSON lines: pick the fields; other lines pass through untouched (no drop_malformed).
    process.block(Block("stage.json").attr("expressions", {f: f for f in logs.JSON_FIELDS}))
    process.block(Block("stage.template").attr("source", logs.LEVEL)
                  .attr("template", "{{ if .Value }}{{ ToLower .Value }}{{ end }}"))
    process.block(Block("stage.labels").attr("values", {logs.LEVEL: logs.LEVEL}))

    return [
        Block("logging").attr("level", "info").attr("format", "logfmt"),
        Block("discovery.docker", "containers").attr("host", docker),
        relabel,
        Block("loki.source.docker", "containers")
        .attr("host", docker)
        .attr("targets", Ref("discovery.docker.containers.targets"))
        .attr("relabel_rules", Ref("discovery.relabel.containers.rules"))
        .attr("forward_to", [Ref("loki.process.vigil.receiver")]),
        process,
        Block("loki.write", "loki").block(
            Block("endpoint").attr("url", f"http://{stack.endpoints.address('loki')}/loki/api/v1/push")),
    ]


def alloy(plan: Plan) -> str:
    head = "".join(f"// {line}\n" for line in (
        HEADER.removeprefix("# ").rstrip("\n"),
        "Docker containers' logs -> service, team, container and level labels, secrets redacted -> Loki.",
    ))
    return head + "\n" + "\n".join(emit(b) for b in alloy_blocks(plan))
