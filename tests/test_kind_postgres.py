"""kind: postgres, proven against reality: a real PostgreSQL primary and a streaming
replica, each watched by the real prometheus-postgres-exporter, scraped by the real
Prometheus with the rendered configuration and rules.

- every metric the kind's rules and its dashboard read is one the exporter exposes;
- every panel query and alert expression runs, the panels show data, and the
  replication-lag ones are empty for the primary (it has no lag: is_replica is 0);
- the alerts fire on the real thing: connections, a transaction left open, a real
  deadlock, a replica whose replay is paused, and the server stopped (ServiceDown);
- the generated promtool tests pass for inventories with overrides, and fail when a rule drifts.

The Debian exporter is 0.11.1; Compose runs v0.18.1 (vigil.exporters). Their metric names agree
on all the kind uses except pg_replication_lag_seconds / pg_replication_is_replica, which
postgres_exporter builds in from 0.13 on (its `replication` collector): the exporter here is
given the same query through --extend.query-path (REPLICATION_QUERY), so that it exposes them
under the same names, as v0.18.1 does by itself.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, promtool, render_tree, rule_tests, tool
from dashboard_queries import dashboards, has_data, panels, prom_targets, query, resolve, target_expr
from native import native_stack, Process, free_port, prometheus, wait_for
from vigil import runbooks
from vigil.check import INSTALL
from vigil.kinds import postgres
from vigil.kinds.base import alert_params

EXPORTER = "prometheus-postgres-exporter"

# postgres_exporter >= 0.14's `replication` collector query (collector/pg_replication.go), for 0.11.1.
REPLICATION_QUERY = """\
pg_replication:
  query: |
    SELECT
      CASE
        WHEN NOT pg_is_in_recovery() THEN 0
        WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
        ELSE GREATEST(0, EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp())))
      END AS lag_seconds,
      CASE WHEN pg_is_in_recovery() THEN 1 ELSE 0 END AS is_replica
  master: true
  metrics:
    - lag_seconds: {usage: GAUGE, description: "Replication lag behind master in seconds"}
    - is_replica: {usage: GAUGE, description: "Indicates if the server is a replica"}
"""
FROM_QUERY_FILE = {"pg_replication_lag_seconds", "pg_replication_is_replica"}
# Built into postgres_exporter from a version on, absent from the Debian 0.11.1: allowed only with that
# version in the runbook and the docs of every alert reading them.
NEWER_EXPORTER = {"pg_postmaster_start_time_seconds": "0.13", "pg_stat_user_tables_n_dead_tup": "0.13",
                  "pg_stat_user_tables_n_live_tup": "0.13"}

INVENTORY = """\
  - name: orders-db
    team: data
    kind: postgres
    targets: ["127.0.0.1:{primary_exporter}"]
    alerts:
      down: {{for: 2s}}
      connections: {{warning: 0.5%, critical: 99%, for: 0s}}
      deadlocks: {{warning: 0.01, for: 0s}}
      long_transaction: {{warning: 2s, critical: 1m, for: 0s}}
      replication_lag: {{warning: 1s, critical: 1m, for: 0s}}
      replication_slots: {{for: 0s}}
  - name: orders-replica
    team: data
    kind: postgres
    targets: ["127.0.0.1:{replica_exporter}"]
    alerts:
      replication_lag: {{warning: 1s, critical: 1m, for: 0s}}
