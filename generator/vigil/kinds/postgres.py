"""kind: postgres — a postgres server watched through postgres_exporter.

Down (the exporter unanswered, or pg_up == 0), connections near max_connections,
deadlocks, replication lag (on replicas only), long-running transactions, a high
share of rollbacks, locks, restarts, inactive replication slots and dead rows piling up.
Every metric here is exposed by the Debian exporter (0.11.1) and the Compose-pinned
image (v0.18.1) alike, except pg_replication_lag_seconds / pg_replication_is_replica,
pg_postmaster_start_time_seconds and pg_stat_user_tables_*, built into postgres_exporter
>= 0.13 only (its collectors): with an older exporter those alerts and panels stay empty,
never fire (their runbooks and the docs say so).
"""

from __future__ import annotations

from decimal import Decimal

from ..inventory import Service
from ..rules import Alert, Level, firing_tests, latest, promql_number, selector, silent_test, steady, \
    threshold_alerts, threshold_tests
from ..runbooks import Runbook
from ..units import Duration, percent_text
from .base import SCRAPE_ERRORS_FOR, AlertDefaults, Context, annotations, exporter_kind, scrape_error_alert, service_labels, target_labels

NAME = "postgres"
DEFAULT_PORT = 9187
SERVER_UP = "pg_up"        # the exporter reaches the server: 1, or 0

