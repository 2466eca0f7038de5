"""The alert path end to end, with the real binaries and no Docker: Prometheus
scrapes an app instrumented with prometheus-client, rules rendered by Vigil
fire, Alertmanager routes them with the rendered config and templates, and a
local server that speaks Slack's incoming-webhook contract receives the message.
"""

from __future__ import annotations

import re
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import run_vigil
from native import Process, alertmanager, free_port, get_json, prometheus, wait_for
from vigil import inbox

APP = Path(__file__).parent / "apps" / "red_app.py"

INVENTORY = """\
version: 1
stack:
  name: e2e
  basic_auth: false           # no passwords: test_basic_auth.py runs the pair with them
  team: platform
  scrape_interval: 1s
  evaluation_interval: 1s
  grafana_url: http://localhost:3000
  endpoints:
    prometheus: 127.0.0.1:{prom}
    alertmanager: 127.0.0.1:{am}
    grafana: 127.0.0.1:{closed}
    loki: 127.0.0.1:{closed}
    alloy: 127.0.0.1:{closed}
    blackbox: 127.0.0.1:{closed}
    node_exporter: 127.0.0.1:{closed}
    cadvisor: 127.0.0.1:{closed}
receivers:
  - name: ops
    slack: {{channel: "#ops-alerts", webhook: OPS_SLACK_WEBHOOK}}
  - name: shop-oncall
    slack: {{channel: "#shop-oncall", webhook: SHOP_SLACK_WEBHOOK}}
routing:
  default_receiver: ops
  timings:
    critical: {{group_wait: 1s, group_interval: 1s}}
    warning: {{group_wait: 1s, group_interval: 1s}}
teams:
  - name: shop
    notify: {{critical: [shop-oncall], warning: [shop-oncall]}}
  - name: platform
    notify: {{critical: [ops], warning: [ops]}}
services:
  - name: checkout
    team: shop
    kind: http
    targets: ["127.0.0.1:{checkout}"]
    runbook_url: https://wiki.example.com/runbooks/checkout
    alerts:
      down: {{for: 2s}}
  - name: cart
    team: shop
    kind: http
    targets: ["127.0.0.1:{cart}"]
    alerts:
      error_rate: {{warning: 5%, critical: 20%, for: 2s}}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    ports = {k: free_port() for k in ("prom", "am", "closed", "checkout", "cart")}
    slack = inbox.serve("127.0.0.1", 0)
    hook = f"http://127.0.0.1:{slack.server_address[1]}/slack"
    (tmp / "inventory.yml").write_text(INVENTORY.format(**ports))
    (tmp / ".env").write_text(f"OPS_SLACK_WEBHOOK={hook}/ops\nSHOP_SLACK_WEBHOOK={hook}/shop\n")
    tree = tmp / "tree"
    for args in (("generate",), ("secrets", "--env", str(tmp / ".env"))):
        result = run_vigil(*args, "-i", str(tmp / "inventory.yml"), "-o", str(tree))
        assert result.returncode == 0, result.stderr
    apps = {name: Process([sys.executable, str(APP), str(ports[name])], tmp, tmp / f"{name}.log").start()
            for name in ("checkout", "cart")}
    am = alertmanager(tree / "alertmanager", ports["am"], tmp / "am-data", tmp / "alertmanager.log").start()
    prom = prometheus(tree, ports["prom"], tmp / "prom-data", tmp / "prometheus.log").start()
    env = {"tmp": tmp, "ports": ports, "inbox": slack.inbox, "apps": apps, "am": am, "prom": prom,
           "prom_url": f"http://127.0.0.1:{ports['prom']}", "am_url": f"http://127.0.0.1:{ports['am']}"}
    try:
        wait_for("Alertmanager ready", lambda: urllib.request.urlopen(f"{env['am_url']}/-/ready").status == 200,
                 30, proc=am)
        wait_for("both apps scraped up", lambda: _up(env) >= {"checkout", "cart"}, 60, proc=prom)
        yield env
    finally:
        for p in (prom, am, *apps.values()):
            p.stop()
        slack.shutdown()


def _up(env) -> set:
    result = get_json(f"{env['prom_url']}/api/v1/query?query=up==1")["data"]["result"]
    return {r["metric"].get("service") for r in result}


def _messages(env, channel: str, alertname: str, status: str) -> list[dict]:
    """Slack attachments that arrived for `channel` about `alertname` in `status`."""
    out = []
    for m in env["inbox"].snapshot():
        payload = m["payload"]
        for a in payload.get("attachments", []):
            if payload.get("channel") == channel and alertname in a["title"] and f"[{status}" in a["title"]:
                out.append(a)
    return out


def _traffic(port: int, ok: int, fail: int, flaky: int = 0) -> None:
    for path, n in (("/ok", ok), ("/fail", fail), ("/flaky", flaky)):
        for _ in range(n):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5)
            except urllib.error.HTTPError:
                pass


def test_a_dead_service_pages_its_team_and_the_recovery_follows(stack):
    checkout = stack["apps"]["checkout"]
    _traffic(stack["ports"]["checkout"], ok=20, fail=0)
    checkout.stop()
    killed = time.monotonic()
    (firing,) = wait_for("ServiceDown message for checkout", lambda: [
        a for a in _messages(stack, "#shop-oncall", "ServiceDown", "FIRING") if "checkout" in a["title"]], 60)
    took = time.monotonic() - killed
    assert firing["title"] == "🔥 [FIRING:1] ServiceDown — checkout (critical)"
    assert firing["color"] == "danger"
    assert "*Service:* checkout" in firing["text"] and "*Team:* shop" in firing["text"]
    assert "*Severity:* critical" in firing["text"]
    assert "checkout is down" in firing["text"]
    assert f"127.0.0.1:{stack['ports']['checkout']}" in firing["text"]
    buttons = {b["text"]: b["url"] for b in firing["actions"]}
    assert buttons["Runbook"] == "https://wiki.example.com/runbooks/checkout"
    assert buttons["Dashboard"] == "http://localhost:3000/d/svc-checkout"
    assert buttons["Silence"].startswith(f"{stack['am_url']}/#/silences/new?filter=%7B")
    assert "service%3D%22checkout%22" in buttons["Silence"]
    # scrape 1s + for 2s + evaluation 1s + group_wait 1s, with slack for process start-up.
    assert took < 30, f"the page took {took:.1f}s"

    stack["apps"]["checkout"] = checkout.start()
    (resolved,) = wait_for("resolved message for checkout", lambda: [
        a for a in _messages(stack, "#shop-oncall", "ServiceDown", "RESOLVED") if "checkout" in a["title"]], 60)
    assert resolved["title"] == "✅ [RESOLVED] ServiceDown — checkout (critical)"
    assert resolved["color"] == "good"
    # Nothing about checkout reached the platform team's channel.
    assert not [a for a in _messages(stack, "#ops-alerts", "ServiceDown", "FIRING") if "checkout" in a["title"]]


def test_real_errors_raise_the_error_rate_alert_and_critical_inhibits_warning(stack):
    port = stack["ports"]["cart"]
    deadline = time.monotonic() + 90

    def critical_message():
        # 7 of 13 requests fail: over both thresholds; /fail makes most of the 5xx, /flaky half of its own.
        _traffic(port, ok=5, fail=5, flaky=4)
        return [a for a in _messages(stack, "#shop-oncall", "HighErrorRate", "FIRING")
                if "cart" in a["title"] and "(critical)" in a["title"]]
    (message,) = wait_for("HighErrorRate critical message for cart", critical_message, 90, every=0.5)
    assert "of requests fail" in message["text"] and "*Service:* cart" in message["text"]
    # Prometheus named the failing routes in the description, the one with the most 5xx first;
    # /ok, which never fails, is not among them.
    worst = re.search(r"Worst routes over the last 5m: /fail (\S+)% of (\d+) requests, /flaky (\S+)% of (\d+) requests\.",
                      message["text"])
    assert worst, message["text"]
    fail_share, fail_n, flaky_share, flaky_n = map(float, worst.groups())
    assert fail_share == 100 and 30 <= flaky_share <= 70 and fail_n > flaky_n > 0, worst.group(0)
    assert "/ok" not in message["text"]

    # Alertmanager holds the warning too, inhibited by the critical one.
    alerts = get_json(f"{stack['am_url']}/api/v2/alerts?filter=alertname%3D%22HighErrorRate%22"
                      f"&filter=service%3D%22cart%22")
    by_severity = {a["labels"]["severity"]: a for a in alerts}
    assert set(by_severity) == {"critical", "warning"}
    assert by_severity["warning"]["status"]["state"] == "suppressed"
    assert by_severity["warning"]["status"]["inhibitedBy"] == [by_severity["critical"]["fingerprint"]]
    assert not [a for a in _messages(stack, "#shop-oncall", "HighErrorRate", "FIRING") if "(warning)" in a["title"]]
    assert time.monotonic() < deadline


def test_status_and_test_notify_against_the_running_stack(stack):
    inv = str(stack["tmp"] / "inventory.yml")
    status = run_vigil("status", "--prometheus-url", stack["prom_url"], "--alertmanager-url", stack["am_url"])
    # grafana, loki ... are not running here: targets down (exit 3), or worse a critical alert (exit 4)
    assert status.returncode in (3, 4), status.stdout + status.stderr
    assert "targets:" in status.stdout and "down" in status.stdout
    assert "firing alerts:" in status.stdout and "Watchdog" in status.stdout

    sent = run_vigil("test-notify", "-i", inv, "--receiver", "shop-oncall", "--alertmanager-url", stack["am_url"])
    assert sent.returncode == 0, sent.stderr
    (message,) = wait_for("the test notification", lambda: _messages(
        stack, "#shop-oncall", "VigilTestNotification", "FIRING"), 30)
    assert "Test notification for receiver shop-oncall" in message["text"]
