"""kind mysql against reality: a real MariaDB primary and a replica of it, each watched by the
real mysqld exporter, scraped by the real Prometheus with the rendered configuration.

Shown here: every metric name the kind's rules and its dashboard use is one the exporter
exposes (the replica ones on the replica only: on a primary they are empty, never firing);
every panel query and alert expression runs and has data; the replica alerts and ServiceDown
fire when replication or the server stops. And the promtool tests generated for an
inventory with overrides pass, and catch a rule that drifts from its parameters.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import promtool, render_tree, run_vigil, tool
from dashboard_queries import dashboards, has_data, panels, prom_targets, query, resolve, target_expr
from native import native_stack, Process, free_port, prometheus, wait_for
from vigil.kinds import mysql

EXPORTER = "prometheus-mysqld-exporter"
PASSWORD = "exporter-secret"
# mariadbd refuses to run as root unless told so; as anyone else it runs as that user.
AS_ROOT = ["--user=root"] if os.geteuid() == 0 else []

INVENTORY = """\
  - name: db
    team: data
    kind: mysql
    targets: ["127.0.0.1:{exporter_primary}"]
    alerts:
      down: {{for: 2s}}
      connections: {{warning: 1%, critical: 90%, for: 0s}}    # a couple of connections of 151: fires at once
  - name: db-replica
    team: data
    kind: mysql
    targets: ["127.0.0.1:{exporter_replica}"]
    alerts:
      down: {{for: 2s}}
      replication_stopped: {{for: 1s}}
