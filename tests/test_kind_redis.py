"""kind: redis against reality: a real redis-server (a primary and its replica),
the Debian prometheus-redis-exporter and the real Prometheus, scraping every second.

Every metric the kind's rules and dashboard read is one the exporter exposes; every
panel and alert expression runs and the panels show data; refused connections and a
full maxclients fire their alerts; and stopping the primary fires ServiceDown for it
and RedisReplicationBroken for its replica. Also: the generated promtool tests pass
for an inventory that overrides every threshold."""

from __future__ import annotations

import re
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import promtool, run_vigil, tool
from dashboard_queries import dashboards, has_data, panels, prom_targets, query, resolve, target_expr
from native import native_stack, Process, free_port, prometheus, wait_for

from vigil.exporters import EXPORTERS
from vigil.kinds import redis

INVENTORY = """\
  - name: cache
    team: platform
    kind: redis
    targets: ["127.0.0.1:{exp1}"]
    alerts:
      down: {{for: 2s}}
      rejected_connections: {{for: 0s}}
      clients: {{warning: 50%, critical: 90%, for: 0s}}
      system_memory: {{warning: 0%, for: 0s}}
  - name: cache-replica
    team: platform
    kind: redis
    targets: ["127.0.0.1:{exp2}"]
    alerts:
      down: {{for: 2s}}
      replication: {{for: 1s}}
      system_memory: {{warning: 0%, for: 0s}}
"""
# Thresholds of every alert overridden: the generated promtool tests must follow them.
OVERRIDES = """\
  - name: cache-tuned
    team: platform
    kind: redis
    targets: ["127.0.0.1:{closed}"]
    alerts:
      memory: {{warning: 70%, critical: 80%, for: 1m}}
      evictions: {{warning: 0, for: 0s}}
      rejected_connections: {{warning: 0.5, for: 30s}}
      clients: {{warning: 60%, critical: 70%, for: 30s}}
      replication: {{for: 10s}}
      health: {{for: 5s}}
  - name: cache-quiet
    team: platform
    kind: redis
    alerts:
      evictions: {{warning: 2.5}}
      disabled: [memory, replication]
"""
MAXCLIENTS = 16
NOT_THE_EXPORTERS = {"up", "ALERTS", "ALERTS_FOR_STATE"}   # Prometheus' own series


