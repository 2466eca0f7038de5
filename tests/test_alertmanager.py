"""The rendered Alertmanager side, proven with the real amtool (and the real
Alertmanager for inhibitions): configs load, every route case reaches exactly
its receivers, routing follows SPEC §2/§4, secrets stay out of rendered files,
the message templates render what a person wants to read (golden files), the
local inbox speaks Slack's webhook contract, and `vigil test-notify` alerts
reach the receiver they are meant for.

Golden files live in tests/golden/templates/; UPDATE_GOLDEN=1 rewrites them.
Their inputs, alert groups in the shape Alertmanager hands to templates, are in
tests/data/alert-groups/.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from conftest import DATA, ROOT, VIGIL_TIMEOUT, render_tree, tool
from native import free_port, running_alertmanager
from vigil import envfile, inbox, live
from vigil.errors import InventoryError
from vigil.units import Duration
from vigil.validate import load_inventory

GOLDEN = Path(__file__).resolve().parent / "golden" / "templates"
GROUPS = DATA / "alert-groups"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

# Every secret variable the inventories of these tests name: removed from the
# environment of the CLI runs, so only the .env under test can provide them.
FULL_SECRETS = ("SLACK_WEBHOOK_URL", "PAGERDUTY_PAYMENTS_KEY", "SLACK_PLATFORM_WEBHOOK_URL", "SMTP_PASSWORD")
SMALL_SECRETS = ("CORE_PAGER_KEY", "CORE_CHAT_WEBHOOK")

# A small inventory whose default receiver is nobody's team receiver, so that
# "went to the default" cannot be confused with "went to the team's receiver",
# and with timing overrides.
SMALL = """\
version: 1
stack:
  name: small
receivers:
  - name: fallback
    webhook: {url: "http://fallback:9000/alerts"}
  - name: pager
    pagerduty: {routing_key: CORE_PAGER_KEY}
  - name: chat
    slack: {channel: "#core", webhook: CORE_CHAT_WEBHOOK}
  - name: heartbeat
    webhook: {url: "http://deadman:9000/ping"}
routing:
  default_receiver: fallback
  heartbeat_receiver: heartbeat
  group_by: [alertname, service]
  timings:
    critical: {group_wait: 5s, repeat_interval: 30m}
    warning: {group_interval: 10m}
teams:
  - name: core
    notify: {critical: [pager, chat], warning: [chat]}
  - name: quiet
    notify: {critical: [pager]}
services:
  - name: api
    team: core
    kind: http
    targets: ["api:8000"]
"""


# ---------------------------------------------------------------- helpers


def amtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([tool("amtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def route(am_dir: Path, labels: dict) -> list[str]:
    """The receivers the routing tree of am_dir/alertmanager.yml picks for an alert with `labels`."""
    r = amtool("config", "routes", "test", "--config.file=alertmanager.yml",
               *[f"{k}={v}" for k, v in labels.items()], cwd=am_dir)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout.strip().split(",")


def verify(am_dir: Path, labels: dict, receivers) -> subprocess.CompletedProcess:
    return amtool("config", "routes", "test", "--config.file=alertmanager.yml",
                  f"--verify.receivers={','.join(receivers)}", *[f"{k}={v}" for k, v in labels.items()],
                  cwd=am_dir)


def route_case_failures(am_dir: Path) -> list[str]:
    """Every case of am_dir/tests/routes.yml that amtool does not confirm."""
    cases = yaml.safe_load((am_dir / "tests" / "routes.yml").read_text())["cases"]
    assert cases, "routes.yml has no cases"
    failures = []
    for case in cases:
        r = verify(am_dir, case["labels"], case["receivers"])
        if r.returncode != 0:
            failures.append(f"{case['labels']} -> expected {case['receivers']}, amtool: {r.stdout.strip()}")
    return failures


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`vigil ...` in a separate process whose environment holds none of the secret variables."""
    env = {k: v for k, v in os.environ.items() if k not in FULL_SECRETS + SMALL_SECRETS}
    return subprocess.run([sys.executable, "-m", "vigil", *args], cwd=cwd or ROOT, env=env,
                          capture_output=True, text=True, timeout=VIGIL_TIMEOUT)


def config(am_dir: Path) -> dict:
    return yaml.safe_load((am_dir / "alertmanager.yml").read_text())


def team_route(cfg: dict, team: str) -> dict:
    found = [r for r in cfg["route"]["routes"] if r.get("matchers") == [f'team="{team}"']]
    assert len(found) == 1, f"one route for team {team}, found {len(found)}"
    return found[0]


def seconds(duration: str) -> float:
    return Duration.parse(duration).seconds


def copy_alertmanager(tree: Path, dest: Path) -> Path:
    shutil.copytree(tree / "alertmanager", dest, ignore=shutil.ignore_patterns("secrets"))
    return dest


# ---------------------------------------------------------------- trees


@pytest.fixture(scope="module")
def trees(tmp_path_factory) -> dict[str, Path]:
    """The committed example (the repository root) and full.yml / SMALL rendered to temp dirs."""
    small = tmp_path_factory.mktemp("small") / "inventory.yml"
    small.write_text(SMALL)
    return {"example": ROOT,
            "full": render_tree(DATA / "full.yml", tmp_path_factory.mktemp("full") / "tree"),
            "small": render_tree(small, tmp_path_factory.mktemp("small-tree") / "tree")}


# ---------------------------------------------------------------- 1. amtool check-config


@pytest.mark.parametrize("name, n_receivers", [("example", 2), ("full", 6), ("small", 4)])
def test_amtool_check_config(trees, name, n_receivers):
    am = trees[name] / "alertmanager"
    r = amtool("check-config", "alertmanager.yml", cwd=am)
    assert r.returncode == 0, r.stdout + r.stderr
    # the inventory's receivers plus blackhole, and the template file parsed
    assert f" - {n_receivers + 1} receivers" in r.stdout, r.stdout
    assert " - 1 templates" in r.stdout, r.stdout
    assert " - 5 inhibit rules" in r.stdout, r.stdout


