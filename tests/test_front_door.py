"""The front door (issue 15): a native run that pages only about what it runs, live
commands that read the inventory and survive hostile answers, `vigil status` with its
markers and exit codes, links that open, and make targets that check for Docker first.

The stack parts here are the real Prometheus and Alertmanager on 127.0.0.1; the
"hostile" servers are small local HTTP servers that answer the way a wrong URL or a
broken proxy does (an HTML page, a trickle of bytes)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from conftest import REFUSED_RULE, ROOT, run_vigil, tool, tree_bytes
from native import NotReady, Process, alertmanager, free_port, get_json, prometheus, wait_for
from vigil import inbox

APP = Path(__file__).parent / "apps" / "red_app.py"

NATIVE = """\
version: 1
stack:
  name: lab
  team: platform
  scrape_interval: 1s
  evaluation_interval: 1s
  basic_auth: false
  alertmanager_url: http://127.0.0.1:{am}
  endpoints:
    prometheus: 127.0.0.1:{prom}
    alertmanager: 127.0.0.1:{am}
    grafana: null
    loki: null
    alloy: null
    blackbox: null
    node_exporter: null
    cadvisor: null
    pushgateway: null
receivers:
  - name: ops
    slack: {{channel: "#ops", webhook: OPS_WEBHOOK}}
routing:
  default_receiver: ops
  timings:
    critical: {{group_wait: 1s, group_interval: 1s}}
    warning: {{group_wait: 1s, group_interval: 1s}}
teams:
  - name: platform
    notify: {{critical: [ops], warning: [ops]}}
services:
  - name: api
    team: platform
    kind: http
    targets: ["127.0.0.1:{api}"]
    runbook_url: http://127.0.0.1:{am}/-/healthy
    alerts:
      down: {{for: 1s}}
"""
NULL_PARTS = ("grafana", "loki", "alloy", "blackbox", "cadvisor")


def _render(tmp: Path, text: str) -> Path:
    (tmp / "inventory.yml").write_text(text)
    tree = tmp / "tree"
    result = run_vigil("generate", "-i", str(tmp / "inventory.yml"), "-o", str(tree))
    assert result.returncode == 0, result.stderr
    return tree


# ---------------------------------------------------------------- null endpoints

def test_null_endpoints_are_neither_scraped_nor_alerted_on(tmp_path):
    ports = {"am": 9093, "prom": 9090, "api": 8000}
    tree = _render(tmp_path, NATIVE.format(**ports))
    cfg = yaml.safe_load((tree / "prometheus/prometheus.yml").read_text())
    jobs = {j["job_name"] for j in cfg["scrape_configs"]}
    assert jobs == {"prometheus", "alertmanager", "api"}, jobs   # no stack-host either: node_exporter is null
    rules = (tree / "prometheus/rules/stack.yml").read_text()
    for part in NULL_PARTS + ("node-exporter", "stack-host"):
        assert f'"{part}"' not in rules and f"={part}" not in rules, part
    assert "PrometheusStorageFilling" not in rules     # it reads the stack host's node exporter
    assert not (tree / "prometheus/rules/services/stack-host.yml").exists()
    assert run_vigil("check", "-o", str(tree)).returncode == 0


def test_without_grafana_messages_carry_no_grafana_links(tmp_path):
    """endpoints.grafana: null: no dashboard links, no runbooks-dashboard links (the service's own
    runbook_url stays), Slack's only fixed button is Silence and its title links Alertmanager."""
    tree = _render(tmp_path, NATIVE.format(am=9093, prom=9090, api=8000))
    groups = [g for f in sorted((tree / "prometheus/rules").rglob("*.yml"))
              for g in yaml.safe_load(f.read_text())["groups"]]
    alerts = [r for g in groups for r in g["rules"] if "alert" in r]
    assert alerts and not [a["alert"] for a in alerts if "dashboard_url" in a.get("annotations", {})]
    runbooks = {a["annotations"].get("runbook_url") for a in alerts}
    assert runbooks == {None, "http://127.0.0.1:9093/-/healthy"}, runbooks   # the stack's own have none
    cfg = yaml.safe_load((tree / "alertmanager/alertmanager.yml").read_text())
    (slack,) = next(r for r in cfg["receivers"] if r["name"] == "ops")["slack_configs"]
    assert [b["text"] for b in slack["actions"]] == ["Silence"], slack
    assert slack["title_link"] == '{{ template "vigil.alerts_url" . }}', slack
    assert slack["text"] == '{{ template "vigil.slack.text.runbook" . }}'
    assert '{{ define "vigil.grafana_url" }}{{ "" }}{{ end }}' in (tree / "alertmanager/templates/links.tmpl").read_text()
    from vigil import live
    from vigil.validate import load_inventory
    (test,) = live.test_alerts(load_inventory(tmp_path / "inventory.yml"), "ops")
    assert set(test["annotations"]) == {"summary", "description"}, test["annotations"]


