"""kind: redis — a redis server watched through redis_exporter.

Down (the exporter unscraped or unable to reach redis), memory near maxmemory,
evictions, rejected connections, clients near maxclients, and a replica whose
link to its primary is down.
"""

from __future__ import annotations

from decimal import Decimal

from ..inventory import Service
from ..rules import Alert, Level, firing_tests, rate_threshold_tests, selector, silent_test, threshold_alerts, \
    threshold_tests
from ..runbooks import Runbook
from ..units import Duration, percent_text
from .base import AlertDefaults, Context, annotations, exporter_kind, service_labels, target_labels

NAME = "redis"
DEFAULT_PORT = 9121
SERVER_UP = "redis_up"        # the exporter reaches the server: 1, or 0
RATE_WINDOW = Duration.parse("5m")

KIND_ALERTS = {
    # used / maxmemory; never with maxmemory 0 (none set: redis grows until the host runs out).
    "memory": AlertDefaults({"warning": Decimal(90), "critical": Decimal(95), "for": Duration.parse("5m")}),
    # keys evicted per second over 5m (a cache that is too small; data lost on a store).
    "evictions": AlertDefaults({"warning": 1.0, "for": Duration.parse("10m")}),
    # connections refused (maxclients reached) per second over 5m: any at all, by default.
    "rejected_connections": AlertDefaults({"warning": 0.0, "for": Duration.parse("1m")}),
    # connected clients / maxclients.
    "clients": AlertDefaults({"warning": Decimal(80), "critical": Decimal(95), "for": Duration.parse("5m")}),
    # a replica whose link to its primary is down (nothing on a primary).
    "replication": AlertDefaults({"for": Duration.parse("1m")}),
}

RUNBOOKS = {
    "RedisMemoryHigh": Runbook(
        "Redis uses most of its `maxmemory`. At the limit it evicts keys (a cache policy such as allkeys-lru) "
        "or refuses writes with OOM errors (`noeviction`, the default). A cache that is meant to stay full "
        "can disable this alert and watch RedisEvictions instead.",
        ("Its eviction policy: `redis-cli CONFIG GET maxmemory-policy` (or maxmemory_policy on redis_instance_info).",
         "What grew: \"Keys\" and \"Memory used\" on its Redis dashboard; `redis-cli --bigkeys`, `MEMORY STATS`.",
         "Keys without a TTL that should have one; raise `maxmemory` if the host has room.")),
    "RedisEvictions": Runbook(
        "Redis evicts keys to stay under `maxmemory`: the cache is too small for its working set, and the hit "
        "ratio suffers. On a store (not a cache) evicted keys are data lost.",
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
    sel = f'{{service="{name}"}}'
    step = ctx.timing.scrape.seconds
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
        tests.extend(threshold_tests(alerts, levels, series_at, base, ctx.timing, cap=1.0))
        return alerts

    def per_second(key: str, alertname: str, metric: str, summary: str, what):
        """A counter's rate over RATE_WINDOW against thresholds per second; 0 means any at all."""
        p = params[key]
        levels = [Level(s, p[s], f"{p[s]:g}/s") for s in ("warning", "critical") if s in p]
        alerts = threshold_alerts(alertname, f"rate({metric}{sel}[{RATE_WINDOW}])", levels, p["for"], labels,
                                  note(alertname, summary, lambda lv: what(lv, p)))
        rules.extend(alerts)

        def series_at(v):
            return [(selector(metric, base), f"0+{round(v * step, 9)}x{{n}}")]
        tests.extend(rate_threshold_tests(alerts, levels, series_at, base, ctx.timing, RATE_WINDOW))

    if "memory" not in disabled:
        alerts = share(
            "memory", "RedisMemoryHigh",
            f"redis_memory_used_bytes{sel} / (redis_memory_max_bytes{sel} > 0)",
            f"{name}: {{{{ $value | humanizePercentage }}}} of maxmemory used",
            lambda lv, p: f"Redis {{{{ $labels.instance }}}} uses {{{{ $value | humanizePercentage }}}} of its "
                          f"maxmemory ({lv.severity} above {lv.text} for {p['for']}); at the limit it evicts keys "
                          f"or refuses writes, by its maxmemory-policy.",
            lambda v: [(selector("redis_memory_used_bytes", base), f"{round(v * 1e9)}x{{n}}"),
                       (selector("redis_memory_max_bytes", base), "1000000000x{n}")])
        tests.append(silent_test("RedisMemoryHigh: quiet without a maxmemory", alerts[0].name,
                                 [(selector("redis_memory_used_bytes", base), "1000000000x{n}"),
                                  (selector("redis_memory_max_bytes", base), "0x{n}")],
                                 ctx.timing, params["memory"]["for"]))
    if "evictions" not in disabled:
        per_second("evictions", "RedisEvictions", "redis_evicted_keys_total",
                   f"{name}: {{{{ $value | humanize }}}} keys evicted a second",
                   lambda lv, p: f"Redis {{{{ $labels.instance }}}} evicts {{{{ $value | humanize }}}} keys a second "
                                 f"over the last {RATE_WINDOW} ({lv.severity} above {lv.text} for {p['for']}): "
                                 f"it is full at its maxmemory.")
    if "rejected_connections" not in disabled:
        per_second("rejected_connections", "RedisRejectedConnections", "redis_rejected_connections_total",
                   f"{name}: connections refused",
                   lambda lv, p: f"Redis {{{{ $labels.instance }}}} refuses {{{{ $value | humanize }}}} connections "
                                 f"a second over the last {RATE_WINDOW} ({lv.severity} above {lv.text} for "
                                 f"{p['for']}): it has reached maxclients.")
    if "clients" not in disabled:
        share("clients", "RedisTooManyConnections",
              f"redis_connected_clients{sel} / redis_config_maxclients{sel}",
              f"{name}: {{{{ $value | humanizePercentage }}}} of maxclients connected",
              lambda lv, p: f"Redis {{{{ $labels.instance }}}} has {{{{ $value | humanizePercentage }}}} of its "
                            f"maxclients connected ({lv.severity} above {lv.text} for {p['for']}); past it, it "
                            f"refuses connections.",
              lambda v: [(selector("redis_connected_clients", base), f"{round(v * 1e6)}x{{n}}"),
                         (selector("redis_config_maxclients", base), "1000000x{n}")])
    if "replication" not in disabled:
        for_ = params["replication"]["for"]
        alertname = "RedisReplicationBroken"
        alert = Alert(alertname, f"redis_master_link_up{sel} == 0", for_, {**labels, "severity": "critical"},
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
    return rules, tests


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
    # Replicas only: empty for a primary.
    ("Replica link to primary", f"redis_master_link_up{{{S}}}", "{{service}} → {{master_host}}:{{master_port}}",
     "short"),
])
