"""kind: redis — a redis server watched through redis_exporter.

Down (the exporter unscraped or unable to reach redis), memory near maxmemory (or,
without one, near the host's memory), evictions, rejected connections, clients near maxclients, and a replica whose
link to its primary is down.
"""

from __future__ import annotations

from decimal import Decimal

from ..inventory import Service
from ..rules import Alert, Level, firing_tests, gap_test, latest, rate_threshold_tests, selector, silent_test, \
    steady, threshold_alerts, threshold_tests
from ..runbooks import Runbook
from ..units import Duration, percent_text
from .base import SCRAPE_ERRORS_FOR, AlertDefaults, Context, annotations, exporter_kind, scrape_error_alert, service_labels, target_labels

NAME = "redis"
DEFAULT_PORT = 9121
SERVER_UP = "redis_up"        # the exporter reaches the server: 1, or 0
RATE_WINDOW = Duration.parse("5m")

KIND_ALERTS = {
    # the exporter reaches the server, but its queries of it fail
    "scrape_errors": AlertDefaults({"for": SCRAPE_ERRORS_FOR}),
    # used / maxmemory; never with maxmemory 0 (none set: system_memory watches it).
    "memory": AlertDefaults({"warning": Decimal(90), "critical": Decimal(95), "for": Duration.parse("5m")}),
    # used / the host's memory, for a Redis without maxmemory (0, Redis's default: no limit).
    "system_memory": AlertDefaults({"warning": Decimal(80), "critical": Decimal(90), "for": Duration.parse("5m")}),
    # keys evicted per second over 5m (a cache that is too small; data lost on a store).
    "evictions": AlertDefaults({"warning": 1.0, "for": Duration.parse("10m")}),
    # connections refused (maxclients reached) per second over 5m: any at all, by default.
    "rejected_connections": AlertDefaults({"warning": 0.0, "for": Duration.parse("1m")}),
    # connected clients / maxclients.
    "clients": AlertDefaults({"warning": Decimal(80), "critical": Decimal(95), "for": Duration.parse("5m")}),
    # a replica whose link to its primary is down (nothing on a primary).
    "replication": AlertDefaults({"for": Duration.parse("1m")}),
    # its last background save (RDB snapshot) failed: nothing is persisted, and with the default
    # stop-writes-on-bgsave-error it refuses writes.
    "persistence": AlertDefaults({"for": Duration.parse("5m")}),
    # a service of several targets: none of them a primary, or more than one.
    "masters": AlertDefaults({"for": Duration.parse("5m")}),
}
# maxmemory-policies under which a full Redis evicts any key: a cache, full on purpose. Under the others
# (noeviction, Redis's default, and volatile-*, which evict only keys with a TTL) a full Redis refuses writes.
CACHE_POLICIES = "allkeys-lru|allkeys-lfu|allkeys-random"

