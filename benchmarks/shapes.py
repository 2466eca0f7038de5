"""How much of the rendered tree is one service's files with another name: the evidence for sharing
tests and dashboards per shape (issue 18's levers), measured on the synthetic inventories of generate.py.

    .venv/bin/python benchmarks/shapes.py                   # 1,000 and 3,000 services (`make bench`)
    .venv/bin/python benchmarks/shapes.py --sizes 100,1000

Two services' rule files have one shape when the text of one is the other's with the service's name
(and, in the second count, its team's name) written in its stead: the promtool tests of the one would
then prove the other's rules renamed, and only one of them would need its tests written. Dashboards
(http and job services) likewise, per team, for services without panels of their own: one templated
dashboard per shape could stand for them. The figures say what such sharing would leave of the
bytes Vigil writes for the services; nothing is shared today.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "generator"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from generate import synthesize      # noqa: E402  the same inventories as the generate benchmark
from vigil.dashboards import service_dashboards      # noqa: E402
from vigil.plan import plan_services      # noqa: E402
from vigil.render import grafana, prometheus      # noqa: E402
from vigil.validate import load_inventory      # noqa: E402


def _key(text: bytes, *names: str) -> bytes:
    """The text's shape: each name (the service's first, so that a team named inside it stays
    whole) replaced by a byte no rendered file holds."""
    for i, name in enumerate(names):
        text = text.replace(name.encode(), bytes([i]))
    return hashlib.sha1(text).digest()


def measure(n: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "inventory.yml")
        Path(path).write_text(yaml.safe_dump(synthesize(n), sort_keys=False))
        inv = load_inventory(path)
    planned = plan_services(inv, inv.services)
    files = prometheus.rule_files(inv.stack, [rf for rf, _ in planned])
    out = {"services": n, "rule_bytes": 0, "test_bytes": 0}
    for label, with_team in (("name", False), ("name+team", True)):
        seen: set[bytes] = set()
        kept = 0
        for s, (rf, _) in zip(inv.services, planned):
            rules = files[f"prometheus/{rf.path}"]
            tests = [files.get(f"prometheus/tests/{suite}services/{s.name}.test.yml", b"") for suite in ("", "slo/")]
            if not with_team:
                out["rule_bytes"] += len(rules)
                out["test_bytes"] += sum(map(len, tests))
            key = _key(rules, s.name, *((s.team,) if with_team else ()))
            if key not in seen:
                seen.add(key)
                kept += sum(map(len, tests))
        out[f"rule_shapes_{label}"] = len(seen)
        out[f"test_bytes_{label}"] = kept
    dashboarded = [s for s in inv.services if s.kind in ("http", "job")]
    seen, kept, total, own = set(), 0, 0, 0
    for s, (_, dash) in zip(dashboarded, service_dashboards(dashboarded)):
        text = grafana.to_json(dash.to_dict())
        total += len(text)
        key = b"own" + s.name.encode() if s.panels else s.team.encode() + _key(text, s.name)
        own += bool(s.panels)
        if key not in seen:
            seen.add(key)
            kept += len(text)
    out.update(dashboards=len(dashboarded), own_panels=own, dashboard_shapes=len(seen), dashboard_bytes=total,
               dashboard_bytes_shared=kept)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,3000", help="comma-separated service counts")
    sizes = [int(x) for x in ap.parse_args().sizes.split(",")]
    rows = [measure(n) for n in sizes]
    mb = lambda b: f"{b / 1e6:.1f}"      # noqa: E731
    print("Shapes of the services' rendered files (inventory 'mix' of benchmarks/generate.py); MB = 10^6 bytes")
    print(f"{'services':>8}  {'rule MB':>7}  {'test MB':>7}  {'rule shapes (name / +team)':>26}  "
          f"{'test MB if shared (name / +team)':>32}  {'dashboards (own panels)':>23}  {'shapes':>6}  "
          f"{'dash MB -> shared':>17}")
    for r in rows:
        print(f"{r['services']:>8,}  {mb(r['rule_bytes']):>7}  {mb(r['test_bytes']):>7}  "
              f"{r['rule_shapes_name']:>12,} / {r['rule_shapes_name+team']:>11,}  "
              f"{mb(r['test_bytes_name']):>15} / {mb(r['test_bytes_name+team']):>14}  "
              f"{r['dashboards']:>11,} ({r['own_panels']:>8,})  {r['dashboard_shapes']:>6,}  "
              f"{mb(r['dashboard_bytes']):>7} -> {mb(r['dashboard_bytes_shared']):>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
