"""Benchmark rule evaluation: the real Prometheus 2.42 running the rendered rules of N http services,
each with an availability and a latency SLO, over backfilled data.

    .venv/bin/python benchmarks/rules.py                   # N = 10, 100, 1,000 and the "before" run (`make bench`)
    .venv/bin/python benchmarks/rules.py --sizes 10,100 --runs 3
    .venv/bin/python benchmarks/rules.py --quick           # smoke run: N = 10, 1 day of tiles, one run, no "before"
    .venv/bin/python benchmarks/rules.py --days 1000=7     # days of recorded tiles per N (default 30, 7 at 1,000)

For each N a synthetic inventory (prometheus-client preset, scrape 15s, retention 30d, 10 teams; every
service http with `slo: {availability: 99.5, latency: {threshold: 250ms, objective: 99}}`) is rendered
with `vigil generate -o TMP`, and its rule files (the stack's and every service's) are loaded by a
Prometheus of its own on 127.0.0.1 with this data (`promtool tsdb create-blocks-from openmetrics`):

  tiles   the recorded one-minute tiles service:slo_requests:increase1m / service:slo_errors:increase1m
          {service, team, slo} at 1-minute resolution for the last `days` days (what the `:slo` and
          `:slo-long` groups' sum_over_time windows read; synthetic values of realistic size and
          noise, not derived from the raw counters);
  raw     every service's raw series (3 routes, statuses 200/404/500, prometheus-client's 14 buckets +
          +Inf, _count, _sum: 58 series) at the scrape interval for the last RAW_SPAN (what the main
          groups' 5m/30m windows and the tiles' [1m] increases read), ending at the backfill;
  live    a fake exporter in this process serves the same counters (same formula of time) to a 15s
          scrape, so the raw windows stay full while Prometheus runs.

"before": the same inventory at N=10 (--before-n) rendered by the generator of commit BEFORE_REV
(`git archive`, run with PYTHONPATH), whose SLO windows (5m ... 30d) are all `rate(raw[W])` in the
main group at the scrape interval, over raw history of --before-days days (default 7) for the series
those windows select (requests_total, _count, the le="0.25" bucket; the other buckets only for
RAW_SPAN: no window of the SLOs reads them). Its [30d] windows then hold `before-days` of samples,
so its per-service cost is also given scaled to 30 days (cost ~ samples read, 87% in the [30d] rules).

Measured, per run, from Prometheus's own /metrics: once every group has evaluated once (warm-up:
the first reads come from disk), until every group has evaluated --rounds more times:
  cores         d process_cpu_seconds_total / d wall (rules + scrape + TSDB + GC: the whole server)
  main / slo    prometheus_rule_group_last_duration_seconds of each evaluation seen, p50 and max,
                of the per-service main groups (interval 15s), of the `:slo` groups (interval 1m: the
                tiles and the windows under a day) and of the `:slo-long` groups (4m: 1d, 3d, 30d)
  eval share    sum over groups of mean duration / interval: cores' worth of rule evaluation (wall
                time, so inflated on a busy machine)
  missed        d prometheus_rule_group_iterations_missed_total (all groups)
  done          evaluations done / scheduled (prometheus_rule_group_iterations_total counts the missed):
                below 100% the server did not get the CPU its rules need, so `cores` is what it got
  RSS, head     process_resident_memory_bytes, prometheus_tsdb_head_series at the end
  ms/svc/15s    CPU per service per 15 s round: cores * 15 s / N
Each figure: min / median / max over the runs (the tiles are backfilled once per N, the raw window
fresh for every run). A benchmark reports, it does not gate: exit 0 even when the target is missed.
"""

from __future__ import annotations

import argparse
import http.server
import json
import socket
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "generator"))
from vigil.presets import PROMETHEUS_CLIENT_BUCKETS  # noqa: E402