"""
NOT_EXPORTED = {"up", "ALERTS", "ALERTS_FOR_STATE"}     # Prometheus' own series
METRIC = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\{")   # every metric in the kind's PromQL has a selector


class MariaDB:
    """A throwaway server on 127.0.0.1: its own data directory, socket and port."""

    def __init__(self, tmp: Path, name: str, server_id: int, *options: str):
        self.dir, self.port = tmp / name, free_port()
        self.sock = self.dir / "mysqld.sock"
        self.data = self.dir / "data"
        self.dir.mkdir()
        subprocess.run([tool("mariadb-install-db"), "--no-defaults", f"--datadir={self.data}", *AS_ROOT,
                        "--auth-root-authentication-method=normal", "--skip-test-db"],
                       check=True, capture_output=True, timeout=60)
        self.process = Process([tool("mariadbd"), "--no-defaults", *AS_ROOT, f"--datadir={self.data}",
                                f"--socket={self.sock}", f"--port={self.port}", "--bind-address=127.0.0.1",
                                f"--pid-file={self.dir / 'mysqld.pid'}", "--skip-name-resolve",
                                "--innodb-buffer-pool-size=16M", f"--server-id={server_id}", *options],
                               self.dir, self.dir / "mysqld.log").start()
        try:
            wait_for(f"{name} to accept connections", lambda: self.sock.exists() and self.try_sql("SELECT 1"), 30,
                     proc=self.process)
        except BaseException:
            self.process.stop()
            raise

    def try_sql(self, statements: str) -> bool:
        return self._client(statements).returncode == 0

    def sql(self, statements: str) -> str:
        result = self._client(statements)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def _client(self, statements: str) -> subprocess.CompletedProcess:
        return subprocess.run([tool("mariadb"), "--no-defaults", f"--socket={self.sock}", "-uroot", "-N", "-B",
                               "-e", statements], capture_output=True, text=True, timeout=30)


def exporter(binary: str, port: int, server: MariaDB, log: Path) -> Process:
    """The exporter for one server: 0.14 (Debian) reads a DSN; >= 0.15 (the Compose image) takes flags."""
    usage = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30)
    listen = f"--web.listen-address=127.0.0.1:{port}"
    if "--mysqld.address" in usage.stdout + usage.stderr:
        args = ["env", f"MYSQLD_EXPORTER_PASSWORD={PASSWORD}", binary, listen,
                f"--mysqld.address=127.0.0.1:{server.port}", "--mysqld.username=exporter"]
    else:
        args = ["env", f"DATA_SOURCE_NAME=exporter:{PASSWORD}@(127.0.0.1:{server.port})/", binary, listen]
    return Process(args, server.dir, log)


# The exporter's user as its README has it; SLAVE MONITOR: MariaDB >= 10.5 wants it for SHOW SLAVE STATUS.
EXPORTER_USER = (f"CREATE USER 'exporter'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}' WITH MAX_USER_CONNECTIONS 3;"
                 "GRANT PROCESS, REPLICATION CLIENT, SLAVE MONITOR, SELECT ON *.* TO 'exporter'@'127.0.0.1';")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mysql-live")
    binary = tool(EXPORTER)
    tool("prometheus")
    ports = {k: free_port() for k in ("prom", "closed", "exporter_primary", "exporter_replica")}
    procs: list[Process] = []
    try:
        # long_query_time 0: every query counts as slow, so the slow-query series move.
        primary = MariaDB(tmp, "primary", 1, f"--log-bin={tmp / 'primary' / 'binlog'}", "--long-query-time=0")
        procs.append(primary.process)
        replica = MariaDB(tmp, "replica", 2)
        procs.append(replica.process)
        # Users made on the primary outside the binlog, so the replica does not replay them.
        primary.sql("SET sql_log_bin = 0;" + EXPORTER_USER +
                    "CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'repl-secret';"
                    "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1'; SET sql_log_bin = 1;"
                    "CREATE DATABASE app; CREATE TABLE app.orders (id INT PRIMARY KEY, n INT) ENGINE=InnoDB;"
                    "INSERT INTO app.orders VALUES (1, 1), (2, 2);")
        replica.sql(EXPORTER_USER +
                    f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={primary.port}, MASTER_USER='repl', "
                    "MASTER_PASSWORD='repl-secret', MASTER_USE_GTID=slave_pos; START SLAVE;")
        # One failed login: Aborted_connects moves.
        subprocess.run([tool("mariadb"), "--no-defaults", "-h127.0.0.1", f"-P{primary.port}", "-uexporter",
                        "-pwrong", "-e", "SELECT 1"], capture_output=True, timeout=30)
        for server, key in ((primary, "exporter_primary"), (replica, "exporter_replica")):
            procs.append(exporter(binary, ports[key], server, tmp / f"{key}.log").start())
        (tmp / "inventory.yml").write_text(native_stack("mysql-live", ports, ("data",)) + INVENTORY.format(**ports))
        tree = render_tree(tmp / "inventory.yml", tmp / "tree")
        prom = prometheus(tree, ports["prom"], tmp / "prom-data", tmp / "prometheus.log").start()
        procs.append(prom)
        url = f"http://127.0.0.1:{ports['prom']}"
        for what, expr in (("both servers reached", 'count(mysql_up{kind="mysql"} == 1) == 2'),
                           ("the replica replicating", 'mysql_slave_status_slave_sql_running{service="db-replica"} == 1'),
                           ("the replica's lag", 'mysql_slave_status_seconds_behind_master{service="db-replica"}'),
                           ("rates over three samples or more", 'min(count_over_time(mysql_up[1m])) >= 3'),
                           ("MysqlTooManyConnections firing (warning: 1%)",
                            'ALERTS{alertname="MysqlTooManyConnections",service="db",alertstate="firing"}')):
            wait_for(what, lambda e=expr: has_data(query(url, e)), 30, proc=prom)
        yield {"url": url, "tree": tree, "primary": primary, "replica": replica, "ports": ports}
    finally:
        for p in reversed(procs):
            p.stop()


def rules_of(tree: Path, service: str) -> list[dict]:
    doc = yaml.safe_load((tree / f"prometheus/rules/services/{service}.yml").read_text())
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


def exposed(port: int) -> set[str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    return {re.split(r"[{ ]", line, maxsplit=1)[0] for line in text.splitlines() if line and not line.startswith("#")}


def test_every_metric_of_the_rules_and_dashboard_is_exposed(live):
    tree = live["tree"]
    exprs = [r["expr"] for s in ("db", "db-replica") for r in rules_of(tree, s)]
    exprs += [t["expr"] for p in panels(dashboards(tree)["vigil/vigil-mysql"]) for t in prom_targets(p)]
    used = {m for e in exprs for m in METRIC.findall(e)} - NOT_EXPORTED
    primary, replica = exposed(live["ports"]["exporter_primary"]), exposed(live["ports"]["exporter_replica"])
    assert "mysql_up" in primary and "mysql_global_status_threads_connected" in used
    # MySQL >= 8.0.22's spelling (SHOW REPLICA STATUS) is the only one MariaDB never gives.
    assert mysql.REPLICA_STATUS_ONLY <= used
    assert not mysql.REPLICA_STATUS_ONLY & (primary | replica)
    missing = used - primary - replica - mysql.REPLICA_STATUS_ONLY
    assert not missing, f"used but not exposed by {EXPORTER}: {sorted(missing)}"
    # The replica series: on the replica, never on the primary (its replication alerts and panels stay empty).
    on_replicas = mysql.REPLICA_ONLY - mysql.REPLICA_STATUS_ONLY
    assert on_replicas <= replica and not on_replicas & primary
    assert used - mysql.REPLICA_ONLY <= primary


def test_every_panel_query_and_alert_expression_runs_with_data(live):
    url, tree = live["url"], live["tree"]
    d = dashboards(tree)["vigil/vigil-mysql"]
    every, first = resolve(url, d)
    assert first["service"] == "db"        # the first value: the primary alone
    errors, empty, ran = [], [], 0
    replica_panels = [p["title"] for p in panels(d) if "(replicas)" in p["title"]]
    assert len(replica_panels) == 2
    for p in panels(d):
        for t in prom_targets(p):
            for values in (every, first):
                result = query(url, target_expr(t, values))
                ran += 1
                if result.get("status") != "success":
                    errors.append(f"{p['title']}: {result.get('error')}\n    {t['expr']}")
            if not has_data(query(url, target_expr(t, every))):
                empty.append(p["title"])
            # On the primary alone the replica panels are empty: it has no replication series.
            if p["title"] in replica_panels:
                assert not has_data(query(url, target_expr(t, first))), p["title"]
    assert not errors, "\n".join(errors)
    assert not empty, f"panels without data: {empty}"
    assert ran > 20
    replica_alerts = {"MysqlReplicationLag", "MysqlReplicationStopped"}
    for service in ("db", "db-replica"):
        rules = rules_of(tree, service)
        assert {r["alert"] for r in rules} == {"ServiceDown", "MysqlTooManyConnections", "MysqlConnectionsRefused",
                                               "MysqlAbortedConnections", "MysqlSlowQueries", "MysqlRowLockWaits",
                                               "MysqlRestarted", "MysqlThreadsRunning", "MysqlInnodbLogWaits",
                                               "MysqlOpenFilesHigh", "MysqlExporterScrapeError", *replica_alerts}
        for rule in rules:
            assert query(url, rule["expr"]).get("status") == "success", (service, rule["expr"])
            value = re.sub(r"\s*(>|<|==)\s*[0-9.]+$", "", rule["expr"])
            if rule["alert"] == "ServiceDown":
                continue
            # What each alert compares with its threshold has a value, but the replication
            # ones on the primary: empty there, so they can never fire.
            shown = has_data(query(url, value))
            if rule["alert"] == "MysqlExporterScrapeError":
                # A filter on the exporter's 0/1 error gauge: empty while its scrapes succeed, as here.
                assert not shown and has_data(query(url, 'mysql_exporter_last_scrape_error{service="%s"} == 0'
                                                     % service)), (service, value)
                continue
            assert shown == (service == "db-replica" or rule["alert"] not in replica_alerts), (service, value)


def firing(url: str, alertname: str, service: str) -> list[dict]:
    result = query(url, f'ALERTS{{alertname="{alertname}",service="{service}",alertstate="firing"}}')
    return result["data"]["result"] if result.get("status") == "success" else []


def test_a_stopped_replica_fires_MysqlReplicationStopped(live):
    url = live["url"]
    assert not firing(url, "MysqlReplicationStopped", "db-replica")
    live["replica"].sql("STOP SLAVE SQL_THREAD;")
    (alert,) = wait_for("MysqlReplicationStopped firing", lambda: firing(url, "MysqlReplicationStopped", "db-replica"),
                        20)
    assert {k: alert["metric"][k] for k in ("service", "team", "severity", "instance")} == {
        "service": "db-replica", "team": "data", "severity": "critical",
        "instance": f"127.0.0.1:{live['ports']['exporter_replica']}"}
    # With its SQL thread stopped a replica reports no lag at all (NULL): MysqlReplicationLag cannot say it.
    wait_for("the lag to vanish", lambda: not has_data(query(
        url, 'mysql_slave_status_seconds_behind_master{service="db-replica"}')), 10)


def test_stopping_the_server_fires_ServiceDown(live):
    url = live["url"]
    assert not firing(url, "ServiceDown", "db")
    live["primary"].process.stop()
    wait_for("mysql_up 0", lambda: has_data(query(url, 'mysql_up{service="db"} == 0')), 15)
    (alert,) = wait_for("ServiceDown firing", lambda: firing(url, "ServiceDown", "db"), 20)
    assert alert["metric"]["severity"] == "critical" and alert["metric"]["team"] == "data"
    # The exporter itself still answers: it is the server that is down.
    assert has_data(query(url, 'up{service="db"} == 1'))


# ---------------------------------------------------------------- overrides, through promtool

OVERRIDES = """\
version: 1
stack: {name: mysql-overrides, team: data, scrape_interval: 15s, evaluation_interval: 30s}
receivers: [{name: hook, webhook: {url: "http://127.0.0.1:9/hook"}}]
routing: {default_receiver: hook}
teams: [{name: data, notify: {critical: [hook], warning: [hook]}}]
services:
  - name: orders-db
    team: data
    kind: mysql
    labels: {tier: storage}
    alerts:
      down: {for: 1m}
      connections: {warning: 70%, critical: 85%, for: 2m}
      refused_connections: {critical: 2, for: 30s}
      aborted_connections: {warning: 30}
      slow_queries: {warning: 0.5, for: 10m}
      row_lock_waits: {warning: 3, for: 15m}
      replication_lag: {warning: 1m, critical: 10m, for: 1m}
      replication_stopped: {for: 5m}
  - name: reports-db
    team: data
    kind: mysql
    targets: ["reports-db-exporter:9104"]
    alerts:
      disabled: [slow_queries, replication_lag, replication_stopped]
