"""Seconds from a service dying to the Slack POST, next to the bound the
configuration implies (scrape interval + evaluation interval + `for` +
group_wait), with the real Prometheus and Alertmanager.

    .venv/bin/python benchmarks/alert_latency.py            # test intervals (5 runs) and shipped defaults (3 runs)
    .venv/bin/python benchmarks/alert_latency.py --quick    # test intervals only

Each run: start an instrumented app, Prometheus and Alertmanager with configs
rendered by Vigil, a local Slack-compatible inbox; wait until the app is
scraped, kill it at a random moment, and time the firing message's arrival.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from conftest import run_vigil  # noqa: E402
from native import Process, alertmanager, free_port, get_json, prometheus, wait_for  # noqa: E402
from vigil import inbox  # noqa: E402
from vigil.units import Duration  # noqa: E402

INVENTORY = """\
version: 1
stack:
  name: latency
  basic_auth: false
  scrape_interval: {scrape}
  evaluation_interval: {evaluation}
  endpoints: {{prometheus: "127.0.0.1:{prom}", alertmanager: "127.0.0.1:{am}"}}
receivers:
  - name: oncall
    slack: {{channel: "#oncall", webhook: SLACK_WEBHOOK_URL}}
routing:
  default_receiver: oncall
  timings: {{critical: {{group_wait: {group_wait}}}}}
teams:
  - name: shop
    notify: {{critical: [oncall]}}
services:
  - name: checkout
    team: shop
    kind: http
    targets: ["127.0.0.1:{app}"]
    alerts: {{down: {{for: {down_for}}}}}
"""

PROFILES = {
    # name: (scrape, evaluation, down for, critical group_wait)
    "test intervals": ("1s", "1s", "2s", "1s"),
    "shipped defaults": ("15s", "15s", "30s", "10s"),
}


def one_run(profile: tuple, rng: random.Random) -> float:
    scrape, evaluation, down_for, group_wait = profile
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        ports = {k: free_port() for k in ("prom", "am", "app")}
        slack = inbox.serve("127.0.0.1", 0)
        (tmp / "inventory.yml").write_text(INVENTORY.format(scrape=scrape, evaluation=evaluation, down_for=down_for,
                                                            group_wait=group_wait, **ports))
        (tmp / ".env").write_text(f"SLACK_WEBHOOK_URL=http://127.0.0.1:{slack.server_address[1]}/slack/x\n")
        for args in (("generate",), ("secrets", "--env", str(tmp / ".env"))):
            assert run_vigil(*args, "-i", str(tmp / "inventory.yml"), "-o", str(tmp)).returncode == 0
        app = Process([sys.executable, str(ROOT / "tests/apps/red_app.py"), str(ports["app"])], tmp, tmp / "app.log")
        am = alertmanager(tmp / "alertmanager", ports["am"], tmp / "am-data", tmp / "am.log")
        prom = prometheus(tmp, ports["prom"], tmp / "prom-data", tmp / "prom.log")
        procs = [app.start(), am.start(), prom.start()]
        try:
            url = f"http://127.0.0.1:{ports['prom']}/api/v1/query?query=up%7Bservice%3D%22checkout%22%7D%3D%3D1"
            wait_for("checkout scraped", lambda: get_json(url)["data"]["result"], 120, proc=prom)
            time.sleep(rng.uniform(0, Duration.parse(scrape).seconds))   # die at a random point of the cycle
            app.stop()
            died = time.time()
            wait_for("the page", lambda: [m for m in slack.inbox.snapshot() if "ServiceDown" in str(m["payload"])
                                          and "FIRING" in str(m["payload"])], 300, every=0.1)
            arrived = next(m["received"] for m in slack.inbox.snapshot() if "ServiceDown" in str(m["payload"]))
            return arrived - died
        finally:
            for p in reversed(procs):
                p.stop()
            slack.shutdown()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="test intervals only")
    ap.add_argument("--runs", type=int, default=0, help="runs per profile (default 5 / 3)")
    args = ap.parse_args(argv)
    rng = random.Random(7)
    print(f"{'profile':18} {'bound s':>8} {'runs':>5} {'min s':>7} {'median s':>9} {'max s':>7}")
    for name, profile in PROFILES.items():
        if args.quick and name != "test intervals":
            continue
        bound = sum(Duration.parse(x).seconds for x in profile)
        n = args.runs or (5 if name == "test intervals" else 3)
        times = [one_run(profile, rng) for _ in range(n)]
        print(f"{name:18} {bound:8.1f} {n:5d} {min(times):7.1f} {statistics.median(times):9.1f} {max(times):7.1f}"
              f"   (scrape {profile[0]}, evaluation {profile[1]}, for {profile[2]}, group_wait {profile[3]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
