"""`vigil check`: the real tools over a rendered tree — promtool checks the
Prometheus config and runs every rule test, amtool checks the Alertmanager
config and that every route case reaches exactly its receivers."""

from __future__ import annotations

import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from . import webauth

INSTALL = ("install it: `make tools` (Debian/Ubuntu as root), or `apt-get install --no-install-recommends "
           "prometheus prometheus-alertmanager prometheus-node-exporter prometheus-blackbox-exporter "
           "prometheus-postgres-exporter prometheus-mysqld-exporter prometheus-redis-exporter "
           "prometheus-nginx-exporter prometheus-pushgateway chromium postgresql mariadb-server redis-server nginx "
           "openssl`")


TOOLS = ("promtool", "amtool")


class MissingTool(Exception):
    pass


def _run(tool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    path = shutil.which(tool)
    if path is None:
        raise MissingTool(f"{tool} is not on PATH: {INSTALL}")
    return subprocess.run([path, *args], cwd=cwd, capture_output=True, text=True)


def rule_test_files(prom: Path) -> list[str]:
    """Every promtool test file under prometheus/, relative to it, sorted."""
    return sorted(str(p.relative_to(prom)) for p in (prom / "tests").rglob("*.test.yml"))


def test_rules(prom: Path, tests: list[str], workers: int | None = None) -> tuple[bool, str]:
    """`promtool test rules` over every test file, on every core: promtool runs the files of one call
    one after another, and a tree of 1,000 services holds over 1,000 of them. The files go in batches
    (about eight per core, so that a slow file, such as the DORA scenarios' week of minutes, does not
    hold up a share decided in advance) to as many promtools at a time as there are cores; the
    outputs are joined in the files' order."""
    workers = max(1, min(len(tests), workers or os.cpu_count() or 1))
    size = -(-len(tests) // (workers * 8)) or 1
    batches = [tests[i:i + size] for i in range(0, len(tests), size)] or [[]]
    with ThreadPoolExecutor(workers) as pool:
        runs = list(pool.map(lambda batch: _run("promtool", "test", "rules", *batch, cwd=prom), batches))
    return all(r.returncode == 0 for r in runs), "".join(r.stdout + r.stderr for r in runs)


def checks(root: Path):
    """Yield (what, ok, output) for every check, in order."""
    root = root.resolve()     # the tools run inside the tree
    prom = root / "prometheus"
    r = _run("promtool", "check", "config", "--lint=all", "--lint-fatal", "prometheus.yml", cwd=prom)
    yield "promtool check config", r.returncode == 0, r.stdout + r.stderr
    # The web configs are secrets (`vigil secrets` writes them, not generate): checked where they are.
    web = [p for p in webauth.PARTS if (root / p / webauth.WEB_CONFIG).is_file()]
    if web:
        r = _run("promtool", "check", "web-config", *(f"{p}/{webauth.WEB_CONFIG}" for p in web), cwd=root)
        yield f"promtool check web-config ({', '.join(web)})", r.returncode == 0, r.stdout + r.stderr
    tests = rule_test_files(prom)
    ok, output = test_rules(prom, tests)
    yield f"promtool test rules ({len(tests)} files)", ok, output
    am = root / "alertmanager"
    r = _run("amtool", "check-config", "alertmanager.yml", cwd=am)
    yield "amtool check-config", r.returncode == 0, r.stdout + r.stderr
    cases = yaml.safe_load((am / "tests" / "routes.yml").read_text())["cases"]
    failed = []
    for case in cases:
        labels = [f"{k}={v}" for k, v in case["labels"].items()]
        r = _run("amtool", "config", "routes", "test", "--config.file=alertmanager.yml",
                 f"--verify.receivers={','.join(case['receivers'])}", *labels, cwd=am)
        if r.returncode != 0:
            failed.append(f"{' '.join(labels)}: expected {','.join(case['receivers'])}, got {r.stdout.strip()}")
    yield f"amtool config routes test ({len(cases)} cases)", not failed, "\n".join(failed)


def run(root: Path) -> int:
    if not (root / "prometheus" / "prometheus.yml").is_file():
        print(f"FAIL {root}: no rendered tree here (run `vigil generate -o {root}` first)")
        return 1
    ok = True
    try:
        for what, passed, output in checks(root):
            print(f"{'ok  ' if passed else 'FAIL'} {what}")
            if not passed:
                ok = False
                print(output.rstrip())
    except MissingTool as e:
        print(f"FAIL {e}")
        return 1
    return 0 if ok else 1
