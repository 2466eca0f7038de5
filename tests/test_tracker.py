"""The error tracker for real: Bugsink as a plain process (tests/tracker_native.py), the real
sentry-sdk sending to it, `vigil errors provision` over its API, the errors exporter scraped by
the real Prometheus, and the alert reaching the team's Slack channel (a local inbox) through the
real Alertmanager with the rendered configs."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, run_vigil
from native import Process, free_port, get_json, wait_for
from tracker_native import PUBLIC, VENV, AlertPath, Bugsink, stack_head
from vigil import tracker, tracker_exporter
from vigil.inventory import Stack

APP = Path(__file__).parent / "apps" / "sentry_app.py"
DEMO = ROOT / "demo" / "app.py"


@pytest.fixture(scope="module")
def bugsink(tmp_path_factory):
    b = Bugsink(tmp_path_factory.mktemp("bugsink")).start()
    yield b
    b.stop()


def _inventory(tmp: Path, body: str) -> Path:
    path = tmp / "inventory.yml"
    path.write_text(stack_head({"prom": free_port(), "closed": free_port()}) + body)
    return path


SERVICES = """\
  - {name: checkout, team: shop, kind: http, targets: ["127.0.0.1:1"]}
  - {name: worker, team: platform, kind: job, targets: ["127.0.0.1:2"]}
  - {name: legacy, team: platform, kind: http, targets: ["127.0.0.1:3"], errors: false}
  - {name: orders-db, team: shop, kind: postgres, targets: ["127.0.0.1:4"]}
"""


def _provision(inv: Path, env: Path, b: Bugsink) -> subprocess.CompletedProcess:
    r = run_vigil("errors", "provision", "-i", str(inv), "--env", str(env), "--url", b.url)
    assert r.returncode == 0, r.stderr
    return r


def test_provisioning_creates_exactly_the_teams_and_projects_once(bugsink, tmp_path):
    inv = _inventory(tmp_path, SERVICES)
    env = tmp_path / ".env"
    env.write_text(f"# mine\nOTHER=kept\n{tracker.TOKEN}={bugsink.token}\n")
    first = _provision(inv, env, bugsink)
    assert "2 teams and 2 projects created" in first.stdout
    c = bugsink.client()
    teams = {t["id"]: t["name"] for t in c.all("/teams/")}
    projects = {p["name"]: teams[p["team"]] for p in c.all("/projects/")}
    assert projects == {"checkout": "shop", "worker": "platform"}    # legacy opts out; postgres cannot report
    assert sorted(teams.values()) == ["platform", "shop"]

    again = _provision(inv, env, bugsink)
    assert "0 teams and 0 projects created (all there already)" in again.stdout
    assert len(c.all("/projects/")) == 2 and len(c.all("/teams/")) == 2
    values = dict(line.split("=", 1) for line in env.read_text().splitlines() if "=" in line and line[0] != "#")
    by_name = {p["name"]: p["dsn"] for p in c.all("/projects/")}
    assert values["SENTRY_DSN_CHECKOUT"] == by_name["checkout"] and values["SENTRY_DSN_WORKER"] == by_name["worker"]
    assert values["OTHER"] == "kept" and "# mine" in env.read_text()
    dsn = run_vigil("errors", "dsn", "checkout", "-i", str(inv), "--env", str(env))
    assert dsn.returncode == 0 and dsn.stdout.strip() == by_name["checkout"]

    # A service gone from the inventory keeps its project (and its events).
    inv.write_text(inv.read_text().replace('  - {name: worker, team: platform, kind: job, targets: ["127.0.0.1:2"]}\n',
                                           ""))
    gone = _provision(inv, env, bugsink)
    assert "kept (no longer in the inventory, data kept): worker" in gone.stdout
    assert {p["name"] for p in c.all("/projects/")} == {"checkout", "worker"}


def test_provisioning_without_token_or_tracker_says_so(bugsink, tmp_path):
    inv = _inventory(tmp_path, SERVICES)
    r = run_vigil("errors", "provision", "-i", str(inv), "--env", str(tmp_path / "none.env"), "--url", bugsink.url)
    assert r.returncode == 2 and f"{tracker.TOKEN} is not set" in r.stderr
    env = tmp_path / ".env"
    env.write_text(f"{tracker.TOKEN}=wrong\n")
    r = run_vigil("errors", "provision", "-i", str(inv), "--env", str(env), "--url", bugsink.url)
    assert r.returncode == 1 and "HTTP 40" in r.stderr and "Traceback" not in r.stderr


# ---------------------------------------------------------------- make up after make clean: a stale token

FAKE_DOCKER = """#!{python}
# Docker for scripts/tracker.sh without a daemon: every command is recorded; `compose exec -T bugsink CMD`
# runs CMD against the native Bugsink, as in its container; anything else succeeds doing nothing.
import subprocess, sys
args = sys.argv[1:]
with open({log!r}, "a") as f:
    f.write(" ".join(args) + "\\n")
