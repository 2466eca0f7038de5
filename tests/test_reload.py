"""`vigil reload` applies an inventory change to a running Prometheus and Alertmanager
in place: the new service is scraped and the new receiver routed to, without a restart
(same processes, same start times), without losing stored samples or silences. A change
promtool refuses is checked in a staging folder first: the files on disk and what the
running Prometheus loaded stay as they were. A part that answers a reload with anything
but OK fails the command, by name."""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

from conftest import REFUSED_RULE, run_vigil, tree_bytes
from native import Process, alertmanager, free_port, get_json, prometheus, wait_for

APP = Path(__file__).parent / "apps" / "red_app.py"

INVENTORY = """\
version: 1
stack:
  name: reload
  basic_auth: false           # no passwords: test_basic_auth.py runs the pair with them
  scrape_interval: 1s
  evaluation_interval: 15s      # keeps the rule tests `vigil reload` runs short
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
  - name: hook
    webhook: {{url: "http://127.0.0.1:{closed}/hook"}}
{more_receivers}routing: {{default_receiver: hook}}
teams:
  - name: shop
    notify: {{critical: [{shop_receiver}], warning: [hook]}}
services:
  - name: shop
    team: shop
    kind: http
    targets: ["127.0.0.1:{shop}"]
{more_services}"""
CART = """\
  - name: cart
    team: shop
    kind: http
    targets: ["127.0.0.1:{cart}"]
"""
PAGER = """\
  - name: shop-pager
    webhook: {{url: "http://127.0.0.1:{closed}/pager"}}
"""


def inventory(ports: dict, changed: bool) -> str:
    return INVENTORY.format(**ports, more_services=CART.format(**ports) if changed else "",
                            more_receivers=PAGER.format(**ports) if changed else "",
                            shop_receiver="shop-pager" if changed else "hook")


def query(url: str, expr: str, at: float | None = None) -> list:
    params = {"query": expr, **({"time": str(at)} if at is not None else {})}
    return get_json(f"{url}/api/v1/query?{urllib.parse.urlencode(params)}")["data"]["result"]


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("reload")
    ports = {k: free_port() for k in ("prom", "am", "closed", "shop", "cart")}
    inv = tmp_path / "inventory.yml"
    inv.write_text(inventory(ports, changed=False))
    tree = tmp_path / "tree"
    result = run_vigil("generate", "-i", str(inv), "-o", str(tree))
    assert result.returncode == 0, result.stderr
    procs = [Process([sys.executable, str(APP), str(ports[n])], tmp_path, tmp_path / f"{n}.log").start()
             for n in ("shop", "cart")]
    am = alertmanager(tree / "alertmanager", ports["am"], tmp_path / "am-data", tmp_path / "am.log").start()
    prom = prometheus(tree, ports["prom"], tmp_path / "prom-data", tmp_path / "prom.log").start()
    procs += [am, prom]
    env = {"inv": inv, "tree": tree, "ports": ports, "prom": prom, "am": am,
           "prom_url": f"http://127.0.0.1:{ports['prom']}", "am_url": f"http://127.0.0.1:{ports['am']}"}
    try:
        wait_for("shop scraped", lambda: query(env["prom_url"], 'up{service="shop"} == 1'), 30, proc=prom)
        wait_for("Alertmanager ready", lambda: get_json(f"{env['am_url']}/api/v2/status"), 30, proc=am)
        yield env
    finally:
        for p in procs:
            p.stop()


def reload(env, environment: dict | None = None) -> object:
    return run_vigil("reload", "-i", str(env["inv"]), "-o", str(env["tree"]), "--only", "prometheus,alertmanager",
                     "--prometheus-url", env["prom_url"], "--alertmanager-url", env["am_url"], env=environment)


def test_a_broken_inventory_reloads_nothing(running):
    env = running
    config = (env["tree"] / "prometheus" / "prometheus.yml").read_bytes()
    good = env["inv"].read_text()
    env["inv"].write_text(good.replace("kind: http", "kind: htp"))
    try:
        result = reload(env)
    finally:
        env["inv"].write_text(good)
    assert result.returncode == 2 and "htp" in result.stderr and "Traceback" not in result.stderr
    assert "reloaded" not in result.stdout
    assert (env["tree"] / "prometheus" / "prometheus.yml").read_bytes() == config


def loaded_rules(url: str) -> list:
    groups = get_json(f"{url}/api/v1/rules")["data"]["groups"]
    return sorted((g["file"], g["name"], r["name"], r["query"]) for g in groups for r in g["rules"])


def test_a_change_the_checks_refuse_leaves_files_and_prometheus_as_they_were(running):
    env = running
    files, rules = tree_bytes(env["tree"]), loaded_rules(env["prom_url"])
    # From the server itself, not its self-scrape (one that timed out leaves an instant query empty).
    def last_reload():
        return get_json(f"{env['prom_url']}/api/v1/status/runtimeinfo")["data"]["lastConfigTime"]
    reloaded = last_reload()
    good = env["inv"].read_text()
    assert good.count("    kind: http\n") >= 1
    env["inv"].write_text(good.replace("    kind: http\n", "    kind: http\n" + REFUSED_RULE, 1))
    try:
        result = reload(env)
    finally:
        env["inv"].write_text(good)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL promtool check config" in result.stdout and "Traceback" not in result.stderr
    assert "running stack are as they were" in result.stderr and "reloaded" not in result.stdout
    assert tree_bytes(env["tree"]) == files
    assert loaded_rules(env["prom_url"]) == rules and not any("QueueBacklog" in r for r in rules)
    assert last_reload() == reloaded


