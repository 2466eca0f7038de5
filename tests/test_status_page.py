"""The public status page against the real Prometheus holding 90 days of probe data
(backfilled with `promtool tsdb create-blocks-from openmetrics`), rendered by the real
headless Chromium: states, uptime bars, an incident, announcements; a desktop and a
phone screenshot (VIGIL_SCREENSHOTS=docs writes them to docs/ as well); no console error."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, run_vigil, tool
from native import Process, free_port, get_json, wait_for
from vigil import dora, statuspage
from vigil.kinds.base import PROBE_JOB

NOW = time.time()     # set again when the data is made: collection may be minutes earlier
DAY = 86400

INVENTORY = """\
version: 1
stack:
  name: status
  retention: 100d
  status_page:
    title: Example Shop status
    announcements:
      - title: Database upgrade
        kind: maintenance
        text: Checkout may be slow for a few minutes.
        start: "{soon}"
        end: "{later}"
        services: [checkout]
      - title: New payment provider
        text: Card payments now go through our new provider.
        start: "{past}"
      - title: An old notice
        start: "{long_ago}"
        end: "{past}"
receivers:
  - name: ops
    webhook: {{url: "http://127.0.0.1:9/hook"}}
routing: {{default_receiver: ops}}
teams:
  - name: shop
services:
  - name: checkout
    team: shop
    kind: http
    targets: ["127.0.0.1:9"]
    health_url: http://127.0.0.1:9/health
  - name: website
    team: shop
    kind: probe
    url: https://example.com/
  - name: search
    team: shop
    kind: http
    targets: ["127.0.0.1:9"]
    health_url: http://127.0.0.1:9/health
  - name: admin
    team: shop
    kind: http
    targets: ["127.0.0.1:9"]
    health_url: http://127.0.0.1:9/health
    public: false
  - name: worker
    team: shop
    kind: job
    targets: ["127.0.0.1:9"]