if args[:4] == ["compose", "exec", "-T", "bugsink"]:
    sys.exit(subprocess.run([{bin!r} + "/" + args[4], *args[5:]], cwd={cwd!r}, env={env!r}).returncode)
"""


def _tracker_repo(tmp: Path, b: Bugsink):
    """scripts/ in a repository whose stack runs Bugsink (`b`, native) behind a Docker that does nothing
    else: (run scripts/tracker.sh against a Bugsink URL, the Docker commands it ran, its .env)."""
    repo, bin_dir = tmp / "repo", tmp / "bin"
    shutil.copytree(ROOT / "scripts", repo / "scripts")
    bin_dir.mkdir()
    (repo / "docker-compose.yml").write_text(f"services:\n  bugsink:\n    image: {tracker.IMAGE}\n")
    _inventory(repo, '  - {name: cart, team: shop, kind: http, targets: ["127.0.0.1:1"]}\n')
    log = tmp / "docker.log"
    log.touch()
    docker = FAKE_DOCKER.format(python=sys.executable, log=str(log), bin=str(VENV / "bin"), cwd=str(b.tmp), env=b.env)
    for name, text in (("docker", docker),
                       ("vigil", f'#!/bin/sh\nexec "{sys.executable}" -m vigil "$@"\n')):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != tracker.TOKEN}

    def run(url: str) -> subprocess.CompletedProcess:
        return subprocess.run(["scripts/tracker.sh"], cwd=repo, capture_output=True, text=True, timeout=300,
                              stdin=subprocess.DEVNULL, env={**env, "PATH": f"{bin_dir}:{env['PATH']}",
                                                             "VIGIL": str(bin_dir / "vigil"), "VIGIL_BUGSINK_URL": url})
    return run, log, repo / ".env"


def _values(env: Path) -> dict:
    return dict(line.split("=", 1) for line in env.read_text().splitlines() if "=" in line and line[0] != "#")


def test_make_up_after_make_clean_replaces_the_stale_token(bugsink, tmp_path):
    """make clean removes Bugsink's volume (the tokens it made with it) and keeps .env: the next make up
    checks the token (vigil errors token, one API call), finds it stale and creates a fresh one, then
    provisions. A token Bugsink knows is kept; a Bugsink it cannot reach replaces nothing."""
    (tmp_path / "after-clean").mkdir()
    fresh = Bugsink(tmp_path / "after-clean").start()      # the same stack after make clean: a new database
    try:
        run, docker_log, env = _tracker_repo(tmp_path, fresh)
        env.write_text(f"OTHER=kept\n{tracker.TOKEN}={bugsink.token}\n")   # a real token, of the Bugsink before
        known = run_vigil("errors", "token", "--env", str(env), "--url", bugsink.url)
        assert known.returncode == 0 and "accepts it" in known.stdout, known.stderr
        stale = run_vigil("errors", "token", "--env", str(env), "--url", fresh.url)
        assert stale.returncode == 4, stale.stdout + stale.stderr
        assert f"{env}: {tracker.TOKEN} is stale" in stale.stderr and "make clean" in stale.stderr, stale.stderr

        r = run(fresh.url)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "is stale" in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert f"created {tracker.TOKEN} in .env (Bugsink no longer knew the old one)" in r.stdout, r.stdout
        token = _values(env)[tracker.TOKEN]
        assert token != bugsink.token and tracker.token_known(tracker.Client(fresh.url, token))
        assert env.read_text().count(f"{tracker.TOKEN}=") == 1 and _values(env)["OTHER"] == "kept"
        cart = next(p for p in fresh.client().all("/projects/") if p["name"] == "cart")
        assert _values(env)[tracker.dsn_variable("cart")] == cart["dsn"]
        assert docker_log.read_text().count("bugsink-manage create_auth_token") == 1
        assert "compose up -d --wait --wait-timeout 120 errors-exporter" in docker_log.read_text()

        again = run(fresh.url)      # known now: kept, nothing created twice
        assert again.returncode == 0 and "all there already" in again.stdout, again.stdout + again.stderr
        assert _values(env)[tracker.TOKEN] == token and f"created {tracker.TOKEN}" not in again.stdout
        assert docker_log.read_text().count("bugsink-manage create_auth_token") == 1

        down = run(f"http://127.0.0.1:{free_port()}")   # cannot tell: not stale, nothing replaced or provisioned
        assert down.returncode == 1 and "cannot reach the error tracker" in down.stderr, down.stdout + down.stderr
        assert _values(env)[tracker.TOKEN] == token and "error tracker:" not in down.stdout
        assert docker_log.read_text().count("bugsink-manage create_auth_token") == 1

        env.write_text("OTHER=kept\n")                   # none yet (the first make up)
        first = run(fresh.url)
        assert first.returncode == 0, first.stdout + first.stderr
        assert f"created {tracker.TOKEN} in .env (there was none)" in first.stdout
        assert tracker.token_known(tracker.Client(fresh.url, _values(env)[tracker.TOKEN]))
    finally:
        fresh.stop()


def _raise(dsn: str, release: str, rounds: int = 3, request_prefix: str = "req") -> None:
    r = subprocess.run([sys.executable, str(APP), dsn, release, str(rounds), request_prefix], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_two_exceptions_three_times_are_two_issues_of_six_events_with_stack_traces(bugsink):
    project = bugsink.project("grouping")
    _raise(project["dsn"], "shop@2.0.0")
    c = bugsink.client()
    issues = wait_for("two issues with three events each", lambda: (
        lambda found: found if sorted(i["digested_event_count"] for i in found) == [3, 3] else None)(
        c.all("/issues/", project=project["id"])), 60)
    assert {i["calculated_type"] for i in issues} == {"ZeroDivisionError", "KeyError"}
    events = [e for i in issues for e in c.all("/events/", issue=i["id"])]
    assert len(events) == 6
    for e in events:
        data = c.call(f"/events/{e['id']}/")["data"]
        frames = data["exception"]["values"][-1]["stacktrace"]["frames"]
        assert frames[-1]["function"] in ("apply_discount", "load_customer"), frames[-1]
        assert data["release"] == "shop@2.0.0" and data["tags"]["request_id"].startswith("req-")
        assert data["user"]["id"].startswith("user-")
        assert any(b["message"].startswith("loading") for b in data["breadcrumbs"]["values"])
    # The exporter's view of them: events, users, culprit.
    metrics = tracker_exporter.Exporter(c, PUBLIC).collect()
    zero = next(line for line in metrics.splitlines()
                if line.startswith(tracker_exporter.ISSUE) and 'type="ZeroDivisionError"' in line)
    assert 'service="grouping"' in zero and 'team="shop"' in zero and 'state="new"' in zero
    assert 'culprit="__main__ in apply_discount"' in zero and 'release="shop@2.0.0"' in zero
    assert zero.endswith(" 3")
    assert 'http://errors.example.test/issues/issue/' in zero
    # The request id of each issue's newest event (the third round), one series per issue.
    requests = [line for line in metrics.splitlines() if line.startswith(tracker_exporter.REQUEST + "{")]
    issue_of = {i["calculated_type"]: i["id"] for i in issues}
    assert sorted(requests) == sorted(
        f'{tracker_exporter.REQUEST}{{service="grouping",issue="{issue_of[kind]}",request_id="{rid}"}} 1'
        for kind, rid in (("ZeroDivisionError", "req-discount-2"), ("KeyError", "req-customer-2"))), requests
    assert f'{tracker_exporter.OPEN}{{service="grouping",team="shop"}} 2' in metrics
    assert f'{tracker_exporter.EVENTS}{{service="grouping",team="shop"}} 6' in metrics


def test_a_new_issue_and_its_regression_reach_the_team(bugsink, tmp_path):
    """raise -> Bugsink -> exporter -> Prometheus (ErrorIssueOpen) -> Alertmanager -> #shop-oncall;
    resolve in Bugsink -> resolved; raise again -> fires again as a regression."""
    project = bugsink.project("payments")
    path = AlertPath(bugsink, tmp_path, "payments")

    def arrived(status: str, *words: str):
        return lambda: [a for a in path.messages("#shop-oncall", "ErrorIssueOpen", status)
                        if all(w in a["text"] for w in words)]
    try:
        raised = time.monotonic()
        _raise(project["dsn"], "payments@1.0.0", rounds=1)
        firing = wait_for("ErrorIssueOpen for ZeroDivisionError in #shop-oncall",
                          arrived("FIRING", "ZeroDivisionError in payments"), 120, proc=path.prom)
        took = time.monotonic() - raised
        text = firing[0]["text"]
        assert "*Service:* payments" in text and "*Team:* shop" in text and "*Severity:* warning" in text
        assert "New issue PAYMENTS-" in text and "at __main__ in apply_discount" in text
        assert "(release payments@1.0.0): 1 events, 1 users." in text
        # the request id of the event, and the service's logs searched for it (as in the demo's log lines)
        stack = Stack(**yaml.safe_load((tmp_path / "inventory.yml").read_text())["stack"])
        logs = f"{stack.external_url('grafana')}/d/svc-payments"
        assert f"Newest event: request req-discount-0, its log lines: {logs}?var-search=req-discount-0&" in text, text
        issue = next(i for i in bugsink.client().all("/issues/", project=project["id"])
                     if i["calculated_type"] == "ZeroDivisionError")
        assert f"{PUBLIC}/issues/issue/{issue['id']}/" in text
        assert took < 90, f"raise -> notification took {took:.1f}s"
        assert not path.messages("#platform-oncall", "ErrorIssueOpen", "FIRING")     # the other team's channel
        _errors_row_shows_data(path, tmp_path / "tree/grafana/dashboards/team-shop/svc-payments.json")

        bugsink.client().call(f"/issues/{issue['id']}/resolve/", {})
        # its group (alertname, service) still holds the KeyError issue: a message that lists it resolved
        # (as the templates word a resolved instance: in the past tense)
        wait_for("the resolved message", arrived("", "✅ Was: _ZeroDivisionError in payments"), 120, proc=path.prom)

        _raise(project["dsn"], "payments@1.0.1", rounds=1, request_prefix="again")
        again = wait_for("the regression re-alerts", arrived("FIRING", "Regressed issue", "ZeroDivisionError"),
                         120, proc=path.prom)
        assert "(release payments@1.0.1): 2 events" in again[0]["text"]
        assert f"request again-discount-0, its log lines: {logs}?var-search=again-discount-0&" in again[0]["text"]
    finally:
        path.stop()


def _errors_row_shows_data(path: AlertPath, board: Path) -> None:
    """Every query of the service dashboard's Errors row, run by the real Prometheus: all show data."""
    exprs = [t["expr"] for p in json.loads(board.read_text())["panels"] for t in p.get("targets", [])
             if "vigil_errors_" in t.get("expr", "")]
    assert len(exprs) == 4, exprs
    for expr in exprs:
        got = wait_for(f"data for {expr}", lambda: get_json(
            f"{path.prom_url}/api/v1/query?query={urllib.parse.quote(expr.replace('$__rate_interval', '1m'))}"
        )["data"]["result"], 30)
        assert got, expr


