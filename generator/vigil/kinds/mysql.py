"""kind: mysql — a MySQL or MariaDB server watched through mysqld_exporter.

Down (the exporter unanswered, or mysql_up == 0), connections near max_connections,
connections refused at max_connections, failed connection attempts, slow queries,
sessions waiting on InnoDB row locks, and on replicas their lag and stopped replication
threads. Every metric comes from the exporter's default collectors (global_status,
global_variables, slave_status) and is exposed alike by the Debian exporter (0.14.0)
and the Compose-pinned image (v0.18.0); test_kind_mysql checks the names against a
real MariaDB. The replica series exist on replicas only, so the replication alerts and
panels are empty on a primary, never firing; and only when the exporter's user may run
SHOW SLAVE STATUS (MariaDB >= 10.5: the SLAVE MONITOR privilege; MySQL: REPLICATION CLIENT).
MySQL >= 8.0.22 names the columns Replica_*/Seconds_Behind_Source under SHOW REPLICA
STATUS, which newer exporters run: the replica expressions take both spellings.
"""

from __future__ import annotations

from decimal import Decimal

from ..inventory import Service
from ..rules import Alert, Level, gap_test, latest, promql_number, firing_tests, selector, silent_test, steady, \
    threshold_alerts, threshold_tests
from ..runbooks import Runbook
from ..units import Duration, percent_text
from .base import SCRAPE_ERRORS_FOR, AlertDefaults, Context, annotations, exporter_kind, scrape_error_alert, service_labels, target_labels

NAME = "mysql"
DEFAULT_PORT = 9104
SERVER_UP = "mysql_up"        # the exporter reaches the server: 1, or 0

