"""The overview's queries at 1,000 services: p50/p95 per query against the real Prometheus
holding hours of the series the overview reads, backfilled.

    .venv/bin/python benchmarks/dashboards.py                 # 1,000 services, 6 h of data
    .venv/bin/python benchmarks/dashboards.py --services 200 --hours 2 --runs 5

The synthetic inventory of benchmarks/generate.py is rendered by Vigil; its overview
dashboard's queries are run as Grafana would (All teams; range panels over the whole data
at a 30 s step, $__rate_interval 2m) against a Prometheus whose TSDB was made by
`promtool tsdb create-blocks-from openmetrics` from synthetic series: for every service its
`up` per target (or `probe_success`), for every http one the RED recording rules' series
(and the SLO ones where it has an SLO), and ALERTS for some. A tenth of the http services
serve no traffic, a tenth a trickle, so that the ranking's traffic floor has work to do.

A benchmark reports, it does not gate: exit 0 with the numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from conftest import render_tree, tool  # noqa: E402
from dashboard_queries import expand, panels, prom_targets  # noqa: E402
from generate import write_inventory  # noqa: E402
from native import Process, free_port, wait_for  # noqa: E402
from vigil import slo  # noqa: E402
from vigil.kinds import http  # noqa: E402
from vigil.kinds.base import PROBE_JOB  # noqa: E402

STEP = 30                       # seconds between samples, and the range queries' step
# What the overview's graphs ran before they ranked once (`@ end()`): for comparison.
BEFORE = {"Requests": f"topk(10, {http.REQUESTS}{{team=~\".*\"}})",
          "Error ratio": f"topk(10, {http.ERROR_RATIO}{{team=~\".*\"}})",
          "p95 latency": f"topk(10, {http.LATENCY.format(q='p95')}{{team=~\".*\"}})"}
VALUES = {"team": ".*", "__rate_interval": "2m", "__interval": "30s", "__auto": "2m"}


def series(inventory: dict, rng: random.Random) -> list[tuple[str, dict, callable]]:
    """(metric, labels, value at sample i) for everything the overview reads."""
    out = []
    for s in inventory["services"]:
        base = {"service": s["name"], "team": s["team"]}
        if s["kind"] == "probe":
            out.append(("probe_success", {**base, "job": PROBE_JOB, "kind": "probe", "instance": s["url"]},
                        lambda i: 1.0))
            continue
        for target in s.get("targets", [f"{s['name']}:9999"]):
            down = rng.random() < 0.02
            out.append(("up", {**base, "job": s["name"], "kind": s["kind"], "instance": target},
                        lambda i, d=down: 0.0 if d and i % 50 > 40 else 1.0))
        if rng.random() < 0.03:
            out.append(("ALERTS", {**base, "alertname": "HighErrorRate", "alertstate": "firing",
                                   "severity": "critical"}, lambda i: 1.0))
        if s["kind"] != "http":
            continue
        r = rng.random()
        rate = 0.0 if r < 0.1 else 0.005 if r < 0.2 else rng.uniform(0.5, 200)
        bad = rng.choice([0.0, 0.001, 0.01, 0.2])
        out += [(http.REQUESTS, base, lambda i, q=rate: q * (1 + 0.2 * math.sin(i / 20))),
                (http.ERRORS, base, lambda i, q=rate, b=bad: q * b),
                (http.ERROR_RATIO, base, lambda i, q=rate, b=bad: b if q else math.nan)]
        for name, _ in http.QUANTILES:
            out.append((http.LATENCY.format(q=name), base,
                        lambda i, q=rate: rng.uniform(0.01, 2) if q else math.nan))
        if "slo" in s:
            objective = {**base, "slo": "availability"}
            out += [(slo.BUDGET_LEFT, objective, lambda i: rng.uniform(-0.5, 1)),
                    (slo.ERROR_RATIO.format(w=slo.PERIOD), objective, lambda i: rng.uniform(0, 0.01))]
    return out


def openmetrics(path: Path, all_series, start: int, samples: int) -> int:
    """Write the series as OpenMetrics (grouped by metric family, as the format wants)."""
    by_metric: dict[str, list] = {}
    for metric, labels, value in all_series:
        by_metric.setdefault(metric, []).append((labels, value))
    lines = 0
    with path.open("w") as f:
        for metric, members in by_metric.items():
            f.write(f"# TYPE {metric} gauge\n")
            for labels, value in members:
                text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
                for i in range(samples):
                    v = value(i)
                    f.write(f"{metric}{{{text}}} {'NaN' if math.isnan(v) else repr(v)} {start + i * STEP}\n")
                    lines += 1
        f.write("# EOF\n")
    return lines


def run(url: str, expr: str, instant: bool, start: int, end: int) -> tuple[float, int]:
    params = {"query": expr, "time": end} if instant else {"query": expr, "start": start, "end": end, "step": STEP}
    data = urllib.parse.urlencode(params).encode()
    endpoint = "query" if instant else "query_range"
    t0 = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(f"{url}/api/v1/{endpoint}", data=data), timeout=120) as r:
        answer = json.loads(r.read())
    took = time.perf_counter() - t0
    assert answer["status"] == "success", answer
    return took, len(answer["data"]["result"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--hours", type=float, default=6)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="vigil-bench-dash-") as tmp:
        tmp = Path(tmp)
        inv_path, kinds = write_inventory(args.services, tmp)
        import yaml
        inventory = yaml.safe_load(inv_path.read_text())
        tree = render_tree(inv_path, tmp / "tree")
        overview = json.loads((tree / "grafana/dashboards/vigil/vigil-overview.json").read_text())

        samples = int(args.hours * 3600 / STEP)
        end = int(time.time()) // STEP * STEP - 60
        start = end - (samples - 1) * STEP
        all_series = series(inventory, random.Random(7))
        t0 = time.perf_counter()
        lines = openmetrics(tmp / "data.om", all_series, start, samples)
        data = tmp / "prom-data"
        subprocess.run([tool("promtool"), "tsdb", "create-blocks-from", "openmetrics", "-q", str(tmp / "data.om"),
                        str(data)], check=True, timeout=3600)
        (tmp / "data.om").unlink()
        backfill = time.perf_counter() - t0
        print(f"{args.services} services ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}): "
              f"{len(all_series):,} series, {lines:,} samples over {args.hours:g} h, written and backfilled "
              f"in {backfill:.0f} s")

        (tmp / "prometheus.yml").write_text("global: {scrape_interval: 15s}\n")
        port = free_port()
        prom = Process([tool("prometheus"), f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={data}",
                        f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=30d"],
                       tmp, tmp / "prometheus.log").start()
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for("Prometheus with the backfilled blocks", lambda: run(url, "count(up)", True, start, end)[1], 300,
                     every=1, proc=prom)
            print(f"\n{'panel':<42} {'kind':<7} {'series':>6} {'p50 ms':>8} {'p95 ms':>8}")

            def measure(title: str, expr: str, instant: bool) -> None:
                times, n = [], 0
                for _ in range(args.runs):
                    took, n = run(url, expr, instant, start, end)
                    times.append(took * 1000)
                times.sort()
                p95 = times[min(len(times) - 1, math.ceil(0.95 * len(times)) - 1)]
                print(f"{title[:42]:<42} {'instant' if instant else 'range':<7} {n:>6} "
                      f"{statistics.median(times):>8.1f} {p95:>8.1f}")
            for p in panels(overview):
                for t in prom_targets(p):
                    expr = expand(t["expr"], {**VALUES, "__range": f"{int(args.hours * 3600)}s"})
                    measure(f"{p['title']} {t['refId']}" if len(p["targets"]) > 1 else p["title"], expr, t["instant"])
                    if not t["instant"] and "@ end()" in expr and p["title"] in BEFORE:
                        measure("  (before: topk at every step)", BEFORE[p["title"]], False)
        finally:
            prom.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