def test_the_exporter_reports_an_unreachable_tracker_as_down():
    dead = tracker.Client(f"http://127.0.0.1:{free_port()}", "x", timeout=2)
    metrics = tracker_exporter.Exporter(dead, PUBLIC).collect()
    assert f"{tracker_exporter.UP} 0" in metrics.splitlines()
    assert not [line for line in metrics.splitlines() if line.startswith(tracker_exporter.ISSUE)]


class _BlackHole:
    """Accepts connections and never answers: a hung tracker, the worst case for an app."""
    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held: list = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self):
        self.sock.close()
        for s in self.held:
            s.close()


def _demo(tmp: Path, env: dict) -> tuple[Process, str]:
    port = free_port()
    proc = Process([sys.executable, str(DEMO), "serve", "--port", str(port)], tmp, tmp / "demo.log")
    proc.proc = subprocess.Popen(proc.args, cwd=tmp, stdout=open(proc.log, "ab"), stderr=subprocess.STDOUT,
                                 env={**__import__("os").environ, "DEMO_TRAFFIC_RPS": "0", **env})
    url = f"http://127.0.0.1:{port}"
    wait_for("the demo", lambda: urllib.request.urlopen(f"{url}/health", timeout=5).status == 200, 60, proc=proc)
    return proc, url