ALERT_DEFAULTS = {
    # the exporter reaches the server, but its queries of it fail
    "scrape_errors": AlertDefaults({"for": SCRAPE_ERRORS_FOR}),
    "connections": AlertDefaults({"warning": Decimal(80), "critical": Decimal(90), "for": Duration.parse("5m")}),
    "refused_connections": AlertDefaults({"critical": 0.0, "for": Duration.parse("1m")}),     # per minute
    "aborted_connections": AlertDefaults({"warning": 10.0, "for": Duration.parse("5m")}),     # per minute
    "slow_queries": AlertDefaults({"warning": 1.0, "for": Duration.parse("5m")}),             # per minute
    "row_lock_waits": AlertDefaults({"warning": 5.0, "for": Duration.parse("5m")}),           # sessions
    "replication_lag": AlertDefaults({"warning": Duration.parse("30s"), "critical": Duration.parse("5m"),
                                      "for": Duration.parse("5m")}),
    "replication_stopped": AlertDefaults({"for": Duration.parse("1m")}),
    # the server restarted (its Uptime went back) within the last 15m
    "restarted": AlertDefaults({"for": Duration.parse("0s")}),
    # threads running queries (not sleeping) / max_connections, as mysqld-mixin's MysqlHighThreadsRunning
    "threads_running": AlertDefaults({"warning": Decimal(60), "for": Duration.parse("5m")}),
    # commits waiting for the InnoDB log buffer to flush, per minute
    "innodb_log_waits": AlertDefaults({"warning": 10.0, "for": Duration.parse("15m")}),
    # files open / open_files_limit
    "open_files": AlertDefaults({"warning": Decimal(80), "for": Duration.parse("5m")}),
}
# What each alert means and what to look at first (the runbooks dashboard).
RUNBOOKS = {
    "MysqlExporterScrapeError": Runbook(
        "The exporter answers and reaches the server, but every scrape for a while reported an error "
        "(mysql_exporter_last_scrape_error): some of its metrics are missing, so their panels are "
        "empty and the alerts over "
        "them cannot fire.",
        ("The exporter's log names the failing collector: `journalctl -u prometheus-mysqld-exporter` "
         "or `docker compose logs <name>-exporter`.",
         "Missing privileges of its user: `GRANT PROCESS, REPLICATION CLIENT, SELECT ON *.* TO "
         "'exporter'@'%';` (MariaDB >= 10.5 also SLAVE MONITOR for the replica collector).",
         "A collector enabled by a flag for tables this server lacks (performance_schema off, an old version).")),
    "MysqlRestarted": Runbook(
        "The server restarted in the last 15 minutes (its Uptime went back): a crash, the OOM killer, or a "
        "deploy. Connections were dropped and the buffer pool starts cold.",
        ("Planned? A deploy or maintenance at that time (deploy markers).",
         "The server's error log: a crash (`mysqld got signal`), InnoDB recovery, or nothing at all (killed).",
         "The OOM killer on its host: HostOomKill, `journalctl -k | grep -i oom`.")),
    "MysqlThreadsRunning": Runbook(
        "Many threads are running queries at once (Threads_running, against max_connections): the server is "
        "saturated; queries queue up on CPU, disk or locks.",
        ("What runs: `SELECT * FROM information_schema.processlist WHERE command <> 'Sleep' ORDER BY time DESC;`",
         "Lock waits (MysqlRowLockWaits) or a slow query after a deploy (MysqlSlowQueries).",
         "The host's CPU and disk I/O on the Hosts dashboard.")),
    "MysqlInnodbLogWaits": Runbook(
        "Commits keep waiting for InnoDB to flush its log buffer (Innodb_log_waits): the buffer is too small "
        "for the write load, or the disk under the redo log is slow.",
        ("Raise `innodb_log_buffer_size` (e.g. 64M); it needs a restart on MariaDB before 10.6 and MySQL before 8.0.",
         "The disk of the redo log: I/O saturation on the Hosts dashboard (HostDiskIoSaturated).",
         "A bulk load with large transactions: commit in smaller batches.")),
    "MysqlOpenFilesHigh": Runbook(
        "The server holds most of the files it may open (Open_files against open_files_limit); at the limit "
        "opening tables fails with `Too many open files`.",
        ("`SHOW GLOBAL STATUS LIKE 'Open%';` and `SHOW VARIABLES LIKE 'open_files_limit';`.",
         "Raise the limit: `open_files_limit` in the server config and LimitNOFILE of its systemd unit (or the "
         "container's ulimit); `table_open_cache` drives how many it keeps open.")),
    "MysqlTooManyConnections": Runbook(
        "Client connections (Threads_connected) are close to max_connections: once they are used up, new "
        "clients are refused with `Too many connections` (one extra connection is kept for a SUPER user).",
        ("Who holds them: `SELECT user, host, db, command, count(*) FROM information_schema.processlist "
         "GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC;`",
         "Many in `Sleep`: an application pool sized too large or leaking connections; lower the pools or "
         "wait_timeout.",
         "Many running or waiting on locks: a slow query or a lock holds them (MysqlSlowQueries, "
         "MysqlRowLockWaits).",
         "Raise max_connections (`SET GLOBAL max_connections = N`, and in the config) only with memory to spare.")),
    "MysqlConnectionsRefused": Runbook(
        "The server refused clients because all max_connections were in use "
        "(Connection_errors_max_connections grew): applications see `Too many connections` errors now.",
        ("The same checks as MysqlTooManyConnections, urgently: who holds the connections.",
         "Kill idle ones if the application cannot be fixed at once: `KILL <id>` from the processlist.",
         "Raise max_connections for now (`SET GLOBAL max_connections = N`) if memory allows.")),
    "MysqlAbortedConnections": Runbook(
        "Many connection attempts fail (Aborted_connects): wrong passwords, missing privileges, clients "
        "timing out in the handshake (connect_timeout), or refused at max_connections.",
        ("The server's error log with log_warnings >= 2 (MariaDB) / log_error_verbosity = 3 (MySQL) names "
         "the user and host of each failure.",
         "A deploy or a rotated password just before it started: an application with an old secret retries "
         "forever.",
         "`SHOW GLOBAL STATUS LIKE 'Connection_errors%';` for errors at the network level; many attempts "
         "from one host can get it blocked (max_connect_errors; `FLUSH HOSTS` unblocks it).")),
    "MysqlSlowQueries": Runbook(
        "Queries that take longer than long_query_time (Slow_queries) keep coming: something is slow or "
        "blocked, and they hold connections while they run.",
        ("Which queries: the slow query log (`SET GLOBAL slow_query_log = 1`), or "
         "`SELECT * FROM information_schema.processlist WHERE command <> 'Sleep' ORDER BY time DESC;`",
         "`EXPLAIN` the worst one: a missing index after a deploy or a schema change is the usual cause.",
         "Saturation: the host's CPU and disk I/O, and \"Buffer pool used\" on the MySQL dashboard.",
         "Lock waits: MysqlRowLockWaits, and \"Row lock waits\" on the dashboard.")),
    "MysqlRowLockWaits": Runbook(
        "Sessions keep waiting for InnoDB row locks (Innodb_row_lock_current_waits): a transaction holds "
        "rows others need; they stall until it ends or innodb_lock_wait_timeout aborts them.",
        ("The blocker: `SELECT * FROM information_schema.innodb_trx ORDER BY trx_started;` — the oldest "
         "transaction, often idle (`trx_query` NULL): an application that does not commit.",
         "MySQL 8: `SELECT * FROM sys.innodb_lock_waits;` names blocking and waiting sessions.",
         "If it must go: `KILL <trx_mysql_thread_id>` of the blocker.",
         "Deadlocks and lock waits in `SHOW ENGINE INNODB STATUS` (LATEST DETECTED DEADLOCK).")),
    "MysqlReplicationLag": Runbook(
        "A replica applies its primary's changes late (Seconds_Behind_Master, less any configured "
        "SQL_Delay): its reads are stale, and a failover to it now would wait for or lose the missing events.",
        ("On the replica: `SHOW SLAVE STATUS\\G` (MySQL 8.0.22+: `SHOW REPLICA STATUS\\G`): Read vs Exec "
         "positions — reading but not executing means the SQL thread is slow, not reading means the network "
         "or the primary.",
         "A large transaction or schema change on the primary: the lag drains when it has been applied.",
         "The replica's disk and CPU (Hosts dashboard); slave_parallel_threads / replica_parallel_workers "
         "for a single-threaded applier.",
         "Replicas only: on a primary this alert is never evaluated to anything.")),
    "MysqlReplicationStopped": Runbook(
        "A replica's I/O thread (receiving the primary's binlog) or SQL thread (applying it) is not running: "
        "it does not replicate at all, and falls further behind every second.",
        ("`SHOW SLAVE STATUS\\G` on the replica: Last_IO_Error and Last_SQL_Error say why.",
         "I/O: the primary down or unreachable, wrong credentials, or a binlog already purged on the primary.",
         "SQL: a statement that failed on the replica (duplicate key, missing row) — fix the data, or "
         "rebuild the replica; skipping events hides drift.",
         "Stopped on purpose (a backup, maintenance)? Silence it in Alertmanager for that time.")),
}