"""


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _history() -> str:
    """90 days of probes every 10 minutes. website: down half of the day 10 days ago and
    now degraded by a critical alert; checkout: 99.3% the day 3 days ago, down now, with
    an incident 3 days ago (30 min) and one going on for 10 minutes; search: always up."""
    today = NOW // DAY * DAY
    out = ["# TYPE probe_success gauge"]
    for service, instance in (("checkout", "http://127.0.0.1:9/health"), ("website", "https://example.com/"),
                              ("search", "http://127.0.0.1:9/health"), ("admin", "http://127.0.0.1:9/health")):
        labels = f'job="{PROBE_JOB}",service="{service}",instance="{instance}"'
        t = today - 89 * DAY
        while t < NOW - 30:
            day = (today - t // DAY * DAY) // DAY
            minute = int(t % DAY // 60)
            value = 1
            if service == "website" and day == 10 and minute < 720:
                value = 0
            if service == "checkout" and day == 3 and minute < 10:   # 1 of 144 samples: 99.3%
                value = 0
            if service == "checkout" and t > NOW - 900:
                value = 0
            out.append(f"probe_success{{{labels}}} {value} {t:.0f}")
            t += 600
        out.append(f"probe_success{{{labels}}} {0 if service == 'checkout' else 1} {NOW - 20:.0f}")
    # Public jobs, measured by their targets' up: queue's second target down all of 5 days ago and
    # now (degraded), mailer's only target down now (down).
    out.append("# TYPE up gauge")
    for job, instance in (("queue", "127.0.0.1:19001"), ("queue", "127.0.0.1:19002"), ("mailer", "127.0.0.1:19003")):
        labels = f'job="{job}",service="{job}",team="shop",kind="job",instance="{instance}"'
        down = lambda t: instance != "127.0.0.1:19001" and t > NOW - 900 or (   # noqa: E731
            instance == "127.0.0.1:19002" and (today - t // DAY * DAY) // DAY == 5)
        t = today - 89 * DAY
        while t < NOW - 30:
            out.append(f"up{{{labels}}} {0 if down(t) else 1} {t:.0f}")
            t += 600
        out.append(f"up{{{labels}}} {0 if down(NOW - 20) else 1} {NOW - 20:.0f}")
    out.append("# TYPE ALERTS gauge")
    for t in range(int(NOW - 1800), int(NOW - 10), 60):
        out.append(f'ALERTS{{alertname="ProbeFailing",alertstate="firing",severity="critical",service="website",'
                   f'team="shop"}} 1 {t}')
    restored = dora.name(dora.RESTORED, "service")
    out += [f"# TYPE {restored.replace(':', '_')} gauge"]
    out.append(f'{restored}{{service="checkout",team="shop"}} 1800 {NOW - 3 * DAY:.0f}')
    out.append(f"# TYPE {dora.INCIDENT_SINCE.replace(':', '_')} gauge")
    for t in range(int(NOW - 600), int(NOW - 10), 60):
        out.append(f'{dora.INCIDENT_SINCE}{{service="checkout",team="shop"}} {NOW - 600:.0f} {t}')
    return "\n".join(out) + "\n# EOF\n"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    global NOW
    NOW = time.time()
    tmp = tmp_path_factory.mktemp("status")
    (tmp / "inventory.yml").write_text(INVENTORY.format(soon=_iso(NOW + 3600), later=_iso(NOW + 7200),
                                                        past=_iso(NOW - DAY), long_ago=_iso(NOW - 30 * DAY)))
    tree = tmp / "tree"
    result = run_vigil("generate", "-i", str(tmp / "inventory.yml"), "-o", str(tree))
    assert result.returncode == 0, result.stderr
    (tmp / "history.om").write_text(_history())
    data = tmp / "prom-data"
    # One block for the 90 days, not a thousand of 2 hours for Prometheus to open and compact.
    made = subprocess.run([tool("promtool"), "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=2400h",
                           str(tmp / "history.om"), str(data)], capture_output=True, text=True, timeout=600)
    assert made.returncode == 0, made.stderr
    (tmp / "prometheus.yml").write_text("global: {scrape_interval: 15s}\n")
    port = free_port()
    prom = Process([tool("prometheus"), f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={data}",
                    f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=100d"], tmp,
                   tmp / "prometheus.log").start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for("the backfilled probes", lambda: get_json(f"{url}/api/v1/query?query=count(probe_success)")
                 ["data"]["result"], 240, proc=prom)
        yield {"tmp": tmp, "tree": tree, "prom_url": url}
    finally:
        prom.stop()


def test_the_rendered_config_holds_only_public_facts(site):
    config = json.loads((site["tree"] / statuspage.DIR / statuspage.CONFIG).read_text())
    assert [s["name"] for s in config["services"]] == ["checkout", "website", "search"]   # not admin, not worker
    assert {s["measure"] for s in config["services"]} == {"probes"}
    assert "127.0.0.1:9" not in json.dumps(config) and "example.com" not in json.dumps(config)
    assert config["title"] == "Example Shop status" and len(config["announcements"]) == 3


def test_static_export_states_uptime_incidents_announcements(site):
    out = site["tmp"] / "public"
    result = run_vigil("status-page", "-o", str(site["tree"]), "--out", str(out), "--prometheus-url", site["prom_url"])
    assert result.returncode == 0, result.stderr
    status = json.loads((out / "status.json").read_text())
    states = {s["name"]: s["state"] for s in status["services"]}
    assert states == {"checkout": "down", "website": "degraded", "search": "operational"}
    days = {s["name"]: dict(s["days"]) for s in status["services"]}
    assert status["days"] == statuspage.DAYS and all(len(d) == statuspage.DAYS for d in days.values())
    day = lambda n: time.strftime("%Y-%m-%d", time.gmtime(NOW // DAY * DAY - n * DAY))   # noqa: E731
    assert days["website"][day(10)] == pytest.approx(0.5, abs=0.01)
    assert days["checkout"][day(3)] == pytest.approx(143 / 144, abs=0.002)
    assert days["search"][day(40)] == 1
    ended, ongoing = sorted(status["incidents"], key=lambda i: i["end"] is None)
    assert ended["service"] == "checkout" and ended["seconds"] == 1800 and ended["end"] == pytest.approx(NOW - 3 * DAY, abs=1)
    assert ongoing["end"] is None and ongoing["start"] == pytest.approx(NOW - 600, abs=1)
    titles = [a["title"] for a in status["announcements"]]
    assert titles == ["Database upgrade", "New payment provider"]          # not the one that ended
    page = (out / "index.html").read_text()
    assert "Major outage" in page and "Degraded performance" in page and "Operational" in page
    assert page.count('<li class="') == 3 * statuspage.DAYS and "uptime over 90 days</span>" in page
    assert "Scheduled maintenance: Database upgrade" in page and "30 min" in page and "Ongoing" in page
    assert not re.search(r"""(src|href)=["']?https?:""", page), "an external asset"
    assert "<script" not in page


def test_the_default_retention_shows_the_days_it_keeps(site):
    """stack.retention 30d (the default): 30 bars and an uptime over those, said on the page, not
    60 grey bars and an "uptime over 90 days" of 30 (the backfilled data holds 90)."""
    inventory = site["tmp"] / "default-retention.yml"
    inventory.write_text((site["tmp"] / "inventory.yml").read_text().replace("  retention: 100d\n", ""))
    tree = site["tmp"] / "tree-30d"
    assert run_vigil("generate", "-i", str(inventory), "-o", str(tree)).returncode == 0
    out = site["tmp"] / "public-30d"
    result = run_vigil("status-page", "-o", str(tree), "--out", str(out), "--prometheus-url", site["prom_url"])
    assert result.returncode == 0, result.stderr
    status = json.loads((out / "status.json").read_text())
    assert status["days"] == 30
    website = next(s for s in status["services"] if s["name"] == "website")
    assert len(website["days"]) == 30 and website["days"][-1][0] == time.strftime("%Y-%m-%d", time.gmtime(NOW))
    assert website["uptime"] == pytest.approx(29.5 / 30, abs=0.001)       # its half day down, over 30 days
    page = (out / "index.html").read_text()
    assert page.count('<li class="') == 3 * 30 and 'class="none"' not in page
    assert page.count("uptime over the last 30 days (all that is kept)") == 3 and "90 days" not in page