"""


@pytest.fixture(scope="module")
def overridden(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("mysql-overrides")
    (tmp / "inventory.yml").write_text(OVERRIDES)
    return render_tree(tmp / "inventory.yml", tmp / "tree")


def test_overrides_reach_the_rules_and_their_promtool_tests_pass(overridden):
    exprs = {(r["alert"], r["labels"]["severity"]): (r["expr"], r.get("for")) for r in rules_of(overridden, "orders-db")}
    assert exprs[("MysqlTooManyConnections", "warning")][0].endswith(" > 0.7")
    assert exprs[("MysqlTooManyConnections", "critical")][0].endswith(" > 0.85")
    assert exprs[("MysqlConnectionsRefused", "critical")][0].endswith(" * 60 > 2")
    assert exprs[("MysqlSlowQueries", "warning")][0].endswith(" * 60 > 0.5")
    assert exprs[("MysqlSlowQueries", "warning")][1] == "10m"
    assert exprs[("MysqlRowLockWaits", "warning")] == (
        'max by (job, instance, service, team) (min_over_time(mysql_global_status_innodb_row_lock_current_waits'
        '{service="orders-db"}[1m])) > 3', "15m")
    assert exprs[("MysqlReplicationLag", "critical")][0].endswith(" > 600")
    assert exprs[("MysqlReplicationStopped", "critical")][1] == "5m"
    assert exprs[("ServiceDown", "critical")] == (
        'up{job="orders-db"} * (mysql_up{job="orders-db"} or up{job="orders-db"} * 0) == 0', "1m")
    assert {r["alert"] for r in rules_of(overridden, "reports-db")} == {
        "ServiceDown", "MysqlTooManyConnections", "MysqlConnectionsRefused", "MysqlAbortedConnections",
        "MysqlRowLockWaits", "MysqlRestarted", "MysqlThreadsRunning", "MysqlInnodbLogWaits", "MysqlOpenFilesHigh",
        "MysqlExporterScrapeError"}
    files = [f"prometheus/rules/services/{s}.yml" for s in ("orders-db", "reports-db")]
    result = promtool("check", "rules", *files, cwd=overridden)
    assert result.returncode == 0, result.stdout + result.stderr
    tests = [f.replace("/rules/", "/tests/").replace(".yml", ".test.yml") for f in files]
    result = promtool("test", "rules", *tests, cwd=overridden)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == 2


@pytest.mark.parametrize("pattern,repl", [
    (r"(mysql_global_variables_max_connections\{service=\"orders-db\"\}\[1m\]\)\) > )0\.85$", r"\g<1>0.95"),
    (r"(\* 60 > )2$", r"\g<1>3"),
    (r"(mysql_slave_status_sql_delay\{service=\"orders-db\"\}\[1m\]\)\)\) > )60$", r"\g<1>90"),
    (r"(_sql_running\{service=\"orders-db\"\}\[1m\]\)\) == )0$", r"\g<1>1"),
], ids=["connections", "refused", "lag", "stopped"])
def test_the_generated_tests_catch_a_drifting_rule(overridden, tmp_path, pattern, repl):
    copy = tmp_path / "mutant"
    shutil.copytree(overridden / "prometheus", copy / "prometheus")
    path = copy / "prometheus/rules/services/orders-db.yml"
    text, n = re.subn(pattern, repl, path.read_text(), count=1, flags=re.M)
    assert n == 1, pattern
    path.write_text(text)
    result = promtool("test", "rules", "prometheus/tests/services/orders-db.test.yml", cwd=copy)
    assert result.returncode != 0, result.stdout


def test_a_warning_above_its_critical_is_refused(tmp_path):
    (tmp_path / "inventory.yml").write_text(OVERRIDES.replace("warning: 70%, critical: 85%", "warning: 90%, critical: 85%"))
    result = run_vigil("validate", "-i", str(tmp_path / "inventory.yml"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "warning threshold 90% must be below the critical one 85%" in result.stdout + result.stderr