def _get(url: str, headers: dict | None = None) -> tuple[int, dict, float]:
    start = time.monotonic()
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), time.monotonic() - start
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), time.monotonic() - start


def test_a_hung_or_dead_tracker_neither_breaks_nor_slows_the_app(tmp_path):
    hole = _BlackHole()
    try:
        for where in (f"127.0.0.1:{hole.port}", f"127.0.0.1:{free_port()}"):
            proc, url = _demo(tmp_path, {"SENTRY_DSN": f"http://key@{where}/1", "DEMO_MODE": "errors"})
            try:
                answers = [_get(f"{url}/products") for _ in range(30)]
                statuses = {s for s, _, _ in answers}
                assert 500 in statuses, statuses                   # errors were raised and reported...
                assert statuses <= {200, 500}                      # ...and every request was answered
                # Each answer as quick as without a tracker: the SDK sends from its own thread. (Generous bound
                # for a busy machine; the backend calls sleep at most 30ms.)
                assert max(t for _, _, t in answers) < 5, [round(t, 2) for _, _, t in answers]
                assert _get(f"{url}/health")[0] == 200
            finally:
                proc.stop()
    finally:
        hole.close()


def test_the_demo_reports_unhandled_exceptions_with_request_context(bugsink, tmp_path):
    project = bugsink.project("demo-app")
    host = bugsink.url.removeprefix("http://")
    # As in Compose: the DSN names another address, SENTRY_TRACKER_HOST the one the demo reaches.
    dsn = project["dsn"].replace(host, "errors.example.test:8010")
    proc, url = _demo(tmp_path, {"SENTRY_DSN": dsn, "SENTRY_TRACKER_HOST": host, "SENTRY_RELEASE": "demo@9.9.9",
                                 "DEMO_MODE": "errors"})
    try:
        ids = []
        for i in range(40):
            status, headers, _ = _get(f"{url}/products", {"X-User-ID": "alice", "X-Request-ID": f"rq-{i}"})
            if status == 500:
                ids.append(headers["X-Request-ID"])
        assert ids
        c = bugsink.client()
        (issue,) = wait_for("the demo's issue", lambda: c.all("/issues/", project=project["id"]), 60)
        assert issue["calculated_type"] == "UpstreamUnavailable"
        event = c.call(f"/events/{c.all('/events/', issue=issue['id'])[0]['id']}/")["data"]
        assert event["release"] == "demo@9.9.9" and event["user"]["id"] == "alice"
        assert event["tags"]["route"] == "/products" and event["tags"]["request_id"] in ids
        assert event["exception"]["values"][-1]["stacktrace"]["frames"][-1]["function"] == "query"
        assert [b["message"] for b in event["breadcrumbs"]["values"]] == ["query catalog-db"]
    finally:
        proc.stop()
    # The same request id is in the demo's log line of that request: from the event to Loki and back.
    logged = [json.loads(line) for line in (tmp_path / "demo.log").read_text().splitlines() if line.startswith("{")]
    assert any(rec.get("request_id") == event["tags"]["request_id"] and rec.get("status") == 500 for rec in logged)