JOBS = """\
  - name: queue
    team: shop
    kind: job
    targets: ["127.0.0.1:19001", "127.0.0.1:19002"]
    public: true
  - name: mailer
    team: shop
    kind: job
    targets: ["127.0.0.1:19003"]
    public: true
"""


def test_a_public_service_without_probes_is_measured_by_its_targets(site):
    """A job made public has no probe: its state and bars come from its targets' up (all down: an
    outage; some: degraded), not "No data" forever."""
    inventory = site["tmp"] / "jobs.yml"
    inventory.write_text((site["tmp"] / "inventory.yml").read_text() + JOBS)
    tree = site["tmp"] / "tree-jobs"
    assert run_vigil("generate", "-i", str(inventory), "-o", str(tree)).returncode == 0
    config = json.loads((tree / statuspage.DIR / statuspage.CONFIG).read_text())
    assert {s["name"]: s["measure"] for s in config["services"]}["queue"] == "targets"
    out = site["tmp"] / "public-jobs"
    result = run_vigil("status-page", "-o", str(tree), "--out", str(out), "--prometheus-url", site["prom_url"])
    assert result.returncode == 0, result.stderr
    status = json.loads((out / "status.json").read_text())
    states = {s["name"]: s["state"] for s in status["services"]}
    assert states == {"checkout": "down", "website": "degraded", "search": "operational", "queue": "degraded",
                      "mailer": "down"}
    days = {s["name"]: dict(s["days"]) for s in status["services"]}
    day = lambda n: time.strftime("%Y-%m-%d", time.gmtime(NOW // DAY * DAY - n * DAY))   # noqa: E731
    assert days["queue"][day(5)] == pytest.approx(0.5) and days["queue"][day(40)] == 1
    assert days["mailer"][day(5)] == 1 and None not in days["mailer"].values()


def test_the_stack_down_gives_a_page_that_says_so(site):
    out = site["tmp"] / "down"
    result = run_vigil("status-page", "-o", str(site["tree"]), "--out", str(out),
                       "--prometheus-url", f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    page = (out / "index.html").read_text()
    assert "Status unknown" in page and "Database upgrade" in page


def chromium(url: str, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp / f"chromium-{time.monotonic_ns()}"
    return subprocess.run([tool("chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                           "--no-first-run", "--disable-background-networking", "--disable-component-update",
                           "--disable-sync", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
                           "--hide-scrollbars", *args, url], capture_output=True, text=True, timeout=180)


def console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


def test_the_console_check_sees_an_error(tmp_path):
    """The check below can fail: a page that throws is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!doctype html><title>x</title><script>throw new Error('boom')</script>")
    result = chromium(bad.as_uri(), tmp_path, "--dump-dom")
    assert any("boom" in line for line in console_errors(result.stderr)), result.stderr[-2000:]


def test_served_in_chromium_at_desktop_and_phone_width(site):
    port = free_port()
    server = Process([sys.executable, "-m", "vigil", "status-page", "--serve", "-o", str(site["tree"]),
                      "--port", str(port), "--prometheus-url", site["prom_url"]], ROOT, site["tmp"] / "serve.log").start()
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for("the status page", lambda: get_json(f"{url}status.json")["services"], 60, proc=server)
        dom = chromium(url, site["tmp"], "--dump-dom")
        assert dom.returncode == 0, dom.stderr[-2000:]
        assert not console_errors(dom.stderr), console_errors(dom.stderr)
        assert "Major outage" in dom.stdout and "Scheduled maintenance: Database upgrade" in dom.stdout
        shots = {}
        for name, size in (("desktop", "1280,1400"), ("phone", "390,2200")):
            png = site["tmp"] / f"status-page-{name}.png"
            shot = chromium(url, site["tmp"], f"--window-size={size}", f"--screenshot={png}")
            assert shot.returncode == 0 and png.stat().st_size > 10_000, shot.stderr[-2000:]
            assert not console_errors(shot.stderr), console_errors(shot.stderr)
            shots[name] = png
        if os.environ.get("VIGIL_SCREENSHOTS"):
            for name, png in shots.items():
                shutil.copy(png, ROOT / os.environ["VIGIL_SCREENSHOTS"] / png.name)
    finally:
        server.stop()