def test_a_probe_without_a_blackbox_exporter_is_an_error(tmp_path):
    text = NATIVE.format(am=9093, prom=9090, api=8000) + "    health_url: http://127.0.0.1:8000/health\n"
    (tmp_path / "inventory.yml").write_text(text)
    r = run_vigil("validate", "-i", str(tmp_path / "inventory.yml"))
    assert r.returncode == 2, r.stdout
    assert ":38: services[0].health_url: stack.endpoints.blackbox is null" in r.stderr, r.stderr


def test_compose_gives_prometheus_and_alertmanager_the_inventorys_urls(tmp_path):
    text = NATIVE.format(am=9093, prom=9090, api=8000).replace(
        "  alertmanager_url: http://127.0.0.1:9093\n",
        "  alertmanager_url: https://am.example.com/\n  prometheus_url: https://prom.example.com\n")
    tree = _render(tmp_path, text)
    services = yaml.safe_load((tree / "docker-compose.yml").read_text())["services"]
    assert "--web.external-url=https://am.example.com" in services["alertmanager"]["command"]
    assert "--web.external-url=https://prom.example.com" in services["prometheus"]["command"]
    links = (tree / "alertmanager/templates/links.tmpl").read_text()
    assert '{{ define "vigil.alertmanager_url" }}{{ "https://am.example.com" }}{{ end }}' in links


def test_endpoints_left_out_keep_their_compose_defaults():
    from vigil.validate import load_inventory
    ep = load_inventory(ROOT / "inventory.yml").stack.endpoints
    assert ep.grafana == "grafana:3000" and ep.cadvisor == "cadvisor:8080"
    assert load_inventory(ROOT / "inventory.yml").stack.external_url("alertmanager") == "http://localhost:9093"


# ---------------------------------------------------------------- a native stack, live

def _native_stack(tmp: Path, ports: dict, inventory: str, external_url: bool = True):
    """Render `inventory` into tmp, write its secrets (the ops webhook at a Slack inbox), start the
    real Prometheus and Alertmanager on `ports` and yield what the tests read; stopped after."""
    chat = inbox.serve("127.0.0.1", 0)
    tree = _render(tmp, inventory)
    (tmp / ".env").write_text(f"OPS_WEBHOOK=http://127.0.0.1:{chat.server_address[1]}/slack/ops\n")
    r = run_vigil("secrets", "-i", str(tmp / "inventory.yml"), "--env", str(tmp / ".env"), "-o", str(tree))
    assert r.returncode == 0, r.stderr
    am = alertmanager(tree / "alertmanager", ports["am"], tmp / "am-data", tmp / "am.log",
                      external_url=external_url).start()
    prom = prometheus(tree, ports["prom"], tmp / "prom-data", tmp / "prom.log").start()
    env = {"tmp": tmp, "tree": tree, "ports": ports, "inbox": chat.inbox, "am": am, "prom": prom,
           "prom_url": f"http://127.0.0.1:{ports['prom']}", "am_url": f"http://127.0.0.1:{ports['am']}"}
    try:
        wait_for("Alertmanager ready", lambda: get_json(f"{env['am_url']}/api/v2/status"), 60, proc=am)
        wait_for("Prometheus ready", lambda: get_json(f"{env['prom_url']}/api/v1/targets"), 60, proc=prom)
        yield env
    finally:
        for p in (prom, am):
            p.stop()
        chat.shutdown()


