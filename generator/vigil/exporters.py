"""The exporters the stack runs for postgres, mysql, redis and nginx services
(SPEC §3): which official image, where it listens, and how it reaches its
server — settings that come from .env, never from the inventory.

A service of one of these kinds is scraped at `<name>-exporter:<port>` unless
it gives its own `targets` (kinds/base.py exporter_kind); the stack runs that
exporter, as the Compose service `<name>-exporter`, only when it is scraped
there. Its connection settings are variables named after the service:
`orders-db` -> ORDERS_DB_DSN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .inventory import Inventory, Service
from .kinds import KINDS


@dataclass(frozen=True)
class Setting:
    """One connection setting: the .env variable <SERVICE>_<suffix>, handed to
    the exporter as its environment variable `env` or its flag `flag`."""
    suffix: str
    what: str
    env: Optional[str] = None
    flag: Optional[str] = None
    required: bool = True


@dataclass(frozen=True)
class Exporter:
    kind: str
    image: str
    settings: tuple
    health_path: Optional[str]    # None: the image has no shell nor HTTP client to check itself with
    user: Optional[str] = None    # set when the image's own default is root
    flags: tuple = ()             # always passed: what the kind's alerts need beyond the exporter's defaults

    @property
    def port(self) -> int:
        return KINDS[self.kind].DEFAULT_PORT


# Images: the exporters' official ones, pinned. Postgres, mysqld: busybox-based
# (wget), running as nobody. Redis: the -alpine variant, for wget (the default
# one is FROM scratch). Nginx: FROM scratch, user 1001 — no healthcheck possible;
# Prometheus' ServiceDown alert watches it instead.
POSTGRES_EXPORTER_IMAGE = "quay.io/prometheuscommunity/postgres-exporter:v0.18.1"
MYSQLD_EXPORTER_IMAGE = "prom/mysqld-exporter:v0.18.0"
REDIS_EXPORTER_IMAGE = "oliver006/redis_exporter:v1.74.0-alpine"
NGINX_EXPORTER_IMAGE = "nginx/nginx-prometheus-exporter:1.5.1"

EXPORTERS = {e.kind: e for e in (
    Exporter("postgres", POSTGRES_EXPORTER_IMAGE, (
        Setting("DSN", "PostgreSQL connection URL, postgresql://USER:PASSWORD@HOST:5432/postgres?sslmode=disable",
                env="DATA_SOURCE_NAME"),), "/"),
    # mysqld_exporter >= 0.15 takes no DSN: address and user are flags, the password an environment variable.
    Exporter("mysql", MYSQLD_EXPORTER_IMAGE, (
        Setting("MYSQL_ADDRESS", "MySQL server, HOST:3306", flag="--mysqld.address"),
        Setting("MYSQL_USER", "MySQL user of the exporter", flag="--mysqld.username"),
        Setting("MYSQL_PASSWORD", "MySQL password of that user", env="MYSQLD_EXPORTER_PASSWORD"),
    ), "/"),
    Exporter("redis", REDIS_EXPORTER_IMAGE, (
        Setting("REDIS_ADDR", "Redis server, redis://HOST:6379", env="REDIS_ADDR"),
        Setting("REDIS_PASSWORD", "Redis password (leave empty when there is none)", env="REDIS_PASSWORD",
                required=False),
    ), "/health", user="59000:59000",
        # redis_total_system_memory_bytes, for RedisMemoryOfSystem (a Redis without maxmemory).
        flags=("--include-system-metrics",)),
    Exporter("nginx", NGINX_EXPORTER_IMAGE, (
        Setting("NGINX_STATUS_URL", "URL of nginx's stub_status page, http://HOST:8080/stub_status",
                flag="--nginx.scrape-uri"),), None),
)}


def host(service: Service) -> str:
    """The exporter's Compose service name: the host of the kind's default target."""
    return f"{service.name}-exporter"


def run_by_stack(inventory: Inventory) -> list[tuple[Service, Exporter]]:
    """The services whose exporter the stack runs: those scraped at its default target."""
    out = []
    for s in inventory.services:
        e = EXPORTERS.get(s.kind)
        if e is not None and (s.targets is None or f"{host(s)}:{e.port}" in s.targets):
            out.append((s, e))
    return out


def variable(service: Service, setting: Setting) -> str:
    return f"{service.name.upper().replace('-', '_')}_{setting.suffix}"