DEFAULT_SIZES = (10, 100, 1_000)
DEFAULT_DAYS = {10: 30, 100: 30, 1_000: 7}
TARGET = (1_000, 1.0)              # 1,000 services with two SLOs each within one core, zero missed iterations
BEFORE_REV = "2b120fb"             # the last commit whose SLO windows were all rate(raw[W]) at the scrape interval
SCRAPE = 15                        # seconds
TILE = 60
RAW_SPAN = 32 * 60                 # the longest raw window (30m) and two scrapes of margin
TEAMS = ["payments", "checkout", "catalog", "search", "identity", "platform", "data", "mobile", "growth",
         "logistics"]
ROUTES = (("/", 0.6, ("200", "404", "500")), ("/api/items", 0.3, ("200", "500")), ("/checkout", 0.1, ("200", "500")))
STATUS_SHARE = {"200": 0.985, "404": 0.013, "500": 0.002}
# Share of requests answered within each bucket: a log-normal around 60 ms, 0.5% over 250 ms.
LATENCY_CDF = {b: 0.5 * (1 + math.erf(math.log(b / 0.06) / (0.55 * math.sqrt(2)))) for b in PROMETHEUS_CLIENT_BUCKETS}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def name_of(i: int) -> str:
    return f"svc-{i:04d}"


def inventory(n: int) -> dict:
    return {
        "version": 1,
        "stack": {"name": "bench", "environment": "prod", "team": "platform", "scrape_interval": f"{SCRAPE}s",
                  "retention": "30d", "grafana_url": "https://grafana.example.com"},
        "receivers": [{"name": "ops", "slack": {"channel": "#ops", "webhook": "SLACK_WEBHOOK_URL"}}],
        "routing": {"default_receiver": "ops", "group_by": ["alertname", "service"]},
        "teams": [{"name": t, "notify": {"critical": ["ops"], "warning": ["ops"]}} for t in TEAMS],
        "services": [{"name": name_of(i), "team": TEAMS[i % len(TEAMS)], "kind": "http",
                      "targets": [f"{name_of(i)}:8000"], "instrumentation": "prometheus-client",
                      "slo": {"availability": 99.5, "latency": {"threshold": "250ms", "objective": 99.0}}}
                     for i in range(n)],
    }


def render(n: int, work: Path, generator: Path | None = None) -> Path:
    """`vigil generate -o` into work/render[-before]; the rule files' directory."""
    import yaml
    inv = work / "inventory.yml"
    inv.write_text(yaml.safe_dump(inventory(n), sort_keys=False))
    out = work / ("render-before" if generator else "render")
    env = {**os.environ, "PYTHONPATH": str(generator)} if generator else None
    proc = subprocess.run([sys.executable, "-m", "vigil", "generate", "-i", str(inv), "-o", str(out)],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"vigil generate failed:\n{proc.stdout}{proc.stderr}")
    return out / "prometheus" / "rules"


def old_generator(work: Path) -> Path:
    """The generator package of BEFORE_REV, unpacked under work."""
    dest = work / f"generator-{BEFORE_REV}"
    if not dest.exists():
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", BEFORE_REV, "generator"], capture_output=True,
                                 check=True).stdout
        tmp = work / "old.tar"
        tmp.write_bytes(archive)
        with tarfile.open(tmp) as tar:
            tar.extractall(work / "old", filter="data")
        (work / "old" / "generator").rename(dest)
    return dest


# ---------------------------------------------------------------- the raw series, as a formula of time


