"""Plan and render on every core (render/shards.py): forked workers render shards of the services,
and the tree is byte for byte the one a single process renders."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DATA, ROOT, run_vigil
from native import wait_for
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


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat after the command's name: [state, ppid, ...]; [] once it is gone."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _children(pid: int) -> set[int]:
    return {int(p.name) for p in Path("/proc").glob("[0-9]*") if _stat(int(p.name))[1:2] == [str(pid)]}


def _running(pid: int) -> bool:
    return _stat(pid)[:1] not in ([], ["Z"])      # an exited orphan may wait as a zombie for its reaper


def _generating(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    """`vigil generate` of enough services that its workers render for seconds, once they run."""
    inventory, _ = write_inventory(30 * shards.SHARD, tmp_path)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "vigil", "generate", "-i", str(inventory), "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            # as from a terminal: Ctrl-C raises KeyboardInterrupt (a shell's background job ignores it)
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    wait_for("two render workers", lambda: len(_children(proc.pid)) >= 2 or proc.poll() is not None, timeout=120)
    assert proc.poll() is None, "generate ended before its workers could be seen"
    return proc, out


def test_a_killed_generate_leaves_no_worker_behind(tmp_path):
    proc, out = _generating(tmp_path)
    workers = _children(proc.pid)
    proc.kill()
    # stderr reaches its end once every process holding it, each worker too, has exited
    _, err = proc.communicate(timeout=60)
    assert err == "", err           # no worker lived on to finish its shard and hit the broken pipe
    # (their descriptors close as they exit: the exit itself may take a moment longer)
    wait_for("the workers to end with their parent", lambda: not [w for w in workers if _running(w)], timeout=30)
    assert not out.exists()         # nothing is written before every shard is back


def test_ctrl_c_ends_generate_and_its_workers_quietly(tmp_path):
    proc, out = _generating(tmp_path)
    os.killpg(proc.pid, signal.SIGINT)          # what the terminal sends: the whole process group
    stdout, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (proc.returncode, stdout, err)
    assert err == "" and not out.exists(), err