@pytest.fixture(scope="module")
def native(tmp_path_factory):
    """Prometheus and Alertmanager (started without --web.external-url, as a user might) and a
    Slack inbox; the api service is not running: its target is down and ServiceDown fires."""
    ports = {k: free_port() for k in ("prom", "am", "api")}
    yield from _native_stack(tmp_path_factory.mktemp("native"), ports, NATIVE.format(**ports), external_url=False)


def _firing_messages(env) -> list[dict]:
    return [a for m in env["inbox"].snapshot() for a in m["payload"].get("attachments", [])
            if "ServiceDown" in a["title"] and "FIRING" in a["title"]]


def _status(env, *extra: str) -> subprocess.CompletedProcess:
    """`vigil status` with no URL flag at all: they come from the inventory."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    return subprocess.run([sys.executable, "-m", "vigil", "status", "-i", str(env["tmp"] / "inventory.yml"), *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, env=clean)


def _links(attachment: dict) -> dict[str, str]:
    """Every link of a Slack attachment: its buttons, its title's, and the <url|name> links of its text."""
    links = {b["text"]: b["url"] for b in attachment.get("actions", [])}
    if attachment.get("title_link"):
        links["title"] = attachment["title_link"]
    links |= {name: url for url, name in re.findall(r"<([^|>]+)\|([^>]+)>", attachment.get("text", ""))}
    return links


def test_every_link_of_a_real_notification_opens_on_the_running_stack(native):
    """Alertmanager here was started without --web.external-url (it believes it is at its
    host name); the Silence button still opens it, at the inventory's stack.alertmanager_url.
    Grafana is not run (endpoints.grafana: null): no Dashboard link, and the service's own
    runbook is a link in the text, since not every alert has one; the title links the receiver's
    alerts in Alertmanager."""
    (message,) = wait_for("the ServiceDown message", lambda: _firing_messages(native), 120)[:1]
    links = _links(message)
    assert set(links) == {"title", "Runbook", "Silence"}, message
    assert links["title"] == f"{native['am_url']}/#/alerts?receiver=ops"
    assert [b["text"] for b in message["actions"]] == ["Silence"]
    status = get_json(f"{native['am_url']}/api/v2/status")
    assert not status["config"]["original"].count("external")   # nothing in the config names a URL
    for name, url in links.items():
        with urllib.request.urlopen(url, timeout=10) as r:   # the runbook is Alertmanager's /-/healthy here
            assert r.status == 200, (name, url)
    silence = links["Silence"]
    assert silence.startswith(f"{native['am_url']}/#/silences/new?filter=")
    # The filter in the link is one Alertmanager's API takes, and it selects the alert.
    query = urllib.parse.parse_qs(silence.split("?", 1)[1])["filter"][0]
    matchers = query.strip("{}").split(",")
    params = urllib.parse.urlencode([("filter", m) for m in matchers] + [("silenced", "true")])
    alerts = get_json(f"{native['am_url']}/api/v2/alerts?{params}")
    assert [a["labels"]["alertname"] for a in alerts] == ["ServiceDown"], alerts


