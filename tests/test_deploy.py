"""`vigil deploy` end to end, called the way a CI step calls it, against the real
Pushgateway, Prometheus (rendered config and DORA rules) and Alertmanager, the real error
tracker (Bugsink, its project made by `vigil errors provision`), the inbox as Slack, and one
stand-in: Grafana's annotations API (Grafana does not run here). Then the DORA dashboard's
own queries must return the expected numbers."""

from __future__ import annotations

import datetime as dt
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from conftest import run_vigil, tool
from dashboard_queries import dashboards, panels, prom_targets, query, target_expr
from native import Process, alertmanager, free_port, get_json, prometheus, slack_env, wait_for
from test_annotate import FakeGrafana
from tracker_native import Bugsink, stack_head
from vigil import dora, inbox, tracker
from vigil.dashboards import dora as dora_board

APP = Path(__file__).parent / "apps" / "red_app.py"
TEAMS = ("shop", "platform")


def _inventory(ports: dict, tracker_url: str) -> str:
    """Teams shop and platform paging their Slack channels, each with its deploy receivers; checkout
    of shop, its errors reported to the tracker at tracker_url."""
    inv = yaml.safe_load(stack_head(ports, slack=True, alertmanager=ports["am"], pushgateway=ports["push"],
                                    errors_exporter=ports["closed"]))
    inv["stack"]["error_tracker"]["url"] = tracker_url
    inv["receivers"] += [
        {"name": "shop-deploys", "slack": {"channel": "#shop-deploys", "webhook": "DEPLOYS_WEBHOOK"}},
        {"name": "audit", "webhook": {"url": f"http://127.0.0.1:{ports['inbox']}/slack/audit"}},
        {"name": "platform-deploys", "slack": {"channel": "#platform-deploys", "webhook": "PLATFORM_DEPLOYS_WEBHOOK"}}]
    deploys = {"shop": ["shop-deploys", "audit"], "platform": ["platform-deploys"]}
    for team in inv["teams"]:
        team["deploys"] = deploys[team["name"]]
    inv["services"] = [{"name": "checkout", "team": "shop", "kind": "http", "targets": [f"127.0.0.1:{ports['app']}"],
                        "alerts": {"down": {"for": "2s"}}}]
    return yaml.safe_dump(inv, sort_keys=False)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("deploy")
    slack = inbox.serve("127.0.0.1", 0)
    ports = {k: free_port() for k in ("prom", "am", "push", "closed", "app")} | {"inbox": slack.server_address[1]}
    hook = f"http://127.0.0.1:{ports['inbox']}/slack"
    grafana, bugsink = FakeGrafana(), Bugsink(tmp_path_factory.mktemp("bugsink")).start()
    (tmp / "inventory.yml").write_text(_inventory(ports, bugsink.url))
    (tmp / ".env").write_text(slack_env(hook, TEAMS) + f"DEPLOYS_WEBHOOK={hook}/deploys\n"
                              f"PLATFORM_DEPLOYS_WEBHOOK={hook}/platform-deploys\nGRAFANA_TOKEN=glsa_ci\n"
                              f"{tracker.TOKEN}={bugsink.token}\n")
    tree = tmp / "tree"
    for args in (("generate", "-o", str(tree)), ("secrets", "-o", str(tree), "--env", str(tmp / ".env")),
                 ("errors", "provision", "--env", str(tmp / ".env"), "--url", bugsink.url)):
        result = run_vigil(*args, "-i", str(tmp / "inventory.yml"))
        assert result.returncode == 0, result.stderr
    # Its own persistence file: Debian's build defaults to one shared by the machine.
    push = Process([tool("prometheus-pushgateway"), f"--web.listen-address=127.0.0.1:{ports['push']}",
                    f"--persistence.file={tmp / 'pushgateway.data'}"], tmp, tmp / "pushgateway.log").start()
    app = Process([sys.executable, str(APP), str(ports["app"])], tmp, tmp / "app.log").start()
    am = alertmanager(tree / "alertmanager", ports["am"], tmp / "am-data", tmp / "alertmanager.log").start()
    prom = prometheus(tree, ports["prom"], tmp / "prom-data", tmp / "prometheus.log").start()
    env = {"tmp": tmp, "tree": tree, "ports": ports, "inbox": slack.inbox, "grafana": grafana, "bugsink": bugsink,
           "app": app, "prom_url": f"http://127.0.0.1:{ports['prom']}", "push_url": f"http://127.0.0.1:{ports['push']}"}
    try:
        wait_for("Pushgateway ready", lambda: urllib.request.urlopen(f"{env['push_url']}/-/ready").status == 200,
                 30, proc=push)
        wait_for("checkout scraped", lambda: _value(env, 'up{service="checkout"}') == 1, 60, proc=prom)
        yield env
    finally:
        for p in (prom, am, app, push, bugsink):
            p.stop()
        slack.shutdown()
        grafana.close()


def _releases(env) -> list[str]:
    """The versions of checkout's releases in the tracker."""
    c = env["bugsink"].client()
    (project,) = [p["id"] for p in c.all("/projects/") if p["name"] == "checkout"]
    return [r["version"] for r in c.all("/releases/", project=project)]


