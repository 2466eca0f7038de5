"""Plan and render on every core. A service's plan and its own files (rule file, tests, dashboard)
need only the stack and the service, so shards of the services are planned and rendered in forked
workers; here, the stack's part is planned and rendered from what they send back (their jobs,
probes and alert label names). The bytes are the same as render(plan(inventory)) gives.

Each worker takes shards of SHARD services in turn, and sends each shard's files as soon as it is
done: the copying to this process (about a second per 500 MB) overlaps the rendering of the next.
Under two shards' worth, forking costs more than it saves: small inventories stay in one process,
as do machines of one core and systems without fork.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys

from ..dashboards import service_dashboards
from ..inventory import Inventory
from ..plan import alert_label_names, plan, plan_services, plan_stack
from . import grafana, prometheus, render

SHARD = 100      # services

_inventory: Inventory | None = None     # what the forked workers read: set before the fork


def render_inventory(inventory: Inventory, workers: int | None = None, shard: int = SHARD) -> dict[str, bytes]:
    n = len(inventory.services)
    workers = min(workers or os.cpu_count() or 1, n // shard)
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return render(plan(inventory))
    global _inventory
    _inventory = inventory
    try:
        with multiprocessing.get_context("fork").Pool(workers, _worker_start, (os.getpid(),)) as pool:
            # in inventory order: the jobs and probes keep it
            shards = pool.imap(_shard, [(lo, min(lo + shard, n)) for lo in range(0, n, shard)])
            out = plan_stack(inventory)
            files: dict[str, bytes] = {}
            labels: set[str] = set()
            for shard_files, shard_jobs, shard_probes, shard_labels in shards:
                files.update(shard_files)
                out.jobs += shard_jobs
                out.probes += shard_probes
                labels |= shard_labels
    finally:
        _inventory = None
    out.apart = frozenset(labels)
    return {**render(out), **files}


def _worker_start(parent: int) -> None:
    """A worker leaves the interrupting to this process (Ctrl-C reaches the whole process group; the
    pool then ends its workers), and dies with it: a killed `vigil generate` leaves no worker behind
    to finish its shard and print the broken pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)      # PR_SET_PDEATHSIG
        if os.getppid() != parent:     # it died before prctl took effect
            os._exit(1)


def _shard(bounds: tuple[int, int]):
    """In a worker: the services inventory.services[lo:hi], planned and rendered."""
    inventory = _inventory
    services = inventory.services[slice(*bounds)]
    planned = plan_services(inventory, services)
    files = prometheus.rule_files(inventory.stack, [rf for rf, _ in planned])
    files.update(grafana.dashboard_files(service_dashboards(services)))
    return (files, [j for _, p in planned for j in p.jobs], [pr for _, p in planned for pr in p.probes],
            set().union(*(alert_label_names(rf) for rf, _ in planned)))