def test_status_reads_the_inventory_marks_held_alerts_and_exits_by_what_it_sees(native):
    wait_for("the api target scraped down", lambda: [
        t for t in get_json(f"{native['prom_url']}/api/v1/targets")["data"]["activeTargets"]
        if t["labels"].get("service") == "api" and t["health"] == "down"], 60)
    wait_for("ServiceDown firing", lambda: [a for a in get_json(f"{native['prom_url']}/api/v1/alerts")["data"]["alerts"]
                                            if a["labels"]["alertname"] == "ServiceDown"
                                            and a["state"] == "firing"], 60)
    r = _status(native)
    assert r.returncode == 4, r.stdout + r.stderr          # a critical fires, unsilenced
    assert "targets: 2 up, 1 down" in r.stdout, r.stdout
    line = next(l for l in r.stdout.splitlines() if "ServiceDown" in l)
    assert "[silenced]" not in line

    # A regex silence over it: marked, shown as a regex, and the exit says "targets down" only.
    # (Once its message is out: the link test reads it, whatever order the tests run in.)
    wait_for("the ServiceDown message", lambda: _firing_messages(native), 120)
    now = time.time()
    get_json(f"{native['am_url']}/api/v2/silences", {
        "matchers": [{"name": "service", "value": "api|nothing", "isRegex": True, "isEqual": True}],
        "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 5)),
        "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 600)),
        "createdBy": "test", "comment": "maintenance"})

    def silenced():
        r = _status(native)
        return r if "[silenced]" in r.stdout else None
    r = wait_for("ServiceDown marked silenced", silenced, 60)
    assert r.returncode == 3, r.stdout + r.stderr
    assert 'service=~"api|nothing"' in r.stdout and "service=api|nothing" not in r.stdout, r.stdout
    assert "by test: maintenance" in r.stdout


def test_reload_skips_a_grafana_not_run_here(native):
    """endpoints.grafana: null: nothing to reload, so it is no failure (and no credentials are asked for)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VIGIL_", "GRAFANA_", "GF_"))}
    tmp = native["tmp"]
    r = subprocess.run([sys.executable, "-m", "vigil", "reload", "-i", str(tmp / "inventory.yml"), "-o",
                        str(tmp / "tree"), "--env", str(tmp / ".env")],
                       cwd=ROOT, capture_output=True, text=True, timeout=600, env=clean)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "skipped  grafana: not run here" in r.stdout, r.stdout
    assert "reloaded prometheus" in r.stdout and "reloaded alertmanager" in r.stdout, r.stdout
    assert "FAILED" not in r.stdout and "credentials" not in r.stdout + r.stderr, r.stdout + r.stderr


# ---------------------------------------------------------------- status on a healthy stack

@pytest.fixture(scope="module")
def healthy(tmp_path_factory):
    """The native stack with every target up: the api service's target is Prometheus itself."""
    ports = {k: free_port() for k in ("prom", "am")}
    yield from _native_stack(tmp_path_factory.mktemp("healthy"), ports, NATIVE.format(**ports, api=ports["prom"]))


def _all_up(env):
    targets = get_json(f"{env['prom_url']}/api/v1/targets")["data"]["activeTargets"]
    return len(targets) == 3 and all(t["health"] == "up" for t in targets)


def test_status_exits_0_on_a_healthy_stack(healthy):
    wait_for("every target scraped up", lambda: _all_up(healthy), 60)
    r = _status(healthy)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "targets: 3 up, 0 down" in r.stdout, r.stdout


# Always firing, as Prometheus hands them to Alertmanager: a critical and a warning of one alert
# instance (the first inhibition), and a critical held back by an InstanceDown of its instance.
HELD_RULES = {"groups": [{"name": "held", "rules": [
    {"alert": "TestPair", "expr": "vector(1)", "labels": {"service": "api", "team": "platform", "severity": s}}
    for s in ("critical", "warning")] + [
    {"alert": "InstanceDown", "expr": "vector(1)",
     "labels": {"service": "api", "team": "platform", "severity": "warning", "instance": "127.0.0.1:1"}},
    {"alert": "TestBehindInstance", "expr": "vector(1)",
     "labels": {"service": "api", "team": "platform", "severity": "critical", "instance": "127.0.0.1:1"}}]}]}


def _line(out: str, alertname: str, severity: str) -> str:
    (line,) = [l for l in out.splitlines() if f" {alertname}" in l and l.split()[0] == severity]
    return line


