"""Plan and render on every core (render/shards.py): forked workers render shards of the services,
and the tree is byte for byte the one a single process renders."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from conftest import DATA, ROOT, run_vigil
from vigil import plan as plan_module
from vigil.plan import plan
from vigil.render import render, shards
from vigil.validate import load_inventory
from vigil.write import with_manifest

sys.path.insert(0, str(ROOT / "benchmarks"))
from generate import write_inventory  # noqa: E402  (its realistic mix of kinds, presets and overrides)


def _worker_pids(monkeypatch, tmp_path: Path) -> Path:
    """Each call of plan_services (in the workers: the fork keeps this patch) notes its process."""
    seen = tmp_path / "pids"
    seen.mkdir()
    original = shards.plan_services

    def noting(inventory, services):
        (seen / str(os.getpid())).touch()
        return original(inventory, services)

    monkeypatch.setattr(shards, "plan_services", noting)
    return seen


@pytest.mark.parametrize("inventory,shard", [(DATA / "full.yml", 2), (ROOT / "inventory.yml", 1)],
                         ids=["full", "example"])
def test_shards_render_the_same_bytes_as_one_process(inventory, shard, monkeypatch, tmp_path):
    inv = load_inventory(str(inventory))
    assert len(inv.services) >= 2 * shard
    whole = render(plan(inv))
    seen = _worker_pids(monkeypatch, tmp_path)
    # small shards over three workers: every service's files come from a worker (full.yml's last
    # shard short); full.yml reports errors to the tracker (its alerts join the services' rule files)
    sharded = shards.render_inventory(inv, workers=3, shard=shard)
    assert sharded == whole
    pids = {int(p.name) for p in seen.iterdir()}
    assert len(pids) >= 2 and os.getpid() not in pids, pids


def test_one_core_or_a_small_inventory_stays_in_one_process(monkeypatch, tmp_path):
    inv = load_inventory(str(DATA / "full.yml"))
    seen = _worker_pids(monkeypatch, tmp_path)
    called = []
    monkeypatch.setattr(shards, "plan", lambda i: called.append(i) or plan(i))
    assert shards.render_inventory(inv, workers=1, shard=2) == render(plan(inv))
    assert shards.render_inventory(inv, workers=8) == render(plan(inv))     # under two shards of SHARD
    assert len(called) == 2 and not list(seen.iterdir())


def test_vigil_generate_of_hundreds_of_services_renders_in_workers_what_one_process_does(tmp_path):
    inventory, _ = write_inventory(2 * shards.SHARD + 37, tmp_path)     # three shards, the last short
    out = tmp_path / "out"
    result = run_vigil("generate", "-i", str(inventory), "-o", str(out))
    assert result.returncode == 0, result.stderr
    expected = with_manifest(render(plan(load_inventory(str(inventory)))))
    written = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert {p: written[p] for p in expected} == expected
    assert set(written) - set(expected) <= {".vigil-cache", ".vigil-lock"}, set(written) - set(expected)


def test_the_plan_of_every_service_is_the_plan_of_the_services_one_by_one():
    """What the shards rely on: a service's plan does not depend on the others."""
    inv = load_inventory(str(DATA / "full.yml"))
    together = plan_module.plan_services(inv, inv.services)
    alone = [p for s in inv.services for p in plan_module.plan_services(inv, [s])]
    assert together == alone