def _value(env, expr: str):
    result = get_json(f"{env['prom_url']}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))["data"]["result"]
    return float(result[0]["value"][1]) if len(result) == 1 else None


def ci_deploy(env, *args: str):
    """The CI step."""
    return run_vigil("deploy", "-i", str(env["tmp"] / "inventory.yml"), "--env", str(env["tmp"] / ".env"),
                     "--grafana-url", env["grafana"].url, "--pushgateway-url", env["push_url"], *args)


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat(timespec="seconds")


def _deploy_messages(env, path: str) -> list[dict]:
    return [m["payload"] for m in env["inbox"].snapshot() if m["path"] == path]


def _deploy_count(env) -> int:
    """Deploy messages in the inbox (alerts of the stack arrive there too)."""
    return sum(len(_deploy_messages(env, p)) for p in ("/slack/deploys", "/slack/audit", "/slack/platform-deploys"))


def _groups(env) -> list[dict]:
    data = get_json(f"{env['push_url']}/api/v1/metrics")["data"]
    return [g["labels"] for g in data if g["labels"].get("job") == dora.DEPLOY_JOB]


def test_a_ci_deploy_annotates_releases_posts_and_records_and_a_rerun_changes_nothing(stack):
    now = time.time()
    result = ci_deploy(stack, "--service", "checkout", "--version", "v1.0.0", "--commit", "abc123",
                       "--commit-time", _iso(now - 7200), "--url", "https://ci.example.com/run/1", "--by", "alice")
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(stack["grafana"].requests) == 1, result.stdout
    (note,) = stack["grafana"].requests
    assert {"deploy", "service:checkout", "version:v1.0.0"} <= set(note["body"]["tags"])
    assert "ok      release: release v1.0.0 created" in result.stdout and _releases(stack) == ["v1.0.0"]
    (slack,) = _deploy_messages(stack, "/slack/deploys")
    assert slack["channel"] == "#shop-deploys"
    assert "checkout v1.0.0 deployed" in slack["text"] and "commit abc123" in slack["text"]
    assert "lead time 2h 0m" in slack["text"] and "by alice" in slack["text"]
    assert slack["attachments"][0]["actions"][0]["url"] == "https://ci.example.com/run/1"
    (hook,) = _deploy_messages(stack, "/slack/audit")
    assert hook["service"] == "checkout" and hook["version"] == "v1.0.0" and 7200 <= hook["lead_time_seconds"] < 7260
    assert not _deploy_messages(stack, "/slack/platform-deploys"), "another team's deploy channel got it"
    assert [(g["service"], g["version"]) for g in _groups(stack)] == [("checkout", "v1.0.0")]

    again = ci_deploy(stack, "--service", "checkout", "--version", "v1.0.0", "--commit", "abc123",
                      "--commit-time", _iso(now - 7200))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already" in again.stdout
    assert "ok      release: release v1.0.0 already in project" in again.stdout
    assert len(stack["grafana"].requests) == 1 and _releases(stack) == ["v1.0.0"]
    assert len(_deploy_messages(stack, "/slack/deploys")) == 1 and len(_groups(stack)) == 1


def test_bad_input_and_a_stack_that_is_down_send_nothing(stack):
    before = (len(stack["grafana"].requests), _deploy_count(stack), len(_groups(stack)))
    future = _iso(time.time() + 3600)
    cases = [(("--service", "checkuot", "--version", "v9"), 2, "no service 'checkuot' (did you mean 'checkout'?)"),
             (("--service", "checkout", "--version", ""), 2, "--version: invalid version ''"),
             (("--service", "checkout", "--version", "v9", "--commit-time", future), 2, "is in the future"),
             (("--service", "checkout", "--version", "v9", "--commit-time", "yesterday"), 2, "invalid time"),
             (("--service", "checkout", "--version", "v9", "--status", "broken"), 2, "is not one of"),
             (("--service", "checkout", "--version", "v9", "--pushgateway-url",
               f"http://127.0.0.1:{stack['ports']['closed']}"), 3, "the deploy record cannot be read")]
    for args, code, said in cases:
        if "--pushgateway-url" in args:
            result = run_vigil("deploy", "-i", str(stack["tmp"] / "inventory.yml"), "--env",
                               str(stack["tmp"] / ".env"), "--grafana-url", stack["grafana"].url, *args)
        else:
            result = ci_deploy(stack, *args)
        assert result.returncode == code, (args, result.stdout, result.stderr)
        assert said in result.stderr and "Traceback" not in result.stderr, result.stderr
        # Only the unknown service is told by the inventory check all commands share.
        assert "nothing sent" in result.stderr or "no service" in said, result.stderr
    assert (len(stack["grafana"].requests), _deploy_count(stack), len(_groups(stack))) == before


def test_a_failed_step_is_named_and_the_others_still_run(stack):
    stack["grafana"].status = 401
    try:
        result = ci_deploy(stack, "--service", "checkout", "--version", "v1.0.1")
    finally:
        stack["grafana"].status = 200
    assert result.returncode == 1
    assert "FAILED  annotation" in result.stdout and "annotation failed" in result.stderr
    assert "ok      record" in result.stdout and "ok      message" in result.stdout
    assert any(m["payload"].get("version") == "v1.0.1" for m in stack["inbox"].snapshot())
    # The rerun does what is left: the annotation, and nothing twice.
    messages = _deploy_count(stack)
    rerun = ci_deploy(stack, "--service", "checkout", "--version", "v1.0.1")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "ok      annotation: Grafana annotation" in rerun.stdout
    assert _deploy_count(stack) == messages


def dora_queries(tree: Path, team: str, service: str, window: str) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every DORA dashboard query, variables filled in as Grafana would."""
    board = dashboards(tree)[f"vigil/{dora_board.UID}"]
    values = {"team": team, "service": service, "window": window}
    return [(p["title"], target_expr(t, values)) for p in panels(board) for t in prom_targets(p)]


def test_dora_numbers_on_the_dashboard_come_from_the_deploys_and_the_alerts(stack):
    # v1.0.0 (lead 2h) and v1.0.1 are recorded; a third deploy, then the service dies within the hour.
    result = ci_deploy(stack, "--service", "checkout", "--version", "v1.1.0", "--commit-time", _iso(time.time() - 3600))
    assert result.returncode == 0, result.stdout + result.stderr
    wait_for("three deploys recorded", lambda: _value(stack, 'service:dora_deploys:count7d{service="checkout"}') == 3,
             150)
    stack["app"].stop()
    wait_for("ServiceDown paged the team", lambda: any(
        "ServiceDown" in a.get("title", "") for m in stack["inbox"].snapshot() if m["path"] == "/slack/shop"
        for a in m["payload"].get("attachments", [])), 90)
    wait_for("the incident is put on v1.1.0", lambda: _value(
        stack, 'service:dora_failed_deploys:count7d{service="checkout"}') == 1, 150)
    stack["app"].start()
    wait_for("the incident's end is recorded", lambda: _value(
        stack, 'service:dora_time_to_restore_seconds:median7d{service="checkout"}'), 180)
    # A rollback of the same deploy changes its status, not the count.
    result = ci_deploy(stack, "--service", "checkout", "--version", "v1.1.0", "--status", "rolled-back")
    assert result.returncode == 0 and "ROLLED BACK" in _deploy_messages(stack, "/slack/deploys")[-1]["text"]
    wait_for("the rollback is scraped", lambda: _value(
        stack, f'count({dora.DEPLOY_TIME}{{service="checkout",status="rolled-back"}})') == 1, 60)
    seen = time.time()
    wait_for("the DORA rules evaluated since", lambda: _value(
        stack, 'timestamp(service:dora_deploys:count7d{service="checkout"})') > seen, 90)

    got: dict[str, list] = {}
    for title, expr in dora_queries(stack["tree"], "shop", "checkout", "7d"):
        answer = query(stack["prom_url"], expr)
        assert answer["status"] == "success", (title, expr, answer)
        got.setdefault(title, []).extend(float(r["value"][1]) for r in answer["data"]["result"])
    assert got["Deploys"] == [3, 3]                           # the team, and checkout
    assert got["Deploys per day"] == [3 / 7, 3 / 7]
    assert got["Frequency band"] == [3, 3]                     # weekly
    lead_times = got["Lead time (median)"]                    # median of 2h and 1h
    assert len(lead_times) == 2 and all(5400 <= v < 5500 for v in lead_times), lead_times
    assert got["Change failure rate"] == [1 / 3, 1 / 3]
    restore = got["Time to restore (median)"]
    assert len(restore) == 2 and all(2 < v < 300 for v in restore), restore
    freq, lead, cfr, ttr = got["Services"]                    # the per-service table: checkout's row
    assert (freq, cfr, ttr) == (3 / 7, 1 / 3, restore[1]) and 5400 <= lead < 5500


def test_without_grafana_the_annotation_is_skipped_not_failed(stack):
    """endpoints.grafana: null and no --grafana-url: no annotation to make (no Grafana is run), the
    rest is done, exit 0. (Last: the DORA test above counts the deploys before it.)"""
    inv = yaml.safe_load((stack["tmp"] / "inventory.yml").read_text())
    inv["stack"]["endpoints"]["grafana"] = None
    (stack["tmp"] / "no-grafana.yml").write_text(yaml.safe_dump(inv, sort_keys=False))
    before = len(stack["grafana"].requests)
    result = run_vigil("deploy", "-i", str(stack["tmp"] / "no-grafana.yml"), "--env", str(stack["tmp"] / ".env"),
                       "--pushgateway-url", stack["push_url"], "--service", "checkout", "--version", "v9.0.0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skip    annotation: Grafana is not run here" in result.stdout, result.stdout
    assert "ok      record" in result.stdout and "ok      message" in result.stdout, result.stdout
    assert len(stack["grafana"].requests) == before
