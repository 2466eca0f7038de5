"""Alerts where real outages live: one replica of several down, a trickle of traffic, one outage
paging once, inhibitions that silence only what their source explains.

The rules' own promtool tests (generated with them) show each failure mode alert by alert; here
the real Alertmanager applies the rendered inhibitions, and an end-to-end run with the real
Prometheus kills one replica of two while the other answers half its requests with 5xx.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from conftest import DATA, render_tree, run_vigil
from native import Process, alertmanager, free_port, get_json, native_stack, prometheus, running_alertmanager, \
    wait_for
from vigil import inbox
from vigil.errors import InventoryError
from vigil.validate import load_inventory

APP = Path(__file__).parent / "apps" / "red_app.py"


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> Path:
    return render_tree(DATA / "full.yml", tmp_path_factory.mktemp("full") / "tree")


# ---------------------------------------------------------------- inhibitions in the real Alertmanager


# key: (labels, the key of the alert expected to inhibit it, or None)
ALERTS = {
    # one replica of checkout down: its own alerts silenced, not the service's
    "checkout-a-down": ({"alertname": "InstanceDown", "service": "checkout", "instance": "checkout:8000",
                         "severity": "warning"}, None),
    "checkout-errors": ({"alertname": "HighErrorRate", "service": "checkout", "severity": "warning"}, None),
    "checkout-burn": ({"alertname": "ErrorBudgetBurn", "service": "checkout", "slo": "latency",
                       "severity": "warning"}, None),
    "checkout-a-own": ({"alertname": "CheckoutQueueBacklog", "service": "checkout", "instance": "checkout:8000",
                        "severity": "warning"}, "checkout-a-down"),
    "checkout-b-own": ({"alertname": "CheckoutQueueBacklog", "service": "checkout", "instance": "checkout-2:8000",
                        "severity": "warning"}, None),
    # a critical on /var hides the warning on /var only, not the one on / of the same host
    "disk-var-crit": ({"alertname": "HostDiskFull", "service": "web-1", "instance": "web-1:9100",
                       "mountpoint": "/var", "severity": "critical"}, None),
    "disk-var-warn": ({"alertname": "HostDiskFull", "service": "web-1", "instance": "web-1:9100",
                       "mountpoint": "/var", "severity": "warning"}, "disk-var-crit"),
    "disk-root-warn": ({"alertname": "HostDiskFull", "service": "web-1", "instance": "web-1:9100",
                        "mountpoint": "/", "severity": "warning"}, None),
    # one host's critical does not hide another host's warning
    "cpu-1-crit": ({"alertname": "HostMemoryPressure", "service": "web-1", "instance": "web-1:9100",
                    "severity": "critical"}, None),
    "cpu-2-warn": ({"alertname": "HostMemoryPressure", "service": "web-1", "instance": "web-2:9100",
                    "severity": "warning"}, None),
    # one outage, one page: the critical availability burn silences HighErrorRate, not HighLatency
    "api-burn": ({"alertname": "ErrorBudgetBurn", "service": "api", "slo": "availability",
                  "severity": "critical"}, None),
    "api-errors": ({"alertname": "HighErrorRate", "service": "api", "severity": "warning"}, "api-burn"),
    "api-latency": ({"alertname": "HighLatency", "service": "api", "severity": "warning"}, None),
    "api-burn-latency-warn": ({"alertname": "ErrorBudgetBurn", "service": "api", "slo": "latency",
                               "severity": "warning"}, None),
    # a service none of whose targets serves: every other alert of it is silenced
    "billing-down": ({"alertname": "ServiceDown", "service": "billing", "instance": "billing:8081",
                      "severity": "critical"}, None),
    "billing-errors": ({"alertname": "HighErrorRate", "service": "billing", "severity": "critical"},
                       "billing-down"),
}


def inhibited(am_dir: Path, tmp: Path) -> dict[str, list[str]]:
    """Post ALERTS to the real Alertmanager running `am_dir`: key -> keys of the alerts inhibiting it."""
    now = dt.datetime.now(dt.timezone.utc)
    body = [{"labels": {**labels, "team": "payments", "key": key}, "annotations": {"summary": key},
             "startsAt": now.isoformat(), "endsAt": (now + dt.timedelta(minutes=10)).isoformat()}
            for key, (labels, _) in ALERTS.items()]
    expected = {k: [src] if src else [] for k, (_, src) in ALERTS.items()}
    with running_alertmanager(am_dir, tmp) as url:
        get_json(f"{url}/api/v2/alerts", body)
        deadline, got = time.monotonic() + 30, None
        while time.monotonic() < deadline:
            by_key = {a["labels"]["key"]: a for a in get_json(f"{url}/api/v2/alerts")}
            names = {a["fingerprint"]: k for k, a in by_key.items()}
            got = {k: sorted(names.get(f, f) for f in a["status"]["inhibitedBy"]) for k, a in by_key.items()}
            if got == expected:
                break
            time.sleep(0.2)
    return got


def test_inhibitions_silence_only_what_their_source_explains(full, tmp_path):
    am = tmp_path / "am"
    shutil.copytree(full / "alertmanager", am, ignore=shutil.ignore_patterns("secrets"))
    assert inhibited(am, tmp_path) == {k: [src] if src else [] for k, (_, src) in ALERTS.items()}


def test_the_critical_inhibition_is_keyed_by_every_identifying_label(full):
    rules = yaml.safe_load((full / "alertmanager/alertmanager.yml").read_text())["inhibit_rules"]
    (same,) = [r for r in rules if r["source_matchers"] == ['severity="critical"']]
    # derived from the rendered alerts, not written by hand: every label an alert of full.yml carries
    assert {"alertname", "service", "instance", "mountpoint", "device", "slo", "team", "job"} <= set(same["equal"])
    assert "severity" not in same["equal"]


@pytest.mark.parametrize("label", ["instance", "mountpoint", "slo"])
def test_dropping_an_equal_label_makes_one_alert_hide_another(full, tmp_path, label):
    """The mutation test: without `label` in the critical inhibition's equal list, the real
    Alertmanager silences a warning the critical does not explain."""
    am = tmp_path / "am"
    shutil.copytree(full / "alertmanager", am, ignore=shutil.ignore_patterns("secrets"))
    path = am / "alertmanager.yml"
    config = yaml.safe_load(path.read_text())
    for rule in config["inhibit_rules"]:
        if rule["source_matchers"] == ['severity="critical"']:
            rule["equal"].remove(label)
    path.write_text(yaml.safe_dump(config))
    got = inhibited(am, tmp_path)
    wrong = {k for k, (_, src) in ALERTS.items() if got.get(k) != ([src] if src else [])}
    assert wrong, f"dropping {label} from equal changed nothing"


# ---------------------------------------------------------------- located mistakes

BASE = """\
version: 1
stack:
  name: demo