RATE_WINDOW = Duration.parse("5m")
RESTART_WINDOW = Duration.parse("15m")     # MysqlRestarted fires while a restart is this recent
BY = "job, instance, service, team"     # one value per server: what the alerts' labels keep
# A replica's alerts, one per replication channel: MariaDB's multi-source connection_name, MySQL's channel_name.
REPLICA_BY = f"{BY}, connection_name, channel_name"

# The replica series: (MariaDB and MySQL before 8.0.22, SHOW SLAVE STATUS; MySQL 8.0.22+ under
# SHOW REPLICA STATUS, run by newer exporters). A primary has none of them.
LAG = ("mysql_slave_status_seconds_behind_master", "mysql_slave_status_seconds_behind_source")
DELAY = "mysql_slave_status_sql_delay"
IO_RUNNING = ("mysql_slave_status_slave_io_running", "mysql_slave_status_replica_io_running")
SQL_RUNNING = ("mysql_slave_status_slave_sql_running", "mysql_slave_status_replica_sql_running")
REPLICA_ONLY = frozenset(LAG + IO_RUNNING + SQL_RUNNING + (DELAY,))
# Names only an exporter running SHOW REPLICA STATUS against MySQL >= 8.0.22 gives (not MariaDB).
REPLICA_STATUS_ONLY = frozenset((LAG[1], IO_RUNNING[1], SQL_RUNNING[1]))


def _lag(sel: str, gauge=lambda e: e) -> str:
    """Seconds a replica is behind, less its intended delay (SQL_Delay, MASTER_DELAY);
    `gauge` wraps each series (the alerts read them through the gauge window)."""
    return " or ".join(f"({gauge(f'{lag}{{{sel}}}')} - {gauge(f'{DELAY}{{{sel}}}')})" for lag in LAG)