BASE = """\
version: 1
stack:
  name: v
{tracker}receivers:
  - {{name: ops, webhook: {{url: "http://127.0.0.1:1/hook"}}}}
routing: {{default_receiver: ops}}
teams:
  - {{name: shop, notify: {{critical: [ops]}}}}
services:
{services}"""


@pytest.mark.parametrize("tracker_section, services, where, says", [
    ("", '  - {name: a, team: shop, kind: http, targets: ["a:1"], errors: true}\n',
     ":10: services[0].errors:", "stack.error_tracker is off"),
    ("  error_tracker: {enabled: true}\n", '  - {name: db, team: shop, kind: postgres, errors: true}\n',
     ":11: services[0].errors:", "kind postgres cannot report errors"),
    ("  error_tracker: {enabled: true, spam: 1}\n", '  - {name: a, team: shop, kind: http, targets: ["a:1"]}\n',
     ":4: stack.error_tracker.spam:", "unknown key 'spam'"),
    ("  error_tracker:\n    enabled: true\n    spike: 0\n", '  - {name: a, team: shop, kind: http, targets: ["a:1"]}\n',
     ":7: stack.error_tracker.spike:", "greater than 0"),
    ("  error_tracker: {enabled: yes please}\n", "", ":4: stack.error_tracker.enabled:", "true or false"),
])
def test_invalid_tracker_settings_are_located_errors(tmp_path, tracker_section, services, where, says):
    inv = tmp_path / "inventory.yml"
    inv.write_text(BASE.format(tracker=tracker_section, services=services or "  []\n"))
    r = run_vigil("generate", "-i", str(inv), "-o", str(tmp_path / "out"))
    assert r.returncode == 2 and not (tmp_path / "out").exists(), r.stdout
    line = next((x for x in r.stderr.splitlines() if where in x), r.stderr)
    assert line.startswith(str(inv)) and says in line, r.stderr
    assert "Traceback" not in r.stderr


def test_reporting_defaults_follow_the_kind_and_the_tracker():
    from vigil.load import load_text
    from vigil.validate import validate
    services = ('  - {name: web, team: shop, kind: http, targets: ["a:1"]}\n'
                '  - {name: work, team: shop, kind: job, targets: ["a:2"]}\n'
                '  - {name: quiet, team: shop, kind: http, targets: ["a:3"], errors: false}\n'
                '  - {name: db, team: shop, kind: redis}\n')
    on = validate(load_text(BASE.format(tracker="  error_tracker: {enabled: true}\n", services=services), "i.yml"))
    assert {s.name: s.errors for s in on.services} == {"web": True, "work": True, "quiet": False, "db": False}
    off = validate(load_text(BASE.format(tracker="", services=services), "i.yml"))
    assert not any(s.errors for s in off.services)
