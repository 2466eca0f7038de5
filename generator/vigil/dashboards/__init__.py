"""Grafana dashboards as code: which dashboards an inventory gets, in which folder.

One folder per team holds its services' own dashboards (http and job kinds);
the stack's folder holds the shared ones (overview, alerts, hosts, probes,
stack health, containers, errors, runbooks, DORA, one per exporter kind). Each dashboard's uid is the one its
kind's alerts link to (kinds/<kind>.py dashboard()).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence

from ..inventory import Inventory, Service
from . import alerts, containers, dora, errors, exporters, host, job, overview, probes, runbooks, service, stack
from .builder import Dashboard

SERVICE_DASHBOARDS = {"http": service.dashboard, "job": job.dashboard}


@dataclass(frozen=True)
class Folder:
    key: str       # directory under grafana/dashboards/ (and the provider's name)
    title: str     # as Grafana shows it
    uid: str       # Grafana folder uid (at most 40 characters)


STACK_FOLDER = Folder("vigil", "Vigil", "vigil")


def team_folder(team: str) -> Folder:
    uid = f"team-{team}"
    if len(uid) > 40:     # team names may be longer than a folder uid
        uid = f"team-{hashlib.sha1(team.encode()).hexdigest()[:16]}"
    return Folder(f"team-{team}", team, uid)


def build(inventory: Inventory, services: bool = True) -> list[tuple[Folder, Dashboard]]:
    """Every dashboard, in a stable order: the stack's first, then each team's services (unless
    `services` is False: rendered apart, render/shards.py)."""
    kinds = {s.kind for s in inventory.services}
    out = [(STACK_FOLDER, d) for d in (overview.dashboard(inventory), alerts.dashboard(inventory),
                                       stack.dashboard(inventory.stack), host.dashboard(), probes.dashboard(inventory.stack),
                                       containers.dashboard(), errors.dashboard(inventory),
                                       runbooks.dashboard(inventory), dora.dashboard(inventory))]
    out += [(STACK_FOLDER, exporters.dashboard(k)) for k in exporters.EXPORTER_KINDS if k in kinds]
    return out + service_dashboards(inventory.services) if services else out


def dashboard_folders(inventory: Inventory) -> list[Folder]:
    """The folders the dashboards go to: the stack's, then each team's with a service dashboard."""
    return [STACK_FOLDER, *dict.fromkeys(team_folder(s.team) for s in _with_dashboards(inventory.services))]


def service_dashboards(services: Sequence[Service]) -> list[tuple[Folder, Dashboard]]:
    """The services' own dashboards (http and job kinds), each in its team's folder."""
    return [(team_folder(s.team), SERVICE_DASHBOARDS[s.kind](s)) for s in _with_dashboards(services)]


def _with_dashboards(services: Sequence[Service]) -> list[Service]:
    return [s for s in services if s.kind in SERVICE_DASHBOARDS]
