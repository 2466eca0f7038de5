"""Benchmark `vigil generate` at 1,000 / 3,000 / 10,000 services, against a bare libyaml parse.

    .venv/bin/python benchmarks/generate.py                 # 1,000, 3,000, 10,000, 3 runs each (`make bench`)
    .venv/bin/python benchmarks/generate.py --sizes 100,1000 --runs 5
    .venv/bin/python benchmarks/generate.py --inventory slo # every service http with two SLOs
    .venv/bin/python benchmarks/generate.py --inventory fleet # like http services, one shape
    .venv/bin/python benchmarks/generate.py --quick         # CI smoke run: 100 services, one run
    .venv/bin/python benchmarks/generate.py --profile 10000 # cProfile one full generate (cumulative, tottime)
    .venv/bin/python benchmarks/generate.py --generator DIR # measure the vigil package under DIR instead

For each size a synthetic, valid inventory is written as YAML to a temp dir: `mix`
(the default) a realistic mix of kinds, presets, overrides, user rules and panels
(~10 teams, a few receivers; a quarter of the http services with SLOs); `slo` the
inventory of benchmarks/rules.py, every service http with an availability and a
latency SLO; `fleet` like http services that differ only in their own strings (one
shape of render/shapes.py: the volume written per service is what is left). Then,
each in a FRESH subprocess, so that memory and caches are per run:

  parse      yaml.load of the inventory with libyaml's CSafeLoader, nothing else:
             the yardstick ("within 3x a bare libyaml parse"), in the same process
             just before the generate, so that both see the same machine
  generate   load+validate, plan+render, write (compare + write into an empty
             dir, as `vigil generate` does)
  no-op      the same inventory again over the tree the first run wrote:
             load+validate, plan+render, compare; nothing is written

Stage times are wall clock (time.perf_counter) inside the child, after its
imports; "(cpu s)" is the same span's CPU time (time.process_time, plus the
render workers' that vigil forks from 200 services on: render/shards.py),
which a busy machine disturbs less. Importing vigil (pydantic, yaml) is reported apart
("import s"); the target lines also give each child's wall time end to end, as
a command (interpreter start and imports included).
The generate runs go round the sizes (run 1 of every size, then run 2, ...), so
that a drift of the shared machine's speed spreads over all of them; each figure
is min / median / max over the runs, the ratio taken run by run. The no-op runs
once per size, over the last run's tree.
Peak memory is resource.getrusage(RUSAGE_SELF).ru_maxrss of the child: peak
RSS of the whole process, interpreter and imports included (not tracemalloc);
"worker peak MiB" the largest render worker's (RUSAGE_CHILDREN), which runs
beside it.

A benchmark reports, it does not gate: exit 0 even when a target is missed,
non-zero only when something crashes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SIZES = (1_000, 3_000, 10_000)
TARGET_GENERATE = (10_000, 5.0)   # "10,000 services in under 5 s"
TARGET_RATIO = (10_000, 3.0)      # "10,000 services within 3x a bare libyaml parse of the same file"
TARGET_NOOP = (1_000, 1.0)        # "no-op regenerate of 1,000 services under 1 s"

# ---------------------------------------------------------------- a synthetic inventory

TEAMS = ["payments", "checkout", "catalog", "search", "identity", "platform", "data", "mobile", "growth",
         "logistics"]
RECEIVERS = [
    {"name": "ops", "slack": {"channel": "#ops-alerts", "webhook": "SLACK_WEBHOOK_URL"}},
    {"name": "pager", "pagerduty": {"routing_key": "PAGERDUTY_KEY"},
     "slack": {"channel": "#oncall", "webhook": "SLACK_WEBHOOK_URL"}},
    {"name": "mail", "email": {"to": "alerts@example.com"}},
    {"name": "audit", "webhook": {"url": "http://audit:8080/alerts"}},
    {"name": "chat", "slack": {"channel": "#chat", "webhook": "SLACK_CHAT_WEBHOOK_URL"}},
]
PRESETS = ["prometheus-client", "prometheus-fastapi-instrumentator", "starlette-exporter", "django-prometheus",
           "opentelemetry", "spring-boot"]
WORDS = ["api", "web", "worker", "gateway", "orders", "users", "billing", "cart", "auth", "search", "index",
         "feed", "media", "notify", "report", "ledger", "pricing", "stock", "ship", "review"]
# kind -> share of the services (sums to 1)
MIX = [("http", 0.68), ("job", 0.08), ("postgres", 0.05), ("redis", 0.04), ("mysql", 0.02), ("nginx", 0.02),
       ("host", 0.06), ("probe", 0.05)]


def _service(rng: random.Random, i: int) -> dict:
    kind = rng.choices([k for k, _ in MIX], [w for _, w in MIX])[0]
    name = f"{rng.choice(WORDS)}-{kind}-{i:05d}"
    team = TEAMS[i % len(TEAMS)]
    svc: dict = {"name": name, "team": team, "kind": kind}
    host = f"{name}.svc"
    camel = "".join(w.capitalize() for w in name.split("-"))
    if kind == "http":
        # Ports drawn at random, each target once (a target listed twice is refused); dedup keeps the draws.
        svc["targets"] = list(dict.fromkeys(f"{host}:{8000 + rng.randrange(100)}"
                                            for _ in range(rng.choice([1, 1, 1, 2, 3]))))
        r = rng.random()
        if r < 0.05:
            svc["instrumentation"] = {"requests": f"{name.replace('-', '_')}_hits_total", "status_label": "code",
                                      "duration": f"{name.replace('-', '_')}_latency_seconds"}
        elif r < 0.08:
            svc["instrumentation"] = {"requests": "hits_total"}          # counter only: no latency rules
        elif r < 0.93:
            svc["instrumentation"] = rng.choice(PRESETS)
        # else: no instrumentation key (the default preset)
        if rng.random() < 0.1:
            svc["metrics_path"] = "/internal/metrics"
        if rng.random() < 0.4:
            svc["health_url"] = f"http://{host}:8000/health"
        if rng.random() < 0.3:
            svc["runbook_url"] = f"https://wiki.example.com/runbooks/{name}"
        if rng.random() < 0.25:
            svc["slo"] = {"availability": rng.choice([99, 99.5, 99.9])}
            inst = svc.get("instrumentation")
            if inst == "spring-boot":        # Micrometer's buckets depend on its settings: name them
                svc["instrumentation"] = inst = {"preset": "spring-boot", "buckets": [0.1, 0.25, 0.5, 1, 2.5]}
            if isinstance(inst, dict) and "duration" in inst:   # own histogram: Vigil must be told its buckets
                inst["buckets"] = [0.1, 0.25, 0.5, 1, 2.5]
            if not isinstance(inst, dict) or "duration" in inst or "preset" in inst:
                # 250ms and 1s are bucket boundaries of every preset that knows its buckets
                svc["slo"]["latency"] = {"threshold": rng.choice(["250ms", "1s"]), "objective": 99.0}
        slo = svc.get("slo", {})
        alerts: dict = {}
        if rng.random() < 0.15:      # with an SLO on the signal, its burn pages: the threshold alert only warns
            alerts["error_rate"] = {"warning": rng.choice(["0.5%", "2%"]), "for": rng.choice(["2m", "5m"]),
                                    **({} if "availability" in slo else {"critical": rng.choice(["5%", "10%"])})}
        if rng.random() < 0.08:
            alerts["latency_p95"] = {"warning": "800ms", **({} if "latency" in slo else {"critical": "3s"})}
        if rng.random() < 0.05:
            alerts["down"] = {"for": "30s"}
        if rng.random() < 0.05:
            alerts["disabled"] = ["latency_p95"]
        if alerts:
            svc["alerts"] = alerts
        if rng.random() < 0.12:
            rule = {"alert": f"{camel}QueueBacklog", "expr": f'queue_depth{{service="{name}"}} > 100', "for": "10m",
                    "severity": "warning", "summary": "Queue is backing up",
                    "description": "{{ $value | humanize }} items waiting on {{ $labels.instance }}"}
            series = f'queue_depth{{instance="{svc["targets"][0]}",service="{name}"}}'
            rule["test"] = {"series": {series: 150}, "quiet": {series: 50}, "value": 150}
            rules = [rule]
            if rng.random() < 0.5:
                rules.append({"alert": f"{camel}NoOrders", "expr": f'sum(rate(orders_total{{service="{name}"}}[10m])) == 0',
                              "for": "15m", "severity": "critical", "summary": "No orders for 15 minutes"})
            svc["rules"] = rules
        if rng.random() < 0.15:
            svc["panels"] = [{"title": "Orders per minute", "expr": "sum(rate(orders_total[5m])) * 60", "unit": "short"},
                             {"title": "Queue depth", "expr": "queue_depth", "type": "stat"}][:rng.choice([1, 2])]
        if rng.random() < 0.5:
            svc["labels"] = {"tier": rng.choice(["frontend", "backend", "edge"])}
    elif kind == "job":
        svc["targets"] = [f"{host}:9100"]
        if rng.random() < 0.2:
            svc["health_url"] = f"https://{host}:8443/ready"
        if rng.random() < 0.3:
            svc["rules"] = [{"alert": f"{camel}Stuck", "expr": f'job_last_success_age_seconds{{service="{name}"}} > 3600',
                             "severity": "critical", "summary": "Job has not succeeded for an hour",
                             "test": {"series": {f'job_last_success_age_seconds{{instance="{host}:9100",service="{name}"}}': 7200}}}]
        if rng.random() < 0.3:
            svc["panels"] = [{"title": "Jobs run", "expr": "sum(increase(jobs_total[1h]))"}]
        if rng.random() < 0.1:
            svc["alerts"] = {"disabled": ["down"]}
    elif kind in ("postgres", "redis", "mysql", "nginx"):
        if kind in ("mysql", "nginx") or rng.random() < 0.5:
            svc["targets"] = [f"{host}-exporter:{ {'postgres': 9187, 'redis': 9121, 'mysql': 9104, 'nginx': 9113}[kind]}"]
        if rng.random() < 0.2:
            svc["alerts"] = {"down": {"for": "2m"}}
    elif kind == "host":
        svc["targets"] = [f"{host}:9100"] + ([f"{host}-b:9100"] if rng.random() < 0.2 else [])
        r = rng.random()
        if r < 0.2:
            svc["alerts"] = {"cpu": {"warning": "80%", "for": "10m"}, "disk": {"warning": "70%", "critical": "90%"},
                             "disk_fill": {"within": "12h", "for": "1h"}}
        elif r < 0.3:
            svc["alerts"] = {"disabled": ["cpu", "disk_fill"]}
        svc["labels"] = {"rack": f"r{i % 40}"}
    elif kind == "probe":
        svc["url"] = f"{rng.choice(['https', 'https', 'http'])}://{name}.example.com/"
        if rng.random() < 0.3:
            svc["alerts"] = {"slow": {"warning": "2s", "for": "10m"},
                             "tls_expiry": {"warning": "30d", "critical": "7d", "for": "1h"}}
    return svc


def synthesize(n: int, seed: int = 1) -> dict:
    rng = random.Random(seed * 1_000_003 + n)
    teams = []
    for i, t in enumerate(TEAMS):
        notify = {"critical": ["pager", "audit"] if i % 3 == 0 else ["pager"] if i % 3 == 1 else ["ops"],
                  "warning": ["mail"] if i % 2 == 0 else ["ops", "chat"]}
        teams.append({"name": t, "notify": notify})
    return {
        "version": 1,
        "stack": {"name": "bench", "environment": "prod", "team": "platform", "scrape_interval": "15s",
                  "retention": "30d", "grafana_url": "https://grafana.example.com"},
        "receivers": RECEIVERS,
        "routing": {"default_receiver": "ops", "group_by": ["alertname", "service"],
                    "smtp": {"smarthost": "mail.example.com:587", "from": "alerts@example.com"}},
        "teams": teams,
        "services": [_service(rng, i) for i in range(n)],
    }


def slo_inventory(n: int) -> dict:
    """benchmarks/rules.py's: n http services, each with an availability and a latency SLO."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import rules
    return rules.inventory(n)


