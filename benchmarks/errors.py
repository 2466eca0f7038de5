"""The error tracker on this machine: Bugsink (from .venv-bugsink, as a plain process on SQLite, as the
tests run it) fed by the real sentry-sdk.

    .venv/bin/python benchmarks/errors.py [--events 600] [--runs 3]

- events per second ingested: N exceptions captured as fast as the SDK takes them (its queue made
  large enough to drop none), timed until Bugsink has digested every one (its own counter);
- Bugsink's memory (RSS of gunicorn's master and worker) at rest, and at its peak under that load;
- seconds from `raise` to the team's Slack message (ErrorIssueOpen), through the errors exporter,
  Prometheus and Alertmanager at 1s intervals (the tests' timings), next to the bound they imply.

Bugsink digests events in the request here (snappea's TASK_ALWAYS_EAGER); the image does it in a
background process, which answers the SDK sooner but digests at about the same rate.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from native import get_json, wait_for  # noqa: E402
from tracker_native import AlertPath, Bugsink, rss_kib  # noqa: E402

SENDER = """\
import sys, sentry_sdk
sentry_sdk.init(dsn=sys.argv[1], release="bench@1", default_integrations=False, transport_queue_size=100000)
def checkout(i):
    raise ValueError(f"bench error {i % 5}")
for i in range(int(sys.argv[2])):
    try:
        checkout(i)
    except ValueError as e:
        sentry_sdk.capture_exception(e)
sentry_sdk.flush(timeout=600)
"""


def ingest(b: Bugsink, tmp: Path, n: int, run: int) -> tuple[float, int]:
    p = b.project(f"load-{run}")
    script = tmp / "sender.py"
    script.write_text(SENDER)
    peak, done = [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(b.proc.proc.pid))
            time.sleep(0.2)
    threading.Thread(target=sample, daemon=True).start()
    start = time.monotonic()
    sender = subprocess.Popen([sys.executable, str(script), p["dsn"], str(n)])
    wait_for(f"{n} events digested", lambda: next(
        x for x in b.client().all("/projects/") if x["id"] == p["id"])["digested_event_count"] >= n,
        900, every=0.2)
    took = time.monotonic() - start
    done.set()
    sender.wait(60)
    return n / took, peak[0]


def raise_to_notification(b: Bugsink, tmp: Path, runs: int) -> list[float]:
    path = AlertPath(b, tmp, "latency")
    dsn = b.project("latency")["dsn"]
    out = []
    try:
        wait_for("the exporter scraped", lambda: path.prom.proc.poll() is None and _scraped(path), 120)
        for i in range(runs):
            script = tmp / f"raise{i}.py"
            script.write_text("import sys, sentry_sdk\nsentry_sdk.init(dsn=sys.argv[1], default_integrations=False)\n"
                              f"try:\n    raise RuntimeError('latency probe {i}')\nexcept RuntimeError as e:\n"
                              "    sentry_sdk.capture_exception(e)\nsentry_sdk.flush()\n")
            start = time.monotonic()
            subprocess.run([sys.executable, str(script), dsn], check=True, timeout=60)
            wait_for("the message", lambda: [a for a in path.messages("#shop-oncall", "ErrorIssueOpen", "FIRING")
                                             if f"latency probe {i}" in a["text"]], 120, every=0.1)
            out.append(time.monotonic() - start)
    finally:
        path.stop()
    return out


def _scraped(path: AlertPath) -> bool:
    return bool(get_json(f"{path.prom_url}/api/v1/query?query=vigil_errors_up")["data"]["result"])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=600, help="events per ingest run (Bugsink's default limit is "
                                                            "1,000 per project per 5 minutes)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="vigil-bench-errors-") as d:
        tmp = Path(d)
        (tmp / "bugsink").mkdir()
        # Bugsink's global limit (1,000 events per 5 minutes) would cut the runs short: lifted here.
        b = Bugsink(tmp / "bugsink", MAX_EVENTS_PER_5_MINUTES="1000000", MAX_EVENTS_PER_HOUR="1000000").start()
        try:
            time.sleep(3)   # settle after start-up before measuring memory at rest
            rest = rss_kib(b.proc.proc.pid)
            rates, peaks = [], []
            for run in range(args.runs):
                rate, peak = ingest(b, tmp, args.events, run)
                rates.append(rate)
                peaks.append(peak)
            (tmp / "alert").mkdir()
            latencies = raise_to_notification(b, tmp / "alert", args.runs)
        finally:
            b.stop()
    print(f"Bugsink ingest with the real sentry-sdk, {args.events} events a run, {args.runs} runs:")
    print(f"  events/s digested   median {statistics.median(rates):.0f}  (runs: "
          f"{', '.join(f'{r:.0f}' for r in rates)})")
    print(f"  RSS at rest         {rest / 1024:.0f} MiB")
    print(f"  RSS under load      peak {max(peaks) / 1024:.0f} MiB")
    print(f"raise -> team's Slack message (scrape 1s, evaluation 1s, group_wait 1s; bound ~3s + SDK and API):")
    print(f"  seconds             median {statistics.median(latencies):.1f}  max {max(latencies):.1f}  "
          f"(runs: {', '.join(f'{x:.1f}' for x in latencies)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