class Raw:
    """Every raw series of the N services: labels and a rate; counter(t) = floor(rate * (t - origin))."""

    def __init__(self, n: int, origin: float):
        self.origin = origin
        self.series: list[tuple[str, float, bool]] = []     # (name{labels}, per second, long history)
        for i in range(n):
            svc, team = name_of(i), TEAMS[i % len(TEAMS)]
            base = (f'job="{svc}",instance="{svc}:8000",service="{svc}",team="{team}",kind="http"')
            rps = 2 + (i * 7919 % 19)          # 2..20 requests a second
            for route, share, statuses in ROUTES:
                r = rps * share
                for status in statuses:
                    self.series.append((f'http_requests_total{{{base},method="GET",route="{route}",status="{status}"}}',
                                        r * STATUS_SHARE[status], True))
                hist = f"http_request_duration_seconds"
                for b in PROMETHEUS_CLIENT_BUCKETS:
                    le = repr(float(b))
                    self.series.append((f'{hist}_bucket{{{base},route="{route}",le="{le}"}}', r * LATENCY_CDF[b],
                                        le == "0.25"))
                self.series.append((f'{hist}_bucket{{{base},route="{route}",le="+Inf"}}', r, False))
                self.series.append((f"{hist}_count{{{base},route=\"{route}\"}}", r, True))
                self.series.append((f"{hist}_sum{{{base},route=\"{route}\"}}", r * 0.07, False))

    def exposition(self, t: float) -> bytes:
        dt = t - self.origin
        return "".join([f"{s} {math.floor(r * dt)}\n" for s, r, _ in self.series]).encode()

    def write(self, path: Path, start: int, end: int, only_long: bool = False) -> int:
        """OpenMetrics of every series (only_long: those a SLO window selects) at the scrape interval
        over [start, end]. The number of samples."""
        count = 0
        with open(path, "w") as f:
            for s, r, long in self.series:
                if only_long and not long:
                    continue
                steps = range(start, end + 1, SCRAPE)
                o = self.origin
                f.write("".join([f"{s} {math.floor(r * (t - o))} {t}\n" for t in steps]))
                count += len(steps)
            f.write("# EOF\n")
        return count


def write_tiles(n: int, path: Path, days: int, end: int) -> int:
    """OpenMetrics of the 4 tile series of each service at 1-minute resolution for `days` days up to
    `end`. Values: requests ~ 120..2,400 a minute with 10% noise and 3 decimals (increase() extrapolates),
    bad ones 0..0.3% of them; a few dozen precomputed value bodies shared round robin, joined with each
    series' name as separator (str.join runs at memory speed)."""
    steps = days * 24 * 60
    ts = [f" {end - TILE * (steps - 1 - k)}\n" for k in range(steps)]

    def body(level: float, seed: int) -> list[str]:
        x, out = seed, []
        for k in range(steps):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            out.append(f"{level * (0.9 + 0.2 * x / 0x7FFFFFFF):.3f}{ts[k]}")
        return out

    levels = [120 * 1.2 ** k for k in range(17)]
    requests = [body(lv, k) for k, lv in enumerate(levels)]
    bad = [body(0.0015 * levels[0], 100 + k) for k in range(7)]
    count = 0
    with open(path, "w") as f:
        for i in range(n):
            svc, team = name_of(i), TEAMS[i % len(TEAMS)]
            for slo in ("availability", "latency"):
                for metric, bodies, j in (("service:slo_requests:increase1m", requests, i),
                                          ("service:slo_errors:increase1m", bad, i * 3 + len(slo))):
                    name = f'{metric}{{service="{svc}",team="{team}",slo="{slo}"}} '
                    f.write(name + name.join(bodies[j % len(bodies)]))
                    count += steps
        f.write("# EOF\n")
    return count


def backfill(source: Path, data: Path) -> None:
    # One block per 31 days (promtool re-reads its input once per block): a fully compacted store.
    proc = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=744h",
                           str(source), str(data)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"promtool create-blocks-from failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    source.unlink()


class Exporter:
    """The raw counters, live, on 127.0.0.1 for as long as this benchmark runs."""

    def __init__(self, raw: Raw):
        self.raw, self.port = raw, free_port()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = outer.raw.exposition(time.time())
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- one Prometheus run

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)')


# Whole-server figures read besides the groups' (compactions and GC: what can stall every group at once).
WHOLE_SERVER = ("process_cpu_seconds_total", "process_resident_memory_bytes", "prometheus_tsdb_head_series",
                "prometheus_tsdb_compactions_total", "go_gc_duration_seconds_sum", "go_gc_duration_seconds_count")