def _running(sel: str, gauge=lambda e: e) -> str:
    """1 while both replication threads run, else 0."""
    return " or ".join(f"{gauge(f'{io}{{{sel}}}')} * {gauge(f'{sql}{{{sel}}}')}" for io, sql in zip(IO_RUNNING, SQL_RUNNING))


def _targets(service: Service) -> list:
    return service.targets or [f"{service.name}-exporter:{DEFAULT_PORT}"]


def kind_rules(service: Service, ctx: Context, params: dict, disabled) -> tuple:
    name, dash = service.name, dashboard(service)
    labels = service_labels(service)
    base = {"job": name, "instance": _targets(service)[0], **target_labels(service)}
    replica = {**base, "master_host": "primary.example", "connection_name": "main"}
    out = {k: base[k] for k in ("job", "instance", "service", "team")}
    channel = {**out, "connection_name": replica["connection_name"]}
    svc = f'service="{name}"'
    step = ctx.timing.scrape.seconds
    rate_settle = RATE_WINDOW + ctx.timing.scrape
    t = ctx.timing
    rules, tests = [], []

    def add(key, alertname, value_expr, levels, summary, what, series_at, **kw):
        p = params[key]
        alerts = threshold_alerts(
            alertname, value_expr, levels, p["for"], labels,
            lambda lv: annotations(ctx, service, dash, alertname, f"{name}: {summary}",
                                   f"{what} ({lv.severity} above {lv.text} for {p['for']})."))
        rules.extend(alerts)
        tests.extend(threshold_tests(alerts, levels, series_at, kw.pop("out", out), ctx.timing, **kw))
        return alerts

    def per_minute(key):
        p = params[key]
        return [Level(s, p[s], f"{promql_number(p[s])}/min") for s in ("warning", "critical") if s in p]

    def counter(metric, extra=None):
        """A counter growing at `v` a minute."""
        return lambda v: [(selector(metric, {**base, **(extra or {})}), f"0+{promql_number(round(v / 60 * step, 9))}x{{n}}")]

    def rate_per_minute(metric, matchers=""):
        return f"sum by ({BY}) (rate({metric}{{{svc}{matchers}}}[{RATE_WINDOW}])) * 60"

    # A rate climbs to its value only as its window fills, so it crosses the threshold late,
    # not at `start`: the firing check waits for a full window and then `for`.
    def rate_kw(key):
        return {"start": ctx.timing.scrape, "settle": rate_settle + params[key]["for"]}

    if "connections" not in disabled:
        p = params["connections"]
        add("connections", "MysqlTooManyConnections",
            f"max by ({BY}) ({steady(f'mysql_global_status_threads_connected{{{svc}}}', t)}) / max by ({BY}) "
            f"({latest(f'mysql_global_variables_max_connections{{{svc}}}', t)})",
            [Level(s, float(p[s] / 100), percent_text(p[s])) for s in ("warning", "critical") if s in p],
            "{{ $value | humanizePercentage }} of max_connections in use",
            "{{ $labels.instance }} has {{ $value | humanizePercentage }} of its max_connections in use; "
            "when none are left, new clients are refused",
            lambda v: [(selector("mysql_global_status_threads_connected", base), f"{promql_number(round(v * 1000, 6))}x{{n}}"),
                       (selector("mysql_global_variables_max_connections", base), "1000x{n}")], cap=1.0, gap=True)
    if "refused_connections" not in disabled:
        add("refused_connections", "MysqlConnectionsRefused",
            rate_per_minute("mysql_global_status_connection_errors_total", ',error="max_connections"'),
            per_minute("refused_connections"), "clients refused at max_connections",
            f"{{{{ $labels.instance }}}} refused {{{{ $value | humanize }}}} connections a minute over the last "
            f"{RATE_WINDOW} because all max_connections were in use",
            counter("mysql_global_status_connection_errors_total", {"error": "max_connections"}),
            **rate_kw("refused_connections"))
    if "aborted_connections" not in disabled:
        add("aborted_connections", "MysqlAbortedConnections",
            rate_per_minute("mysql_global_status_aborted_connects"), per_minute("aborted_connections"),
            "{{ $value | humanize }} failed connection attempts a minute",
            f"{{{{ $value | humanize }}}} connection attempts a minute to {{{{ $labels.instance }}}} failed over the "
            f"last {RATE_WINDOW}: bad credentials, handshake timeouts or refusals",
            counter("mysql_global_status_aborted_connects"), **rate_kw("aborted_connections"))
    if "slow_queries" not in disabled:
        add("slow_queries", "MysqlSlowQueries",
            rate_per_minute("mysql_global_status_slow_queries"), per_minute("slow_queries"),
            "{{ $value | humanize }} slow queries a minute",
            f"{{{{ $labels.instance }}}} ran {{{{ $value | humanize }}}} queries a minute slower than its "
            f"long_query_time over the last {RATE_WINDOW}",
            counter("mysql_global_status_slow_queries"), **rate_kw("slow_queries"))
    if "row_lock_waits" not in disabled:
        p = params["row_lock_waits"]
        add("row_lock_waits", "MysqlRowLockWaits",
            f"max by ({BY}) ({steady(f'mysql_global_status_innodb_row_lock_current_waits{{{svc}}}', t)})",
            [Level(s, p[s], promql_number(p[s])) for s in ("warning", "critical") if s in p],
            "{{ $value | humanize }} sessions waiting on row locks",
            "{{ $value | humanize }} sessions on {{ $labels.instance }} are waiting for InnoDB row locks "
            "another transaction holds",
            lambda v: [(selector("mysql_global_status_innodb_row_lock_current_waits", base), f"{promql_number(v)}x{{n}}")],
            gap=True)
    if "replication_lag" not in disabled:
        p = params["replication_lag"]
        levels = [Level(s, p[s].seconds, str(p[s])) for s in ("warning", "critical") if s in p]
        lag = add("replication_lag", "MysqlReplicationLag", f"max by ({REPLICA_BY}) ({_lag(svc, lambda e: steady(e, t))})", levels,
                  "replica {{ $labels.instance }} {{ $value | humanizeDuration }} behind",
                  "The replica {{ $labels.instance }} applies its primary's changes "
                  "{{ $value | humanizeDuration }} late (beyond any configured SQL_Delay): its reads are stale",
                  lambda v: [(selector(LAG[0], replica), f"{promql_number(v)}x{{n}}"), (selector(DELAY, replica), "0x{n}")],
                  out=channel, gap=True)
        over = max(lv.threshold for lv in levels) * 10
        tests += [
            # MySQL 8.0.22+ through SHOW REPLICA STATUS: the same alert from the other spelling.
            firing_tests("MysqlReplicationLag: fires from Seconds_Behind_Source", lag,
                         [(selector(LAG[1], replica), f"{promql_number(over)}x{{n}}"), (selector(DELAY, replica), "0x{n}")],
                         channel, over, ctx.timing),
            silent_test("MysqlReplicationLag: quiet on a primary (no replica series)", "MysqlReplicationLag",
                        [(selector("mysql_global_status_threads_connected", base), "10x{n}")], ctx.timing, p["for"]),
            silent_test("MysqlReplicationLag: quiet on a replica delayed on purpose", "MysqlReplicationLag",
                        [(selector(LAG[0], replica), f"{promql_number(over)}x{{n}}"),
                         (selector(DELAY, replica), f"{promql_number(over)}x{{n}}")], ctx.timing, p["for"]),
        ]
    if "replication_stopped" not in disabled:
        p = params["replication_stopped"]
        alert = [Alert(
            "MysqlReplicationStopped", f"min by ({REPLICA_BY}) ({_running(svc, lambda e: steady(e, t, falling=True))}) == 0",
            p["for"],
            {**labels, "severity": "critical"},
            annotations(ctx, service, dash, "MysqlReplicationStopped",
                        f"{name}: replication stopped on {{{{ $labels.instance }}}}",
                        f"The replica {{{{ $labels.instance }}}} has not had both its replication threads (I/O and "
                        f"SQL) running for {p['for']}: it does not replicate. SHOW SLAVE STATUS says why."))]
        rules.extend(alert)

        def threads(io, sql, names=0):
            return [(selector(IO_RUNNING[names], replica), f"{io}x{{n}}"),
                    (selector(SQL_RUNNING[names], replica), f"{sql}x{{n}}")]
        name_ = "MysqlReplicationStopped"
        tests += [
            silent_test(f"{name_}: quiet while both threads run", name_, threads(1, 1), ctx.timing, p["for"]),
            silent_test(f"{name_}: quiet on a primary (no replica series)", name_,
                        [(selector("mysql_global_status_threads_connected", base), "10x{n}")], ctx.timing, p["for"]),
            firing_tests(f"{name_}: fires when the SQL thread stops", alert, threads(1, 0), channel, 0, ctx.timing),
            firing_tests(f"{name_}: fires when the I/O thread stops", alert, threads(0, 1), channel, 0, ctx.timing),
            firing_tests(f"{name_}: fires from Replica_SQL_Running", alert, threads(1, 0, names=1), channel, 0,
                         ctx.timing),
        ]
        tests += gap_test(f"{name_}: fires through one missed scrape", alert, threads(1, 0), channel, 0, ctx.timing)
    if "restarted" not in disabled:
        p, alertname = params["restarted"], "MysqlRestarted"
        # A restart sets Uptime back; its first scrape ever does not count as one. The window covers `for`
        # too, so that the alert fires and then stays RESTART_WINDOW, whatever `for` the inventory gives.
        window = Duration(RESTART_WINDOW + p["for"])
        alert = Alert(alertname, f"resets(mysql_global_status_uptime{{{svc}}}[{window}]) > 0", p["for"],
                      {**labels, "severity": "warning"},
                      annotations(ctx, service, dash, alertname, f"{name}: the server restarted",
                                  f"{{{{ $labels.instance }}}} restarted within the last {window} (its "
                                  f"Uptime went back): connections were dropped, its caches start cold."))
        rules.append(alert)
        uptime = selector("mysql_global_status_uptime", base)
        full = {**base}
        at = 10 * ctx.timing.scrape
        tests += [silent_test(f"{alertname}: quiet while it runs", alertname, [(uptime, f"1000+{step:g}x{{n}}")],
                              ctx.timing, p["for"]),
                  firing_tests(f"{alertname}: fires after a restart", [alert],
                               [(uptime, f"1000+{step:g}x9 1+{step:g}x{{n}}")], full, None, ctx.timing, start=at)]
    if "threads_running" not in disabled:
        p = params["threads_running"]
        add("threads_running", "MysqlThreadsRunning",
            f"max by ({BY}) ({steady(f'mysql_global_status_threads_running{{{svc}}}', t)}) / max by ({BY}) "
            f"({latest(f'mysql_global_variables_max_connections{{{svc}}}', t)})",
            [Level(s, float(p[s] / 100), percent_text(p[s])) for s in ("warning", "critical") if s in p],
            "{{ $value | humanizePercentage }} of max_connections running queries",
            "{{ $labels.instance }} has {{ $value | humanizePercentage }} of its max_connections running queries "
            "at once: it is saturated",
            lambda v: [(selector("mysql_global_status_threads_running", base), f"{promql_number(round(v * 1000, 6))}x{{n}}"),
                       (selector("mysql_global_variables_max_connections", base), "1000x{n}")], cap=1.0, gap=True)
    if "innodb_log_waits" not in disabled:
        add("innodb_log_waits", "MysqlInnodbLogWaits",
            rate_per_minute("mysql_global_status_innodb_log_waits"), per_minute("innodb_log_waits"),
            "{{ $value | humanize }} InnoDB log waits a minute",
            f"Commits on {{{{ $labels.instance }}}} waited {{{{ $value | humanize }}}} times a minute for the InnoDB "
            f"log buffer over the last {RATE_WINDOW}: innodb_log_buffer_size is too small or the disk too slow",
            counter("mysql_global_status_innodb_log_waits"), **rate_kw("innodb_log_waits"))
    if "open_files" not in disabled:
        p = params["open_files"]
        add("open_files", "MysqlOpenFilesHigh",
            f"max by ({BY}) ({steady(f'mysql_global_status_open_files{{{svc}}}', t)}) / max by ({BY}) "
            f"({latest(f'mysql_global_variables_open_files_limit{{{svc}}}', t)})",
            [Level(s, float(p[s] / 100), percent_text(p[s])) for s in ("warning", "critical") if s in p],
            "{{ $value | humanizePercentage }} of open_files_limit open",
            "{{ $labels.instance }} holds {{ $value | humanizePercentage }} of its open_files_limit open; at the "
            "limit opening tables fails",
            lambda v: [(selector("mysql_global_status_open_files", base), f"{promql_number(round(v * 1000, 6))}x{{n}}"),
                       (selector("mysql_global_variables_open_files_limit", base), "1000x{n}")], cap=1.0, gap=True)
    if "scrape_errors" not in disabled:
        alert, more = scrape_error_alert(service, ctx, dash, "MysqlExporterScrapeError", "mysql_exporter_last_scrape_error", SERVER_UP,
                                         params["scrape_errors"]["for"], base["instance"])
        rules.append(alert)
        tests.extend(more)
    return rules, tests