RUNBOOKS = {
    "RedisExporterScrapeError": Runbook(
        "The exporter answers and reaches the server, but every scrape for a while reported an error "
        "(redis_exporter_last_scrape_error): some of its metrics are missing, so their panels are "
        "empty and the alerts over "
        "them cannot fire.",
        ("The error itself: the `err` label of redis_exporter_last_scrape_error on its Redis "
         "dashboard or in Prometheus, and the exporter's log.",
         "Commands the exporter needs that the server renamed or an ACL forbids (INFO, CONFIG GET, "
         "SLOWLOG, CLIENT): `ACL GETUSER <user>`.",
         'A managed Redis that disables CONFIG: run the exporter with `-config-command=""`.')),
    "RedisMemoryHigh": Runbook(
        "Redis uses most of its `maxmemory` under a maxmemory-policy that refuses writes when full (`noeviction`, "
        "the default, or a `volatile-*` one once no key with a TTL is left): clients get OOM errors. Under an "
        "`allkeys-*` policy a full Redis is a cache doing its job, and this alert stays quiet (the references, "
        "awesome-prometheus-alerts' RedisOutOfConfiguredMaxmemory, page on it; Vigil does not). Without a "
        "maxmemory (0) it never fires: Redis then grows until the host runs out (RedisMemoryOfSystem).",
        ("Its eviction policy: `redis-cli CONFIG GET maxmemory-policy` (or maxmemory_policy on redis_instance_info).",
         "What grew: \"Keys\" and \"Memory used\" on its Redis dashboard; `redis-cli --bigkeys`, `MEMORY STATS`.",
         "Keys without a TTL that should have one; raise `maxmemory` if the host has room.")),
    "RedisMemoryOfSystem": Runbook(
        "A Redis without a `maxmemory` (0, Redis's default: no limit) uses most of its host's memory "
        "(redis_total_system_memory_bytes): it grows until the OOM killer stops it, and a background save's "
        "fork (copy-on-write) needs more still. Vigil warns at 80% and is critical at 90% "
        "(awesome-prometheus-alerts' RedisOutOfSystemMemory warns at 90%: one fork past that is the OOM killer). "
        "Quiet for any Redis with a maxmemory (an LRU cache full on purpose): RedisMemoryHigh watches those. "
        "In a container the total is the host's memory, not the container's limit (ContainerMemoryNearLimit). "
        "The exporter exposes the total only with `--include-system-metrics`, which the stack's own exporter "
        "gets; an exporter run without it leaves this alert empty, never firing.",
        ("What grew: \"Keys\" and \"Memory used\" on its Redis dashboard; `redis-cli --bigkeys`, `MEMORY STATS`.",
         "Set a limit: `maxmemory` (e.g. 70% of the host's memory) and a `maxmemory-policy` (`allkeys-lru` for a "
         "cache, `noeviction` for a store); `CONFIG SET maxmemory <bytes>`, then in redis.conf.",
         "Other processes on the host (the Hosts dashboard): the total is the whole host's.")),
    "RedisEvictions": Runbook(
        "Redis evicts keys to stay under `maxmemory` under a `volatile-*` policy: keys with a TTL are dropped "
        "before they expire, a sign the data set (keys without a TTL) crowds the cache out. Under an `allkeys-*` "
        "policy steady evictions are an LRU cache's normal state and this alert stays quiet; watch the hit "
        "ratio there.",
        ("\"Evicted keys\" and \"Cache hit ratio\" on its Redis dashboard: did the hit ratio fall with it?",
         "Memory against maxmemory: raise `maxmemory`, or shorten TTLs of what fills it.",
         "A new key pattern or a deploy that caches more (deploy markers).")),
    "RedisRejectedConnections": Runbook(
        "Redis refused new connections: it has reached `maxclients`. Clients see connection errors.",
        ("\"Clients\" and \"Clients of maxclients\" on its Redis dashboard: a steady climb (a connection leak) "
         "or a burst?",
         "Who is connected: `redis-cli CLIENT LIST` (name, addr, idle); clients idle for long are leaks.",
         "Connection pools of its clients: sizes times instances; raise `maxclients` only with the file limit "
         "(`ulimit -n`).")),
    "RedisTooManyConnections": Runbook(
        "The connected clients are close to `maxclients`; past it Redis refuses connections "
        "(RedisRejectedConnections).",
        ("Who is connected: `redis-cli CLIENT LIST`; many idle clients of one address are a pool leak.",
         "A deploy or scale-out that multiplied connection pools (deploy markers).",
         "`maxclients` itself: `redis-cli CONFIG GET maxclients`.")),
    "RedisPersistenceFailing": Runbook(
        "Redis's last background save (BGSAVE, the RDB snapshot) failed: nothing newer is on disk, and with "
        "`stop-writes-on-bgsave-error yes` (the default) it refuses writes until a save succeeds.",
        ("Why: its log (`Background saving error`, `Can't save in background: fork: Cannot allocate memory`).",
         "Disk full or not writable under `dir` (`CONFIG GET dir`): HostDiskFull on its host.",
         "fork() failing for memory: `vm.overcommit_memory = 1` on the host, as Redis's log advises.",
         "`redis-cli INFO persistence` (rdb_last_bgsave_status, rdb_changes_since_last_save); "
         "`redis-cli BGSAVE` once fixed.")),
    "RedisMasterCount": Runbook(
        "The service's Redis servers do not have exactly one primary (role master): none (every server a "
        "replica: nothing takes writes) or several (a split brain after a failover: writes go to both).",
        ("`redis-cli -h <each> INFO replication`: role and master_host of every server.",
         "Sentinel or the operator that fails over: `SENTINEL get-master-addr-by-name <name>`, its log.",
         "Several: make the stale one a replica again (`REPLICAOF <primary> <port>`), after checking which "
         "holds the newest writes.")),
    "RedisReplicationBroken": Runbook(
        "A replica has lost its link to its primary: it serves stale data and cannot take over.",
        ("On the replica: `redis-cli INFO replication` (master_link_status, master_host, "
         "master_link_down_since_seconds).",
         "Is the primary up (its ServiceDown, its dashboard) and reachable from the replica (network, auth: "
         "`masterauth`)?",
         "The replica's log: a full resync that keeps failing (output buffer limits, disk for the RDB).")),
}