receivers:
  - name: ops
    slack: {channel: "#ops", webhook: SLACK_WEBHOOK_URL}
routing:
  default_receiver: ops
teams:
  - name: platform
    notify: {critical: [ops], warning: [ops]}
services:
  - name: checkout
    team: platform
    kind: http
    targets: ["checkout:8000", "checkout-2:8000"]
"""


@pytest.mark.parametrize("lines,where,message", [
    (("    slo: {availability: 99.9}", "    alerts: {error_rate: {critical: 5%}}"),
     "services[0].alerts.error_rate.critical",
     "with slo.availability, ErrorBudgetBurn is the page for it: HighErrorRate only warns"),
    (("    slo: {latency: {threshold: 250ms, objective: 99}}", "    alerts: {latency_p95: {critical: 2s}}"),
     "services[0].alerts.latency_p95.critical", "with slo.latency, ErrorBudgetBurn is the page for it"),
    (("    alerts: {error_rate: {min_requests: -5}}",), "services[0].alerts.error_rate.min_requests",
     "expected a number, 0 or more, got -5"),
    (("    alerts: {instances_down: {critical: 50%}}",), "services[0].alerts.instances_down.critical",
     "more than 50% of 2 targets down means all of them, which is ServiceDown"),
    (("    alerts: {instances_down: {often: 1}}",), "services[0].alerts.instances_down.often",
     "unknown key 'often' (allowed: warning, for, critical)"),
], ids=["error_rate critical with SLO", "latency critical with SLO", "negative guard", "dead level", "unknown key"])
def test_mistakes_are_located(tmp_path, lines, where, message):
    path = tmp_path / "inventory.yml"
    path.write_text(BASE + "".join(line + "\n" for line in lines))
    with pytest.raises(InventoryError) as e:
        load_inventory(path)
    (p,) = e.value.problems
    assert p.where == where and message in p.message, str(p)
    assert p.line == 17 + len(lines) - 1


def test_a_warning_of_a_share_of_replicas_is_valid(tmp_path):
    path = tmp_path / "inventory.yml"
    path.write_text(BASE + "    alerts: {instances_down: {warning: 40%, for: 1m}, error_rate: {min_requests: 0}}\n")
    assert load_inventory(path).services[0].alerts["instances_down"]["warning"] == "40%"


# ---------------------------------------------------------------- end to end

SERVICE = """\
  - name: checkout
    team: shop
    kind: http
    targets: ["127.0.0.1:{a}", "127.0.0.1:{b}"]
    alerts:
      down: {{for: 2s}}
      instances_down: {{for: 2s}}
      error_rate: {{warning: 5%, critical: 20%, for: 2s}}