def metric_names(expr: str) -> set[str]:
    """The metric names of a PromQL expression whose selectors all carry {...}."""
    return set(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", expr)) - NOT_THE_EXPORTERS


def exposed(port: int) -> set[str]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {re.split(r"[{ ]", line, maxsplit=1)[0] for line in text.splitlines() if line and not line.startswith("#")}


def rules_of(tree: Path, service: str) -> list[dict]:
    doc = yaml.safe_load((tree / "prometheus/rules/services" / f"{service}.yml").read_text())
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


def command(sock: socket.socket, *args: str) -> bytes:
    sock.sendall(b"".join([f"*{len(args)}\r\n".encode()] + [f"${len(a)}\r\n{a}\r\n".encode() for a in args]))
    return sock.recv(4096)


def traffic(port: int, stop: threading.Event) -> None:
    """Hits and misses on one connection, so the hit ratio and command rate have data (until the server stops)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            n = 0
            while not stop.is_set():
                command(s, "SET", f"key:{n % 50}", "x" * 100)
                command(s, "GET", f"key:{n % 50}")
                command(s, "GET", "missing")
                n += 1
                stop.wait(0.05)
    except OSError:
        pass


def firing(url: str, alertname: str, service: str) -> bool:
    return has_data(query(url, f'ALERTS{{alertname="{alertname}",alertstate="firing",service="{service}"}}'))


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server, exporter = tool("redis-server"), tool("prometheus-redis-exporter")
    tool("prometheus")
    tmp = tmp_path_factory.mktemp("kind-redis")
    ports = {k: free_port() for k in ("prom", "closed", "redis1", "redis2", "exp1", "exp2")}
    (tmp / "inventory.yml").write_text(native_stack("kind-redis", ports, ("platform",)) + INVENTORY.format(**ports))
    tree = tmp / "tree"
    result = run_vigil("generate", "-i", str(tmp / "inventory.yml"), "-o", str(tree))
    assert result.returncode == 0, result.stderr

    def redis_server(name: str, port: int, *extra: str) -> Process:
        (tmp / name).mkdir()
        return Process([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                        "--dir", str(tmp / name), "--daemonize", "no", *extra], tmp, tmp / f"{name}.log")

    primary = redis_server("primary", ports["redis1"], "--maxmemory", "64mb", "--maxclients", str(MAXCLIENTS)).start()
    procs = [primary]
    stop = threading.Event()
    try:
        wait_for("redis primary", lambda: socket.create_connection(("127.0.0.1", ports["redis1"]), 1).close() or 1, 10,
                 proc=primary)
        procs.append(redis_server("replica", ports["redis2"], "--replicaof", "127.0.0.1", str(ports["redis1"])).start())
        for exp, port in (("exp1", "redis1"), ("exp2", "redis2")):
            # As Compose runs it (vigil.exporters): with redis_total_system_memory_bytes.
            procs.append(Process([exporter, f"-redis.addr=redis://127.0.0.1:{ports[port]}", *EXPORTERS["redis"].flags,
                                  f"-web.listen-address=127.0.0.1:{ports[exp]}"], tmp, tmp / f"{exp}.log").start())
        threading.Thread(target=traffic, args=(ports["redis1"], stop), daemon=True).start()
        prom = prometheus(tree, ports["prom"], tmp / "prom-data", tmp / "prometheus.log").start()
        procs.append(prom)
        url = f"http://127.0.0.1:{ports['prom']}"
        for what, expr in (("both servers reached", 'count(redis_up{kind="redis"} == 1) == 2'),
                           ("the replica linked", 'redis_master_link_up{service="cache-replica"} == 1'),
                           ("rates over three samples", 'min(count_over_time(redis_up[1m])) >= 3')):
            wait_for(what, lambda e=expr: has_data(query(url, e)), 20, proc=prom)
        yield {"url": url, "tree": tree, "tmp": tmp, "ports": ports, "primary": primary}
    finally:
        stop.set()
        for p in reversed(procs):
            p.stop()


def test_every_metric_of_the_rules_and_dashboard_is_exposed_by_the_exporter(live):
    used = set()
    for rule in rules_of(live["tree"], "cache"):
        used |= metric_names(rule["expr"])
    d = dashboards(live["tree"])["vigil/vigil-redis"]
    for p in panels(d):
        for t in prom_targets(p):
            used |= metric_names(t["expr"])
    assert "redis_memory_max_bytes" in used and "redis_master_link_up" in used
    # The replica-only gauge is exposed by the replica's exporter, the rest by both.
    have = exposed(live["ports"]["exp1"]) | exposed(live["ports"]["exp2"])
    assert not used - have, f"not exposed by prometheus-redis-exporter: {sorted(used - have)}"
    assert "redis_master_link_up" not in exposed(live["ports"]["exp1"])      # empty on a primary


def test_every_panel_and_alert_expression_runs_and_the_panels_have_data(live):
    url = live["url"]
    d = dashboards(live["tree"])["vigil/vigil-redis"]
    every, first = resolve(url, d)
    errors, empty = [], []
    for p in panels(d):
        for t in prom_targets(p):
            for values in (every, first):
                result = query(url, target_expr(t, values))
                if result.get("status") != "success":
                    errors.append(f"{p['title']}: {result.get('error')}\n    {t['expr']}")
            # ALERTS panels may be empty: nothing need fire yet.
            if not has_data(query(url, target_expr(t, every))) and "ALERTS{" not in t["expr"]:
                empty.append(f"{p['title']}: {t['expr']}")
    for service in ("cache", "cache-replica"):
        for rule in rules_of(live["tree"], service):
            result = query(url, rule["expr"])
            if result.get("status") != "success":
                errors.append(f"{service} {rule['alert']}: {result.get('error')}\n    {rule['expr']}")
    assert not errors, "\n".join(errors)
    assert not empty, "panels without data:\n" + "\n".join(empty)
    # Memory against maxmemory: the primary has one; the replica has none (0) and is left out.
    (memory,) = {r["expr"].rpartition(" > ")[0] for r in rules_of(live["tree"], "cache") if r["alert"] == "RedisMemoryHigh"}
    assert has_data(query(url, memory))
    assert not has_data(query(url, memory.replace('"cache"', '"cache-replica"')))
    assert has_data(query(url, 'redis_memory_max_bytes{service="cache-replica"} == 0'))
    # Memory against the host's: only the replica, without a maxmemory; any use at all fires its warning at 0%.
    (system,) = {r["expr"].rpartition(" > ")[0] for r in rules_of(live["tree"], "cache-replica")
                 if r["alert"] == "RedisMemoryOfSystem" and r["labels"]["severity"] == "warning"}
    (share,) = query(url, system)["data"]["result"]
    assert 0 < float(share["value"][1]) < 1, share
    assert not has_data(query(url, system.replace('"cache-replica"', '"cache"')))
    wait_for("RedisMemoryOfSystem firing for the replica", lambda: firing(url, "RedisMemoryOfSystem", "cache-replica"),
             15)
    assert not firing(url, "RedisMemoryOfSystem", "cache"), "the primary has a maxmemory"
    # Replication: linked, so quiet; and nothing on the primary.
    assert not has_data(query(url, 'redis_master_link_up{service="cache"}'))


def test_promtool_tests_follow_overridden_thresholds(live, tmp_path):
    inv = tmp_path / "inventory.yml"
    inv.write_text((live["tmp"] / "inventory.yml").read_text() + OVERRIDES.format(**live["ports"]))
    tree = tmp_path / "tree"
    result = run_vigil("generate", "-i", str(inv), "-o", str(tree))
    assert result.returncode == 0, result.stderr
    tuned = {(r["alert"], r["labels"]["severity"]): r for r in rules_of(tree, "cache-tuned")}
    assert tuned[("RedisMemoryHigh", "critical")]["expr"].endswith("> 0.8")
    evictions = tuned[("RedisEvictions", "warning")]["expr"]
    assert evictions.startswith('(rate(redis_evicted_keys_total{service="cache-tuned"}[5m]) unless ')
    assert evictions.endswith(") > 0")
    assert tuned[("RedisRejectedConnections", "warning")]["for"] == "30s"
    assert {a for a, _ in tuned} >= {"RedisMemoryHigh", "RedisEvictions", "RedisRejectedConnections",
                                    "RedisTooManyConnections", "RedisReplicationBroken", "ServiceDown"}
    quiet = {r["alert"] for r in rules_of(tree, "cache-quiet")}
    assert "RedisMemoryHigh" not in quiet and "RedisReplicationBroken" not in quiet
    tests = [f"prometheus/tests/services/{s}.test.yml" for s in ("cache", "cache-replica", "cache-tuned", "cache-quiet")]
    result = promtool("test", "rules", *tests, cwd=tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(tests)
    names = set(re.findall(r"name: (Redis\w+|ServiceDown)", (tree / tests[2]).read_text()))
    assert names >= set(redis.RUNBOOKS) - {"RedisMasterCount"}, names     # that one: services of several targets


def test_a_full_maxclients_fires_its_alerts(live):
    url, port = live["url"], live["ports"]["redis1"]
    held = []
    try:
        for _ in range(MAXCLIENTS + 4):           # past maxclients: the last ones are refused
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            held.append(s)
        time.sleep(0.5)
        for s in held[MAXCLIENTS - 4:]:            # room for the exporter again; the rest stay connected
            s.close()
        for alertname in ("RedisRejectedConnections", "RedisTooManyConnections"):
            wait_for(f"{alertname} firing", lambda a=alertname: firing(url, a, "cache"), 15)
    finally:
        for s in held:
            s.close()
    assert has_data(query(url, 'redis_rejected_connections_total{service="cache"} > 0'))


def test_stopping_the_primary_fires_service_down_and_breaks_the_replicas_link(live):
    url = live["url"]
    wait_for("the primary up again after maxclients", lambda: has_data(query(url, 'redis_up{service="cache"} == 1'))
             and not firing(url, "ServiceDown", "cache"), 10)
    assert not firing(url, "RedisReplicationBroken", "cache-replica")
    live["primary"].stop()
    wait_for("ServiceDown for the stopped primary", lambda: firing(url, "ServiceDown", "cache"), 15)
    wait_for("RedisReplicationBroken for its replica", lambda: firing(url, "RedisReplicationBroken", "cache-replica"), 15)
    # The exporter itself still answers: it is redis_up that says the server is gone.
    assert has_data(query(url, 'up{service="cache"} == 1')) and has_data(query(url, 'redis_up{service="cache"} == 0'))