def kind_rules(service: Service, ctx: Context, params: dict, disabled) -> tuple[list, list]:
    name, dash = service.name, dashboard(service)
    target = (service.targets or [f"{name}-exporter:{DEFAULT_PORT}"])[0]
    base = {"job": name, "instance": target, **target_labels(service)}
    labels = service_labels(service)
    svc = f'service="{name}"'
    sel = f'{{{svc}}}'
    step = ctx.timing.scrape.seconds
    t = ctx.timing
    # A Redis whose maxmemory-policy evicts any key: a cache, full and evicting on purpose.
    cache = latest(f'redis_instance_info{{{svc},maxmemory_policy=~"{CACHE_POLICIES}"}}', t)
    rules, tests = [], []

    def note(alertname: str, summary: str, what):
        return lambda lv: annotations(ctx, service, dash, alertname, summary, what(lv))

    def share(key: str, alertname: str, expr: str, summary: str, what, series_at):
        """A ratio against a limit, percent thresholds."""
        p = params[key]
        levels = [Level(s, float(p[s] / 100), percent_text(p[s])) for s in ("warning", "critical") if s in p]
        alerts = threshold_alerts(alertname, expr, levels, p["for"], labels,
                                  note(alertname, summary, lambda lv: what(lv, p)))
        rules.extend(alerts)
        tests.extend(threshold_tests(alerts, levels, series_at, base, ctx.timing, cap=1.0, gap=True))
        return alerts

    def info(policy: str) -> tuple[str, str]:
        return selector("redis_instance_info", {**base, "maxmemory_policy": policy, "role": "master"}), "1x{n}"

    def per_second(key: str, alertname: str, metric: str, summary: str, what, unless: str = "", context=()):
        """A counter's rate over RATE_WINDOW against thresholds per second; 0 means any at all."""
        p = params[key]
        levels = [Level(s, p[s], f"{p[s]:g}/s") for s in ("warning", "critical") if s in p]
        alerts = threshold_alerts(alertname, f"(rate({metric}{sel}[{RATE_WINDOW}]){unless})" if unless else f"rate({metric}{sel}[{RATE_WINDOW}])", levels, p["for"], labels,
                                  note(alertname, summary, lambda lv: what(lv, p)))
        rules.extend(alerts)

        def series_at(v):
            return [(selector(metric, base), f"0+{round(v * step, 9)}x{{n}}"), *context]
        tests.extend(rate_threshold_tests(alerts, levels, series_at, base, ctx.timing, RATE_WINDOW))
        return alerts

    if "memory" not in disabled:
        alerts = share(
            "memory", "RedisMemoryHigh",
            f"({steady('redis_memory_used_bytes' + sel, t)} / ({latest('redis_memory_max_bytes' + sel, t)} > 0) "
            f"unless on (job, instance) {cache})",
            f"{name}: {{{{ $value | humanizePercentage }}}} of maxmemory used",
            lambda lv, p: f"Redis {{{{ $labels.instance }}}} uses {{{{ $value | humanizePercentage }}}} of its "
                          f"maxmemory ({lv.severity} above {lv.text} for {p['for']}); at the limit it evicts keys "
                          f"or refuses writes, by its maxmemory-policy.",
            lambda v: [(selector("redis_memory_used_bytes", base), f"{round(v * 1e9)}x{{n}}"),
                       (selector("redis_memory_max_bytes", base), "1000000000x{n}"), info("noeviction")])
        tests.append(silent_test("RedisMemoryHigh: quiet without a maxmemory", alerts[0].name,
                                 [(selector("redis_memory_used_bytes", base), "1000000000x{n}"),
                                  (selector("redis_memory_max_bytes", base), "0x{n}"), info("noeviction")],
                                 ctx.timing, params["memory"]["for"]))
        # An LRU cache at 99% of maxmemory is full on purpose.
        tests.append(silent_test("RedisMemoryHigh: quiet for an LRU cache at 99%", alerts[0].name,
                                 [(selector("redis_memory_used_bytes", base), "990000000x{n}"),
                                  (selector("redis_memory_max_bytes", base), "1000000000x{n}"), info("allkeys-lru")],
                                 ctx.timing, params["memory"]["for"]))
    if "system_memory" not in disabled:
        # Only without a maxmemory: with one, RedisMemoryHigh (by its policy) is the alert.
        alerts = share(
            "system_memory", "RedisMemoryOfSystem",
            f"({steady('redis_memory_used_bytes' + sel, t)} / {latest('redis_total_system_memory_bytes' + sel, t)} "
            f"and on (job, instance) {latest('redis_memory_max_bytes' + sel, t)} == 0)",
            f"{name}: {{{{ $value | humanizePercentage }}}} of the host's memory used, no maxmemory",
            lambda lv, p: f"Redis {{{{ $labels.instance }}}} has no maxmemory and uses {{{{ $value | "
                          f"humanizePercentage }}}} of its host's memory ({lv.severity} above {lv.text} for "
                          f"{p['for']}): it grows until the OOM killer stops it.",
            lambda v: [(selector("redis_memory_used_bytes", base), f"{round(v * 1e9)}x{{n}}"),
                       (selector("redis_total_system_memory_bytes", base), "1000000000x{n}"),
                       (selector("redis_memory_max_bytes", base), "0x{n}"), info("noeviction")])
        # An LRU cache full at its maxmemory, nearly all the host's memory: full on purpose, with a limit.
        tests.append(silent_test("RedisMemoryOfSystem: quiet for an LRU cache at its maxmemory", alerts[0].name,
                                 [(selector("redis_memory_used_bytes", base), "990000000x{n}"),
                                  (selector("redis_total_system_memory_bytes", base), "1000000000x{n}"),
                                  (selector("redis_memory_max_bytes", base), "1000000000x{n}"),
                                  info("allkeys-lru")], ctx.timing, params["system_memory"]["for"]))
    if "evictions" not in disabled:
        alerts = per_second(
                   "evictions", "RedisEvictions", "redis_evicted_keys_total",
                   f"{name}: {{{{ $value | humanize }}}} keys evicted a second",
                   lambda lv, p: f"Redis {{{{ $labels.instance }}}} evicts {{{{ $value | humanize }}}} keys a second "
                                 f"over the last {RATE_WINDOW} ({lv.severity} above {lv.text} for {p['for']}): "
                                 f"it is full at its maxmemory, and its volatile-* policy drops keys with a TTL "
                                 f"before they expire.",
                   unless=f" unless on (job, instance) {cache}", context=[info("volatile-lru")])
        # An LRU cache evicting steadily (far past the threshold) is working as meant.
        over = max(lv for lv in (params["evictions"].get(s) for s in ("warning", "critical")) if lv is not None) * 10
        tests.append(silent_test("RedisEvictions: quiet for an LRU cache evicting steadily", alerts[0].name,
                                 [(selector("redis_evicted_keys_total", base), f"0+{round((over or 1) * step, 9)}x{{n}}"),
                                  info("allkeys-lru")], ctx.timing, params["evictions"]["for"],
                                 settle=RATE_WINDOW + ctx.timing.scrape))
    if "rejected_connections" not in disabled:
        per_second("rejected_connections", "RedisRejectedConnections", "redis_rejected_connections_total",
                   f"{name}: connections refused",
                   lambda lv, p: f"Redis {{{{ $labels.instance }}}} refuses {{{{ $value | humanize }}}} connections "
                                 f"a second over the last {RATE_WINDOW} ({lv.severity} above {lv.text} for "
                                 f"{p['for']}): it has reached maxclients.")
    if "clients" not in disabled:
        share("clients", "RedisTooManyConnections",
              f"{steady('redis_connected_clients' + sel, t)} / {latest('redis_config_maxclients' + sel, t)}",
              f"{name}: {{{{ $value | humanizePercentage }}}} of maxclients connected",
              lambda lv, p: f"Redis {{{{ $labels.instance }}}} has {{{{ $value | humanizePercentage }}}} of its "
                            f"maxclients connected ({lv.severity} above {lv.text} for {p['for']}); past it, it "
                            f"refuses connections.",
              lambda v: [(selector("redis_connected_clients", base), f"{round(v * 1e6)}x{{n}}"),
                         (selector("redis_config_maxclients", base), "1000000x{n}")])
    if "replication" not in disabled:
        for_ = params["replication"]["for"]
        alertname = "RedisReplicationBroken"
        alert = Alert(alertname, f"{steady('redis_master_link_up' + sel, t, falling=True)} == 0", for_, {**labels, "severity": "critical"},
                      annotations(ctx, service, dash, alertname,
                                  f"{name}: replica lost its primary",
                                  f"Redis replica {{{{ $labels.instance }}}} has had no link to its primary "
                                  f"{{{{ $labels.master_host }}}}:{{{{ $labels.master_port }}}} for more than "
                                  f"{for_}: it serves stale data and cannot take over."))
        rules.append(alert)
        out = {**base, "master_host": "10.0.0.1", "master_port": "6379"}
        link = selector("redis_master_link_up", out)
        up = (selector(SERVER_UP, base), "1x{n}")
        tests += [silent_test(f"{alertname}: quiet while linked", alertname, [(link, "1x{n}"), up], ctx.timing, for_),
                  silent_test(f"{alertname}: quiet on a primary", alertname, [up], ctx.timing, for_),
                  firing_tests(f"{alertname}: fires when the link is down", [alert], [(link, "0x{n}"), up], out, 0,
                               ctx.timing)]
        tests += gap_test(f"{alertname}: fires through one missed scrape", [alert], [(link, "0x{n}"), up], out, 0,
                          ctx.timing)
    if "persistence" not in disabled:
        for_, alertname = params["persistence"]["for"], "RedisPersistenceFailing"
        alert = Alert(alertname, f"{steady('redis_rdb_last_bgsave_status' + sel, t, falling=True)} == 0", for_,
                      {**labels, "severity": "critical"},
                      annotations(ctx, service, dash, alertname, f"{name}: background save failing",
                                  f"The last background save (RDB) of Redis {{{{ $labels.instance }}}} failed, for "
                                  f"more than {for_}: nothing newer is on disk, and by default it refuses writes."))
        rules.append(alert)
        status = selector("redis_rdb_last_bgsave_status", base)
        tests += [silent_test(f"{alertname}: quiet while saves succeed", alertname, [(status, "1x{n}")], ctx.timing,
                              for_),
                  firing_tests(f"{alertname}: fires when the last save failed", [alert], [(status, "0x{n}")], base, 0,
                               ctx.timing)]
        tests += gap_test(f"{alertname}: fires through one missed scrape", [alert], [(status, "0x{n}")], base, 0,
                          ctx.timing)
    if "masters" not in disabled and len(service.targets or ()) > 1:
        masters(service, ctx, params["masters"]["for"], rules, tests)
    if "scrape_errors" not in disabled:
        alert, more = scrape_error_alert(service, ctx, dash, "RedisExporterScrapeError", "redis_exporter_last_scrape_error", SERVER_UP,
                                         params["scrape_errors"]["for"], base["instance"])
        rules.append(alert)
        tests.extend(more)
    return rules, tests