def scrape_metrics(port: int) -> dict:
    """Prometheus's /metrics: {(name, rule_group or ''): value} for what we read."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            continue
        name, labels, value = m.groups()
        if name.startswith("prometheus_rule_group_") or name in WHOLE_SERVER:
            g = re.search(r'rule_group="([^"]*)"', labels or "")
            out[(name, g.group(1) if g else "")] = float(value)
    return out


def total_missed(metrics: dict) -> float:
    return sum(v for (name, _), v in metrics.items() if name == "prometheus_rule_group_iterations_missed_total")


def groups_of(metrics: dict) -> dict:
    return {g: v for (name, g), v in metrics.items() if name == "prometheus_rule_group_interval_seconds"}


def run_prometheus(work: Path, rules: Path | None, blocks: Path, raw: Raw, exporter: Exporter,
                   rounds: int, timeout: float, log) -> dict:
    """rules None: the baseline, scrape and storage only, measured over BASELINE seconds."""
    data = work / "data"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir()
    for b in blocks.iterdir():
        shutil.copytree(b, data / b.name)
    end = int(time.time()) // SCRAPE * SCRAPE - SCRAPE
    t0 = time.time()
    raw_file = work / "raw.om"
    samples = raw.write(raw_file, end - RAW_SPAN, end)
    backfill(raw_file, data)
    log(f"    raw backfill: {samples:,} samples up to {time.strftime('%H:%M:%S', time.gmtime(end))} "
        f"in {time.time() - t0:.0f} s")
    port = free_port()
    config = work / "prometheus.yml"
    config.write_text(
        f"global: {{scrape_interval: {SCRAPE}s, evaluation_interval: {SCRAPE}s}}\n"
        + (f"rule_files: ['{rules}/*.yml', '{rules}/services/*.yml']\n" if rules else "") +
        f"scrape_configs:\n- job_name: services\n  honor_labels: true\n"
        f"  static_configs: [{{targets: ['127.0.0.1:{exporter.port}']}}]\n")
    logf = open(work / "prometheus.log", "w")
    proc = subprocess.Popen(["prometheus", f"--config.file={config}", f"--storage.tsdb.path={data}",
                             "--storage.tsdb.retention.time=31d", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout

        def poll() -> dict:
            if proc.poll() is not None:
                raise SystemExit(f"prometheus exited {proc.returncode}: {(work / 'prometheus.log').read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError
            try:
                return scrape_metrics(port)
            except OSError:
                return {}

        def last_evals(m: dict) -> dict:
            return {g: m.get(("prometheus_rule_group_last_evaluation_timestamp_seconds", g), 0) for g in groups_of(m)}

        if rules is None:
            while not poll().get(("process_cpu_seconds_total", "")):
                time.sleep(1)
            a, wall_a = poll(), time.monotonic()
            while time.monotonic() - wall_a < BASELINE:
                time.sleep(2)
            b, wall_b = poll(), time.monotonic()
            cpu = b[("process_cpu_seconds_total", "")] - a[("process_cpu_seconds_total", "")]
            return {"cores": cpu / (wall_b - wall_a), "rss_mib": b[("process_resident_memory_bytes", "")] / 2 ** 20,
                    "head_series": b[("prometheus_tsdb_head_series", "")]}
        # Warm-up: every group evaluated once (its first reads come from disk).
        while True:
            m = poll()  # a TimeoutError here: not even one evaluation of every group in `timeout`
            if groups_of(m) and all(v > 0 for v in last_evals(m).values()):
                break
            time.sleep(2)
        a, wall_a = m, time.monotonic()
        seen = {g: {ts} for g, ts in last_evals(a).items()}
        durations: dict = {g: [] for g in seen}
        # When iterations were missed (seconds into the measurement, how many): one burst of about one
        # per group is a stall of the whole server, a steady trickle is overload.
        missed_at, missed_before = [], total_missed(a)
        timed_out = False
        while True:
            try:
                m = poll()
            except TimeoutError:
                timed_out = True
                break
            if (now_missed := total_missed(m)) > missed_before:
                missed_at.append((round(time.monotonic() - wall_a), int(now_missed - missed_before)))
                missed_before = now_missed
            for g, ts in last_evals(m).items():
                if ts not in seen[g]:
                    seen[g].add(ts)
                    durations[g].append(m[("prometheus_rule_group_last_duration_seconds", g)])
            if all(len(d) >= rounds for d in durations.values()):
                break
            time.sleep(2)
        b, wall_b = m, time.monotonic()
        # That the rules computed over the data, not over nothing.
        checks = {what: query(port, q) for what, q in CHECKS.items()}
        checks["firing"] = sorted({r["metric"]["alertname"] for r in query(port, 'ALERTS{alertstate="firing"}', True)})
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        logf.close()
    intervals = groups_of(b)
    slo = [g for g in intervals if g.endswith(":slo")]
    long = [g for g in intervals if g.endswith(":slo-long")]
    main = [g for g in intervals if re.search(r";service:svc-\d+$", g)]

    def pct(gs, q):
        xs = sorted(x for g in gs for x in durations[g])
        return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")

    cores = (b[("process_cpu_seconds_total", "")] - a[("process_cpu_seconds_total", "")]) / (wall_b - wall_a)
    share = sum(statistics.fmean(d) / intervals[g] for g, d in durations.items() if d)
    def delta(name, gs):
        return sum(b.get((name, g), 0) - a.get((name, g), 0) for g in gs)

    missed = delta("prometheus_rule_group_iterations_missed_total", intervals)

    def whole(name):
        return b.get((name, ""), 0) - a.get((name, ""), 0)
    # Evaluations done / scheduled (iterations_total counts the missed ones too): below 100% the server
    # did not get the CPU its rules need, and `cores` is what it got, not what it needs.
    scheduled = delta("prometheus_rule_group_iterations_total", intervals)
    return {
        "groups": len(intervals), "span": wall_b - wall_a, "timed_out": timed_out,
        "cores": cores, "eval_share": share,
        "main_p50": pct(main, 0.5), "main_max": pct(main, 1.0),
        "slo_p50": pct(slo, 0.5), "slo_max": pct(slo, 1.0),
        "long_p50": pct(long, 0.5), "long_max": pct(long, 1.0),
        "main_interval": statistics.fmean(intervals[g] for g in main) if main else float("nan"),
        "slo_interval": statistics.fmean(intervals[g] for g in slo) if slo else float("nan"),
        "missed": missed, "done": (scheduled - missed) / scheduled if scheduled else float("nan"),
        "rss_mib": b[("process_resident_memory_bytes", "")] / 2 ** 20,
        "head_series": b[("prometheus_tsdb_head_series", "")],
        "rounds": min((len(d) for d in durations.values()), default=0),
        "missed_at": missed_at,
        "compactions": whole("prometheus_tsdb_compactions_total"),
        "gc_s": whole("go_gc_duration_seconds_sum"), "gcs": whole("go_gc_duration_seconds_count"),
        **checks,
    }


CHECKS = {
    "ratios_5m": "count(service:slo_errors:ratio_rate5m)",
    "ratios_30d": "count(service:slo_errors:ratio_rate30d)",
    # the samples a 30-day window holds (before: the raw requests of one route and status)
    "samples_30d": 'max(count_over_time(service:slo_requests:increase1m[30d])) or '
                   'max(count_over_time(http_requests_total{route="/",status="200"}[30d]))',
    "alerts_firing": 'count(ALERTS{alertstate="firing"}) or vector(0)',
}
BASELINE = 60                      # seconds measured of the server without rules


def query(port: int, q: str, vector: bool = False):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": q})
    with urllib.request.urlopen(url, timeout=120) as r:
        result = json.loads(r.read())["data"]["result"]
    if vector:
        return result
    return float(result[0]["value"][1]) if result else 0.0


# ---------------------------------------------------------------- the table


def mmm(values: list[float], fmt: str) -> str:
    values = [v for v in values if not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return "-"
    if len(values) == 1:
        return format(values[0], fmt)
    return "/".join(format(v, fmt) for v in (min(values), statistics.median(values), max(values)))


OLD_WINDOWS_MIN = (5, 30, 60, 120, 360, 1440, 3 * 1440, 30 * 1440)   # 2b120fb's SLO windows, each rate(raw[W])


def read(days: float) -> float:
    """Minutes of raw samples the old windows read per evaluation with `days` of history (each once)."""
    return sum(min(w, days * 1440) for w in OLD_WINDOWS_MIN)


def per_service(run: dict, row: dict) -> float:
    """ms of CPU per service per 15 s round spent beyond the server without rules."""
    return (run["cores"] - row["base"]) * SCRAPE * 1000 / row["n"]


def table(rows: list[dict]) -> str:
    cols = [("what", None), ("N", None), ("days", None), ("runs", None), ("groups", None),
            ("cores", ".3f"), ("eval share", ".3f"), ("main p50 s", ".3f"), ("main max s", ".3f"),
            ("slo p50 s", ".3f"), ("slo max s", ".3f"), ("long p50 s", ".3f"), ("long max s", ".3f"), ("missed", ".0f"), ("done", ".0%"), ("RSS MiB", ".0f"),
            ("head series", ".0f"), ("base cores", ".3f"), ("ms/svc/15s", ".1f"), ("rules ms/svc/15s", ".1f")]
    lines = []
    for r in rows:
        runs = r["runs"]
        cells = [r["what"], str(r["n"]), str(r["days"]), str(len(runs)), str(runs[0]["groups"])]
        for col, key in (("cores", "cores"), ("eval share", "eval_share"), ("main p50 s", "main_p50"),
                         ("main max s", "main_max"), ("slo p50 s", "slo_p50"), ("slo max s", "slo_max"),
                         ("long p50 s", "long_p50"), ("long max s", "long_max"),
                         ("missed", "missed"), ("done", "done"), ("RSS MiB", "rss_mib"),
                         ("head series", "head_series")):
            cells.append(mmm([x[key] for x in runs], dict(cols)[col]))
        cells.append(format(r["base"], ".3f"))
        cells.append(mmm([x["cores"] * SCRAPE * 1000 / r["n"] for x in runs], ".1f"))
        cells.append(mmm([per_service(x, r) for x in runs], ".1f"))
        lines.append(cells)
    header = [c for c, _ in cols]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    out = ["  ".join(h.rjust(w) for h, w in zip(header, widths))]
    out += ["  ".join(c.rjust(w) for c, w in zip(line, widths)) for line in lines]
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)))
    ap.add_argument("--days", default="", help="days of tiles per N, e.g. 1000=7,100=30 (default 30; 7 at 1,000)")
    ap.add_argument("--runs", type=int, default=3, help="runs per N (N >= 1,000: one)")
    ap.add_argument("--rounds", type=int, default=3, help="evaluations of every group measured per run")
    ap.add_argument("--before-n", type=int, default=10, help="N of the 'before' run (0: none)")
    ap.add_argument("--before-days", type=int, default=7, help="days of raw history for the 'before' run")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per Prometheus run")
    ap.add_argument("--quick", action="store_true", help="N=10, 1 day, one run, no 'before'")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--history", type=Path, help="reuse the tiles' blocks of a kept run (its after-N/history) "
                    "for the one size given: skips writing and backfilling them")
    args = ap.parse_args(argv)
    for tool in ("prometheus", "promtool"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not on PATH: apt-get install prometheus (Debian), or `make tools`")
    sizes = [int(s) for s in args.sizes.split(",") if s]
    days = dict(DEFAULT_DAYS)
    days.update({int(k): int(v) for k, v in (kv.split("=") for kv in args.days.split(",") if kv)})
    runs, before_n = args.runs, args.before_n
    if args.quick:
        sizes, days, runs, before_n = [10], {10: 1}, 1, 0
    log = lambda s: print(s, file=sys.stderr, flush=True)   # noqa: E731
    log(f"load: {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} {os.getloadavg()[2]:.1f} on {os.cpu_count()} cores")
    rows, baselines = [], {}
    work_root = Path(tempfile.mkdtemp(prefix="vigil-bench-rules-"))
    origin = time.time() - 40 * 86400
    try:
        plan = [("after", n, days.get(n, 30)) for n in sizes]
        if before_n:
            plan.append(("before", before_n, args.before_days))
        for what, n, d in plan:
            work = work_root / f"{what}-{n}"
            work.mkdir()
            blocks = work / "history"
            # History up to where the raw window of the first run starts: blocks that overlap would be
            # merged (vertical compaction) while we measure.
            end = (int(time.time()) - RAW_SPAN) // TILE * TILE - TILE
            raw = Raw(n, origin)
            t0 = time.time()
            if what == "after" and args.history:
                # Blocks an earlier --keep run backfilled for this N and days: the tiles end where that
                # run started, which changes what the windows read by under a day in thirty.
                rules = render(n, work)
                shutil.copytree(args.history, blocks)
                samples, history = sum(json.loads((b / "meta.json").read_text())["stats"]["numSamples"]
                                       for b in blocks.iterdir()), f"tiles reused from {args.history}"
            else:
                if what == "after":
                    rules = render(n, work)
                    samples = write_tiles(n, work / "history.om", d, end)
                    history = "tiles"
                else:
                    rules = render(n, work, old_generator(work_root))
                    samples = raw.write(work / "history.om", end - d * 86400, end, only_long=True)
                    history = f"raw history of the windows' series, rules of {BEFORE_REV}"
                backfill(work / "history.om", blocks)
            log(f"{what} N={n}: {history}: {samples:,} samples ({d} days) in {time.time() - t0:.0f} s")
            exporter = Exporter(raw)
            results = []
            try:
                if n not in baselines:
                    base = run_prometheus(work, None, blocks, raw, exporter, args.rounds, args.timeout, log)
                    log(f"    baseline (no rules): {base}")
                    baselines[n] = base["cores"]
                for k in range(1 if n >= 1000 else runs):
                    r = run_prometheus(work, rules, blocks, raw, exporter, args.rounds, args.timeout, log)
                    log(f"    run {k + 1}: {r}")
                    results.append(r)
            finally:
                exporter.stop()
            rows.append({"what": what, "n": n, "days": d, "runs": results, "base": baselines[n]})
            shutil.rmtree(work / "data", ignore_errors=True)
    finally:
        if args.keep:
            log(f"work directory kept: {work_root}")
        else:
            shutil.rmtree(work_root, ignore_errors=True)
    print(f"rule evaluation, Prometheus {prometheus_version()}, load {os.getloadavg()[0]:.1f} at the end "
          f"on {os.cpu_count()} cores (min/median/max over the runs)")
    print(table(rows))
    for r in rows:
        if r["what"] == "before" and r["days"] < 30:
            per = statistics.median(per_service(x, r) for x in r["runs"])
            print(f"before: {per:.1f} ms of rules' CPU per service per 15 s with {r['days']} days of raw history; "
                  f"~{per * read(30) / read(r['days']):.0f} ms scaled to 30 days by the samples its windows read")
    for r in rows:
        firing = sorted({a for x in r["runs"] for a in x["firing"]})
        print(f"{r['what']} N={r['n']}: samples in a 30d window {mmm([x['samples_30d'] for x in r['runs']], '.0f')}, "
              f"5m/30d ratio series {mmm([x['ratios_5m'] for x in r['runs']], '.0f')}/"
              f"{mmm([x['ratios_30d'] for x in r['runs']], '.0f')}, rounds {mmm([x['rounds'] for x in r['runs']], '.0f')}"
              f"{', TIMED OUT' if any(x['timed_out'] for x in r['runs']) else ''}, firing: {', '.join(firing) or 'none'}")
    for r in rows:
        if r["what"] == "after" and r["n"] == TARGET[0]:
            c = statistics.median(x["cores"] for x in r["runs"])
            missed = max(x["missed"] for x in r["runs"])
            ok = c <= TARGET[1] and missed == 0
            print(f"target: {TARGET[0]:,} services with two SLOs each within {TARGET[1]:g} core and no missed "
                  f"iteration ({r['days']} days of tiles): {c:.3f} cores, {missed:.0f} missed "
                  f"-> {'met' if ok else 'MISSED'}")
    return 0


def prometheus_version() -> str:
    out = subprocess.run(["prometheus", "--version"], capture_output=True, text=True)
    m = re.search(r"version (\S+)", out.stdout + out.stderr)
    return m.group(1) if m else "?"


if __name__ == "__main__":
    sys.exit(main())