ALERT_DEFAULTS = {
    # the exporter reaches the server, but its queries of it fail
    "scrape_errors": AlertDefaults({"for": SCRAPE_ERRORS_FOR}),
    "connections": AlertDefaults({"warning": Decimal(80), "critical": Decimal(90), "for": Duration.parse("5m")}),
    "deadlocks": AlertDefaults({"warning": 1.0, "for": Duration.parse("5m")}),        # per minute
    "replication_lag": AlertDefaults({"warning": Duration.parse("1m"), "critical": Duration.parse("5m"),
                                      "for": Duration.parse("5m")}),
    "long_transaction": AlertDefaults({"warning": Duration.parse("15m"), "critical": Duration.parse("1h"),
                                       "for": Duration.parse("1m")}),
    "rollbacks": AlertDefaults({"warning": Decimal(20), "for": Duration.parse("10m")}),
    # the server started less than this ago (a restart; a loop keeps it firing)
    "restarted": AlertDefaults({"warning": Duration.parse("5m"), "for": Duration.parse("0s")}, falling=True),
    # a replication slot nobody consumes: the WAL it retains piles up until the disk is full
    "replication_slots": AlertDefaults({"for": Duration.parse("30m")}),
    # dead rows / all rows of a table (with at least MIN_DEAD_ROWS dead): autovacuum is not keeping up
    "dead_tuples": AlertDefaults({"warning": Decimal(30), "for": Duration.parse("1h")}),
    # locks held / the shared lock table (max_locks_per_transaction x (max_connections + max_prepared_transactions))
    "locks": AlertDefaults({"warning": Decimal(50), "critical": Decimal(80), "for": Duration.parse("5m")}),
}
MIN_DEAD_ROWS = 10000     # fewer dead rows are no bloat worth a warning, whatever their share
# What each alert means and what to look at first (the runbooks dashboard).
RUNBOOKS = {
    "PostgresRestarted": Runbook(
        "The PostgreSQL server started less than the threshold ago (pg_postmaster_start_time_seconds): a restart, "
        "planned or a crash; a restart loop keeps it firing. Needs postgres_exporter >= 0.13 (its postmaster "
        "collector): with the Debian exporter 0.11.1 the alert is empty, never firing "
        "(awesome-prometheus-alerts' PostgresqlRestarted, at 1 minute; Vigil warns for 5, a scrape or two "
        "cannot miss it).",
        ("The server log around the start: `database system was interrupted` or `terminated by signal` is "
         "a crash (the OOM killer: `dmesg | grep -i oom`), `received fast shutdown request` a planned stop.",
         "Restarting in a loop: the log's last FATAL before each start (a bad setting, a full disk).",
         "A planned restart (a deploy, a setting that needs one): nothing to do; it resolves by itself.")),
    "PostgresReplicationSlotInactive": Runbook(
        "A replication slot has been inactive (no consumer connected) for longer than `for`: PostgreSQL keeps "
        "every WAL segment the slot has not consumed, so pg_wal grows until the disk is full and the server "
        "stops. The alert's value is the WAL the slot retains (pg_replication_slots_pg_wal_lsn_diff).",
        ("Which slot and its consumer: `SELECT slot_name, slot_type, database, active, restart_lsn, "
         "pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)) FROM pg_replication_slots;`",
         "The consumer (a replica, Debezium, a logical subscriber): is it running and reaching the primary?",
         "A slot whose consumer is gone for good: `SELECT pg_drop_replication_slot('<name>');` — the WAL is "
         "then freed; its consumer would need a fresh copy.",
         "Cap what a slot may keep: max_slot_wal_keep_size (PostgreSQL >= 13).")),
    "PostgresDeadTuples": Runbook(
        f"Dead rows (left by UPDATE and DELETE) make up more than the threshold of a table's rows, at least "
        f"{MIN_DEAD_ROWS} of them, for `for`: autovacuum is not keeping up, the table and its indexes bloat and "
        f"queries slow down. Vigil warns at 30%, not at awesome-prometheus-alerts' 10%: with autovacuum's "
        f"default scale factor of 20% a busy table holds up to a sixth of dead rows between two vacuums, "
        f"normally. Needs postgres_exporter >= 0.13 (its stat_user_tables collector, of the database it "
        f"connects to): with the Debian exporter 0.11.1 the alert is empty, never firing.",
        ("When autovacuum last ran: `SELECT relname, n_dead_tup, n_live_tup, last_autovacuum, last_vacuum "
         "FROM pg_stat_user_tables ORDER BY n_dead_tup DESC LIMIT 10;`",
         "A long transaction or a replication slot holding back the cleanup (PostgresLongTransaction, "
         "PostgresReplicationSlotInactive): VACUUM cannot remove rows they may still see.",
         "Autovacuum off for the table (`\\d+ <table>`: autovacuum_enabled) or too slow for it: lower its "
         "autovacuum_vacuum_scale_factor, raise autovacuum_vacuum_cost_limit; `VACUUM (VERBOSE) <table>;` now.")),
    "PostgresExporterScrapeError": Runbook(
        "The exporter answers and reaches the server, but every scrape for a while reported an error "
        "(pg_exporter_last_scrape_error): some of its metrics are missing, so their panels are empty "
        "and the alerts over "
        "them cannot fire.",
        ("The exporter's log names the failing query: `journalctl -u prometheus-postgres-exporter` or"
         " `docker compose logs <name>-exporter`.",
         "A missing privilege: the exporter's role needs `pg_monitor` (PostgreSQL >= 10: `GRANT "
         "pg_monitor TO <user>;`).",
         "A custom query (--extend.query-path) or a collector for a view this PostgreSQL version lacks.")),
    "PostgresTooManyLocks": Runbook(
        "The locks held fill much of PostgreSQL's shared lock table (max_locks_per_transaction × "
        "(max_connections + max_prepared_transactions)): when it is full, every statement that needs a lock "
        "fails with `out of shared memory` (HINT: increase max_locks_per_transaction).",
        ("Who holds them: `SELECT pid, mode, count(*) FROM pg_locks GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 10;`",
         "A transaction touching thousands of tables or partitions (a migration, pg_dump of many tables).",
         "Raise max_locks_per_transaction (a restart) if that load is normal.")),
    "PostgresTooManyConnections": Runbook(
        "Client connections are close to max_connections: once they are used up, new connections are refused "
        "(`FATAL: sorry, too many clients already`); the last superuser_reserved_connections are kept for superusers.",
        ("Who holds them: `SELECT usename, application_name, client_addr, state, count(*) FROM pg_stat_activity "
         "GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC;`",
         "Many `idle` ones: an application pool sized too large or leaking; put a pooler (PgBouncer) in front.",
         "Many `idle in transaction`: an application that does not commit; see PostgresLongTransaction.",
         "Raise max_connections only with memory to spare (each connection costs work_mem and more); "
         "it needs a restart.")),
    "PostgresDeadlocks": Runbook(
        "Transactions keep deadlocking: PostgreSQL aborts one of each pair (`ERROR: deadlock detected`), "
        "so the application sees failed transactions. Vigil warns at 1 a minute sustained for 5 minutes, not on "
        "any single deadlock (awesome-prometheus-alerts' PostgresqlDeadlockOccurred): a rare deadlock is retried "
        "by a well-written application and is no page.",
        ("The server log names the statements and tables of each deadlock (log_lock_waits helps too).",
         "The usual cause: two code paths updating the same rows in a different order; make them lock in one "
         "order, or retry the aborted transaction.",
         "A deploy just before it started (deploy markers on the application's dashboard).")),
    "PostgresReplicationLag": Runbook(
        "A replica replays the primary's changes late: reads from it are stale, and a failover to it now "
        "would lose or wait for the missing WAL.",
        ("On the replica: `SELECT now() - pg_last_xact_replay_timestamp(), pg_last_wal_receive_lsn(), "
         "pg_last_wal_replay_lsn();` — receiving but not replaying means replay is blocked (long queries, "
         "max_standby_streaming_delay), not receiving means the network or the primary.",
         "On the primary: `SELECT * FROM pg_stat_replication;` for the replica's state and lag.",
         "The replica's disk and CPU (the Hosts dashboard): replay is single-threaded.",
         "A bulk load or a large migration on the primary produces WAL faster than it can be shipped.")),
    "PostgresLongTransaction": Runbook(
        "A transaction has been open for longer than the threshold: it holds its locks and keeps VACUUM from "
        "cleaning up dead rows (bloat), and blocks DDL.",
        ("Find it: `SELECT pid, usename, application_name, state, now() - xact_start AS age, query FROM "
         "pg_stat_activity WHERE xact_start IS NOT NULL ORDER BY xact_start LIMIT 5;`",
         "`idle in transaction`: the application opened a transaction and forgot it; fix it, and set "
         "idle_in_transaction_session_timeout.",
         "If it must go: `SELECT pg_cancel_backend(pid);`, then `pg_terminate_backend(pid)`.",
         "An autovacuum worker (`autovacuum:` in query) on a large table is normal; leave it.")),
    "PostgresHighRollbackRate": Runbook(
        "A large share of transactions end in a rollback: usually an application failing its queries "
        "(constraint violations, serialization failures, timeouts) and aborting.",
        ("Only over at least 1 transaction a second (awesome-prometheus-alerts' PostgresqlHighRollbackRate has "
         "no floor and fires at 2%; Vigil warns at 20%: many applications roll back read-only transactions).",
         "The errors in the server log and in the application's logs.",
         "Which database: \"Rollbacks\" on the PostgreSQL dashboard.",
         "Some applications roll back on purpose (read-only transactions): then raise the threshold or "
         "disable the alert for this service.")),
}