def test_status_marks_inhibited_alerts_and_does_not_count_them(healthy):
    """A critical inhibits the warning of the same alert instance: the warning is [inhibited]. A held
    critical (inhibited, or silenced) does not make the exit 4; only a critical nothing holds does."""
    wait_for("every target scraped up", lambda: _all_up(healthy), 60)
    rules = healthy["tree"] / "prometheus/rules/held.yml"
    rules.write_text(yaml.safe_dump(HELD_RULES))
    silence = None
    try:
        get_json(f"{healthy['prom_url']}/-/reload", {})

        def held():
            r = _status(healthy)
            return r if r.stdout.count("[inhibited]") == 2 else None
        r = wait_for("the warning and the critical behind InstanceDown marked inhibited", held, 90)
        assert r.returncode == 4, r.stdout + r.stderr      # TestPair's critical: nothing holds it
        assert "[inhibited]" in _line(r.stdout, "TestPair", "warning"), r.stdout
        assert "[" not in _line(r.stdout, "TestPair", "critical").split("service=")[0], r.stdout
        assert "[inhibited]" in _line(r.stdout, "TestBehindInstance", "critical"), r.stdout

        now = time.time()
        silence = get_json(f"{healthy['am_url']}/api/v2/silences", {
            "matchers": [{"name": "alertname", "value": "TestPair", "isRegex": False, "isEqual": True},
                         {"name": "severity", "value": "critical", "isRegex": False, "isEqual": True}],
            "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 5)),
            "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 600)),
            "createdBy": "test", "comment": "held"})["silenceID"]

        def silenced():
            r = _status(healthy)
            return r if "[silenced]" in _line(r.stdout, "TestPair", "critical") else None
        r = wait_for("TestPair's critical marked silenced", silenced, 60)
        # Every critical is held now, the inhibited one included: nothing counts toward 4.
        assert r.returncode == 0, r.stdout + r.stderr
        assert "[inhibited]" in _line(r.stdout, "TestBehindInstance", "critical"), r.stdout
    finally:                    # the healthy stack again, for whichever test runs next
        rules.unlink()
        get_json(f"{healthy['prom_url']}/-/reload", {})
        if silence:
            urllib.request.urlopen(urllib.request.Request(f"{healthy['am_url']}/api/v2/silence/{silence}",
                                                          method="DELETE"), timeout=10).close()


# ---------------------------------------------------------------- hostile answers

class _Hostile(BaseHTTPRequestHandler):
    mode = "html"

    def log_message(self, *args):
        pass

    def _answer(self):
        if self.mode == "trickle":         # headers, then a byte a second, forever
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            try:
                for _ in range(600):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(1)
            except OSError:
                pass
            return
        body = b"<!doctype html><title>Sign in</title><h1>Please sign in</h1>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer


@pytest.fixture
def hostile():
    servers = []

    def start(mode: str) -> str:
        handler = type("H", (_Hostile,), {"mode": mode})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"
    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def test_an_html_page_is_a_clear_error_not_a_traceback(hostile, tmp_path):
    url = hostile("html")
    r = run_vigil("status", "--prometheus-url", url, "--alertmanager-url", url)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and "JSONDecodeError" not in r.stderr
    assert "answered 200 with text/html, not JSON" in r.stderr and "Please sign in" in r.stderr, r.stderr
    inv = tmp_path / "inventory.yml"
    inv.write_text(NATIVE.format(am=9093, prom=9090, api=8000))
    r = run_vigil("test-notify", "-i", str(inv), "--alertmanager-url", url)
    assert r.returncode == 1 and "Traceback" not in r.stderr and "not JSON" in r.stderr, r.stderr


def test_a_reload_answered_with_a_web_page_is_a_failure(hostile, tmp_path):
    url = hostile("html")
    inv = tmp_path / "inventory.yml"
    inv.write_text(NATIVE.format(am=9093, prom=9090, api=8000))
    r = run_vigil("reload", "-i", str(inv), "-o", str(tmp_path / "tree"), "--only", "prometheus,alertmanager",
                  "--prometheus-url", url, "--alertmanager-url", url)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAILED   prometheus: answered 200 with a web page" in r.stdout, r.stdout
    assert "reloaded prometheus" not in r.stdout