def fleet_inventory(n: int) -> dict:
    """n like http services (two targets and a health check each, one preset, default alerts), which
    differ only in their own strings (name, team, targets, URLs): the best case of render/shapes.py,
    where what is left is the volume written per service."""
    inv = synthesize(0)
    inv["services"] = [{"name": f"api-{i:05d}", "team": TEAMS[i % len(TEAMS)], "kind": "http",
                        "instrumentation": "prometheus-client",
                        "targets": [f"api-{i:05d}-a.svc:8000", f"api-{i:05d}-b.svc:8000"],
                        "health_url": f"http://api-{i:05d}-a.svc:8000/health"} for i in range(n)]
    return inv


INVENTORIES = {"mix": synthesize, "slo": slo_inventory, "fleet": fleet_inventory}


def write_inventory(n: int, directory: Path, kind: str = "mix") -> tuple[Path, dict]:
    import yaml
    data = INVENTORIES[kind](n)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    path = directory / f"inventory-{n}.yml"
    path.write_text(yaml.dump(data, Dumper=dumper, sort_keys=False, default_flow_style=False, width=1_000_000))
    kinds: dict = {}
    for s in data["services"]:
        kinds[s["kind"]] = kinds.get(s["kind"], 0) + 1
    return path, kinds


# ---------------------------------------------------------------- the child: one measured run