"""
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"}


# ---------------------------------------------------------------- the real servers


def pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: float(Path(p).parts[-3]))
    if not found:
        pytest.fail(f"PostgreSQL's server binaries are not installed (/usr/lib/postgresql/*/bin): {INSTALL}",
                    pytrace=False)
    return Path(found[-1]).parent


def as_postgres(args: list) -> list:
    """PostgreSQL refuses to run as root: as root, run it as the postgres user (setpriv execs, so
    the process id is the server's own)."""
    if os.geteuid() != 0:
        return args
    return [tool("setpriv"), "--reuid=postgres", "--regid=postgres", "--init-groups", *args]


class Postgres(Process):
    def stop(self) -> None:
        """A fast shutdown (SIGINT): the default SIGTERM would wait for the exporter to disconnect."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def run(args: list, log: Path) -> None:
    with open(log, "ab") as out:
        result = subprocess.run(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=60)
    assert result.returncode == 0, f"{' '.join(map(str, args))} failed:\n{log.read_text()[-2000:]}"


class Session:
    """One psql session kept open, fed statements one at a time."""

    def __init__(self, bin_dir: Path, port: int, log: Path):
        self.log = open(log, "ab")
        self.proc = subprocess.Popen([str(bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                                      "-X", "-q", "-v", "ON_ERROR_STOP=0", "postgres"],
                                     stdin=subprocess.PIPE, stdout=self.log, stderr=subprocess.STDOUT)

    def send(self, sql: str) -> None:
        self.proc.stdin.write(sql.encode() + b"\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


def psql(bin_dir: Path, port: int, sql: str) -> str:
    return subprocess.run([str(bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-X",
                           "-At", "-c", sql, "postgres"], capture_output=True, text=True, timeout=20,
                          check=True).stdout.strip()


def exporter_metrics(port: int) -> set[str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    return {re.match(r"[A-Za-z_:][\w:]*", line).group(0) for line in text.splitlines()
            if line and not line.startswith("#")}


@pytest.fixture(scope="module")
def live():
    bin_dir = pg_bin()
    exporter = shutil.which(EXPORTER)
    if exporter is None:
        pytest.fail(f"{EXPORTER} is not on PATH: {INSTALL}", pytrace=False)
    # Not pytest's tmp_path: its parents are private to root, and the server runs as postgres.
    tmp = Path(tempfile.mkdtemp(prefix="vigil-pg-"))
    tmp.chmod(0o755)
    ports = {k: free_port() for k in ("prom", "closed", "primary", "replica", "primary_exporter", "replica_exporter")}
    (tmp / "inventory.yml").write_text(native_stack("pg", ports, ("data",)) + INVENTORY.format(**ports))
    (tmp / "queries.yml").write_text(REPLICATION_QUERY)
    tree = render_tree(tmp / "inventory.yml", tmp / "tree")
    procs, sessions = [], []

    def server(name: str, port: int) -> Postgres:
        return Postgres(as_postgres([str(bin_dir / "postgres"), "-D", str(tmp / name), "-k", str(tmp / name),
                                     "-p", str(port), "-h", "127.0.0.1", "-c", "fsync=off",
                                     "-c", "deadlock_timeout=200ms"]), tmp, tmp / f"{name}.log")

    def ready(port: int, proc: Postgres) -> None:
        wait_for(f"postgres on {port}", lambda: subprocess.run(
            [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True).returncode == 0,
            20, proc=proc)

    try:
        for name in ("primary", "replica"):
            (tmp / name).mkdir(mode=0o700)
            if os.geteuid() == 0:
                shutil.chown(tmp / name, "postgres", "postgres")
        run(as_postgres([str(bin_dir / "initdb"), "-D", str(tmp / "primary"), "-U", "postgres", "--auth=trust",
                         "--no-sync", "-E", "UTF8"]), tmp / "initdb.log")
        primary = server("primary", ports["primary"]).start()
        procs.append(primary)
        ready(ports["primary"], primary)
        run(as_postgres([str(bin_dir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(ports["primary"]),
                         "-U", "postgres", "-D", str(tmp / "replica"), "-R", "-X", "stream", "-c", "fast",
                         "--no-sync"]), tmp / "basebackup.log")
        replica = server("replica", ports["replica"]).start()
        procs.append(replica)
        ready(ports["replica"], replica)
        for role in ("primary", "replica"):
            dsn = f"postgresql://postgres@127.0.0.1:{ports[role]}/postgres?sslmode=disable"
            procs.append(Process(["env", f"DATA_SOURCE_NAME={dsn}", exporter,
                                  f"--web.listen-address=127.0.0.1:{ports[role + '_exporter']}",
                                  f"--extend.query-path={tmp / 'queries.yml'}"], tmp, tmp / f"{role}-exporter.log")
                         .start())
        prom = prometheus(tree, ports["prom"], tmp / "prom-data", tmp / "prometheus.log").start()
        procs.append(prom)
        url = f"http://127.0.0.1:{ports['prom']}"
        # Some work: a table written on the primary and replayed on the replica.
        psql(bin_dir, ports["primary"], "CREATE TABLE t (id int PRIMARY KEY, v int); "
                                        "INSERT INTO t SELECT g, 0 FROM generate_series(1, 100) g")
        # A slot nobody consumes (a replica gone for good): it holds WAL from now on.
        psql(bin_dir, ports["primary"], "SELECT pg_create_physical_replication_slot('gone_replica', true)")
        wait_for("the replica replaying the primary",
                 lambda: psql(bin_dir, ports["replica"], "SELECT count(*) FROM pg_tables WHERE tablename = 't'") == "1",
                 20, proc=replica)
        wait_for("Prometheus ready", lambda: urllib.request.urlopen(f"{url}/-/ready", timeout=5).status == 200, 20,
                 proc=prom)
        for what, expr in (("both servers reached", 'count(pg_up == 1) == 2'),
                           ("every rate over two samples or more", 'min(count_over_time(pg_up[1m])) >= 3')):
            wait_for(what, lambda e=expr: has_data(query(url, e)), 30, proc=prom)
        yield {"url": url, "tree": tree, "tmp": tmp, "bin": bin_dir, "ports": ports, "primary": primary,
               "sessions": sessions}
    finally:
        for s in sessions:
            s.close()
        for p in reversed(procs):
            p.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def alert_rules(tree: Path, service: str) -> list[dict]:
    groups = yaml.safe_load((tree / f"prometheus/rules/services/{service}.yml").read_text())["groups"]
    return [r for g in groups for r in g["rules"] if "alert" in r]


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (Vigil's expressions: no strings outside matchers)."""
    bare = re.sub(r"\{[^}]*\}", "{}", expr)
    bare = re.sub(r"\[[^\]]*\]", "", bare)
    names = set(re.findall(r"([A-Za-z_:][\w:]*)\s*\{", bare))
    for m in re.finditer(r"([A-Za-z_:][\w:]*)(\s*\()?", re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", bare)):
        if not m.group(2) and m.group(1) not in KEYWORDS and not re.fullmatch(r"[\d.e]+", m.group(1)):
            names.add(m.group(1))
    return names


def postgres_dashboard(tree: Path) -> dict:
    return dashboards(tree)["vigil/vigil-postgres"]


def fired(url: str, alertname: str, service: str) -> list:
    result = query(url, f'ALERTS{{alertname="{alertname}",service="{service}",alertstate="firing"}}')
    return result["data"]["result"] if result.get("status") == "success" else []


# ---------------------------------------------------------------- the live checks, in order: the last stops the primary


def test_every_metric_the_kind_reads_is_exposed_by_the_exporter(live):
    ports = live["ports"]
    primary = exporter_metrics(ports["primary_exporter"])
    # Slots are the primary's alone (the replica has none): their series too.
    exposed = primary & exporter_metrics(ports["replica_exporter"]) | {m for m in primary
                                                                        if m.startswith("pg_replication_slots_")}
    used = set()
    for rule in alert_rules(live["tree"], "orders-db"):
        used |= metric_names(rule["expr"])
    for p in panels(postgres_dashboard(live["tree"])):
        for t in prom_targets(p):
            used |= metric_names(t["expr"])
    used -= {"up", "ALERTS"}      # Prometheus' own series
    assert {"pg_up", "pg_stat_activity_count", "pg_settings_max_connections", "pg_stat_database_deadlocks",
            "pg_stat_database_blks_hit", "pg_database_size_bytes", "pg_stat_activity_max_tx_duration"} <= used
    assert FROM_QUERY_FILE <= used
    missing = used - exposed
    assert missing == set(NEWER_EXPORTER), f"the kind reads metrics {EXPORTER} does not expose: {sorted(missing)}"
    docs = (ROOT / "docs/inventory.md").read_text()
    for metric, version in NEWER_EXPORTER.items():
        readers = [r["alert"] for r in alert_rules(live["tree"], "orders-db") if metric in metric_names(r["expr"])]
        assert readers, metric
        for alertname in readers:
            assert f"postgres_exporter >= {version}" in postgres.RUNBOOKS[alertname].means, (alertname, metric)
            (row,) = [line for line in docs.splitlines() if line.startswith("| `postgres`") and f"`{alertname}`" in line]
            assert f"postgres_exporter ≥ {version}" in row and "Debian 0.11.1 lacks it" in row, row


def test_every_panel_and_alert_expression_runs_and_the_panels_show_data(live):
    url, tree = live["url"], live["tree"]
    d = postgres_dashboard(tree)
    every, _ = resolve(url, d)
    services = {r["metric"]["service"] for r in query(url, 'group by (service) (up{kind="postgres"})')["data"]["result"]}
    assert services == {"orders-db", "orders-replica"}
    errors, empty, primary_only = [], [], {}
    for p in panels(d):
        for t in prom_targets(p):
            for service in (".*", "orders-db"):
                result = query(url, target_expr(t, {**every, "service": service}))
                if result.get("status") != "success":
                    errors.append(f"{p['title']}: {result.get('error')}\n    {t['expr']}")
                elif service == ".*" and not has_data(result):
                    empty.append(f"{p['title']}: {t['expr']}")
                elif service == "orders-db":
                    primary_only[p["title"]] = has_data(result)
    assert not errors, "\n".join(errors)
    assert not empty, "panels without data:\n" + "\n".join(empty)
    # The primary alone: every panel shows data but replication lag, empty by design on a primary.
    assert [title for title, shown in primary_only.items() if not shown] == ["Replication lag (replicas)"]
    for service in ("orders-db", "orders-replica"):
        for rule in alert_rules(tree, service):
            result = query(url, rule["expr"])
            assert result.get("status") == "success", (service, rule["alert"], result.get("error"), rule["expr"])
    # The lag alert's value, its threshold taken off: a number on the replica, nothing on the primary.
    for service, shown in (("orders-db", False), ("orders-replica", True)):
        (lag,) = {re.sub(r" > [\d.]+$", "", r["expr"]) for r in alert_rules(tree, service)
                  if r["alert"] == "PostgresReplicationLag"}
        assert has_data(query(url, lag)) is shown, (service, lag)


def test_the_alerts_fire_on_the_real_server(live):
    url, bin_dir, ports, tmp = live["url"], live["bin"], live["ports"], live["tmp"]
    # A transaction left open; a real deadlock between two sessions; the replica's replay paused
    # while the primary writes on.
    idle = Session(bin_dir, ports["primary"], tmp / "idle.log")
    a, b = Session(bin_dir, ports["primary"], tmp / "a.log"), Session(bin_dir, ports["primary"], tmp / "b.log")
    live["sessions"] += [idle, a, b]
    idle.send("BEGIN; SELECT txid_current();")
    a.send("BEGIN; UPDATE t SET v = v + 1 WHERE id = 1;")
    b.send("BEGIN; UPDATE t SET v = v + 1 WHERE id = 2;")
    time.sleep(0.3)
    a.send("UPDATE t SET v = v + 1 WHERE id = 2;")
    time.sleep(0.3)
    b.send("UPDATE t SET v = v + 1 WHERE id = 1;")
    for s in (a, b):      # a backend reports its statistics (the deadlock) at the latest when it exits
        s.send("COMMIT;")
        s.close()
    psql(bin_dir, ports["replica"], "SELECT pg_wal_replay_pause()")
    psql(bin_dir, ports["primary"], "INSERT INTO t VALUES (1000, 0)")
    wait_for("the deadlock", lambda: int(psql(bin_dir, ports["primary"],
                                              "SELECT sum(deadlocks) FROM pg_stat_database")) >= 1, 15)
    expected = [("PostgresTooManyConnections", "orders-db"), ("PostgresLongTransaction", "orders-db"),
                ("PostgresDeadlocks", "orders-db"), ("PostgresReplicationLag", "orders-replica"),
                ("PostgresReplicationSlotInactive", "orders-db")]
    for alertname, service in expected:
        got = wait_for(f"{alertname} firing for {service}", lambda n=alertname, s=service: fired(url, n, s), 20,
                       proc=live["primary"])
        labels = got[0]["metric"]
        assert labels["severity"] == "warning" and labels["team"] == "data" and labels["instance"], labels
    assert not fired(url, "PostgresReplicationLag", "orders-db"), "a primary has no replication lag"
    psql(bin_dir, ports["replica"], "SELECT pg_wal_replay_resume()")


def test_stopping_the_server_fires_service_down(live):
    url = live["url"]
    assert not fired(url, "ServiceDown", "orders-db")
    live["primary"].stop()
    got = wait_for("ServiceDown firing for orders-db", lambda: fired(url, "ServiceDown", "orders-db"), 20)
    assert got[0]["metric"]["severity"] == "critical"
    # Which half of `up == 0 or pg_up == 0`: 0.11.1 answers pg_up 0, but only after a second of retrying,
    # past this test's 1s scrape timeout (with the default 15s scrape it is pg_up).
    assert has_data(query(url, 'up{service="orders-db"} == 0 or pg_up{service="orders-db"} == 0'))
    assert has_data(query(url, 'pg_up{service="orders-replica"} == 1'))


def test_the_generated_rule_tests_pass_for_the_live_inventory(live):
    tree = live["tree"]
    tests = [t for t in rule_tests(tree) if "orders" in t]
    assert len(tests) == 2
    result = promtool("test", "rules", *tests, cwd=tree)
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- overrides, promtool, without servers


OVERRIDES = {
    "connections": {"warning": "50%", "critical": "75%", "for": "1m"},
    "deadlocks": {"warning": 0, "for": "0s"},             # any deadlock at all
    "replication_lag": {"warning": "10s", "critical": "30s"},
    "long_transaction": {"warning": "5m", "critical": "30m", "for": "0s"},
    "rollbacks": {"warning": "5%", "for": "15m"},
}


@pytest.fixture(scope="module")
def overridden(tmp_path_factory) -> Path:
    """The default 15s scrape and evaluation; one service with every threshold overridden, one
    (a replica, by its labels) with some alerts disabled."""
    ports = {"prom": 9090, "closed": 9, "primary_exporter": 9187, "replica_exporter": 9187}
    inventory = yaml.safe_load(native_stack("pg", ports, ("data",)) + INVENTORY.format(**ports))
    del inventory["stack"]["scrape_interval"], inventory["stack"]["evaluation_interval"]
    inventory["services"] = [
        {"name": "orders-db", "team": "data", "kind": "postgres", "alerts": OVERRIDES},
        {"name": "reports-db", "team": "data", "kind": "postgres", "targets": ["10.0.0.5:9187"],
         "labels": {"role": "replica"}, "alerts": {"disabled": ["rollbacks", "deadlocks"], "down": {"for": "1m"}}},
    ]
    tmp = tmp_path_factory.mktemp("pg-overrides")
    (tmp / "inventory.yml").write_text(yaml.safe_dump(inventory, sort_keys=False))
    return render_tree(tmp / "inventory.yml", tmp / "tree")


def test_overrides_set_the_rules(overridden):
    rules = {(r["alert"], r["labels"]["severity"]): r for r in alert_rules(overridden, "orders-db")}
    assert rules[("PostgresTooManyConnections", "warning")]["expr"].endswith(" > 0.5")
    assert rules[("PostgresTooManyConnections", "critical")]["expr"].endswith(" > 0.75")
    assert rules[("PostgresTooManyConnections", "critical")]["for"] == "1m"
    assert rules[("PostgresDeadlocks", "warning")]["expr"].endswith(" > 0")
    assert rules[("PostgresReplicationLag", "critical")]["expr"].endswith(" > 30")
    assert rules[("PostgresReplicationLag", "critical")]["for"] == "5m"          # the default
    assert rules[("PostgresLongTransaction", "warning")]["expr"].endswith(" > 300")
    assert rules[("PostgresHighRollbackRate", "warning")]["for"] == "15m"
    for r in rules.values():
        assert set(r["labels"]) == {"service", "team", "severity"}
        assert set(r["annotations"]) == {"summary", "description", "runbook_url", "dashboard_url"}
        assert r["annotations"]["dashboard_url"].endswith("/d/vigil-postgres?var-service=orders-db")
        assert r["annotations"]["runbook_url"].endswith(f"?viewPanel=panel-{runbooks.panel_id(r['alert'])}")
    other = {r["alert"] for r in alert_rules(overridden, "reports-db")}
    assert other == {"ServiceDown", "PostgresTooManyConnections", "PostgresReplicationLag", "PostgresLongTransaction",
                     "PostgresTooManyLocks", "PostgresExporterScrapeError", "PostgresRestarted",
                     "PostgresReplicationSlotInactive", "PostgresDeadTuples"}
    assert set(postgres.RUNBOOKS) | {"ServiceDown"} == {r[0] for r in rules}


def test_promtool_passes_the_generated_tests_of_overridden_rules(overridden):
    tests = [t for t in rule_tests(overridden) if t.endswith(("orders-db.test.yml", "reports-db.test.yml"))]
    assert len(tests) == 2
    result = promtool("test", "rules", *tests, cwd=overridden)
    assert result.returncode == 0, result.stdout + result.stderr
    names = yaml.safe_load((overridden / "prometheus/tests/services/orders-db.test.yml").read_text())
    titles = [t["name"] for t in names["tests"]]
    assert any("PostgresDeadlocks: " in t and "warning at 0.5" in t for t in titles)  # a threshold of 0 is shown firing too
    assert "PostgresReplicationLag: quiet on a primary" in titles


MUTATIONS = [
    (r"(superuser_reserved_connections\{service=\"orders-db\"\}\[1m\]\)\) > )0\.75$", r"\g<1>0.85"),
    (r"(\[5m\]\)\) \* 60 > )0$", r"\g<1>1"),
    (r"(pg_replication_is_replica\{service=\"orders-db\"\}\[1m\]\) == )1\) > 10$", r"\g<1>0) > 10"),
    (r"(pg_stat_activity_max_tx_duration\{service=\"orders-db\"\}\[1m\]\)\) > )1800$", r"\g<1>2000"),
    # The connections a client may open exclude the superusers' reserve.
    (r" - last_over_time\(pg_settings_superuser_reserved_connections\{service=\"orders-db\"\}\[1m\]\)", ""),
    # The traffic floor of the rollback share: without it a trickle of rollbacks fires.
    (r"clamp_min\((.*), 1\) > 0\.05$", r"(\g<1>) > 0.05"),
]


@pytest.mark.parametrize("pattern,repl", MUTATIONS, ids=[m[1] for m in MUTATIONS])
def test_the_generated_tests_catch_a_drifting_rule(overridden, tmp_path, pattern, repl):
    copy = tmp_path / "prometheus"
    shutil.copytree(overridden / "prometheus", copy)
    path = copy / "rules/services/orders-db.yml"
    text, n = re.subn(pattern, repl, path.read_text(), count=1, flags=re.M)
    assert n == 1, pattern
    path.write_text(text)
    result = promtool("test", "rules", "tests/services/orders-db.test.yml", cwd=copy)
    assert result.returncode != 0, f"still passes after {pattern} -> {repl}"


def test_bad_overrides_are_refused():
    _, _, problems = alert_params(postgres.ALERTS, {
        "connections": {"warning": "95%", "critical": "90%"},
        "replication_lag": {"warning": "fast"},
        "deadlock": {"warning": 1},
    })
    text = [f"{'.'.join(map(str, path))}: {msg}" for path, msg in problems]
    assert any(t.startswith("connections: warning threshold 95% must be below") for t in text), text
    assert any(t.startswith("replication_lag.warning: invalid duration") for t in text), text
    assert any(t.startswith("deadlock: no alert 'deadlock'") and "deadlocks" in t for t in text), text