def masters(service: Service, ctx: Context, for_: Duration, rules: list, tests: list) -> None:
    """Of a service's several servers, exactly one is the primary."""
    name, alertname = service.name, "RedisMasterCount"
    info = f'redis_instance_info{{service="{name}"}}'
    role = f'{{service="{name}",role="master"}}'
    count = f"count by (service, team) ({latest(info, ctx.timing)})"
    primaries = f'count by (service, team) ({latest("redis_instance_info" + role, ctx.timing)})'
    alert = Alert(alertname, f"({primaries} > 1) or ({count} unless {primaries})", for_,
                  {**service_labels(service), "severity": "critical"},
                  annotations(ctx, service, dashboard(service), alertname, f"{name}: not exactly one primary",
                              f"The Redis servers of {name} have had {{{{ $value }}}} primaries (role master) "
                              f"for {for_}, or none: writes fail or split. Exactly one should be."))
    rules.append(alert)

    def servers(*roles):
        return [(selector("redis_instance_info", {"job": name, "instance": target, **target_labels(service),
                                                  "maxmemory_policy": "noeviction", "role": r}), "1x{n}")
                for target, r in zip(service.targets, roles)]
    out = service_labels(service)
    n = len(service.targets)
    tests += [silent_test(f"{alertname}: quiet with one primary", alertname, servers("master", *["slave"] * (n - 1)),
                          ctx.timing, for_),
              firing_tests(f"{alertname}: fires with two primaries", [alert], servers("master", "master",
                                                                                  *["slave"] * (n - 2)),
                           out, 2, ctx.timing),
              firing_tests(f"{alertname}: fires with none", [alert], servers(*["slave"] * n), out, n, ctx.timing)]