FIELDS, ALERTS, dashboard, plan = exporter_kind(NAME, DEFAULT_PORT, SERVER_UP, ALERT_DEFAULTS, kind_rules)

# Its dashboard (vigil-mysql): (title, the exporter's "can I reach the server" gauge,
# [(panel title, PromQL, legend, unit)]); S selects the dashboard's services, R is the rate window.
S = 'service=~"$service"'
R = "[$__rate_interval]"
BY_SERVER = "service, instance"
VITALS = ("MySQL", SERVER_UP, [
    ("Connections used (of max_connections)",
     f"max by ({BY_SERVER}) (mysql_global_status_threads_connected{{{S}}}) / max by ({BY_SERVER}) "
     f"(mysql_global_variables_max_connections{{{S}}})", "{{service}} {{instance}}", "percentunit"),
    ("Connections", f"max by ({BY_SERVER}) (mysql_global_status_threads_connected{{{S}}})",
     "{{service}} {{instance}}", "short"),
    ("Max connections", f"max by ({BY_SERVER}) (mysql_global_variables_max_connections{{{S}}})",
     "{{service}} {{instance}}", "short"),
    ("Queries", f"sum by (service) (rate(mysql_global_status_queries{{{S}}}{R}))", "{{service}}", "ops"),
    ("Slow queries", f"sum by (service) (rate(mysql_global_status_slow_queries{{{S}}}{R}))", "{{service}}", "ops"),
    ("Failed and refused connections",
     f'label_replace(sum by (service) (rate(mysql_global_status_aborted_connects{{{S}}}{R})), "what", "failed", "", "")'
     f' or label_replace(sum by (service) (rate(mysql_global_status_connection_errors_total{{{S},'
     f'error="max_connections"}}{R})), "what", "refused at max_connections", "", "")',
     "{{service}} {{what}}", "ops"),
    ("Row lock waits", f"max by ({BY_SERVER}) (mysql_global_status_innodb_row_lock_current_waits{{{S}}})",
     "{{service}} {{instance}}", "short"),
    ("Threads running", f"max by ({BY_SERVER}) (mysql_global_status_threads_running{{{S}}})",
     "{{service}} {{instance}}", "short"),
    ("Open files (of open_files_limit)", f"max by ({BY_SERVER}) (mysql_global_status_open_files{{{S}}}) / max by "
     f"({BY_SERVER}) (mysql_global_variables_open_files_limit{{{S}}})", "{{service}} {{instance}}", "percentunit"),
    ("InnoDB log waits", f"sum by (service) (rate(mysql_global_status_innodb_log_waits{{{S}}}{R}))", "{{service}}",
     "ops"),
    ("Buffer pool used",
     f'sum by ({BY_SERVER}) (mysql_global_status_buffer_pool_pages{{{S},state="data"}}) / sum by ({BY_SERVER}) '
     f'(mysql_global_status_buffer_pool_pages{{{S},state=~"data|free|misc"}})', "{{service}} {{instance}}",
     "percentunit"),
    # Replicas only: empty for a primary, and without the privilege to run SHOW SLAVE STATUS.
    ("Replication lag (replicas)", f"max by ({BY_SERVER}) ({_lag(S)})", "{{service}} {{instance}}", "s"),
    ("Replication running (replicas)", f"min by ({BY_SERVER}) ({_running(S)})", "{{service}} {{instance}}",
     "bool_on_off"),
])