def test_without_promtool_a_change_prometheus_refuses_puts_the_previous_files_back(running, tmp_path):
    """Most Docker users have no promtool or amtool: the running Prometheus is the check. It refuses
    the new rule file, so the files on disk go back to what it runs, and the next restart loads them."""
    env = running
    files, rules = tree_bytes(env["tree"]), loaded_rules(env["prom_url"])
    no_tools = tmp_path / "bin"      # PATH: an empty folder (vigil runs as sys.executable, by its full path)
    no_tools.mkdir()
    environment = {**os.environ, "PATH": str(no_tools)}
    good = env["inv"].read_text()
    env["inv"].write_text(good.replace("    kind: http\n", "    kind: http\n" + REFUSED_RULE, 1))
    try:
        result = reload(env, environment)
    finally:
        env["inv"].write_text(good)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "promtool and amtool not on PATH" in result.stdout and "FAIL promtool" not in out, out
    assert "FAILED   prometheus: 500" in result.stdout, out
    assert "prometheus refused the new config: the previous files are back" in result.stderr, out
    # Alertmanager took the new files: it reloads the previous ones, so it runs what is on disk.
    assert "reloaded alertmanager with the previous files" in result.stdout, out
    assert "Traceback" not in result.stderr
    # The added rule file removed, the changed ones as they were; only generate's no-op shortcut is
    # gone (the tree was rewritten twice: the next generate renders in full once).
    rendered = {path: data for path, data in files.items() if path != ".vigil-cache"}
    assert tree_bytes(env["tree"]) == rendered
    assert loaded_rules(env["prom_url"]) == rules
    # What is on disk loads: the same reload, with nothing to change, succeeds.
    again = reload(env, environment)
    assert again.returncode == 0 and "reloaded prometheus" in again.stdout, again.stdout + again.stderr
    assert tree_bytes(env["tree"]) == rendered


def test_a_reload_answered_with_an_error_fails_naming_the_part(running):
    env = running
    # A real server that refuses: Alertmanager answers 404 to a Prometheus reload URL under it.
    result = run_vigil("reload", "-i", str(env["inv"]), "-o", str(env["tree"]), "--only", "prometheus,alertmanager",
                       "--prometheus-url", f"{env['am_url']}/nothing-here", "--alertmanager-url", env["am_url"])
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED   prometheus: 404" in result.stdout and "reloaded alertmanager" in result.stdout
    assert "prometheus did not reload" in result.stderr


def test_an_inventory_change_applies_without_restart_or_loss(running):
    env = running
    prom_url, am_url = env["prom_url"], env["am_url"]
    started = get_json(f"{prom_url}/api/v1/status/runtimeinfo")["data"]["startTime"]
    am_uptime = get_json(f"{am_url}/api/v2/status")["uptime"]
    before = time.time()
    wait_for("a few samples stored", lambda: query(prom_url, 'count_over_time(up{service="shop"}[1m]) >= 3'), 30)
    now = dt.datetime.now(dt.timezone.utc)
    silence = get_json(f"{am_url}/api/v2/silences", {
        "matchers": [{"name": "service", "value": "shop", "isRegex": False, "isEqual": True}],
        "startsAt": now.isoformat(), "endsAt": (now + dt.timedelta(hours=1)).isoformat(),
        "createdBy": "test", "comment": "maintenance"})["silenceID"]

    env["inv"].write_text(inventory(env["ports"], changed=True))
    result = reload(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "reloaded prometheus" in result.stdout and "reloaded alertmanager" in result.stdout

    wait_for("the new service scraped", lambda: query(prom_url, 'up{service="cart"} == 1'), 30, proc=env["prom"])
    config = get_json(f"{am_url}/api/v2/status")["config"]["original"]
    assert "shop-pager" in config
    # The same processes, never restarted; what they stored is still there.
    assert env["prom"].proc.poll() is None and env["am"].proc.poll() is None
    assert get_json(f"{prom_url}/api/v1/status/runtimeinfo")["data"]["startTime"] == started
    assert get_json(f"{am_url}/api/v2/status")["uptime"] == am_uptime
    assert query(prom_url, 'up{service="shop"}', at=before + 2), "samples from before the reload are gone"
    silences = {s["id"]: s for s in get_json(f"{am_url}/api/v2/silences")}
    assert silences[silence]["status"]["state"] == "active"


def test_an_unreachable_part_is_reported_not_hidden(running):
    env = running
    closed = f"http://127.0.0.1:{env['ports']['closed']}"
    result = run_vigil("reload", "-i", str(env["inv"]), "-o", str(env["tree"]), "--only", "prometheus,alertmanager",
                       "--prometheus-url", env["prom_url"], "--alertmanager-url", closed)
    assert result.returncode == 1
    assert "reloaded prometheus" in result.stdout and "FAILED   alertmanager: unreachable" in result.stdout