RATE_WINDOW = Duration.parse("5m")
BY = "job, instance, service, team"     # one value per server: what the alerts' labels keep


def _targets(service: Service) -> list:
    return service.targets or [f"{service.name}-exporter:{DEFAULT_PORT}"]


def kind_rules(service: Service, ctx: Context, params: dict, disabled) -> tuple:
    name, dash = service.name, dashboard(service)
    labels = service_labels(service)
    base = {"job": name, "instance": _targets(service)[0], **target_labels(service)}
    db = {**base, "datname": "app"}
    out = {k: base[k] for k in ("job", "instance", "service", "team")}
    svc = f'service="{name}"'
    rate_settle = RATE_WINDOW + ctx.timing.scrape
    t = ctx.timing
    step = t.scrape.seconds
    rules, tests = [], []

    def add(key, alertname, value_expr, levels, summary, what, series_at, **kw):
        p, falling = params[key], kw.get("falling", False)
        alerts = threshold_alerts(
            alertname, value_expr, levels, p["for"], labels,
            lambda lv: annotations(ctx, service, dash, alertname, f"{name}: {summary}",
                                   f"{what} ({lv.severity} {'below' if falling else 'above'} {lv.text} "
                                   f"for {p['for']})."), falling=falling)
        rules.extend(alerts)
        tests.extend(threshold_tests(alerts, levels, series_at, kw.pop("out", out), kw.pop("timing", ctx.timing), **kw))
        return alerts

    def percent(key):
        return [Level(s, float(params[key][s] / 100), percent_text(params[key][s]))
                for s in ("warning", "critical") if s in params[key]]

    def seconds(key):
        return [Level(s, params[key][s].seconds, str(params[key][s])) for s in ("warning", "critical")
                if s in params[key]]

    if "connections" not in disabled:
        add("connections", "PostgresTooManyConnections",
            # Of the connections clients may open: the last superuser_reserved_connections are not theirs.
            f"sum by ({BY}) ({steady(f'pg_stat_activity_count{{{svc}}}', t)}) / max by ({BY}) "
            f"({latest(f'pg_settings_max_connections{{{svc}}}', t)} - {latest(f'pg_settings_superuser_reserved_connections{{{svc}}}', t)})",
            percent("connections"), "{{ $value | humanizePercentage }} of max_connections in use",
            "{{ $labels.instance }} has {{ $value | humanizePercentage }} of the max_connections clients may use "
            "(net of superuser_reserved_connections) in use; when none are left, new connections are refused",
            lambda v: [(selector("pg_stat_activity_count", {**db, "state": "active"}), f"{promql_number(round(v * 100, 6))}x{{n}}"),
                       (selector("pg_settings_max_connections", base), "103x{n}"),
                       (selector("pg_settings_superuser_reserved_connections", base), "3x{n}")], cap=1.0, gap=True)
    if "deadlocks" not in disabled:
        p = params["deadlocks"]
        add("deadlocks", "PostgresDeadlocks",
            f"sum by ({BY}) (rate(pg_stat_database_deadlocks{{{svc}}}[{RATE_WINDOW}])) * 60",
            [Level(s, p[s], f"{promql_number(p[s])}/min") for s in ("warning", "critical") if s in p],
            "{{ $value | humanize }} deadlocks a minute",
            f"PostgreSQL on {{{{ $labels.instance }}}} detected {{{{ $value | humanize }}}} deadlocks a minute "
            f"over the last {RATE_WINDOW}; each aborts a transaction",
            lambda v: [(selector("pg_stat_database_deadlocks", db), f"0+{promql_number(round(v / 60 * step, 9))}x{{n}}")],
            # A rate alone climbs to its value only as its window fills, so it crosses the threshold
            # late, not at `start`: the firing check waits for a full window and then `for`.
            start=ctx.timing.scrape, settle=rate_settle + p["for"])
    if "replication_lag" not in disabled:
        p = params["replication_lag"]
        # Only replicas lag: on a primary (is_replica 0) the expression is empty rather than 0.
        lag = (f"(max by ({BY}) ({steady(f'pg_replication_lag_seconds{{{svc}}}', t)}) and on (job, instance) "
               f"{latest(f'pg_replication_is_replica{{{svc}}}', t)} == 1)")
        replica = (selector("pg_replication_is_replica", base), "1x{n}")
        add("replication_lag", "PostgresReplicationLag", lag, seconds("replication_lag"),
            "replica {{ $labels.instance }} {{ $value | humanizeDuration }} behind",
            "The replica {{ $labels.instance }} last replayed a transaction of its primary "
            "{{ $value | humanizeDuration }} ago: its reads are stale",
            lambda v: [(selector("pg_replication_lag_seconds", base), f"{promql_number(v)}x{{n}}"), replica], gap=True)
        over = max(lv.threshold for lv in seconds("replication_lag")) * 10
        tests.append(silent_test("PostgresReplicationLag: quiet on a primary", "PostgresReplicationLag",
                                 [(selector("pg_replication_lag_seconds", base), f"{promql_number(over)}x{{n}}"),
                                  (selector("pg_replication_is_replica", base), "0x{n}")], ctx.timing, p["for"]))
    if "long_transaction" not in disabled:
        # Kept by database and state, which the runbook's first query needs.
        tx = {**db, "state": "idle in transaction"}
        add("long_transaction", "PostgresLongTransaction",
            f"max by ({BY}, datname, state) ({steady(f'pg_stat_activity_max_tx_duration{{{svc}}}', t)})",
            seconds("long_transaction"),
            "a transaction open for {{ $value | humanizeDuration }}",
            "A transaction on {{ $labels.instance }} (database {{ $labels.datname }}, {{ $labels.state }}) has been "
            "open for {{ $value | humanizeDuration }}; it holds its locks and keeps VACUUM from removing dead rows",
            lambda v: [(selector("pg_stat_activity_max_tx_duration", tx), f"{promql_number(v)}x{{n}}")],
            out={**out, "datname": tx["datname"], "state": tx["state"]}, gap=True)
    if "rollbacks" not in disabled:
        add("rollbacks", "PostgresHighRollbackRate",
            # Over at least 1 transaction a second: a trickle of rollbacks on an idle server is no alert.
            f"sum by ({BY}) (rate(pg_stat_database_xact_rollback{{{svc}}}[{RATE_WINDOW}])) / clamp_min(sum by ({BY}) "
            f"(rate(pg_stat_database_xact_commit{{{svc}}}[{RATE_WINDOW}])) + sum by ({BY}) "
            f"(rate(pg_stat_database_xact_rollback{{{svc}}}[{RATE_WINDOW}])), 1)",
            percent("rollbacks"), "{{ $value | humanizePercentage }} of transactions rolled back",
            f"{{{{ $value | humanizePercentage }}}} of the transactions on {{{{ $labels.instance }}}} ended in a "
            f"rollback over the last {RATE_WINDOW}",
            # 1,000 transactions a second: over the floor from the first two samples, while the
            # window still fills (a rate divides by the whole window), so true from `start`.
            lambda v: [(selector("pg_stat_database_xact_rollback", db), f"0+{promql_number(round(1000 * v * step, 6))}x{{n}}"),
                       (selector("pg_stat_database_xact_commit", db),
                        f"0+{promql_number(round(1000 * (1 - v) * step, 6))}x{{n}}")],
            start=ctx.timing.scrape, settle=rate_settle, cap=1.0)
        # Every transaction rolled back, but one in a minute: under the traffic floor.
        tests.append(silent_test("PostgresHighRollbackRate: quiet on a trickle", "PostgresHighRollbackRate",
                                 [(selector("pg_stat_database_xact_rollback", db),
                                   f"0+{promql_number(ctx.timing.scrape.seconds / 60)}x{{n}}"),
                                  (selector("pg_stat_database_xact_commit", db), "0x{n}")], ctx.timing,
                                 params["rollbacks"]["for"], settle=rate_settle))
    if "locks" not in disabled:
        table = " * ".join([latest(f"pg_settings_max_locks_per_transaction{{{svc}}}", t),
                            f"({latest(f'pg_settings_max_connections{{{svc}}}', t)} + "
                            f"{latest(f'pg_settings_max_prepared_transactions{{{svc}}}', t)})"])
        add("locks", "PostgresTooManyLocks",
            f"sum by ({BY}) ({steady(f'pg_locks_count{{{svc}}}', t)}) / max by ({BY}) ({table})",
            percent("locks"), "{{ $value | humanizePercentage }} of the lock table in use",
            "{{ $labels.instance }} holds locks filling {{ $value | humanizePercentage }} of its shared lock table; "
            "when it is full, statements fail with `out of shared memory`",
            lambda v: [(selector("pg_locks_count", {**db, "mode": "accessexclusivelock"}),
                        f"{promql_number(round(v * 6400, 6))}x{{n}}"),
                       (selector("pg_settings_max_locks_per_transaction", base), "64x{n}"),
                       (selector("pg_settings_max_connections", base), "100x{n}"),
                       (selector("pg_settings_max_prepared_transactions", base), "0x{n}")], cap=1.0, gap=True)
    if "restarted" not in disabled:
        p, clock = params["restarted"], ctx.timing.every_evaluation()
        start = selector("pg_postmaster_start_time_seconds", {**base, "process_name": "postmaster"})
        alerts = add("restarted", "PostgresRestarted",
                     f"time() - max by ({BY}) ({latest(f'pg_postmaster_start_time_seconds{{{svc}}}', t)})",
                     seconds("restarted"), "restarted {{ $value | humanizeDuration }} ago",
                     "PostgreSQL on {{ $labels.instance }} started {{ $value | humanizeDuration }} ago: a restart, "
                     "planned or a crash",
                     # A start `v` seconds before each sample: up for v at each (a sample at each evaluation).
                     lambda v: [(start, f"{-v!r}+{clock.scrape.seconds:g}x{{n}}")], falling=True, timing=clock)
        # The normal state: a server up for a month.
        tests.append(silent_test("PostgresRestarted: quiet on a server up for a month", alerts[0].name,
                                 [(start, f"{-30 * 86400}x{{n}}")], ctx.timing, p["for"]))
    if "replication_slots" not in disabled:
        for_, alertname = params["replication_slots"]["for"], "PostgresReplicationSlotInactive"
        by = f"{BY}, slot_name"
        alert = Alert(alertname,
                      f"max by ({by}) ({latest(f'pg_replication_slots_pg_wal_lsn_diff{{{svc}}}', t)}) and on ({by}) "
                      f"(max by ({by}) ({steady(f'pg_replication_slots_active{{{svc}}}', t, falling=True)}) == 0)",
                      for_, {**labels, "severity": "warning"},
                      annotations(ctx, service, dash, alertname, f"{name}: replication slot {{{{ $labels.slot_name }}}} "
                                                                  f"inactive",
                                  f"Replication slot {{{{ $labels.slot_name }}}} on {{{{ $labels.instance }}}} has had "
                                  f"no consumer for more than {for_} and retains {{{{ $value | humanize }}}}B of "
                                  f"WAL, which piles up until the disk is full."))
        rules.append(alert)
        slot = {**base, "slot_name": "replica_1", "database": ""}
        retained = (selector("pg_replication_slots_pg_wal_lsn_diff", slot), "2147483648x{n}")

        def slots(active: str) -> list:
            return [(selector("pg_replication_slots_active", slot), active), retained]
        tests += [silent_test(f"{alertname}: quiet while its consumer streams", alertname, slots("1x{n}"), ctx.timing,
                              for_),
                  firing_tests(f"{alertname}: fires when inactive", [alert], slots("0x{n}"),
                               {k: slot[k] for k in (*BY.split(", "), "slot_name")}, 2147483648, ctx.timing)]
    if "dead_tuples" not in disabled:
        table = {**db, "schemaname": "public", "relname": "orders"}
        dead, live = f"pg_stat_user_tables_n_dead_tup{{{svc}}}", f"pg_stat_user_tables_n_live_tup{{{svc}}}"
        by = f"{BY}, datname, schemaname, relname"
        rows = 1_000_000
        add("dead_tuples", "PostgresDeadTuples",
            f"max by ({by}) ({steady(dead, t)} > {MIN_DEAD_ROWS - 1}) / max by ({by}) ({steady(dead, t)} + "
            f"{steady(live, t)})",
            percent("dead_tuples"), "{{ $value | humanizePercentage }} of {{ $labels.relname }} is dead rows",
            "Table {{ $labels.schemaname }}.{{ $labels.relname }} (database {{ $labels.datname }}) on "
            "{{ $labels.instance }} is {{ $value | humanizePercentage }} dead rows: autovacuum is not keeping up",
            lambda v: [(selector("pg_stat_user_tables_n_dead_tup", table), f"{round(v * rows)}x{{n}}"),
                       (selector("pg_stat_user_tables_n_live_tup", table), f"{rows - round(v * rows)}x{{n}}")],
            out={**out, **{k: table[k] for k in ("datname", "schemaname", "relname")}}, cap=1.0, gap=True)
        # A small table almost all dead: under the floor of dead rows.
        tests.append(silent_test("PostgresDeadTuples: quiet on a small table", "PostgresDeadTuples",
                                 [(selector("pg_stat_user_tables_n_dead_tup", table), f"{MIN_DEAD_ROWS - 1}x{{n}}"),
                                  (selector("pg_stat_user_tables_n_live_tup", table), "10x{n}")], ctx.timing,
                                 params["dead_tuples"]["for"]))
    if "scrape_errors" not in disabled:
        alert, more = scrape_error_alert(service, ctx, dash, "PostgresExporterScrapeError", "pg_exporter_last_scrape_error", SERVER_UP,
                                         params["scrape_errors"]["for"], base["instance"])
        rules.append(alert)
        tests.extend(more)
    return rules, tests