def _import_vigil(generator: str | None = None):
    """`generator`: a directory holding a `vigil` package to measure instead of the installed one."""
    if generator:
        sys.path.insert(0, str(Path(generator).resolve()))
    else:
        try:
            import vigil  # noqa: F401
        except ImportError:  # not installed in this interpreter: use the source tree
            sys.path.insert(0, str(ROOT / "generator"))
    import vigil
    return Path(vigil.__file__).parent


def _output(root: Path):
    """What the write functions take: the locked, link-proof Tree, or (a Vigil before it) the path."""
    from vigil import write
    if not hasattr(write, "Tree"):
        return root
    tree = write.Tree(root, create=True)
    tree.lock(lambda: None)
    return tree


def child(mode: str, inventory: str, out: str, generator: str = "") -> int:
    import gc
    import resource
    started = time.perf_counter()
    _import_vigil(generator or None)
    from vigil.plan import plan
    from vigil.render import render
    from vigil.validate import load_inventory
    from vigil.write import compare, inputs_digest, remember, unchanged, with_manifest, write
    try:
        from vigil.render.shards import render_inventory     # on every core, as `vigil generate` renders
    except ImportError:                                       # a Vigil before it (--generator)
        def render_inventory(inv):
            return render(plan(inv))

    def cpu() -> float:
        """This process's CPU time and its finished children's: the workers of render_inventory."""
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + children.ru_utime + children.ru_stime

    import yaml
    text = Path(inventory).read_bytes()
    cp, tp = time.process_time(), time.perf_counter()
    yaml.load(text, Loader=yaml.CSafeLoader)
    parse, parse_cpu = time.perf_counter() - tp, time.process_time() - cp

    root = _output(Path(out))
    c0, t0 = cpu(), time.perf_counter()
    # What `vigil generate` does first: same inventory, same Vigil, untouched tree -> nothing to do.
    inputs = inputs_digest(Path(inventory).read_bytes())
    up_to_date = unchanged(root, inputs)
    shortcut, shortcut_cpu = time.perf_counter() - t0, cpu() - c0
    if mode == "noop" and not up_to_date:
        print("no-op run: the inputs fingerprint did not match", file=sys.stderr)
        return 3
    # The full pipeline (what a no-op would cost without the shortcut), as cli.cmd_generate runs it.
    c1, t1 = cpu(), time.perf_counter()
    gc.disable()        # as cli._render: through load and render
    inv = load_inventory(inventory)
    t2 = time.perf_counter()
    files = with_manifest(render_inventory(inv))
    gc.enable()
    t3 = time.perf_counter()
    changes = compare(root, files)
    if mode == "generate":
        write(root, files, changes)
        remember(root, inputs, files)
    t4, c4 = time.perf_counter(), cpu()
    if mode == "noop" and changes:
        print(f"no-op run found changes: {changes.summary()}", file=sys.stderr)
        return 3
    if mode == "generate" and len(changes.added) != len(files):
        print(f"the output dir was not empty: {changes.summary()}", file=sys.stderr)
        return 3
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss   # KiB on Linux
    if sys.platform == "darwin":
        peak_kib //= 1024                                             # bytes on macOS
    full, full_cpu = t4 - t1 + shortcut, c4 - c1 + shortcut_cpu
    print(json.dumps({
        "package": str(Path(sys.modules["vigil"].__file__).parent),
        "services": len(inv.services), "files": len(files), "bytes": sum(len(b) for b in files.values()),
        "import": tp - started, "parse": parse, "parse_cpu": parse_cpu, "load": t2 - t1, "render": t3 - t2, "write": t4 - t3,
        # generate: the whole run; no-op: the fingerprint check that ends it ("rerender": without it).
        "total": full if mode == "generate" else shortcut, "cpu": full_cpu if mode == "generate" else shortcut_cpu,
        "rerender": full, "rerender_cpu": full_cpu,
        "peak_mib": peak_kib / 1024,
        "workers_peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }))
    return 0


def run_child(mode: str, inventory: Path, out: Path, generator: str | None) -> dict:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", mode, str(inventory), str(out), generator or ""],
                          capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"{mode} run on {inventory.name} failed (exit {proc.returncode})")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process"] = wall
    return result


def time_command(inventory: Path, out: Path, generator: str | None) -> float:
    """Wall time of the real `vigil generate` over an up-to-date tree, as a user runs it."""
    env = {**os.environ, "PYTHONPATH": str(Path(generator).resolve())} if generator else None
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "vigil", "generate", "-i", str(inventory), "-o", str(out)],
                          capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if proc.returncode != 0 or "nothing to do" not in proc.stdout:
        raise SystemExit(f"vigil generate over an up-to-date tree did not stop early: {proc.stdout}{proc.stderr}")
    return wall


# ---------------------------------------------------------------- profile


def profile(n: int, generator: str | None, sort_limit: int = 30) -> int:
    import cProfile
    import pstats
    print(f"profiling the vigil package in {_import_vigil(generator)}")
    from vigil.plan import plan
    from vigil.render import render
    from vigil.validate import load_inventory
    from vigil.write import compare, with_manifest, write

    with tempfile.TemporaryDirectory(prefix="vigil-prof-") as tmp:
        inventory, _ = write_inventory(n, Path(tmp))
        prof = cProfile.Profile()
        prof.enable()
        out = _output(Path(tmp) / "out")
        files = with_manifest(render(plan(load_inventory(inventory))))
        write(out, files, compare(out, files))
        prof.disable()
        dump = Path(tempfile.gettempdir()) / f"vigil-generate-{n}.prof"
        prof.dump_stats(dump)
        for key in ("cumulative", "tottime"):
            print(f"\n==== {n} services, sorted by {key} ====")
            pstats.Stats(prof).strip_dirs().sort_stats(key).print_stats(sort_limit)
        print(f"stats saved to {dump} (python -m pstats {dump})")
    return 0


# ---------------------------------------------------------------- the report


def fmt_table(rows: list[dict]) -> str:
    head = ["services", "files", "MB", "import s", "load+validate s", "plan+render s", "write s", "total s",
            "(cpu s)", "no-op s", "(cpu s)", "re-render s", "peak MiB", "worker peak MiB", "no-op peak MiB"]
    body = [[f"{r['services']:,}", f"{r['files']:,}", f"{r['bytes'] / 1e6:.1f}", f"{r['import']:.2f}",
             f"{r['load']:.2f}", f"{r['render']:.2f}", f"{r['write']:.2f}", f"{r['total']:.2f}", f"({r['cpu']:.2f})",
             f"{r['noop']['total']:.2f}", f"({r['noop']['cpu']:.2f})", f"{r['noop']['rerender']:.2f}",
             f"{r['peak_mib']:.0f}", f"{r.get('workers_peak_mib', 0):.0f}",
             f"{r['noop']['peak_mib']:.0f}"] for r in rows]
    return table(head, body)


def table(head: list[str], body: list[list[str]]) -> str:
    """Right-aligned columns under a ruled header."""
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(b) for b in body])