def test_a_trickling_server_cannot_hang_status(hostile):
    url = hostile("trickle")
    started = time.monotonic()
    r = run_vigil("status", "--prometheus-url", url, "--alertmanager-url", url)
    took = time.monotonic() - started
    assert r.returncode == 1, r.stdout + r.stderr
    assert "no complete answer within" in r.stderr, r.stderr
    assert took < 60, f"status took {took:.0f}s against a server that trickles for 600s"


def test_status_says_when_the_stack_is_not_up(tmp_path):
    inv = tmp_path / "inventory.yml"
    closed = free_port()
    inv.write_text(NATIVE.format(am=closed, prom=closed, api=8000))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    r = subprocess.run([sys.executable, "-m", "vigil", "status", "-i", str(inv)], cwd=ROOT, capture_output=True,
                       text=True, timeout=60, env=clean)
    assert r.returncode == 1 and f"127.0.0.1:{closed}" in r.stderr and "make up" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_flags_and_environment_override_the_inventory(tmp_path):
    from vigil import live
    from vigil.validate import load_inventory
    inv = tmp_path / "inventory.yml"
    inv.write_text(NATIVE.format(am=9093, prom=9090, api=8000))
    inventory = load_inventory(inv)
    assert live.url("prometheus", None, inventory) == "http://127.0.0.1:9090"
    assert live.url("prometheus", "http://flag:1/", inventory) == "http://flag:1"
    os.environ["VIGIL_PROMETHEUS_URL"] = "http://env:2"
    try:
        assert live.url("prometheus", None, inventory) == "http://env:2"
        assert live.url("prometheus", "http://flag:1", inventory) == "http://flag:1"
    finally:
        del os.environ["VIGIL_PROMETHEUS_URL"]


def test_grafana_url_follows_the_same_rule_as_prometheus_and_alertmanager(tmp_path, monkeypatch):
    """flag > VIGIL_GRAFANA_URL > stack.grafana_url > endpoints.grafana > the Compose default; a null
    endpoint (and no grafana_url) is no Grafana at all."""
    from vigil import live
    from vigil.validate import load_inventory
    monkeypatch.delenv("VIGIL_GRAFANA_URL", raising=False)
    inv = tmp_path / "inventory.yml"
    base = NATIVE.format(am=9093, prom=9090, api=8000)

    def grafana(endpoint: str, url: str = "", flag=None):
        inv.write_text(base.replace("    grafana: null\n", f"    grafana: {endpoint}\n")
                       .replace("  basic_auth: false\n", f"  basic_auth: false\n{url}"))
        return live.url("grafana", flag, load_inventory(inv))
    assert grafana("127.0.0.1:13000") == "http://127.0.0.1:13000"
    assert grafana("grafana:3000") == "http://localhost:3000"
    assert grafana("127.0.0.1:13000", "  grafana_url: https://grafana.example.com/\n") == \
        "https://grafana.example.com"
    assert grafana("null", "  grafana_url: https://grafana.example.com\n") == "https://grafana.example.com"
    monkeypatch.setenv("VIGIL_GRAFANA_URL", "http://env:3")
    assert grafana("127.0.0.1:13000", "  grafana_url: https://grafana.example.com\n") == "http://env:3"
    assert grafana("127.0.0.1:13000", flag="http://flag:4/") == "http://flag:4"
    monkeypatch.delenv("VIGIL_GRAFANA_URL")
    with pytest.raises(live.NotRun, match="stack.endpoints.grafana is null"):
        grafana("null")


