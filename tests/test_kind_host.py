"""kind `host` against reality: the real node_exporter (Debian's prometheus-node-exporter,
default collectors, nothing extra), scraped by the real Prometheus from a rendered tree.

Every metric the host rules and the Hosts dashboard read is one the exporter exposes;
every alert expression evaluates without error, every panel query runs and shows data;
stopping the exporter fires ServiceDown. And promtool runs the generated rule tests of an
inventory that overrides every host alert — and they catch a rule that drifts from them.
"""

from __future__ import annotations

import re
import shutil
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import promtool, run_vigil, tool
from dashboard_queries import dashboards, expand, has_data, panels, prom_targets, query, resolve, target_expr
from native import native_stack, Process, free_port, get_json, prometheus, wait_for
from vigil import runbooks
from vigil.kinds import host

NODE_EXPORTER = "prometheus-node-exporter"

INVENTORY = """\
  - name: box
    team: platform
    kind: host
    targets: ["127.0.0.1:{node}"]
    alerts:
      down: {{for: 2s}}
"""

# Metrics the rules and panels read that come from Prometheus itself, not from the exporter.
FROM_PROMETHEUS = {"up": "scrape health, recorded by Prometheus for each target",
                   "ALERTS": "Prometheus' own series of pending and firing alerts"}
# What it takes for a machine to expose the exporter's metrics the host kind reads: a
# missing one fails the test with this (nothing is skipped). On this machine all are there;
# the metrics of a machine without swap (node_memory_Swap*) are not read at all.
NEEDS = {
    "node_vmstat_oom_kill": "the oom_kill line of /proc/vmstat: Linux >= 4.13 (vmstat collector, default fields)",
    "node_timex_offset_seconds": "the timex collector (default on Linux): adjtimex(2)",
    "node_timex_sync_status": "the timex collector (default on Linux): adjtimex(2)",
    "node_timex_maxerror_seconds": "the timex collector (default on Linux): adjtimex(2)",
    "node_filesystem_files": "the filesystem collector and a mounted filesystem it does not exclude",
    "node_filesystem_files_free": "the filesystem collector and a mounted filesystem it does not exclude",
    "node_nf_conntrack_entries": "the conntrack collector (default on) and the nf_conntrack kernel module loaded",
    "node_nf_conntrack_entries_limit": "the conntrack collector (default on) and the nf_conntrack kernel module loaded",
    "node_disk_io_time_weighted_seconds_total": "the diskstats collector (default on) and a block device",
}
NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
SELECTED = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)\{")


def metric_names(exprs) -> set[str]:
    """Metric names in PromQL expressions. Every one in Vigil's host expressions has a
    {selector}; a bare node_* name (which this would miss) fails the check."""
    names = set()
    for expr in exprs:
        bare = {n for n in NAME.findall(re.sub(r'"[^"]*"', '""', expr)) if n.startswith("node_")}
        selected = set(SELECTED.findall(expr))
        assert bare <= selected, f"metric names without a selector in {expr}: {bare - selected}"
        names |= selected
    return names


def exposed(url: str) -> set[str]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as r:
        text = r.read().decode()
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}


