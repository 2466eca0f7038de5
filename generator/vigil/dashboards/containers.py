"""Containers (uid vigil-containers): every container of the stack's Docker host as
cAdvisor sees it — CPU, memory against its limit, network, restarts — and the
queries service dashboards use for their own container's saturation.

A service's container is found by the Compose service name Docker labels it with
(`com.docker.compose.service`, exported by cAdvisor as COMPOSE_SERVICE): an
inventory service named like its Compose service gets its saturation panels.
"""

from __future__ import annotations

from .builder import Column, Dashboard, Row, Target, Thresholds, Variable, table, timeseries
from .common import nav, tags

UID = "vigil-containers"
COMPOSE_SERVICE = "container_label_com_docker_compose_service"
C = 'name=~"$container"'
RATE = "[$__rate_interval]"


def cpu(matchers: str, by: str = "name") -> str:
    """CPU used, in cores."""
    return f"sum by ({by}) (rate(container_cpu_usage_seconds_total{{{matchers}}}{RATE}))"


def memory(matchers: str, by: str = "name") -> str:
    """Memory in use (working set: what the kernel would not reclaim, what the OOM killer judges)."""
    return f"sum by ({by}) (container_memory_working_set_bytes{{{matchers}}})"


def saturation(service: str) -> tuple:
    """CPU and memory of a service's container(s), for its own dashboard."""
    m = f'{COMPOSE_SERVICE}="{service}"'
    missing = f"No container labelled com.docker.compose.service={service} on this Docker host"
    return (timeseries("Container CPU", Target(cpu(m), "{{name}}"), unit="short", min=0, no_value=missing,
                       description="CPU cores used by the service's container(s), from cAdvisor", width=12),
            timeseries("Container memory", Target(memory(m), "{{name}}"), unit="bytes", min=0, no_value=missing,
                       description="Working-set memory of the service's container(s), from cAdvisor", width=12))


def dashboard() -> Dashboard:
    named = f'name!="",{C}'
    limit = f"max by (name) (container_spec_memory_limit_bytes{{{named}}} > 0)"
    now = table("Containers", [
        Column("CPU (cores)", cpu(named), decimals=3),
        Column("Memory", memory(named), unit="bytes"),
        Column("Of its limit", f"{memory(named)} / {limit}", unit="percentunit",
               thresholds=Thresholds.rising(0.8, 0.95)),
        Column("Restarts (1h)", f"sum by (name) (changes(container_start_time_seconds{{{named}}}[1h]))",
               thresholds=Thresholds.rising(1, 3)),
    ], ["name"], label_titles={"name": "Container"},
        description="Every running container now; memory share only where a limit is set")
    history = (
        timeseries("CPU", Target(cpu(named), "{{name}}"), unit="short", min=0, width=12),
        timeseries("Memory", Target(memory(named), "{{name}}"), unit="bytes", min=0, width=12),
        timeseries("Network received", Target(
            f"sum by (name) (rate(container_network_receive_bytes_total{{{named}}}{RATE}))", "{{name}}"),
            unit="Bps", min=0, width=12),
        timeseries("Network sent", Target(
            f"sum by (name) (rate(container_network_transmit_bytes_total{{{named}}}{RATE}))", "{{name}}"),
            unit="Bps", min=0, width=12),
    )
    container = Variable.from_query("container", 'label_values(container_last_seen{name!=""}, name)',
                                    multi=True, include_all=True)
    return Dashboard(uid=UID, title="Containers", tags=tags("containers"), variables=(container,), links=nav(),
                     description="Containers of the stack's Docker host, from cAdvisor",
                     rows=(Row("Now", (now,)), Row("History", history)))