FIELDS, ALERTS, dashboard, plan = exporter_kind(NAME, DEFAULT_PORT, SERVER_UP, KIND_ALERTS, kind_rules)

# Its dashboard (vigil-redis): (title, the exporter's "can I reach the server" gauge,
# [(panel title, PromQL, legend, unit)]); S selects the dashboard's services, R is the rate window.
S = 'service=~"$service"'
R = "[$__rate_interval]"
VITALS = ("Redis", SERVER_UP, [
    ("Clients", f"redis_connected_clients{{{S}}}", "{{service}}", "short"),
    ("Clients of maxclients", f"redis_connected_clients{{{S}}} / redis_config_maxclients{{{S}}}", "{{service}}",
     "percentunit"),
    ("Memory used", f"redis_memory_used_bytes{{{S}}}", "{{service}}", "bytes"),
    # Empty for a server without maxmemory (0: no limit).
    ("Memory of maxmemory", f"redis_memory_used_bytes{{{S}}} / (redis_memory_max_bytes{{{S}}} > 0)", "{{service}}",
     "percentunit"),
    ("Commands", f"rate(redis_commands_processed_total{{{S}}}{R})", "{{service}}", "ops"),
    ("Cache hit ratio", f"rate(redis_keyspace_hits_total{{{S}}}{R}) / (rate(redis_keyspace_hits_total{{{S}}}{R})"
                        f" + rate(redis_keyspace_misses_total{{{S}}}{R}))", "{{service}}", "percentunit"),
    ("Keys", f"sum by (service) (redis_db_keys{{{S}}})", "{{service}}", "short"),
    ("Evicted keys", f"rate(redis_evicted_keys_total{{{S}}}{R})", "{{service}}", "ops"),
    ("Expired keys", f"rate(redis_expired_keys_total{{{S}}}{R})", "{{service}}", "ops"),
    ("Rejected connections", f"rate(redis_rejected_connections_total{{{S}}}{R})", "{{service}}", "ops"),
    ("Connected replicas", f"redis_connected_slaves{{{S}}}", "{{service}}", "short"),
    # 0 after a failed BGSAVE (RedisPersistenceFailing).
    ("Last background save succeeded", f"redis_rdb_last_bgsave_status{{{S}}}", "{{service}}", "bool_on_off"),
    # Replicas only: empty for a primary.
    ("Replica link to primary", f"redis_master_link_up{{{S}}}", "{{service}} → {{master_host}}:{{master_port}}",
     "short"),
])