def mmm(values: list[float], fmt: str) -> str:
    """min / median / max."""
    return " / ".join(format(v, fmt) for v in (min(values), statistics.median(values), max(values)))


def ratio_table(rows: list[dict]) -> str:
    head = ["services", "MB out", "libyaml parse s", "generate s", "ratio (wall)", "ratio (cpu)", "peak MiB"]
    body = []
    for r in rows:
        runs = r["runs"]
        body.append([f"{r['services']:,}", f"{r['bytes'] / 1e6:.0f}", mmm([x["parse"] for x in runs], ".3f"),
                     mmm([x["total"] for x in runs], ".2f"), mmm([x["total"] / x["parse"] for x in runs], ".1f"),
                     mmm([x["cpu"] / x["parse_cpu"] for x in runs], ".1f"), mmm([x["peak_mib"] for x in runs], ".0f")])
    return table(head, body)


def ratio_line(rows: dict, n: int, limit: float) -> str:
    r = rows.get(n)
    if r is None:
        return f"{n:,} services within {limit:g}x a libyaml parse: not measured (add {n} to --sizes)"
    ratio = statistics.median(x["total"] / x["parse"] for x in r["runs"])
    return (f"{n:,} services within {limit:g}x a libyaml parse: {'PASS' if ratio <= limit else 'MISS'} "
            f"(median {ratio:.1f}x)")