def test_annotate_reaches_grafana_at_its_endpoint(tmp_path):
    """The CLI end to end: the endpoint is where `vigil annotate` goes (a closed port: refused, named);
    with Grafana null it says so instead of trying localhost:3000."""
    closed = free_port()
    base = NATIVE.format(am=9093, prom=9090, api=8000)
    inv = tmp_path / "inventory.yml"
    (tmp_path / ".env").write_text("GRAFANA_TOKEN=t\n")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VIGIL_", "GRAFANA_", "GF_"))}

    def annotate():
        return subprocess.run([sys.executable, "-m", "vigil", "annotate", "-i", str(inv), "--service", "api",
                               "--text", "deploy v1", "--env", str(tmp_path / ".env")],
                              cwd=ROOT, capture_output=True, text=True, timeout=60, env=clean)
    inv.write_text(base.replace("    grafana: null\n", f"    grafana: 127.0.0.1:{closed}\n"))
    r = annotate()
    assert r.returncode == 1 and f"http://127.0.0.1:{closed}" in r.stderr, r.stderr
    assert "localhost:3000" not in r.stderr and "Traceback" not in r.stderr
    inv.write_text(base)
    r = annotate()
    assert r.returncode == 1 and "grafana is not run here" in r.stderr and "--grafana-url" in r.stderr, r.stderr


# ---------------------------------------------------------------- test helpers

