"""Plan and render on every core. A service's plan and its own files (rule file, tests, dashboard)
need only the stack and the service, so shards of the services are planned and rendered in forked
workers; here, the stack's part is planned and rendered from what they send back (their jobs,
probes and alert label names). The bytes are the same as render(plan(inventory)) gives.

Services of one shape (render/shapes.py) are planned and rendered once, as their stand-in.

Each worker takes shards of about SHARD services in turn, and sends each shard's files as soon as it is
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
from ..inventory import Inventory, Service
from ..plan import alert_label_names, plan, plan_services, plan_stack
from . import grafana, prometheus, render
from .shapes import Shape, expand, shapes

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
            rendered: list = [None] * n
            for shard_rendered in pool.imap_unordered(_shard, _shards(shapes(inventory.services), shard)):
                for i, service_rendered in shard_rendered:
                    rendered[i] = service_rendered
            out = plan_stack(inventory)
    finally:
        _inventory = None
    files: dict[str, bytes] = {}
    labels: set[str] = set()
    for service_files, jobs, probes, service_labels in rendered:     # in inventory order: the jobs and probes keep it
        files.update(service_files)
        out.jobs += jobs
        out.probes += probes
        labels |= service_labels
    out.apart = frozenset(labels)
    return {**render(out), **files}


def _shards(all_shapes: list[Shape], size: int) -> list[list[Shape]]:
    """The shapes in runs of about `size` services. A shape of more (a fleet of like hosts) is dealt
    out in parts of `size`, each rendering the stand-in again: every worker has its share."""
    out, run, members = [], [], 0
    for shape in all_shapes:
        for lo in range(0, len(shape.members), size):
            run.append(Shape(shape.stand_in, shape.members[lo:lo + size]))
            members += len(run[-1].members)
            if members >= size:
                out.append(run)
                run, members = [], 0
    return out + [run] * bool(run)


def _worker_start(parent: int) -> None:
    """A worker leaves the interrupting to this process (Ctrl-C reaches the whole process group; the
    pool then ends its workers), and dies with it: a killed `vigil generate` leaves no worker behind
    to finish its shard and print the broken pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)      # PR_SET_PDEATHSIG
        if os.getppid() != parent:     # it died before prctl took effect
            os._exit(1)


def _shard(run: list[Shape]) -> list[tuple[int, tuple]]:
    """In a worker: each service of the shapes, planned and rendered, by its index."""
    return [out for shape in run for out in expand(shape, _service(shape.stand_in), _service)]


def _service(service: Service) -> tuple[dict[str, bytes], list, list, set[str]]:
    """A service's own files, its scrape jobs and probes, and the label names of its alerts."""
    inventory = _inventory
    [(rf, p)] = plan_services(inventory, [service])
    files = prometheus.rule_files(inventory.stack, [rf])
    files.update(grafana.dashboard_files(service_dashboards([service])))
    return files, p.jobs, p.probes, alert_label_names(rf)