"""


def _get(url: str) -> None:
    try:
        urllib.request.urlopen(url, timeout=5).read()
    except (urllib.error.HTTPError, OSError):
        pass


def test_one_replica_dead_the_other_failing_pages_both(tmp_path):
    """Two replicas: one killed, the other answering half its requests with 5xx. The team's
    receiver gets the replica's InstanceDown *and* the service's HighErrorRate: the dead replica
    does not mute the live one, and no ServiceDown pages for a service that still serves."""
    ports = {k: free_port() for k in ("prom", "am", "closed", "a", "b")}
    slack = inbox.serve("127.0.0.1", 0)
    hook = f"http://127.0.0.1:{slack.server_address[1]}/slack/shop"
    head = native_stack("partial", ports, ("shop",), alertmanager=ports["am"]).replace(
        f'    webhook: {{url: "http://127.0.0.1:{ports["closed"]}/hook"}}',
        '    slack: {channel: "#shop", webhook: SHOP_SLACK_WEBHOOK}')
    head = head.replace("routing: {default_receiver: hook}",
                        "routing:\n  default_receiver: hook\n  timings:\n    critical: {group_wait: 1s, group_interval: 1s}\n"
                        "    warning: {group_wait: 1s, group_interval: 1s}")
    (tmp_path / "inventory.yml").write_text(head + SERVICE.format(**ports))
    (tmp_path / ".env").write_text(f"SHOP_SLACK_WEBHOOK={hook}\n")
    tree = tmp_path / "tree"
    for args in (("generate",), ("secrets", "--env", str(tmp_path / ".env"))):
        result = run_vigil(*args, "-i", str(tmp_path / "inventory.yml"), "-o", str(tree))
        assert result.returncode == 0, result.stderr
    apps = {k: Process([sys.executable, str(APP), str(ports[k])], tmp_path, tmp_path / f"app-{k}.log").start()
            for k in ("a", "b")}
    am = alertmanager(tree / "alertmanager", ports["am"], tmp_path / "am-data", tmp_path / "am.log").start()
    prom = prometheus(tree, ports["prom"], tmp_path / "prom-data", tmp_path / "prom.log").start()
    prom_url = f"http://127.0.0.1:{ports['prom']}"
    stop = threading.Event()

    def traffic():          # replica b: half its requests fail; bounded by the test's own deadline
        deadline = time.monotonic() + 240
        while not stop.is_set() and time.monotonic() < deadline:
            for path in ("/ok", "/fail"):
                _get(f"http://127.0.0.1:{ports['b']}{path}")
            stop.wait(0.05)

    def messages(alertname: str) -> list[dict]:
        return [a for m in slack.inbox.snapshot() for a in m["payload"].get("attachments", [])
                if alertname in a["title"] and "[FIRING" in a["title"]]
    try:
        def both_up():
            result = get_json(f"{prom_url}/api/v1/query?query=up{{service=\"checkout\"}}==1")["data"]["result"]
            return len(result) == 2
        wait_for("both replicas scraped up", both_up, 90, proc=prom)
        threading.Thread(target=traffic, daemon=True).start()
        apps["a"].stop()
        down = wait_for("InstanceDown for the dead replica", lambda: messages("InstanceDown"), 120, every=0.5)
        errors = wait_for("HighErrorRate from the live replica", lambda: [
            a for a in messages("HighErrorRate") if "(critical)" in a["title"]], 120, every=0.5)
        assert f"127.0.0.1:{ports['a']}" in down[0]["text"] and "(warning)" in down[0]["title"]
        assert "of requests fail" in errors[0]["text"]
        assert not messages("ServiceDown"), "the service still serves: no ServiceDown"
        # The live replica's error alert is not inhibited by the dead one's InstanceDown.
        alerts = get_json(f"http://127.0.0.1:{ports['am']}/api/v2/alerts?filter=alertname%3D%22HighErrorRate%22")
        assert {a["status"]["state"] for a in alerts if a["labels"]["severity"] == "critical"} == {"active"}
    finally:
        stop.set()
        for p in (prom, am, *apps.values()):
            p.stop()
        slack.shutdown()