def target_line(what: str, rows: dict, n: int, limit: float, key: str) -> str:
    r = rows.get(n)
    if r is None:
        return f"{what}: not measured (add {n} to --sizes)"
    run = r if key == "generate" else r["noop"]
    verdict = "PASS" if run["total"] < limit else "MISS"
    return (f"{what}: {verdict} ({run['total']:.2f} s in process; {run['process']:.2f} s as a command, "
            f"python start + imports included)")


def linearity(rows: list[dict]) -> list[str]:
    out = ["cost per 1,000 services, wall seconds (cpu seconds):"]
    for r in rows:
        k = r["services"] / 1000
        out.append(f"  {r['services']:>7,}: generate {r['total'] / k:6.2f} ({r['cpu'] / k:.2f})  [load {r['load'] / k:.2f}, "
                   f"render {r['render'] / k:.2f}, write {r['write'] / k:.2f}]   "
                   f"no-op {r['noop']['total'] / k:6.2f} ({r['noop']['cpu'] / k:.2f})")
    if len(rows) >= 2:
        a, b = rows[-2], rows[-1]
        grow = b["services"] / a["services"]
        verdict = []
        for label, ra, rb in (("generate", a, b), ("no-op", a["noop"], b["noop"])):
            # On CPU time, which a busy machine disturbs less than wall time. Fixed costs (the schema,
            # prometheus.yml's header) flatter the small size, so only clearly super-linear growth is flagged.
            factor = rb["cpu"] / ra["cpu"]
            shape = "about linear" if factor <= grow * 1.25 else "SUPER-LINEAR"
            verdict.append(f"{label} cpu x{factor:.1f}, wall x{rb['total'] / ra['total']:.1f} ({shape})")
        out.append(f"  {a['services']:,} -> {b['services']:,} services (x{grow:g}): " + "; ".join(verdict))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                    help="comma-separated service counts (default: 1000,3000,10000)")
    ap.add_argument("--runs", type=int, default=3, help="generate runs per size (default 3): min/median/max")
    ap.add_argument("--inventory", choices=sorted(INVENTORIES), default="mix",
                    help="mix: a realistic mix of kinds (default); slo: every service http with two SLOs; "
                         "fleet: like http services, one shape")
    ap.add_argument("--quick", action="store_true", help="CI smoke run: 100 services, one run")
    ap.add_argument("--profile", type=int, metavar="N", help="cProfile one generate of N services instead")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (inventories and trees)")
    ap.add_argument("--generator", metavar="DIR",
                    help="measure the `vigil` package under DIR (e.g. another checkout's generator/) "
                         "instead of the installed one")
    ap.add_argument("--child", nargs=4, metavar=("MODE", "INVENTORY", "OUT", "GENERATOR"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(*args.child)
    if args.generator and not (Path(args.generator) / "vigil" / "__init__.py").is_file():
        ap.error(f"--generator: no vigil package in {args.generator}")
    if args.profile:
        return profile(args.profile, args.generator)

    try:
        sizes = [100] if args.quick else sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s})
    except ValueError:
        ap.error(f"--sizes: expected numbers like 100,1000, got {args.sizes!r}")
    if not sizes or min(sizes) < 1:
        ap.error("--sizes: give at least one positive size")
    runs = 1 if args.quick else args.runs
    if runs < 1:
        ap.error("--runs: give at least 1")

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if load > (os.cpu_count() or 1) * 0.75:
        print(f"warning: load average {load:.1f} on {os.cpu_count()} CPUs: wall times will be inflated; "
              f"compare the (cpu s) columns", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
    inventories: dict[int, Path] = {}
    runs_of: dict[int, list[dict]] = {n: [] for n in sizes}
    try:
        for n in sizes:
            inventories[n], kinds = write_inventory(n, tmp, args.inventory)
            mix = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]))
            print(f"{n:,} services ({inventories[n].stat().st_size / 1e6:.2f} MB of YAML: {mix})", flush=True)
        for r in range(runs):           # round the sizes: a drift of the machine spreads over all of them
            for n in sizes:
                out = tmp / f"out-{n}"
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir()
                os.sync()       # the last run's writeback would land in this one's write stage
                row = run_child("generate", inventories[n], out, args.generator)
                runs_of[n].append(row)
                print(f"  run {r + 1}/{runs}, {n:,} services: generate {row['total']:.2f} s, libyaml parse "
                      f"{row['parse']:.3f} s ({row['total'] / row['parse']:.1f}x)", flush=True)
        rows = []
        for n in sizes:
            out = tmp / f"out-{n}"
            row = dict(min(runs_of[n], key=lambda x: x["total"]))
            row["runs"] = runs_of[n]
            row["peak_mib"] = max(x["peak_mib"] for x in runs_of[n])
            row["noop"] = run_child("noop", inventories[n], out, args.generator)
            row["noop"]["process"] = time_command(inventories[n], out, args.generator)
            rows.append(row)
            if not args.keep:
                shutil.rmtree(out)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(f"Vigil generate benchmark (python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
          f"{load:.1f} at start).")
    print("Stage times: wall seconds in a fresh process per run, after its imports; '(cpu s)': that run's CPU time.\n"
          "'write' = compare + write into an empty dir; 'no-op' = `vigil generate` again over the written tree:\n"
          "the fingerprint of inventory + Vigil matches, the tree hashes the same, nothing to do;\n"
          "'re-render' = the same no-op without that shortcut: load+validate+render+compare.\n"
          "'import s' = importing vigil (pydantic, yaml) in the child, not in the totals; "
          "MB = 10^6 bytes rendered.\n"
          "peak MiB = getrusage(RUSAGE_SELF).ru_maxrss of the child: whole-process peak RSS, interpreter included;\n"
          "worker peak MiB = the largest render worker's (one per core from 200 services on), beside it.")
    print()
    print(f"measured: the vigil package in {rows[0]['package']}, inventory '{args.inventory}'")
    print(f"\ngenerate against a bare libyaml parse of the same file, in the same process: min / median / max of "
          f"{runs} run{'s' * (runs > 1)}")
    print(ratio_table(rows))
    print(f"\nstages of the fastest run of each size (peak MiB: the largest of the runs):")
    print(fmt_table(rows))
    print()
    by_size = {r["services"]: r for r in rows}
    print(ratio_line(by_size, *TARGET_RATIO))
    print(target_line("10,000 services in under 5 s", by_size, *TARGET_GENERATE, "generate"))
    print(target_line("no-op regenerate of 1,000 services under 1 s", by_size, *TARGET_NOOP, "noop"))
    print()
    print("\n".join(linearity(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