def test_get_json_waits_through_a_starting_servers_503_and_plain_text():
    answers = [(503, b"Service Unavailable"), (200, b"Service Unavailable"), (200, b'{"status": "success"}')]

    class Starting(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            code, body = answers.pop(0) if len(answers) > 1 else answers[0]
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Starting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/api/v1/query"
    try:
        assert get_json(url) == {"status": "success"}
        answers[:] = [(503, b"Service Unavailable")]
        with pytest.raises(NotReady):
            get_json(url, patience=1)
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------- make: Docker first, runtime only

def _make(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("target", ["up", "down", "reload", "logs", "clean", "demo-break", "demo-fix", "smoke"])
def test_every_compose_target_checks_for_docker_first(target, tmp_path):
    r = _make(target, "DOCKER=/nonexistent/docker", f"VENV={tmp_path}/venv")
    assert r.returncode != 0
    assert "this needs Docker with the Compose v2 plugin, and '/nonexistent/docker' is not on PATH" in r.stderr, \
        r.stdout + r.stderr
    assert not (tmp_path / "venv").exists(), "it installed before it checked for Docker"


def test_make_up_installs_only_the_runtime(tmp_path):
    up = _make("-n", "up", f"VENV={tmp_path}/venv")
    assert "pip install" in up.stdout and "-r requirements.txt" in up.stdout, up.stdout
    assert "requirements-test.txt" not in up.stdout, up.stdout
    assert up.stdout.index("need-docker.sh") < up.stdout.index("pip install"), up.stdout
    test = _make("-n", "test", f"VENV={tmp_path}/venv")
    assert "-r requirements-test.txt" in test.stdout, test.stdout


def test_readme_lists_every_package_make_test_installs():
    """Every Debian package CI installs before `make test` is named in the README."""
    ci = (ROOT / ".ci/run").read_text()
    line = ci[ci.index("apt-get install"):ci.index(">/dev/null", ci.index("apt-get install"))]
    packages = [w for w in line.replace("\\\n", " ").split() if not w.startswith(("-", "\"", "apt-get", "install"))]
    readme = (ROOT / "README.md").read_text()
    missing = [p for p in packages if f"`{p}`" not in readme and f" {p}" not in readme]
    assert packages and not missing, missing


# ---------------------------------------------------------------- make up: the heartbeat hint

FAKE_DOCKER = """#!/bin/sh
# Docker for make up without a daemon: every command succeeds, and is recorded.
echo "$*" >> "$(dirname "$0")/docker.log"
"""


def _make_up(tmp: Path, inventory: str) -> subprocess.CompletedProcess:
    """`make up` in a copy of the repository's front door (Makefile, scripts/, .env.example) with the
    real generator and a Docker that does nothing: what it prints, without starting a stack."""
    repo, bin_dir = tmp / "repo", tmp / "bin"
    repo.mkdir(parents=True)
    bin_dir.mkdir()
    for name in ("Makefile", ".env.example"):
        (repo / name).write_bytes((ROOT / name).read_bytes())
    shutil.copytree(ROOT / "scripts", repo / "scripts")
    (repo / "inventory.yml").write_text(inventory)
    for name, text in (("docker", FAKE_DOCKER), ("vigil", f'#!/bin/sh\nexec "{sys.executable}" -m vigil "$@"\n')):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return _make_there(tmp, "up")


def _make_there(tmp: Path, target: str) -> subprocess.CompletedProcess:
    """A make target in the front door _make_up set up in `tmp`."""
    bin_dir = tmp / "bin"
    # RUNTIME empty: the generator is this test's own, nothing to install.
    return subprocess.run(["make", "--no-print-directory", target, f"DOCKER={bin_dir / 'docker'}",
                           f"VIGIL={bin_dir / 'vigil'}", "RUNTIME="], cwd=tmp / "repo", capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL,
                          env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"})


def test_make_up_says_how_to_point_watchdog_at_a_dead_mans_switch(tmp_path):
    ports = {"prom": 9090, "am": 9093, "api": 8080}
    up = _make_up(tmp_path / "none", NATIVE.format(**ports))
    assert up.returncode == 0, up.stdout + up.stderr
    assert "compose up -d" in (tmp_path / "none/bin/docker.log").read_text()
    assert "Vigil is up." in up.stdout, up.stdout
    hint = [line for line in up.stderr.splitlines() if "heartbeat_receiver" in line]
    assert hint == ["inventory.yml: warning: routing.heartbeat_receiver is not set: Watchdog goes nowhere and a dead "
                    "stack goes unnoticed; point it at an external dead-man's switch (docs/inventory.md#routing)"], \
        up.stderr
    assert "\n## `routing`\n" in (ROOT / "docs/inventory.md").read_text()     # the link's anchor
    with_heartbeat = NATIVE.format(**ports).replace("  default_receiver: ops\n",
                                                    "  default_receiver: ops\n  heartbeat_receiver: ops\n")
    up = _make_up(tmp_path / "set", with_heartbeat)
    assert up.returncode == 0, up.stdout + up.stderr
    assert "Vigil is up." in up.stdout and "heartbeat" not in up.stderr, up.stdout + up.stderr


# ---------------------------------------------------------------- make reload: check before apply

def test_make_reload_of_a_refused_change_writes_nothing_and_starts_nothing(tmp_path):
    """`make reload` once rendered the tree before `vigil reload` checked it: a refused change stayed
    on disk (the next restart of Prometheus exited 1) and Compose started it."""
    tool("promtool"), tool("amtool")      # the checks it must run: missing, the test fails saying how to install
    ports = {"prom": free_port(), "am": free_port(), "api": free_port()}
    up = _make_up(tmp_path, NATIVE.format(**ports))
    assert up.returncode == 0, up.stdout + up.stderr
    repo, log = tmp_path / "repo", tmp_path / "bin" / "docker.log"
    good = (repo / "inventory.yml").read_text()
    (repo / "inventory.yml").write_text(good.replace("    kind: http\n", "    kind: http\n" + REFUSED_RULE, 1))
    before = tree_bytes(repo)
    log.write_text("")
    r = _make_there(tmp_path, "reload")
    assert r.returncode != 0, r.stdout + r.stderr
    assert "FAIL promtool check config" in r.stdout and "running stack are as they were" in r.stderr, \
        r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert tree_bytes(repo) == before, "make reload wrote a change the checks refused"
    assert "compose up" not in log.read_text(), "make reload started services for a refused change"


def test_make_reload_writes_secrets_then_reloads_then_starts_services():
    steps = _make("-n", "reload", "DOCKER=docker", "VIGIL=vigil", "RUNTIME=").stdout
    commands = [line for line in steps.splitlines() if not line.lstrip().startswith("#")]
    order = [next((i for i, c in enumerate(commands) if s in c), -1)
             for s in ("vigil secrets -i", "vigil reload -i", "docker compose up", "scripts/tracker.sh")]
    assert -1 not in order and order == sorted(order), steps
    assert not any("vigil generate" in c for c in commands), steps