FIELDS, ALERTS, dashboard, plan = exporter_kind(NAME, DEFAULT_PORT, SERVER_UP, ALERT_DEFAULTS, kind_rules)

# Its dashboard (vigil-postgres): (title, the exporter's "can I reach the server" gauge,
# [(panel title, PromQL, legend, unit)]); S selects the dashboard's services, R is the rate window.
S = 'service=~"$service"'
R = "[$__rate_interval]"
VITALS = ("PostgreSQL", SERVER_UP, [
    ("Connections used (of max_connections)",
     f"sum by (service, instance) (pg_stat_activity_count{{{S}}}) / max by (service, instance) "
     f"(pg_settings_max_connections{{{S}}})", "{{service}} {{instance}}", "percentunit"),
    ("Connections", f"sum by (service, datname) (pg_stat_activity_count{{{S}}})", "{{service}} {{datname}}",
     "short"),
    ("Max connections", f"max by (service, instance) (pg_settings_max_connections{{{S}}})",
     "{{service}} {{instance}}", "short"),
    ("Commits", f"sum by (service) (rate(pg_stat_database_xact_commit{{{S}}}{R}))", "{{service}}", "ops"),
    ("Rollbacks", f"sum by (service) (rate(pg_stat_database_xact_rollback{{{S}}}{R}))", "{{service}}", "ops"),
    ("Deadlocks", f"sum by (service) (rate(pg_stat_database_deadlocks{{{S}}}{R}))", "{{service}}", "ops"),
    ("Cache hit ratio", f"sum by (service) (rate(pg_stat_database_blks_hit{{{S}}}{R})) / (sum by (service) "
                        f"(rate(pg_stat_database_blks_hit{{{S}}}{R})) + sum by (service) "
                        f"(rate(pg_stat_database_blks_read{{{S}}}{R})))", "{{service}}", "percentunit"),
    ("Longest open transaction", f"max by (service, instance) (pg_stat_activity_max_tx_duration{{{S}}})",
     "{{service}} {{instance}}", "s"),
    ("Database size", f"sum by (service, datname) (pg_database_size_bytes{{{S}}})", "{{service}} {{datname}}",
     "bytes"),
    # 1 while a query of the exporter fails (PostgresExporterScrapeError): some panels here are then empty.
    ("Exporter scrape errors", f"max by (service, instance) (pg_exporter_last_scrape_error{{{S}}})",
     "{{service}} {{instance}}", "short"),
    # An inactive slot's grows until the disk is full (PostgresReplicationSlotInactive).
    ("WAL retained by replication slots", f"max by (service, slot_name) (pg_replication_slots_pg_wal_lsn_diff{{{S}}})",
     "{{service}} {{slot_name}}", "bytes"),
    # Replicas only (pg_replication_is_replica == 1): empty for a primary, and with exporters before 0.13.
    ("Replication lag (replicas)", f"max by (service, instance) (pg_replication_lag_seconds{{{S}}}) and on "
                                   f"(service, instance) pg_replication_is_replica{{{S}}} == 1",
     "{{service}} {{instance}}", "s"),
])