def test_amtool_check_config_fails_on_a_broken_config(trees, tmp_path):
    """The check above can fail: a route naming a receiver that does not exist is refused."""
    am = copy_alertmanager(trees["full"], tmp_path / "am")
    cfg = config(am)
    team_route(cfg, "payments")["routes"][0]["receiver"] = "nobody"
    (am / "alertmanager.yml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    r = amtool("check-config", "alertmanager.yml", cwd=am)
    assert r.returncode != 0 and "nobody" in r.stdout + r.stderr, r.stdout + r.stderr


def test_amtool_check_config_fails_on_a_broken_template(trees, tmp_path):
    am = copy_alertmanager(trees["full"], tmp_path / "am")
    tmpl = am / "templates" / "vigil.tmpl"
    tmpl.write_text(tmpl.read_text().replace('{{ define "vigil.title" -}}', '{{ define "vigil.title" -}}{{ if }}', 1))
    r = amtool("check-config", "alertmanager.yml", cwd=am)
    assert r.returncode != 0, r.stdout + r.stderr


def test_rendered_template_is_the_committed_one(trees):
    """The templates do not depend on the inventory: the goldens below hold for every tree."""
    committed = (ROOT / "alertmanager/templates/vigil.tmpl").read_bytes()
    for name in ("full", "small"):
        assert (trees[name] / "alertmanager/templates/vigil.tmpl").read_bytes() == committed


# ---------------------------------------------------------------- 2. route cases


EXPECTED_CASES = {
    "example": {("shop", "critical"): ["shop-oncall"], ("shop", "warning"): ["shop-oncall"],
                ("shop", "info"): ["blackhole"],
                ("platform", "critical"): ["ops"], ("platform", "warning"): ["ops"],
                ("platform", "info"): ["blackhole"],
                ("no-such-team", "critical"): ["ops"], "Watchdog": ["blackhole"]},
    "full": {("payments", "critical"): ["payments-pager", "audit"], ("payments", "warning"): ["payments-mail"],
             ("payments", "info"): ["blackhole"],
             ("platform", "critical"): ["ops"], ("platform", "warning"): ["ops", "chat"],
             ("platform", "info"): ["blackhole"],
             ("data", "critical"): ["ops"], ("data", "warning"): ["ops"], ("data", "info"): ["blackhole"],
             ("no-such-team", "critical"): ["ops"], "Watchdog": ["deadman"]},
    "small": {("core", "critical"): ["pager", "chat"], ("core", "warning"): ["chat"], ("core", "info"): ["blackhole"],
              ("quiet", "critical"): ["pager"], ("quiet", "warning"): ["fallback"], ("quiet", "info"): ["blackhole"],
              ("no-such-team", "critical"): ["fallback"], "Watchdog": ["heartbeat"]},
}


@pytest.mark.parametrize("name", EXPECTED_CASES)
def test_route_cases_cover_every_team_and_severity(trees, name):
    """routes.yml says what a person reading the inventory expects: every team x severity,
    an unknown team, and Watchdog."""
    cases = yaml.safe_load((trees[name] / "alertmanager/tests/routes.yml").read_text())["cases"]
    # Each receiver's test notification reaches that receiver alone.
    tests = [c for c in cases if c["labels"]["alertname"] == "VigilTestNotification"]
    receivers = [r["name"] for r in config(trees[name] / "alertmanager")["receivers"] if r["name"] != "blackhole"]
    assert [(c["labels"]["vigil_receiver"], c["receivers"]) for c in tests] == [(r, [r]) for r in receivers]
    got = {}
    for c in cases:
        if c in tests:
            continue
        key = "Watchdog" if c["labels"].get("alertname") == "Watchdog" else (c["labels"]["team"],
                                                                               c["labels"]["severity"])
        assert key not in got, f"case {key} twice"
        got[key] = c["receivers"]
    assert got == EXPECTED_CASES[name]


@pytest.mark.parametrize("name", EXPECTED_CASES)
def test_every_route_case_passes_amtool(trees, name):
    am = trees[name] / "alertmanager"
    assert route_case_failures(am) == []


def test_route_cases_fail_when_the_config_routes_elsewhere(trees, tmp_path):
    """Swap a receiver in the config: amtool reports exactly the cases that changed."""
    am = copy_alertmanager(trees["full"], tmp_path / "am")
    cfg = config(am)
    warning = [r for r in team_route(cfg, "payments")["routes"] if r["matchers"] == ['severity="warning"']]
    assert [r["receiver"] for r in warning] == ["payments-mail"]
    warning[0]["receiver"] = "ops"
    (am / "alertmanager.yml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    failures = route_case_failures(am)
    assert len(failures) == 1 and "'team': 'payments', 'severity': 'warning'" in failures[0], failures


def test_route_cases_fail_on_a_wrong_expectation(trees, tmp_path):
    am = copy_alertmanager(trees["full"], tmp_path / "am")
    routes = am / "tests" / "routes.yml"
    doc = yaml.safe_load(routes.read_text())
    payments_critical = next(c for c in doc["cases"]
                             if c["labels"].get("team") == "payments" and c["labels"]["severity"] == "critical")
    payments_critical["receivers"] = ["audit", "payments-pager"]   # right receivers, wrong order
    routes.write_text(yaml.safe_dump(doc, sort_keys=False))
    failures = route_case_failures(am)
    assert len(failures) == 1 and "payments-pager,audit" in failures[0], failures


def test_vigil_check_passes_on_a_good_tree():
    r = cli("check", "-o", str(ROOT))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok   amtool check-config" in r.stdout
    assert re.search(r"ok   amtool config routes test \(\d+ cases\)", r.stdout), r.stdout


def test_vigil_check_fails_on_a_tampered_route_expectation(tmp_path):
    tree = render_tree(ROOT / "inventory.yml", tmp_path / "tree")
    routes = tree / "alertmanager/tests/routes.yml"
    text = routes.read_text()
    # the shop team's critical alerts: expected at shop-oncall, now claimed for ops
    tampered = text.replace("    team: shop\n    severity: critical\n    alertname: ServiceDown\n  receivers:\n"
                            "  - shop-oncall\n",
                            "    team: shop\n    severity: critical\n    alertname: ServiceDown\n  receivers:\n"
                            "  - ops\n", 1)
    assert tampered != text
    routes.write_text(tampered)
    r = cli("check", "-o", str(tree))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "ok   amtool check-config" in r.stdout
    assert "FAIL amtool config routes test" in r.stdout
    assert "team=shop severity=critical alertname=ServiceDown: expected ops, got shop-oncall" in r.stdout


# ---------------------------------------------------------------- 3. routing semantics


def test_info_is_never_notified(trees):
    for name, team in (("example", "shop"), ("full", "payments"), ("full", "data"), ("small", "core")):
        am = trees[name] / "alertmanager"
        assert route(am, {"alertname": "HighLatency", "team": team, "severity": "info", "service": "x"}) \
            == ["blackhole"], (name, team)
        assert route(am, {"alertname": "Whatever", "severity": "info"}) == ["blackhole"], name


def test_blackhole_has_no_integrations(trees):
    for name in trees:
        receivers = {r["name"]: r for r in config(trees[name] / "alertmanager")["receivers"]}
        assert receivers["blackhole"] == {"name": "blackhole"}, name


@pytest.mark.parametrize("name, heartbeat", [("example", "blackhole"), ("full", "deadman"), ("small", "heartbeat")])
def test_watchdog_goes_to_the_heartbeat_receiver_only(trees, name, heartbeat):
    am = trees[name] / "alertmanager"
    assert route(am, {"alertname": "Watchdog", "severity": "info"}) == [heartbeat]
    # whatever else it is labelled with: it never pages a team
    assert route(am, {"alertname": "Watchdog", "severity": "critical", "team": "payments", "service": "x"}) \
        == [heartbeat]


def test_watchdog_route_repeats_often_so_a_dead_mans_switch_stays_fed(trees):
    watchdog = next(r for r in config(trees["full"] / "alertmanager")["route"]["routes"]
                    if r.get("matchers") == ['alertname="Watchdog"'])
    assert seconds(watchdog["repeat_interval"]) <= 300, watchdog


@pytest.mark.parametrize("name", ["example", "full", "small"])
def test_unknown_team_goes_to_the_default_receiver(trees, name):
    am = trees[name] / "alertmanager"
    inventory = ROOT / "inventory.yml" if name == "example" else DATA / "full.yml" if name == "full" else None
    default = yaml.safe_load(inventory.read_text() if inventory else SMALL)["routing"]["default_receiver"]
    for labels in ({"alertname": "X", "team": "nobody-knows", "severity": "critical"},
                   {"alertname": "X", "team": "nobody-knows", "severity": "warning"},
                   {"alertname": "X", "severity": "critical"},          # no team label at all
                   {"alertname": "X", "team": "nobody-knows"}):         # nor severity
        assert route(am, labels) == [default], labels


def test_team_without_warning_receivers_sends_warnings_to_the_default(trees):
    assert route(trees["full"] / "alertmanager", {"alertname": "HostDiskFull", "team": "data", "severity": "warning",
                                                  "service": "db-host"}) == ["ops"]
    # in SMALL the default (fallback) is no team's receiver: no confusion possible
    assert route(trees["small"] / "alertmanager", {"alertname": "X", "team": "quiet", "severity": "warning"}) \
        == ["fallback"]


def test_every_receiver_of_a_severity_gets_the_alert(trees):
    """payments critical reaches the pager AND audit (continue); platform warning reaches ops AND chat."""
    full = trees["full"] / "alertmanager"
    assert route(full, {"alertname": "ServiceDown", "team": "payments", "severity": "critical",
                        "service": "checkout"}) == ["payments-pager", "audit"]
    assert route(full, {"alertname": "HighLatency", "team": "platform", "severity": "warning",
                        "service": "api"}) == ["ops", "chat"]
    # and a critical alert of platform does not leak to its warning-only receiver
    assert route(full, {"alertname": "ServiceDown", "team": "platform", "severity": "critical"}) == ["ops"]
    assert route(trees["small"] / "alertmanager", {"alertname": "X", "team": "core", "severity": "critical"}) \
        == ["pager", "chat"]


def test_last_receiver_of_a_severity_stops_the_search(trees):
    """continue is set exactly between receivers of one severity; nothing falls through to the default."""
    cfg = config(trees["full"] / "alertmanager")
    for team in ("payments", "platform", "data"):
        children = team_route(cfg, team)["routes"]
        for i, child in enumerate(children):
            same_next = i + 1 < len(children) and children[i + 1]["matchers"] == child["matchers"]
            assert child.get("continue", False) == same_next, (team, child)
    assert all("continue" not in r for r in cfg["route"]["routes"])


def test_group_by_comes_from_the_inventory(trees):
    assert config(trees["example"] / "alertmanager")["route"]["group_by"] == ["alertname", "service"]
    assert config(trees["full"] / "alertmanager")["route"]["group_by"] == ["alertname", "service", "team"]


def _severity_timings(cfg: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {"critical": [], "warning": []}
    for team in cfg["route"]["routes"]:
        if not team.get("matchers", [""])[0].startswith("team="):
            continue
        for child in team.get("routes", []):
            sev = child["matchers"][0].split('"')[1]
            out[sev].append({k: child[k] for k in ("group_wait", "group_interval", "repeat_interval")})
    return out


@pytest.mark.parametrize("name", ["example", "full"])
def test_critical_pages_faster_than_warning(trees, name):
    timings = _severity_timings(config(trees[name] / "alertmanager"))
    assert timings["critical"] and timings["warning"]
    for crit in timings["critical"]:
        assert seconds(crit["repeat_interval"]) == 3600, crit          # hourly reminder
        for warn in timings["warning"]:
            assert seconds(crit["group_wait"]) < seconds(warn["group_wait"]), (crit, warn)
            assert seconds(crit["group_interval"]) <= seconds(warn["group_interval"]), (crit, warn)
            assert seconds(crit["repeat_interval"]) < seconds(warn["repeat_interval"]), (crit, warn)
    root = config(trees[name] / "alertmanager")["route"]
    assert all(root[k] for k in ("group_wait", "group_interval", "repeat_interval"))


def test_timing_overrides_change_the_routes(trees):
    default = _severity_timings(config(trees["full"] / "alertmanager"))
    small = _severity_timings(config(trees["small"] / "alertmanager"))
    # SMALL overrides critical group_wait and repeat_interval, and warning group_interval; the rest stays
    base_crit, base_warn = default["critical"][0], default["warning"][0]
    assert small["critical"] and all(t == {"group_wait": "5s", "group_interval": base_crit["group_interval"],
                                           "repeat_interval": "30m"} for t in small["critical"]), small
    assert small["warning"] and all(t == {"group_wait": base_warn["group_wait"], "group_interval": "10m",
                                          "repeat_interval": base_warn["repeat_interval"]}
                                    for t in small["warning"]), small


def test_timing_override_with_a_bad_duration_is_an_error(tmp_path):
    path = tmp_path / "inventory.yml"
    path.write_text(SMALL.replace("critical: {group_wait: 5s,", "critical: {group_wait: soon,"))
    r = cli("validate", "-i", str(path))
    assert r.returncode == 2, r.stdout + r.stderr
    assert "routing.timings.critical.group_wait" in r.stderr, r.stderr


# ---------------------------------------------------------------- 4. inhibitions


def test_inhibit_rules_as_rendered(trees):
    for name in trees:
        rules = config(trees[name] / "alertmanager")["inhibit_rules"]
        same = next(r for r in rules if r["source_matchers"] == ['severity="critical"'])
        assert same["target_matchers"] == ['severity="warning"'], name
        # every label that tells alerts apart (tests/test_partial_failure.py shows why)
        assert same["equal"][0] == "alertname" and {"service", "instance"} <= set(same["equal"]), name
        assert {"source_matchers": ['alertname="ServiceDown"'], "target_matchers": ['alertname!="ServiceDown"'],
                "equal": ["service"]} in rules, name
        assert {"source_matchers": ['alertname="InstanceDown"'], "target_matchers": ['alertname!="InstanceDown"'],
                "equal": ["service", "instance"]} in rules, name


def test_inhibitions_in_the_real_alertmanager(trees, tmp_path):
    """critical silences warning of the same alertname+service(+slo); ServiceDown silences its service's other
    alerts."""
    import datetime as dt
    now = dt.datetime.now(dt.timezone.utc)
    alerts = {
        # key: (labels, expected inhibitor key or None)
        "checkout-errors-crit": ({"alertname": "HighErrorRate", "service": "checkout", "severity": "critical"}, None),
        "checkout-errors-warn": ({"alertname": "HighErrorRate", "service": "checkout", "severity": "warning"},
                                 "checkout-errors-crit"),
        "checkout-latency-warn": ({"alertname": "HighLatency", "service": "checkout", "severity": "warning"}, None),
        # with an availability SLO, a critical burn is the page: it silences HighErrorRate
        "api-errors-warn": ({"alertname": "HighErrorRate", "service": "api", "severity": "warning"},
                            "api-slo-avail-crit"),
        "billing-down": ({"alertname": "ServiceDown", "service": "billing", "severity": "critical",
                          "instance": "billing:8081"}, None),
        "billing-down-2": ({"alertname": "ServiceDown", "service": "billing", "severity": "critical",
                            "instance": "billing-2:8081"}, None),
        "billing-latency-warn": ({"alertname": "HighLatency", "service": "billing", "severity": "warning"},
                                 "billing-down"),
        "billing-errors-crit": ({"alertname": "HighErrorRate", "service": "billing", "severity": "critical"},
                                "billing-down"),
        "catalog-latency-warn": ({"alertname": "HighLatency", "service": "catalog", "severity": "warning"}, None),
        # a fast availability burn silences the slow one of the same SLO, not the latency SLO's
        "api-slo-avail-crit": ({"alertname": "ErrorBudgetBurn", "service": "api", "slo": "availability",
                                "severity": "critical"}, None),
        "api-slo-avail-warn": ({"alertname": "ErrorBudgetBurn", "service": "api", "slo": "availability",
                                "severity": "warning"}, "api-slo-avail-crit"),
        "api-slo-latency-warn": ({"alertname": "ErrorBudgetBurn", "service": "api", "slo": "latency",
                                  "severity": "warning"}, None),
    }
    team = {"checkout": "payments", "billing": "payments", "api": "platform", "catalog": "platform"}
    body = [{"labels": {**labels, "team": team[labels["service"]], "key": key},
             "annotations": {"summary": key},
             "startsAt": now.isoformat(), "endsAt": (now + dt.timedelta(minutes=10)).isoformat()}
            for key, (labels, _) in alerts.items()]
    am = copy_alertmanager(trees["full"], tmp_path / "am")
    data = tmp_path / "data"
    data.mkdir()
    with running_alertmanager(am, data) as url:
        req = urllib.request.Request(f"{url}/api/v2/alerts", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.status == 200
        expected = {k: [src] if src else [] for k, (_, src) in alerts.items()}
        deadline = time.monotonic() + 15
        while True:
            with urllib.request.urlopen(f"{url}/api/v2/alerts", timeout=5) as r:
                by_key = {a["labels"]["key"]: a for a in json.load(r)}
            by_fingerprint = {a["fingerprint"]: k for k, a in by_key.items()}
            inhibited_by = {k: sorted(by_fingerprint.get(f, f) for f in a["status"]["inhibitedBy"])
                            for k, a in by_key.items()}
            if inhibited_by == expected or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert inhibited_by == expected
    for key, (_, src) in alerts.items():
        assert by_key[key]["status"]["state"] == ("suppressed" if src else "active"), key


# ---------------------------------------------------------------- 5. secrets


SECRET_VALUES = {
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0VIGIL/B0SECRET/xoxSecretSlackA1f3",
    "PAGERDUTY_PAYMENTS_KEY": "pdSecretRoutingKey9c41d7e2b6a0",
    "SLACK_PLATFORM_WEBHOOK_URL": "https://hooks.slack.com/services/T0VIGIL/B0SECRET/xoxSecretSlackB2e8",
    "SMTP_PASSWORD": "smtp Secret pass #42",
}
# The passwords of stack.basic_auth (webauth.py): their hashes go to alertmanager/secrets/web.yml.
WEB_PASSWORDS = {"VIGIL_PROMETHEUS_PASSWORD": "webSecretPrometheus7d2f", "VIGIL_ALERTMANAGER_PASSWORD": "webSecretAlertmgr4e1a"}
# fragments that must not leak either (a secret split or re-encoded still leaks its middle)
SECRET_FRAGMENTS = ("xoxSecretSlackA1f3", "xoxSecretSlackB2e8", "pdSecretRoutingKey9c41d7e2b6a0", "Secret pass")


def _env_file(path: Path, values: dict) -> Path:
    # the four spellings .env files use: plain, single-quoted, double-quoted, export
    spell = {"SLACK_WEBHOOK_URL": "{k}={v}", "SLACK_PLATFORM_WEBHOOK_URL": "{k}='{v}'",
             "PAGERDUTY_PAYMENTS_KEY": '{k}="{v}"', "SMTP_PASSWORD": 'export {k}="{v}"'}
    lines = ["# secrets for the test", ""] + [spell.get(k, "{k}={v}").format(k=k, v=v) for k, v in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _file_settings(node, path=()) -> dict[tuple, str]:
    """Every key ending in _file anywhere in a parsed config -> its value."""
    out = {}
    if isinstance(node, dict):
        for k, v in node.items():
            if isinstance(k, str) and k.endswith("_file"):
                out[path + (k,)] = v
            out.update(_file_settings(v, path + (k,)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.update(_file_settings(v, path + (i,)))
    return out


def test_secrets_never_in_rendered_files(tmp_path):
    tree = tmp_path / "tree"
    env = _env_file(tmp_path / ".env", SECRET_VALUES | WEB_PASSWORDS)
    r = cli("secrets", "-i", str(DATA / "full.yml"), "--env", str(env), "-o", str(tree))
    assert r.returncode == 0, r.stdout + r.stderr
    r = cli("generate", "-i", str(DATA / "full.yml"), "-o", str(tree))
    assert r.returncode == 0, r.stdout + r.stderr

    secrets = tree / "alertmanager" / "secrets"
    rendered = {p: b for p, b in _files(tree).items() if not p.startswith(("alertmanager/secrets/",
                                                                            "prometheus/secrets/"))}
    assert "alertmanager/alertmanager.yml" in rendered and ".env.example" in rendered
    for path, content in rendered.items():
        for secret in list(SECRET_VALUES.values()) + list(SECRET_FRAGMENTS) + list(WEB_PASSWORDS.values()):
            assert secret.encode() not in content, f"{path} holds a secret ({secret!r})"

    # the config names each secret by file, relative to alertmanager/ where Alertmanager runs
    settings = _file_settings(config(tree / "alertmanager"))
    assert settings, "no *_file settings at all"
    for where, value in settings.items():
        assert re.fullmatch(r"secrets/[A-Z_][A-Z0-9_]*", value), (where, value)
    assert {v.removeprefix("secrets/") for v in settings.values()} == set(SECRET_VALUES)
    # no secret-bearing setting is given inline
    text = (tree / "alertmanager/alertmanager.yml").read_text()
    for inline in ("api_url:", "routing_key:", "service_key:", "smtp_auth_password:", "webhook_url:"):
        assert inline not in text, inline

    # generate left the secret files alone; each holds exactly its value, for its owner only
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    assert sorted(p.name for p in secrets.iterdir() if p.name != envfile.SECRETS_MANIFEST) == \
        sorted([*SECRET_VALUES, "authorization", "web.yml"])
    for name, value in SECRET_VALUES.items():
        assert (secrets / name).read_text() == value, name
        assert stat.S_IMODE((secrets / name).stat().st_mode) == 0o600, name
    # and the config loads with them in place
    r = amtool("check-config", "alertmanager.yml", cwd=tree / "alertmanager")
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("inventory, variables", [
    (DATA / "full.yml", FULL_SECRETS),
    (ROOT / "inventory.yml", ("SLACK_WEBHOOK_URL",)),
    (None, SMALL_SECRETS),
])
def test_env_example_lists_every_variable_empty(tmp_path, inventory, variables):
    if inventory is None:
        inventory = tmp_path / "inventory.yml"
        inventory.write_text(SMALL)
    tree = render_tree(inventory, tmp_path / "tree")
    lines = (tree / ".env.example").read_text().splitlines()
    assignments = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    # and what Docker Compose reads (Grafana's password, the exporters' connections: tests/test_compose.py)
    variables = tuple(variables) + tuple(n.variable for n in envfile.compose_needs(load_inventory(inventory)))
    assert sorted(assignments) == sorted(f"{v}=" for v in variables)
    # each one says what it is
    for v in variables:
        i = lines.index(f"{v}=")
        assert i > 0 and lines[i - 1].startswith("# "), v


def test_committed_env_example_matches_the_example_inventory():
    lines = [l for l in (ROOT / ".env.example").read_text().splitlines() if l.strip() and not l.startswith("#")]
    assert lines == ["SLACK_WEBHOOK_URL=", "GF_SECURITY_ADMIN_PASSWORD=", "VIGIL_PROMETHEUS_PASSWORD=",
                     "VIGIL_ALERTMANAGER_PASSWORD=", "BUGSINK_SECRET_KEY=", "BUGSINK_ADMIN_PASSWORD=",
                     "BUGSINK_API_TOKEN=", "SENTRY_DSN_DEMO="]


def test_secrets_with_a_missing_pagerduty_key_writes_nothing(tmp_path):
    values = {k: v for k, v in SECRET_VALUES.items() if k != "PAGERDUTY_PAYMENTS_KEY"}
    env = _env_file(tmp_path / ".env", values)
    tree = tmp_path / "tree"
    r = cli("secrets", "-i", str(DATA / "full.yml"), "--env", str(env), "-o", str(tree))
    assert r.returncode == 2, r.stdout + r.stderr
    assert "PAGERDUTY_PAYMENTS_KEY is not set" in r.stderr and "payments-pager" in r.stderr, r.stderr
    assert not tree.exists()
    # with secrets already in place: they stay exactly as they were
    secrets = tree / "alertmanager" / "secrets"
    secrets.mkdir(parents=True)
    (secrets / "SLACK_WEBHOOK_URL").write_text("old-value")
    (secrets / "STALE_VAR").write_text("stale")
    before = _files(tree)
    # even --inbox-url cannot stand in for a PagerDuty key
    r = cli("secrets", "-i", str(DATA / "full.yml"), "--env", str(env), "-o", str(tree),
            "--inbox-url", "http://inbox:8025")
    assert r.returncode == 2, r.stdout + r.stderr
    assert _files(tree) == before


def test_secrets_send_slack_without_webhook_to_the_inbox(tmp_path):
    values = {k: v for k, v in SECRET_VALUES.items() if not k.startswith("SLACK")} | WEB_PASSWORDS
    env = _env_file(tmp_path / ".env", values)
    tree = tmp_path / "tree"
    r = cli("secrets", "-i", str(DATA / "full.yml"), "--env", str(env), "-o", str(tree))
    assert r.returncode == 2, r.stdout + r.stderr   # no webhook and no inbox: a clear error, not a black hole
    assert "SLACK_WEBHOOK_URL is not set" in r.stderr and "SLACK_PLATFORM_WEBHOOK_URL is not set" in r.stderr
    assert not tree.exists()
    # --inbox: the inbox docker-compose.yml runs (`make up` passes it)
    r = cli("secrets", "-i", str(DATA / "full.yml"), "--env", str(env), "-o", str(tree), "--inbox")
    assert r.returncode == 0, r.stdout + r.stderr
    secrets = tree / "alertmanager" / "secrets"
    assert (secrets / "SLACK_WEBHOOK_URL").read_text() == "http://inbox:8025/slack/SLACK_WEBHOOK_URL"
    assert (secrets / "SLACK_PLATFORM_WEBHOOK_URL").read_text() == "http://inbox:8025/slack/SLACK_PLATFORM_WEBHOOK_URL"
    assert (secrets / "PAGERDUTY_PAYMENTS_KEY").read_text() == SECRET_VALUES["PAGERDUTY_PAYMENTS_KEY"]
    assert (secrets / "SMTP_PASSWORD").read_text() == SECRET_VALUES["SMTP_PASSWORD"]
    assert "local inbox" in r.stdout
    # a trailing slash on the inbox URL does not double up
    r = cli("secrets", "-i", str(DATA / "full.yml"), "--env", str(env), "-o", str(tree),
            "--inbox-url", "http://inbox:8025/")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (secrets / "SLACK_WEBHOOK_URL").read_text() == "http://inbox:8025/slack/SLACK_WEBHOOK_URL"


def test_secrets_keep_files_they_did_not_write_and_tighten_modes(tmp_path):
    tree = tmp_path / "tree"
    secrets = tree / "alertmanager" / "secrets"
    secrets.mkdir(parents=True)
    os.chmod(secrets, 0o755)
    (secrets / "OLD_WEBHOOK").write_text("old")
    (secrets / "SMTP_PASSWORD").write_text("previous value that is much longer than the new one")
    os.chmod(secrets / "SMTP_PASSWORD", 0o644)
    env = _env_file(tmp_path / ".env", SECRET_VALUES | WEB_PASSWORDS)
    r = cli("secrets", "-i", str(DATA / "full.yml"), "--env", str(env), "-o", str(tree))
    assert r.returncode == 0, r.stdout + r.stderr
    # OLD_WEBHOOK was not written by vigil secrets: kept, and said so (tests/test_write_safety.py)
    assert f"{secrets / 'OLD_WEBHOOK'}: kept: not written by vigil secrets" in r.stderr
    assert sorted(p.name for p in secrets.iterdir()) == sorted([*SECRET_VALUES, "authorization", "web.yml",
                                                                "OLD_WEBHOOK", envfile.SECRETS_MANIFEST])
    assert (secrets / "SMTP_PASSWORD").read_text() == SECRET_VALUES["SMTP_PASSWORD"]
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in secrets.iterdir() if p.name != "OLD_WEBHOOK")


def test_validate_strict_names_every_missing_variable(tmp_path):
    env = _env_file(tmp_path / ".env", {"SLACK_WEBHOOK_URL": SECRET_VALUES["SLACK_WEBHOOK_URL"]})
    r = cli("validate", "-i", str(DATA / "full.yml"), "--strict", "--env", str(env))
    assert r.returncode == 2, r.stdout + r.stderr
    for missing in ("PAGERDUTY_PAYMENTS_KEY", "SLACK_PLATFORM_WEBHOOK_URL", "SMTP_PASSWORD"):
        assert re.search(rf"^{re.escape(str(env))}: {missing} is not set", r.stderr, re.M), r.stderr
    assert "SLACK_WEBHOOK_URL is not set" not in r.stderr
    # an empty value is as missing as no line at all
    (tmp_path / "empty.env").write_text("".join(f"{k}=\n" for k in FULL_SECRETS))
    r = cli("validate", "-i", str(DATA / "full.yml"), "--strict", "--env", str(tmp_path / "empty.env"))
    assert r.returncode == 2 and all(f"{k} is not set" in r.stderr for k in FULL_SECRETS), r.stderr
    # what Compose reads from .env counts too: Grafana's password, the exporters' connections
    env = _env_file(tmp_path / "full.env", SECRET_VALUES)
    r = cli("validate", "-i", str(DATA / "full.yml"), "--strict", "--env", str(env))
    assert r.returncode == 2 and "GF_SECURITY_ADMIN_PASSWORD is not set" in r.stderr, r.stderr
    compose = {n.variable: "x" for n in envfile.compose_needs(load_inventory(DATA / "full.yml"))}
    env = _env_file(tmp_path / "full.env", {**SECRET_VALUES, **compose})
    r = cli("validate", "-i", str(DATA / "full.yml"), "--strict", "--env", str(env))
    assert r.returncode == 0, r.stdout + r.stderr
    # without --strict, secrets are not required
    r = cli("validate", "-i", str(DATA / "full.yml"), "--env", str(tmp_path / "nonexistent.env"))
    assert r.returncode == 0, r.stdout + r.stderr


# ---------------------------------------------------------------- 6. templates, golden


CASES = ("critical-firing", "warning-firing", "resolved")
# warning-firing of a stack without Grafana: no dashboard_url, the service's own runbook_url
GOLDEN_CASES = CASES + ("no-grafana",)
TEMPLATES = ("vigil.title", "vigil.slack.text", "vigil.slack.text.runbook", "vigil.markdown.text", "vigil.text",
             "vigil.email.html", "vigil.silence_url", "vigil.alerts_url", "vigil.color")


@pytest.fixture(scope="module")
def template_file(trees) -> Path:
    """The templates as the generator renders them (vigil.tmpl is checked equal to the committed
    copy above; links.tmpl holds full.yml's URLs)."""
    return trees["full"] / "alertmanager" / "templates" / "*.tmpl"


def render_template(text: str, data: Path, glob: Path, kind: str = "text") -> str:
    """What Alertmanager renders: amtool uses the same template engine and functions."""
    r = subprocess.run([tool("amtool"), "template", "render", f"--template.glob={glob}", f"--template.data={data}",
                        f"--template.text={text}", f"--template.type={kind}"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def render_named(name: str, case: str, glob: Path) -> str:
    # e-mail HTML goes through html/template in Alertmanager (email_configs.html), the rest through text/template
    kind = "html" if name.endswith(".html") else "text"
    return render_template(f'{{{{ template "{name}" . }}}}', GROUPS / f"{case}.json", glob, kind)


def golden_path(case: str, name: str) -> Path:
    return GOLDEN / case / (name if name.endswith(".html") else f"{name}.txt")


@pytest.mark.parametrize("name", TEMPLATES)
@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_template_golden(template_file, case, name):
    got = render_named(name, case, template_file)
    path = golden_path(case, name)
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got)
    assert path.is_file(), f"{path} is missing: run with UPDATE_GOLDEN=1 and read what it holds"
    assert got == path.read_text(), f"{name} on {case} differs from {path} (UPDATE_GOLDEN=1 rewrites it)"


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href = None

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href = dict(attrs)["href"]

    def handle_data(self, data):
        if self._href is not None:
            self.links.append((data, self._href))
            self._href = None


def _silence_filter(url: str, external: str) -> str:
    assert url.startswith(f"{external}/#/silences/new?filter="), url
    return urllib.parse.parse_qs(url.split("?", 1)[1])["filter"][0]


# What a person needs to read in each message: checked apart from the goldens, so a
# blindly updated golden cannot hide a lost fact.
FACTS = {
    "critical-firing": {"emoji": "🔥", "status": "[FIRING:2]", "color": "danger", "alertname": "ServiceDown",
                        "severity": "critical", "instances": 2, "dashboard": "https://grafana.example.com/d/svc-checkout",
                        "summaries": ["checkout is down (checkout:8000)", "checkout is down (checkout-2:8000)"],
                        "silence": '{alertname="ServiceDown",service="checkout",team="payments"}'},
    "warning-firing": {"emoji": "⚠️", "status": "[FIRING:1]", "color": "warning", "alertname": "HighErrorRate",
                       "severity": "warning", "instances": 1, "dashboard": "https://grafana.example.com/d/svc-checkout",
                       "summaries": ["checkout: 1.23% of requests fail"],
                       "silence": '{alertname="HighErrorRate",service="checkout",team="payments"}'},
    "resolved": {"emoji": "✅", "status": "[RESOLVED]", "color": "good", "alertname": "ServiceDown",
                 "severity": "critical", "instances": 2, "dashboard": "https://grafana.example.com/d/svc-checkout",
                 "summaries": ["checkout is down (checkout:8000)", "checkout is down (checkout-2:8000)"],
                 "silence": '{alertname="ServiceDown",service="checkout",team="payments"}'},
}


@pytest.mark.parametrize("case", CASES)
def test_messages_carry_the_facts(template_file, case):
    f = FACTS[case]
    data = json.loads((GROUPS / f"{case}.json").read_text())
    # The inventory's stack.alertmanager_url, not the URL Alertmanager believes it has (data["externalURL"]):
    # a native Alertmanager started without --web.external-url still links where people reach it.
    external = "https://alertmanager.example.com"
    assert data["externalURL"] != external
    title = render_named("vigil.title", case, template_file)
    assert title.startswith(f["emoji"] + " " + f["status"]), title
    assert f"{f['alertname']} — checkout ({f['severity']})" in title
    assert "\n" not in title
    assert render_named("vigil.color", case, template_file) == f["color"]

    slack = render_named("vigil.slack.text", case, template_file)
    firing = sum(a["status"] == "firing" for a in data["alerts"])
    resolved = len(data["alerts"]) - firing
    instances = ", ".join([f"{firing} firing"] * bool(firing) + [f"{resolved} resolved"] * bool(resolved))
    assert slack.splitlines()[0] == (f"*Service:* checkout  *Team:* payments  *Severity:* {f['severity']}  "
                                     f"*Instances:* {instances}")
    lines = slack.splitlines()
    assert len(data["alerts"]) == f["instances"]
    for alert, summary in zip(data["alerts"], f["summaries"]):
        head, _, where = summary.partition(" (")
        where = f" ({where}" if where else ""
        if alert["status"] == "resolved":
            # past tense, when it ended and how long it lasted; the firing description no longer holds
            ended = dt.datetime.fromisoformat(alert["endsAt"].replace("Z", "+00:00"))
            lasted = ended - dt.datetime.fromisoformat(alert["startsAt"].replace("Z", "+00:00"))
            bullet = (f"✅ Was: _{head}_{where} — ended {ended:%Y-%m-%d %H:%M} UTC, "
                      f"after {round(lasted.total_seconds() / 60)} min")
            assert bullet in lines, (bullet, slack)
            assert alert["annotations"]["description"] not in slack
        else:   # one bullet per instance: the summary, where, and what to do
            bullet = f"• *{head}*{where}"
            assert bullet in lines, (bullet, slack)
            assert lines[lines.index(bullet) + 1] == alert["annotations"]["description"]

    silence = render_named("vigil.silence_url", case, template_file)
    assert _silence_filter(silence, external) == f["silence"]

    text = render_named("vigil.text", case, template_file)
    assert text.splitlines()[0] == title
    assert "Runbook: https://wiki.example.com/runbooks/checkout" in text.splitlines()
    assert f"Dashboard: {f['dashboard']}" in text.splitlines()
    assert f"Silence: {silence}" in text.splitlines()

    mail = render_named("vigil.email.html", case, template_file)
    assert f"<h2>{title}</h2>" in mail
    links = _Links()
    links.feed(mail)
    assert links.links == [("Runbook", "https://wiki.example.com/runbooks/checkout"),
                           ("Dashboard", f["dashboard"]), ("Silence", html.unescape(silence))]
    assert mail.count("<li>") == f["instances"]
    for alert in data["alerts"]:
        if "instance" in alert["labels"]:
            assert f"<b>{alert['annotations']['summary']}</b> ({alert['labels']['instance']})" in mail
    for alert in data["alerts"]:
        escaped = html.escape(alert["annotations"]["description"], quote=True).replace("&#x27;", "&#39;")
        assert (escaped in mail) == (alert["status"] == "firing")

    for out in (title, slack, text, mail, silence):
        assert "<no value>" not in out


@pytest.mark.parametrize("runbook", [True, False])
def test_messages_without_grafana_carry_only_links_that_open(template_file, tmp_path, runbook):
    """No Grafana run (stack.endpoints.grafana: null): an alert has no dashboard_url, and a runbook_url
    only when its service names one; each message then links what the alert has, Silence always."""
    data = json.loads((GROUPS / "no-grafana.json").read_text())
    if not runbook:
        for a in [data["commonAnnotations"]] + [x["annotations"] for x in data["alerts"]]:
            del a["runbook_url"]
    group = tmp_path / "group.json"
    group.write_text(json.dumps(data))
    wiki = "https://wiki.example.com/runbooks/checkout"

    def render(name):
        return render_template(f'{{{{ template "{name}" . }}}}', group, template_file,
                               "html" if name.endswith(".html") else "text")
    silence = render("vigil.silence_url")
    markdown = render("vigil.markdown.text").splitlines()[-1]
    assert markdown == (f"[Runbook]({wiki}) · " * runbook) + f"[Silence]({silence})", markdown
    text = render("vigil.text").splitlines()
    assert [l.split(":")[0] for l in text if l.startswith(("Runbook:", "Dashboard:", "Silence:"))] == \
        ["Runbook"] * runbook + ["Silence"], text
    links = _Links()
    links.feed(render("vigil.email.html"))
    assert links.links == [("Runbook", wiki)] * runbook + [("Silence", html.unescape(silence))]
    slack = render("vigil.slack.text.runbook")
    assert slack.endswith(f"<{wiki}|Runbook>" if runbook else "errors.\n"), slack
    for out in (markdown, "\n".join(text), slack):
        assert "Dashboard" not in out and "()" not in out and "<|" not in out and "<no value>" not in out


@pytest.mark.parametrize("case", CASES)
def test_every_templated_receiver_field_renders(trees, case):
    """Each templated string in full's alertmanager.yml (Slack, e-mail, PagerDuty) renders to something."""
    cfg = config(trees["full"] / "alertmanager")
    fields: dict = {}

    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, path + (k,))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, path + (i,))
        elif isinstance(node, str) and "{{" in node:
            fields[path] = node

    walk(cfg["receivers"], ())
    assert len(fields) >= 15, fields
    glob = trees["full"] / "alertmanager" / "templates" / "*.tmpl"
    distinct = {(text, "html" if path[-1] == "html" else "text"): path for path, text in fields.items()}
    for (text, kind), path in distinct.items():
        out = render_template(text, GROUPS / f"{case}.json", glob, kind)
        assert out.strip() and "<no value>" not in out, (path, text, out)
    severity = next(t for p, t in fields.items() if p[-1] == "severity" and "pagerduty_configs" in p)
    assert render_template(severity, GROUPS / f"{case}.json", glob) == \
        ("critical" if FACTS[case]["severity"] == "critical" else "warning")


# ---------------------------------------------------------------- 7. inbox


@pytest.fixture
def inbox_server():
    server = inbox.serve("127.0.0.1", 0)
    try:
        yield server, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _request(url: str, body: bytes | None = None, method: str | None = None) -> tuple[int, bytes, str]:
    req = urllib.request.Request(url, data=body, method=method or ("POST" if body is not None else "GET"),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers.get("Content-Type", "")


SLACK_PAYLOAD = {
    "channel": "#payments-oncall",
    "attachments": [{
        "color": "danger",
        "title": "🔥 [FIRING:1] <ServiceDown> — checkout & co",
        "title_link": "https://grafana.example.com/d/svc-checkout?a=1&b=2",
        "text": "*Service:* checkout <b>not bold</b>",
        "actions": [{"type": "button", "text": "Runbook <1>", "url": 'https://wiki.example.com/r?x="y"&z=1'},
                    {"type": "button", "text": "Silence", "url": "http://localhost:9093/#/silences/new?filter=%7B%7D"}],
    }],
}


def test_inbox_stores_a_slack_payload(inbox_server):
    server, url = inbox_server
    code, body, _ = _request(f"{url}/slack/SLACK_WEBHOOK_URL", json.dumps(SLACK_PAYLOAD).encode())
    assert (code, body) == (200, b"ok")
    code, body, _ = _request(f"{url}/slack/other", json.dumps({"text": "plain message"}).encode())
    assert (code, body) == (200, b"ok")
    stored = server.inbox.snapshot()
    assert [(m["path"], m["payload"]) for m in stored] == [("/slack/SLACK_WEBHOOK_URL", SLACK_PAYLOAD),
                                                           ("/slack/other", {"text": "plain message"})]
    code, body, kind = _request(f"{url}/messages.json")
    assert code == 200 and kind.startswith("application/json")
    messages = json.loads(body)
    assert [(m["path"], m["payload"]) for m in messages] == [(m["path"], m["payload"]) for m in stored]
    assert all(isinstance(m["received"], (int, float)) for m in messages)


@pytest.mark.parametrize("body, answer", [
    (json.dumps({"channel": "#x"}).encode(), b"no_text"),
    (json.dumps({"text": "", "attachments": []}).encode(), b"no_text"),
    (json.dumps(["a list"]).encode(), b"invalid_payload"),
    (b'{"text": "unterminated', None),
    (b"not json at all", None),
])
def test_inbox_refuses_bad_payloads(inbox_server, body, answer):
    server, url = inbox_server
    code, got, _ = _request(f"{url}/slack/X", body)
    assert code == 400
    if answer:
        assert got == answer
    assert server.inbox.snapshot() == []


def test_inbox_only_takes_slack_paths(inbox_server):
    server, url = inbox_server
    code, _, _ = _request(f"{url}/elsewhere", json.dumps({"text": "hi"}).encode())
    assert code == 400 and server.inbox.snapshot() == []
    code, _, _ = _request(f"{url}/nope")
    assert code == 404


def test_inbox_page_shows_messages_escaped(inbox_server):
    server, url = inbox_server
    code, page, kind = _request(f"{url}/")
    assert code == 200 and "No notifications yet" in page.decode()
    _request(f"{url}/slack/SLACK_WEBHOOK_URL", json.dumps(SLACK_PAYLOAD).encode())
    _request(f"{url}/slack/other", json.dumps({"text": "second <message>"}).encode())
    code, page, kind = _request(f"{url}/")
    assert code == 200 and kind.startswith("text/html")
    page = page.decode()
    assert "Vigil inbox" in page and "No notifications yet" not in page
    assert "🔥 [FIRING:1] &lt;ServiceDown&gt; — checkout &amp; co" in page
    assert "<ServiceDown>" not in page
    assert 'href="https://grafana.example.com/d/svc-checkout?a=1&amp;b=2"' in page
    # Slack's mrkdwn is rendered (*bold*), what the sender wrote as HTML is not
    assert "<b>Service:</b> checkout &lt;b&gt;not bold&lt;/b&gt;" in page and "<b>not bold</b>" not in page
    assert 'href="https://wiki.example.com/r?x=&quot;y&quot;&amp;z=1"' in page
    assert ">Runbook &lt;1&gt;</a>" in page
    assert 'href="http://localhost:9093/#/silences/new?filter=%7B%7D">Silence</a>' in page
    assert "#payments-oncall" in page
    assert "second &lt;message&gt;" in page
    assert page.index("second &lt;message&gt;") < page.index("&lt;ServiceDown&gt;"), "newest first"
    assert "#d40e0d" in page   # danger shows red, as in Slack


# ---------------------------------------------------------------- 8. test-notify


def test_test_alerts_reach_their_receiver(trees):
    inventory = load_inventory(DATA / "full.yml")
    am = trees["full"] / "alertmanager"
    heartbeat = inventory.routing.heartbeat_receiver
    names = [r.name for r in inventory.receivers if r.name != heartbeat]
    assert names == ["ops", "payments-pager", "payments-mail", "audit", "chat"]
    for name in names:
        alerts = live.test_alerts(inventory, name)
        assert len(alerts) == 1, name
        labels = alerts[0]["labels"]
        assert labels["alertname"] == live.TEST_ALERT and labels["severity"] in ("critical", "warning"), labels
        assert name in route(am, labels), (name, labels)
        assert alerts[0]["annotations"]["summary"] and alerts[0]["startsAt"] < alerts[0]["endsAt"]
    every = live.test_alerts(inventory)
    reached = set()
    for a in every:
        reached.update(route(am, a["labels"]))
    assert set(names) <= reached
    # one group per test alert: they do not merge into one notification
    assert len({a["labels"]["service"] for a in every}) == len(every)


def test_test_notify_unknown_receiver():
    r = cli("test-notify", "-i", str(DATA / "full.yml"), "--receiver", "nosuch",
            "--alertmanager-url", "http://127.0.0.1:9")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "'nosuch'" in r.stderr, r.stderr
    r = cli("test-notify", "-i", str(DATA / "full.yml"), "--receiver", "payments-pagr",
            "--alertmanager-url", "http://127.0.0.1:9")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "did you mean 'payments-pager'?" in r.stderr, r.stderr


def test_test_notify_sends_through_the_alertmanager_api(trees):
    received: list = []

    class FakeAlertmanager(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            received.append((self.path, json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeAlertmanager)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        r = cli("test-notify", "-i", str(DATA / "full.yml"), "--receiver", "chat",
                "--alertmanager-url", f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(received) == 1 and received[0][0] == "/api/v2/alerts"
    alerts = received[0][1]
    assert len(alerts) == 1 and "chat" in route(trees["full"] / "alertmanager", alerts[0]["labels"])
    assert "sent VigilTestNotification for chat" in r.stdout


def test_test_notify_says_when_alertmanager_is_unreachable():
    r = cli("test-notify", "-i", str(DATA / "full.yml"), "--receiver", "ops",
            "--alertmanager-url", f"http://127.0.0.1:{free_port()}")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "is the stack up?" in r.stderr


# ---------------------------------------------------------------- 9. validation


VALID_BASE = """\
version: 1
stack:
  name: demo
receivers:
  - name: ops
    slack: {channel: "#ops", webhook: SLACK_WEBHOOK_URL}
  - name: mail
    email: {to: team@example.com}
routing:
  default_receiver: ops
teams:
  - name: platform
    notify: {critical: [ops, mail], warning: [ops]}
services:
  - name: checkout
    team: platform
    kind: http
    targets: ["checkout:8000"]
"""
# line 7: `- name: mail`, line 8: `email:`, line 13: notify (14 once smtp is added)


def _problems(tmp_path: Path, text: str):
    path = tmp_path / "inventory.yml"
    path.write_text(text)
    with pytest.raises(InventoryError) as e:
        load_inventory(path)
    return e.value.problems


def test_email_without_smtp_is_located_at_the_email_key(tmp_path):
    problems = _problems(tmp_path, VALID_BASE)
    assert [(p.line, p.where) for p in problems] == [(8, "receivers[1].email")], problems
    assert "routing.smtp" in problems[0].message
    # the CLI says the same, and writes nothing
    r = cli("generate", "-i", str(tmp_path / "inventory.yml"), "-o", str(tmp_path / "out"))
    assert r.returncode == 2 and f"{tmp_path / 'inventory.yml'}:8: receivers[1].email: " in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()
    # with a mail server it is valid
    fixed = VALID_BASE.replace("routing:\n", 'routing:\n  smtp: {smarthost: "mail:25", from: alerts@example.com}\n')
    (tmp_path / "inventory.yml").write_text(fixed)
    load_inventory(tmp_path / "inventory.yml")


def test_receiver_listed_twice_under_one_severity(tmp_path):
    text = VALID_BASE.replace("routing:\n", 'routing:\n  smtp: {smarthost: "mail:25", from: alerts@example.com}\n')
    text = text.replace("critical: [ops, mail]", "critical: [ops, mail, ops]")
    problems = _problems(tmp_path, text)
    assert [(p.line, p.where) for p in problems] == [(14, "teams[0].notify.critical[2]")], problems
    assert "'ops' listed twice" in problems[0].message
    # the same receiver under two severities is fine
    fixed = text.replace("critical: [ops, mail, ops]", "critical: [ops, mail]")
    (tmp_path / "inventory.yml").write_text(fixed)
    load_inventory(tmp_path / "inventory.yml")