def host_rules(tree: Path, service: str) -> list[dict]:
    groups = yaml.safe_load((tree / f"prometheus/rules/services/{service}.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def host_dashboard(tree: Path) -> dict:
    return dashboards(tree)["vigil/vigil-host"]


def dashboard_exprs(tree: Path) -> list[str]:
    d = host_dashboard(tree)
    return [t["expr"] for p in panels(d) for t in prom_targets(p)] + \
           [v["query"] for v in d["templating"]["list"] if v["type"] == "query"]


# ---------------------------------------------------------------- the live stack


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("host-live")
    exporter = tool(NODE_EXPORTER)             # fails saying how to install it
    ports = {k: free_port() for k in ("prom", "node", "closed")}
    (tmp / "inventory.yml").write_text(native_stack("hosts", ports, ("platform",), node_exporter=ports["node"])
                                         + INVENTORY.format(**ports))
    tree = tmp / "tree"
    result = run_vigil("generate", "-i", str(tmp / "inventory.yml"), "-o", str(tree))
    assert result.returncode == 0, result.stderr
    node = Process([exporter, f"--web.listen-address=127.0.0.1:{ports['node']}"], tmp, tmp / "node.log").start()
    prom = prometheus(tree, ports["prom"], tmp / "prom-data", tmp / "prometheus.log").start()
    url, node_url = f"http://127.0.0.1:{ports['prom']}", f"http://127.0.0.1:{ports['node']}"
    try:
        wait_for("the node exporter", lambda: exposed(node_url), 10, proc=node)
        # Rates over the panels' 1m $__rate_interval need two samples or more.
        wait_for("three scrapes of the host", lambda: has_data(query(
            url, 'min(count_over_time(up{service="box"}[1m])) >= 3 and min(up{service="box"}) == 1')), 20, proc=prom)
        yield {"url": url, "tree": tree, "node": node, "node_url": node_url, "prom": prom}
    finally:
        node.stop()
        prom.stop()


def test_every_metric_of_the_rules_and_the_dashboard_is_exposed(live):
    tree = live["tree"]
    rules = host_rules(tree, "box")
    alerts = {r["alert"] for r in rules}
    assert set(host.RUNBOOKS) | {"ServiceDown"} == alerts, "every host alert is rendered with its defaults"
    used = metric_names([r["expr"] for r in rules] + dashboard_exprs(tree))
    theirs = exposed(live["node_url"])
    ours = used - set(FROM_PROMETHEUS)
    assert used & set(FROM_PROMETHEUS) == {"up", "ALERTS"}
    assert all(n.startswith("node_") for n in ours), ours
    missing = sorted(ours - theirs)
    assert not missing, "not exposed by this node_exporter:\n" + "\n".join(
        f"  {n}: needs {NEEDS.get(n, '(no known reason: a bug in the host kind)')}" for n in missing)
    # And Prometheus holds each of them for the service, with its labels.
    for name in sorted(ours):
        assert has_data(query(live["url"], f'count({name}{{service="box",kind="host"}})')), name
    assert {"node_timex_offset_seconds", "node_timex_sync_status", "node_vmstat_oom_kill",
            "node_filesystem_files_free"} <= ours


def test_every_alert_expression_evaluates_without_error(live):
    url = live["url"]
    for rule in host_rules(live["tree"], "box"):
        result = query(url, rule["expr"])
        assert result.get("status") == "success", (rule["alert"], rule["expr"], result.get("error"))

    # Prometheus' own evaluations of the group: every rule healthy.
    def evaluated():
        groups = get_json(f"{url}/api/v1/rules?type=alert")["data"]["groups"]
        (group,) = [g for g in groups if g["name"] == "service:box"]
        return group if all(not r["lastEvaluation"].startswith("0001") for r in group["rules"]) else None
    group = wait_for("the host rules evaluated", evaluated, 10, proc=live["prom"])
    bad = [(r["name"], r["health"], r.get("lastError")) for r in group["rules"] if r["health"] != "ok"]
    assert not bad, bad
    # The value side of every threshold alert has data: its selectors match the real series.
    for rule in host_rules(live["tree"], "box"):
        value, op, _ = rule["expr"].rpartition(" > ")
        if op and rule["alert"] != "HostOomKill":     # increase(...) > 0: the same, 0 here
            assert has_data(query(url, value)), (rule["alert"], value)
    assert has_data(query(url, 'increase(node_vmstat_oom_kill{service="box"}[5m])'))


def test_every_panel_query_runs_and_shows_data(live):
    url, d = live["url"], host_dashboard(live["tree"])
    every, first = resolve(url, d)
    assert first["service"] == "box"
    errors, empty, ran = [], [], 0
    for p in panels(d):
        for t in prom_targets(p):
            for values in (every, first):
                result = query(url, target_expr(t, values))
                ran += 1
                if result.get("status") != "success":
                    errors.append(f"{p['title']}: {result.get('error')}\n    {t['expr']}")
                elif not has_data(result):
                    empty.append(f"{p['title']}: {expand(t['expr'], values)}")
    assert not errors, "\n".join(errors)
    assert not empty, "panels without data:\n" + "\n".join(empty)
    titles = {p["title"] for p in panels(d)}
    assert {"Clock offset", "Clock synchronised", "OOM kills", "Inodes used"} <= titles
    assert ran >= 2 * 16


def test_stopping_the_exporter_fires_service_down(live):
    """Last in this module: it stops the exporter."""
    url = live["url"]
    firing = 'ALERTS{alertname="ServiceDown",service="box",alertstate="firing"}'
    assert not has_data(query(url, firing))
    live["node"].stop()
    start = time.monotonic()
    alert = wait_for("ServiceDown firing", lambda: query(url, firing)["data"]["result"], 15, proc=live["prom"])
    labels = alert[0]["metric"]
    assert labels["severity"] == "critical" and labels["team"] == "platform"
    assert labels["instance"] == f"127.0.0.1:{live['node_url'].rsplit(':', 1)[1]}"
    assert time.monotonic() - start >= 2 - 1       # its `for: 2s`, less a scrape already failed


# ---------------------------------------------------------------- overrides through promtool


OVERRIDES = """\
version: 1
stack:
  name: hosts
  team: platform
  scrape_interval: 15s
  evaluation_interval: 30s
  endpoints: {prometheus: "127.0.0.1:9090", node_exporter: "127.0.0.1:9100"}
receivers:
  - name: hook
    webhook: {url: "http://127.0.0.1:9/hook"}
routing: {default_receiver: hook}
teams:
  - name: platform
    notify: {critical: [hook], warning: [hook]}
services:
  - name: box
    team: platform
    kind: host
    targets: ["box:9100"]
    labels: {rack: r1}
    alerts:
      inodes: {warning: 70%, critical: 90%, for: 1m}
      clock_skew: {warning: 250ms, for: 5m}
      clock_sync: {for: 30m}
      oom_kill: {for: 10m}
  - name: quiet
    team: platform
    kind: host
    targets: ["quiet:9100"]
    alerts:
      disabled: [inodes, clock_skew, clock_sync, oom_kill]
"""
# (pattern in box.yml, replacement): each must make a generated test fail.
MUTATIONS = [
    # The tests try values 10% either side of each threshold: a drift past that must show.
    (r"(node_filesystem_files\{[^}]*\}\[1m\]\) > 0\) > )0\.7$", r"\g<1>0.8"),
    (r"(node_filesystem_files\{[^}]*\}\[1m\]\) > 0\) > )0\.9$", r"\g<1>0.8"),
    (r"(< 0\)\) > )0\.25$", r"\g<1>0.3"),
    (r"abs\((last_over_time\(node_timex_offset_seconds\{service=\"box\"\}\[1m\]\))\)", r"\g<1>"),
    # Without the slope, a clock that NTP is already correcting fires.
    (r" unless on \(job, instance\) \(node_timex_offset_seconds\{service=\"box\"\} \* deriv\([^)]*\) < 0\)", ""),
    (r"(node_timex_maxerror_seconds\{service=\"box\"\} >= )16$", r"\g<1>17"),
    # The count of kills since boot, not new ones: old kills would page forever.
    (r"increase\((node_vmstat_oom_kill\{service=\"box\"\})\[5m\]\)", r"\g<1>"),
    # iowait counted as busy: a host waiting on its disk would page as CPU-bound.
    (r'mode=~\"idle\|iowait\|steal\"', 'mode=\"idle\"'),
    # A half-free disk filling fast must stay quiet: the free-space guard of HostDiskWillFill.
    (r"(\[1m\]\) < )0\.4$", r"\g<1>0.6"),
]


@pytest.fixture(scope="module")
def overridden(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("host-overrides")
    (tmp / "inventory.yml").write_text(OVERRIDES)
    result = run_vigil("generate", "-i", str(tmp / "inventory.yml"), "-o", str(tmp / "tree"))
    assert result.returncode == 0, result.stderr
    return tmp / "tree"


def test_overrides_reach_the_rules_and_promtool_passes_their_tests(overridden):
    rules = {(r["alert"], r["labels"]["severity"]): r for r in host_rules(overridden, "box")}
    assert rules[("HostInodesFull", "warning")]["expr"].endswith(" > 0.7")
    assert rules[("HostInodesFull", "critical")]["expr"].endswith(" > 0.9")
    assert rules[("HostInodesFull", "critical")]["for"] == "1m"
    assert rules[("HostClockSkew", "warning")]["expr"] == (
        '(abs(last_over_time(node_timex_offset_seconds{service="box"}[1m])) unless on (job, instance) '
        '(node_timex_offset_seconds{service="box"} * deriv(node_timex_offset_seconds{service="box"}[5m]) < 0)) > 0.25')
    assert rules[("HostClockSkew", "warning")]["for"] == "5m"
    assert rules[("HostClockNotSynchronising", "warning")]["for"] == "30m"
    assert rules[("HostOomKill", "warning")]["for"] == "10m"
    for rule in rules.values():
        assert {"service", "team", "severity"} <= set(rule["labels"])
        assert rule["annotations"]["runbook_url"].endswith(f"?viewPanel=panel-{runbooks.panel_id(rule['alert'])}")
    quiet = {r["alert"] for r in host_rules(overridden, "quiet")}
    assert quiet.isdisjoint({"HostInodesFull", "HostClockSkew", "HostClockNotSynchronising", "HostOomKill"})
    tests = [f"prometheus/tests/services/{s}.test.yml" for s in ("box", "quiet")]
    result = promtool("test", "rules", *tests, cwd=overridden)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == 2
    names = {t["name"] for t in yaml.safe_load((overridden / tests[0]).read_text())["tests"]}
    for alert in ("HostInodesFull", "HostClockSkew", "HostClockNotSynchronising", "HostOomKill"):
        assert any(("fires" in n or "warning at" in n) for n in names if n.startswith(f"{alert}: ")), alert
        assert any("quiet" in n for n in names if n.startswith(alert)), alert


@pytest.mark.parametrize("pattern,repl", MUTATIONS, ids=[m[1] for m in MUTATIONS])
def test_generated_tests_catch_a_drifting_host_rule(overridden, tmp_path, pattern, repl):
    copy = tmp_path / "mutant"
    shutil.copytree(overridden / "prometheus", copy / "prometheus")
    path = copy / "prometheus/rules/services/box.yml"
    text, n = re.subn(pattern, repl, path.read_text(), count=1, flags=re.M)
    assert n == 1, f"mutation {pattern!r} found nothing"
    path.write_text(text)
    result = promtool("test", "rules", "prometheus/tests/services/box.test.yml", cwd=copy)
    assert result.returncode != 0, f"the tests still pass after {pattern!r} -> {repl!r}:\n{result.stdout}"
