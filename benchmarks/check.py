"""`vigil check`'s rule tests at scale: `promtool test rules` over every test file of N services,
all in one promtool call (how `vigil check` ran them before) and in batches, one promtool per core
at a time (check.test_rules, how it runs them now).

    .venv/bin/python benchmarks/check.py                     # 100 services, 3 runs (`make bench`)
    .venv/bin/python benchmarks/check.py --sizes 30,300 --runs 3

The inventory is benchmarks/generate.py's `mix` (a realistic mix of kinds), rendered once per size
with the real `vigil generate`. The two ways take turns, run by run, so that a drift of the shared
machine's speed falls on both; each figure is min / median / max over the runs, the ratio taken run
by run. Wall seconds: what the person waiting for `make check` sees. Exit 0 unless something fails.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "generator"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from generate import mmm, table, write_inventory  # noqa: E402
from vigil import check  # noqa: E402


def _one_call(prom: Path, tests: list[str]) -> tuple[bool, str]:
    r = check._run("promtool", "test", "rules", *tests, cwd=prom)
    return r.returncode == 0, r.stdout + r.stderr


def measure(n: int, runs: int, tmp: Path) -> dict:
    inventory, _ = write_inventory(n, tmp)
    out = tmp / f"out-{n}"
    gen = subprocess.run([sys.executable, "-m", "vigil", "generate", "-i", str(inventory), "-o", str(out)],
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "generator")})
    if gen.returncode != 0:
        raise SystemExit(f"vigil generate of {n} services failed:\n{gen.stderr}")
    prom = out / "prometheus"
    tests = check.rule_test_files(prom)
    cores = os.cpu_count() or 1
    one, split = [], []
    for r in range(runs):
        for way, times in ((_one_call, one), (check.test_rules, split)):
            t = time.perf_counter()
            ok, output = way(prom, tests)
            times.append(time.perf_counter() - t)
            if not ok:
                raise SystemExit(f"promtool test rules failed on {n} services:\n{output[-4000:]}")
        print(f"  run {r + 1}/{runs}, {n:,} services: one promtool {one[-1]:.1f} s, {cores} at a time "
              f"{split[-1]:.1f} s", flush=True)
    return {"services": n, "files": len(tests), "one": one, "split": split, "cores": cores}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100", help="comma-separated service counts (default 100)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each way per size (default 3)")
    args = ap.parse_args(argv)
    try:
        sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s})
    except ValueError:
        ap.error(f"--sizes: expected numbers like 30,300, got {args.sizes!r}")
    if not sizes or min(sizes) < 1 or args.runs < 1:
        ap.error("give at least one positive size and at least one run")
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="vigil-bench-check-") as tmp:
        rows = [measure(n, args.runs, Path(tmp)) for n in sizes]
    print(f"\n`vigil check`'s rule tests (promtool test rules), {rows[0]['cores']} CPUs, load average {load:.1f} "
          f"at start: wall seconds, min / median / max of {args.runs} run{'s' * (args.runs > 1)}")
    head = ["services", "test files", "one promtool s", "one per core s", "speed-up", "s per service (per core)"]
    body = []
    for row in rows:
        ratios = [a / b for a, b in zip(row["one"], row["split"])]
        body.append([f"{row['services']:,}", f"{row['files']:,}", mmm(row["one"], ".1f"), mmm(row["split"], ".1f"),
                     mmm(ratios, ".2f"), mmm([t / row["services"] for t in row["split"]], ".3f")])
    print(table(head, body))
    return 0


if __name__ == "__main__":
    sys.exit(main())
