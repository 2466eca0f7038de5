"""How much of the rendered tree is one service's files with another name: the evidence for sharing
tests and dashboards per shape (issue 18's levers), measured on the synthetic inventories of generate.py.

    .venv/bin/python benchmarks/shapes.py                   # 1,000 and 3,000 services (`make bench`)
    .venv/bin/python benchmarks/shapes.py --sizes 100,1000

Two services' rule files have one shape when the text of one is the other's with the service's name
(and, in the second count, its team's name) written in its stead. The promtool tests of the one,
renamed likewise, then test the other's rules: only one of them would need its tests written. That
premise is checked here, not assumed: for a few shapes of several services, `promtool test rules`
runs one member's renamed tests against another member's own rule file. Dashboards (http and job
services) likewise, per team, for services without panels of their own: one templated dashboard per
shape could stand for them. The figures say what such sharing would leave of the bytes Vigil writes
for the services, which still writes every service's own files.

What Vigil does share is the work: services whose entries differ only in their own strings (name,
team, targets, label values, URLs) are planned and rendered once per shape (render/shapes.py); the
last column counts those renders.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "generator"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from generate import table, write_inventory      # noqa: E402  the same inventories as the generate benchmark
from vigil import check      # noqa: E402
from vigil.dashboards import SERVICE_DASHBOARDS, service_dashboards      # noqa: E402
from vigil.plan import plan_services      # noqa: E402
from vigil.render import grafana, prometheus      # noqa: E402
from vigil.render.shapes import shapes      # noqa: E402
from vigil.validate import load_inventory      # noqa: E402

CHECKED = 5     # shapes whose renamed tests promtool runs against another member's rules


def _blank(text: bytes, names: list[str]) -> bytes:
    """The text with each name replaced by a byte no rendered file holds: the service's name first,
    so that a team's name inside it goes with it."""
    for i, name in enumerate(names):
        text = text.replace(name.encode(), bytes([i]))
    return text


def _rename(text: bytes, old: list[str], new: list[str]) -> bytes:
    text = _blank(text, old)
    for i, name in enumerate(new):
        text = text.replace(bytes([i]), name.encode())
    return text


def _shape(text: bytes, names: list[str]) -> bytes:
    return hashlib.sha1(_blank(text, names)).digest()


def _test_files(files: dict[str, bytes], rf) -> dict[str, bytes]:
    """The test files of a rule file, by path under prometheus/."""
    paths = (prometheus.test_path(rf.path, suite) for suite in {"", *(t.suite for t in rf.tests)})
    return {p: files[f"prometheus/{p}"] for p in paths if f"prometheus/{p}" in files}


def _renamed_tests_pass(rep, member, files: dict[str, bytes], names) -> tuple[bool, str]:
    """promtool test rules: the representative's tests, renamed, against the member's own rule file."""
    (s, rf), (m, mrf) = rep, member
    with tempfile.TemporaryDirectory() as d:
        prom = Path(d)
        (prom / mrf.path).parent.mkdir(parents=True)
        (prom / mrf.path).write_bytes(files[f"prometheus/{mrf.path}"])
        tests = []
        for path, text in _test_files(files, rf).items():
            path = _rename(path.encode(), names(s), names(m)).decode()
            (prom / path).parent.mkdir(parents=True, exist_ok=True)
            (prom / path).write_bytes(_rename(text, names(s), names(m)))
            tests.append(path)
        r = check._run("promtool", "test", "rules", *tests, cwd=prom)
    return r.returncode == 0, r.stdout + r.stderr


def measure(n: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        inv = load_inventory(write_inventory(n, Path(d))[0])
    planned = [(s, rf) for s, (rf, _) in zip(inv.services, plan_services(inv, inv.services))]
    files = prometheus.rule_files(inv.stack, [rf for _, rf in planned])
    out = {"services": n, "rule_bytes": sum(len(files[f"prometheus/{rf.path}"]) for _, rf in planned),
           "test_bytes": sum(len(t) for _, rf in planned for t in _test_files(files, rf).values())}
    for label, names in (("name", lambda s: [s.name]), ("team", lambda s: [s.name, s.team])):
        by_shape: dict[bytes, list] = {}
        for s, rf in planned:
            by_shape.setdefault(_shape(files[f"prometheus/{rf.path}"], names(s)), []).append((s, rf))
        out[f"rule_shapes_{label}"] = len(by_shape)
        out[f"test_bytes_{label}"] = sum(len(t) for (_, rf), *_ in by_shape.values()
                                         for t in _test_files(files, rf).values())
    # (shapes: by service and team name, the last and coarser count)
    shared = [members for members in by_shape.values() if len(members) > 1][:CHECKED]
    for members in shared:
        ok, output = _renamed_tests_pass(members[0], members[-1], files, names)
        if not ok:
            raise SystemExit(f"the tests of {members[0][0].name}, renamed, fail on the rules of "
                             f"{members[-1][0].name}:\n{output[-3000:]}")
    out["checked"] = len(shared)

    dashboarded = [s for s in inv.services if s.kind in SERVICE_DASHBOARDS]
    kept: dict[bytes, int] = {}
    total = 0
    for s, (_, dash) in zip(dashboarded, service_dashboards(dashboarded)):
        text = grafana.to_json(dash.to_dict())
        total += len(text)
        key = b"own:" + s.name.encode() if s.panels else s.team.encode() + _shape(text, [s.name])
        kept.setdefault(key, len(text))
    out.update(dashboards=len(dashboarded), own_panels=sum(bool(s.panels) for s in dashboarded),
               dashboard_shapes=len(kept), dashboard_bytes=total, dashboard_bytes_shared=sum(kept.values()))
    out["renders"] = len(shapes(inv.services))
    return out


def _mb(b: int) -> str:
    return f"{b / 1e6:.1f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,3000", help="comma-separated service counts")
    rows = [measure(int(x)) for x in ap.parse_args().sizes.split(",")]
    print("Shapes of the services' rendered files (inventory 'mix' of benchmarks/generate.py); MB = 10^6 bytes;\n"
          "'name' / '+team': one shape when only the service's name / also its team's name differs")
    head = ["services", "rule MB", "test MB", "rule shapes (name / +team)", "test MB if shared (name / +team)",
            "promtool: renamed tests pass", "dashboards (own panels)", "dashboard shapes", "dashboard MB -> shared",
            "renders (render/shapes.py)"]
    print(table(head, [[f"{r['services']:,}", _mb(r["rule_bytes"]), _mb(r["test_bytes"]),
                        f"{r['rule_shapes_name']:,} / {r['rule_shapes_team']:,}",
                        f"{_mb(r['test_bytes_name'])} / {_mb(r['test_bytes_team'])}",
                        f"{r['checked']} shapes",
                        f"{r['dashboards']:,} ({r['own_panels']:,})", f"{r['dashboard_shapes']:,}",
                        f"{_mb(r['dashboard_bytes'])} -> {_mb(r['dashboard_bytes_shared'])}",
                        f"{r['renders']:,}"] for r in rows]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
