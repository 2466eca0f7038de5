"""Property-based tests of the generator (hypothesis).

1. Any valid inventory renders (`vigil generate` exits 0), and promtool accepts
   the result: `promtool check config` and `promtool test rules` over every
   generated unit-test file.
2. Any inventory made invalid by one corruption is rejected: `vigil validate`
   exits 2 with located problems (FILE:LINE: where: what) and no traceback, and
   `vigil generate -o DIR` writes nothing.

The runs are derandomized so CI is reproducible, and do not shrink a failure
(each step of the valid-inventory property costs a promtool run): the failure
message holds the whole inventory, as YAML. To explore more locally:
VIGIL_PROPERTY_EXAMPLES=300 VIGIL_PROPERTY_RANDOM=1 [VIGIL_PROPERTY_SHRINK=1] pytest tests/test_property.py
"""

from __future__ import annotations

import contextlib
import dataclasses
import copy
import io
import os
import re
import string
import tempfile
import traceback
from decimal import Decimal
from pathlib import Path

import yaml
from hypothesis import HealthCheck, Phase, assume, example, given, settings
from hypothesis import strategies as st

from conftest import promtool, rule_tests, tool
from vigil import cli, presets
from vigil.humanize import template_problem
from vigil.inventory import Endpoints, Receiver
from vigil.kinds import BUILTIN_ALERTNAMES, KINDS
from vigil.stack import RESERVED as RESERVED_SERVICE_NAMES
from vigil.units import Duration
from vigil.validate import RESERVED_LABELS

EXAMPLES = int(os.environ.get("VIGIL_PROPERTY_EXAMPLES", "0"))
RANDOM = bool(os.environ.get("VIGIL_PROPERTY_RANDOM"))
PHASES = [Phase.explicit, Phase.generate] + ([Phase.shrink] if os.environ.get("VIGIL_PROPERTY_SHRINK") else [])
COMMON = dict(deadline=None, derandomize=not RANDOM, database=None, print_blob=False, phases=PHASES,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.filter_too_much])

SECOND, MINUTE, HOUR, DAY = 1000, 60_000, 3_600_000, 86_400_000
MAX_FOR = HOUR                 # bounds the length of the rule tests, hence promtool's time
PROBLEM_LINE = re.compile(r"^[^:]+:\d+: .+: .+", re.M)

# ---------------------------------------------------------------- scalars


def _slug_tail(max_len: int):
    tail = st.text(string.ascii_lowercase + string.digits + "-", max_size=max_len - 2)
    end = st.sampled_from(string.ascii_lowercase + string.digits)
    return st.builds(lambda a, t, e: a + t + e, st.sampled_from(string.ascii_lowercase), tail, end) | \
        st.sampled_from(string.ascii_lowercase)


def slugs(max_len: int = 20):
    return _slug_tail(max_len).filter(lambda s: len(s) <= max_len)


service_names = slugs(36).filter(lambda s: s not in RESERVED_SERVICE_NAMES)
env_vars = st.from_regex(r"\A[A-Z][A-Z0-9_]{0,20}\Z")
metric_names = st.from_regex(r"\A[a-zA-Z_:][a-zA-Z0-9_:]{0,24}\Z")
# PromQL words: a user who writes `bool > 5` wrote bad PromQL (Vigil does not parse expressions).
PROMQL_WORDS = {"and", "or", "unless", "atan2", "on", "ignoring", "group_left", "group_right", "bool", "by",
                "without", "offset", "start", "end", "inf", "nan", "sum", "avg", "count", "min", "max", "group",
                "stddev", "stdvar", "topk", "bottomk", "count_values", "quantile", "limitk", "limit_ratio"}
user_metric_names = metric_names.filter(lambda n: n.lower() not in PROMQL_WORDS)
idents = st.from_regex(r"\A[a-zA-Z_][a-zA-Z0-9_]{0,14}\Z")
label_names = (st.sampled_from(["tier", "region", "zone", "status", "code", "mode", "device", "mountpoint",
                                "env", "stack", "route", "method", "cpu", "quantile", "rule_group", "exported_job"])
               | idents).filter(lambda n: not n.startswith("__") and n not in RESERVED_LABELS)
label_values = st.text(string.ascii_letters + string.digits + " -_./:@é\"\\{}", min_size=1, max_size=16) | \
    st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=6)   # any printable Unicode
# (Prometheus takes any UTF-8; Vigil refuses control characters in a label value, a validation rule)
hostnames = st.sampled_from(["checkout", "10.0.0.7", "127.0.0.1", "[::1]", "api.internal", "db-1.example.com",
                             "node_exporter"]) | slugs(15)
ports = st.integers(1, 65535)
targets = st.builds(lambda h, p: f"{h}:{p}", hostnames, ports)
url_paths = st.sampled_from(["", "/", "/health", "/healthz", "/ready?full=1", "/api/v1/push", "/a/b%20c", "/x#frag"])


def urls(schemes=("http", "https")):
    port = st.none() | ports
    return st.builds(lambda s, h, p, path: f"{s}://{h}{'' if p is None else f':{p}'}{path}",
                     st.sampled_from(schemes), hostnames, port, url_paths)


def duration_text(ms: int, draw) -> str:
    """One of the ways a Prometheus duration of `ms` can be written."""
    forms = [str(Duration(ms))]
    if ms == 0:
        forms += ["0s", "0ms", "0m"]
    else:
        if ms % SECOND:
            forms.append(f"{ms}ms")
        elif ms % MINUTE:
            forms.append(f"{ms // SECOND}s")
        elif ms % HOUR:
            forms += [f"{ms // MINUTE}m", f"{ms // SECOND}s"]
        elif ms % DAY:
            forms += [f"{ms // HOUR}h", f"{ms // MINUTE}m"]
        else:
            forms += [f"{ms // DAY}d", f"{ms // HOUR}h"] + ([f"{ms // (7 * DAY)}w"] if ms % (7 * DAY) == 0 else [])
    return draw(st.sampled_from(sorted(set(forms))))


def percent_value(hundredths: int, draw):
    """A percentage as the inventory may write it: "7%", "0.5%", 7, 99.9."""
    d = (Decimal(hundredths) / 100).normalize()
    text = format(d, "f")
    number = int(d) if d == d.to_integral_value() else float(text)
    return draw(st.sampled_from([f"{text}%", number]))


def for_ms(draw) -> int:
    return draw(st.sampled_from([0, 30 * SECOND, MINUTE, 5 * MINUTE]) | st.integers(0, MAX_FOR // SECOND).map(
        lambda s: s * SECOND) | st.integers(0, MAX_FOR // MINUTE).map(lambda m: m * MINUTE))


# ---------------------------------------------------------------- alert overrides, from each kind's ALERTS


def _as_units(value) -> int:
    """A default threshold -> integer units: ms for durations, hundredths for percents."""
    if isinstance(value, Duration):
        return int(value)
    if isinstance(value, Decimal):
        return int(value * 100)
    return int(round(float(value) * 100))


def _from_units(default, n: int, draw):
    if isinstance(default, Duration):
        return duration_text(n, draw)
    if isinstance(default, Decimal):
        return percent_value(n, draw)
    return n / 100


def _range(default, defaults) -> tuple[int, int]:
    """Where a threshold may be drawn: percentages anywhere in 0..100; others from 0
    (1ms for durations) up to fifty times the alert's defaults."""
    if isinstance(default, Decimal):
        return 0, 10_000
    # Counts and rates may be 0 ("any at all"), as some defaults are; durations start at 1ms.
    return (1 if isinstance(default, Duration) else 0), max(1, *(_as_units(v) for v in defaults)) * 50


@st.composite
def alert_override(draw, spec):
    params = spec.params
    keys = draw(st.lists(st.sampled_from(sorted(params)), unique=True))
    out, units = {}, {k: _as_units(v) for k, v in params.items()}
    for key in keys:
        if key == "for":
            out["for"] = duration_text(for_ms(draw), draw)
        elif key not in ("warning", "critical"):
            lo, hi = _range(params[key], [params[key]])
            units[key] = draw(st.integers(lo, hi))
            out[key] = _from_units(params[key], units[key], draw)
    for w, c in spec.below:          # the critical's value no larger than the warning's (validation)
        if units[c] > units[w]:
            assume(w in out and c in out)
            out[w], out[c] = out[c], out[w]
    levels = [k for k in ("warning", "critical") if k in keys]
    if not levels:
        return out
    defaults = [params[k] for k in ("warning", "critical") if k in params]
    lo, hi = _range(defaults[0], defaults)
    kind_of = params[levels[0]]
    if len(levels) == 2 or "critical" not in params or "warning" not in params:
        values = sorted(draw(st.lists(st.integers(lo, hi), min_size=len(levels), max_size=len(levels),
                                      unique=True)))
        if spec.falling:
            values.reverse()
        chosen = dict(zip(levels, values))
    else:
        # One level overridden: it must stay on its side of the other's default.
        other = _as_units(params["critical" if levels[0] == "warning" else "warning"])
        below = (levels[0] == "warning") != spec.falling
        a, b = (lo, other - 1) if below else (other + 1, hi)
        assume(a <= b)
        chosen = {levels[0]: draw(st.integers(a, b))}
    for k, v in chosen.items():
        out[k] = _from_units(kind_of, v, draw)
    return out


def specs_for(service: dict) -> dict:
    """The kind's ALERTS as they apply to the drawn service: no critical level where an SLO pages."""
    specs = dict(KINDS[service["kind"]].ALERTS)
    if service["kind"] == "job" and not service.get("pushgateway"):
        del specs["push_age"]       # it watches a Pushgateway's groups: refused elsewhere
    if service["kind"] == "http":
        from vigil.kinds.http import SLO_SIGNALS
        for objective, (key, _) in SLO_SIGNALS.items():
            if objective in service.get("slo", {}):
                specs[key] = dataclasses.replace(specs[key], params={k: v for k, v in specs[key].params.items()
                                                                     if k != "critical"})
    return specs


@st.composite
def alerts_section(draw, service: dict):
    specs = specs_for(service)
    out = {}
    for name in draw(st.lists(st.sampled_from(sorted(specs)), unique=True, max_size=len(specs))):
        out[name] = draw(alert_override(specs[name]))
    # A level only all targets down would pass could never fire (a validation error): leave it out.
    n = len(service.get("targets") or ())
    if "warning" in out.get("instances_down", {}) and n > 1:
        if int(Decimal(str(out["instances_down"]["warning"]).rstrip("%")) / 100 * n) + 1 >= n:
            del out["instances_down"]["warning"]
    if draw(st.booleans()):
        out["disabled"] = draw(st.lists(st.sampled_from(sorted(specs)), max_size=3))
    return out


# ---------------------------------------------------------------- user rules and panels


SUMMARIES = ["Queue is backing up", "{{ $labels.instance }} is over its limit",
             "{{ $value | humanize }} items waiting", "{{ $value }} items waiting"]


@st.composite
def user_rule(draw, name: str):
    metric = draw(user_metric_names)
    limit = draw(st.integers(1, 1000))
    instance = draw(st.sampled_from(["a", "worker:9100", "10.0.0.1:80"]))
    extra = draw(st.sampled_from([{}, {"queue": "default"}, {"shard": "2"}]))
    labels = {"instance": instance, **extra}
    series = metric + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    fire = draw(st.integers(limit + 1, limit + 1000))
    rule = {"alert": name,
            "expr": draw(st.sampled_from([f"{metric} > {limit}", f"{metric} >= {limit}"])),
            "summary": draw(st.sampled_from(SUMMARIES))}
    if draw(st.booleans()):
        rule["for"] = duration_text(draw(st.integers(0, 30)) * MINUTE, draw)
    if draw(st.booleans()):
        rule["severity"] = draw(st.sampled_from(["critical", "warning", "info"]))
    if draw(st.booleans()):
        rule["description"] = draw(st.sampled_from(SUMMARIES + ["See the queue dashboard."]))
    if draw(st.booleans()):
        # Rule labels are Go templates to Prometheus: random text must not open an action by chance.
        rule["labels"] = draw(st.dictionaries(label_names, label_values.filter(lambda v: template_problem(v) is None),
                                              max_size=2))
    if draw(st.integers(0, 3)):
        test = {"series": {series: fire if draw(st.booleans()) else float(fire)}}
        if draw(st.booleans()):
            test["quiet"] = {series: draw(st.integers(0, limit - 1))}
        if any("$value" in rule.get(k, "") for k in ("summary", "description")) or draw(st.booleans()):
            test["value"] = fire
        if draw(st.booleans()):
            test["labels"] = labels         # what the alert keeps from its expression: all of them
        rule["test"] = test
    return rule


alert_names = st.from_regex(r"\A[A-Z][A-Za-z0-9_]{2,20}\Z").filter(lambda n: n not in BUILTIN_ALERTNAMES)
panels = st.fixed_dictionaries(
    {"title": st.sampled_from(["Orders per minute", "Queue depth", "Jobs"]),
     "expr": st.sampled_from(["sum(rate(orders_total[5m])) * 60", "queue_depth", "up"])},
    optional={"unit": st.sampled_from(["short", "s", "percentunit"]),
              "type": st.sampled_from(["timeseries", "stat", "gauge", "bargauge", "table"]),
              "legend": st.just("{{instance}}")})


# ---------------------------------------------------------------- services


@st.composite
def instrumentation(draw):
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return None
    if choice == 1:
        return draw(st.sampled_from(sorted(presets.PRESETS)))
    out = {"requests": draw(metric_names)}
    if draw(st.booleans()):
        out["status_label"] = draw(idents.filter(lambda n: not n.startswith("__")))
    if draw(st.booleans()):
        out["duration"] = draw(metric_names.filter(lambda n: not n.endswith("_bucket")))
    return out


# Hypothesis favours the first: http, the richest kind; host, the costliest to test, last.
KIND_ORDER = [k for k in ("http", "job", "redis", "probe", "postgres", "mysql", "nginx") if k in KINDS] + \
    sorted(set(KINDS) - {"http", "job", "redis", "probe", "postgres", "mysql", "nginx", "host"}) + \
    [k for k in ("host",) if k in KINDS]


@st.composite
def service(draw, name: str, teams: list[str]):
    kind = draw(st.sampled_from(KIND_ORDER))
    fields = KINDS[kind].FIELDS
    out = {"name": name, "team": draw(st.sampled_from(teams)), "kind": kind}
    if fields.get("targets") == "required" or (fields.get("targets") == "optional" and draw(st.booleans())):
        out["targets"] = draw(st.lists(targets, min_size=1, max_size=3, unique=True))
    if fields.get("url") == "required":
        out["url"] = draw(urls())
    if kind == "http":
        inst = draw(instrumentation())
        if inst is not None:
            out["instrumentation"] = inst
        if draw(st.booleans()):
            slo = {}
            if draw(st.booleans()):
                slo["availability"] = percent_value(draw(st.integers(1, 9999)), draw)
            resolved, _ = presets.resolve(out.get("instrumentation"))
            if resolved.duration and resolved.buckets and draw(st.booleans()):
                # a bucket boundary of the histogram (without known buckets a latency SLO is an error)
                ms = round(draw(st.sampled_from(resolved.buckets)) * 1000)
                slo["latency"] = {"threshold": duration_text(ms, draw),
                                  "objective": percent_value(draw(st.integers(1, 9999)), draw)}
            out["slo"] = slo
    if kind != "probe":
        if draw(st.booleans()):
            out["metrics_path"] = draw(st.sampled_from(["/metrics", "/internal/metrics", "/actuator/prometheus"]))
        if draw(st.booleans()):
            out["health_url"] = draw(urls())
    if draw(st.booleans()):
        out["runbook_url"] = draw(urls(("https",)))
    if draw(st.booleans()):
        out["labels"] = draw(st.dictionaries(label_names, label_values, max_size=3))
    if kind == "job" and draw(st.booleans()):
        out["pushgateway"] = True
    if draw(st.booleans()):
        out["alerts"] = draw(alerts_section(out))
    if draw(st.integers(0, 2)) == 0:
        names = draw(st.lists(alert_names, min_size=1, max_size=2, unique=True))
        out["rules"] = [draw(user_rule(n)) for n in names]
    if draw(st.integers(0, 3)) == 0:
        out["panels"] = draw(st.lists(panels, min_size=1, max_size=2))
    return out


# ---------------------------------------------------------------- the inventory


def interval_text(seconds: int, draw) -> str:
    return duration_text(seconds * SECOND, draw)


# Every whole second in range. Hypothesis favours the first of a sampled_from
# (and st.integers the bounds); the rule tests' cost grows as the intervals
# shrink (a host at 1s takes promtool ~10s), so the common values come first
# and the shortest last.
_COMMON_INTERVALS = [15, 30, 10, 60, 20, 5]
# Every second of validate.INTERVAL_RANGE, the common values first: the generated tests' timing must hold
# at odd pairs too (23s/15s). The explicit examples (1s/7s, 55s/59s) run every time.
INTERVALS = st.sampled_from(_COMMON_INTERVALS + [s for s in range(60, 0, -1) if s not in _COMMON_INTERVALS])


@st.composite
def receiver(draw, name: str):
    channels = {
        "slack": st.fixed_dictionaries({"channel": st.sampled_from(["#ops", "#payments-oncall", "@alice"]),
                                        "webhook": env_vars}),
        "discord": st.fixed_dictionaries({"webhook": env_vars}),
        "mattermost": st.fixed_dictionaries({"webhook": env_vars},
                                            optional={"channel": st.sampled_from(["town-square", "ops"])}),
        "pagerduty": st.fixed_dictionaries({"routing_key": env_vars}),
        "email": st.fixed_dictionaries({"to": st.sampled_from(["ops@example.com", "a.b+alerts@corp.example"])}),
        "webhook": st.fixed_dictionaries({"url": urls()}),
    }
    assert set(Receiver.CHANNELS) <= set(channels), "a new receiver channel: teach this test to draw it"
    channels = {c: channels[c] for c in Receiver.CHANNELS}
    chosen = draw(st.lists(st.sampled_from(sorted(channels)), min_size=1, max_size=2, unique=True))
    return {"name": name, **{c: draw(channels[c]) for c in chosen}}


@st.composite
def inventories(draw) -> dict:
    stack = {"name": draw(slugs(30))}
    if draw(st.booleans()):
        stack["environment"] = draw(st.sampled_from(["local", "prod", "staging"]) | slugs(10))
    stack["scrape_interval"] = interval_text(draw(INTERVALS), draw)
    if draw(st.booleans()):
        stack["evaluation_interval"] = interval_text(draw(INTERVALS), draw)
    if draw(st.booleans()):
        stack["retention"] = draw(st.sampled_from(["15d", "30d", "1y", "12h"]))
    if draw(st.booleans()):
        stack["grafana_url"] = draw(urls())
    if draw(st.booleans()):
        stack["runbook_base_url"] = draw(urls(("https",)))
    if draw(st.booleans()):
        # A Compose service's own name must come with its own port (a validation rule): drawn hosts avoid them.
        compose_hosts = {f.default.rsplit(":", 1)[0] for f in Endpoints.model_fields.values()}
        stack["endpoints"] = draw(st.dictionaries(
            st.sampled_from(sorted(Endpoints.model_fields)),
            targets.filter(lambda t: t.rsplit(":", 1)[0] not in compose_hosts), max_size=4))
    if draw(st.booleans()):
        stack["remote_write"] = draw(st.lists(
            st.fixed_dictionaries({"url": urls()}, optional={"name": st.sampled_from(["mimir", "thanos", "vm"])}),
            max_size=2))

    receiver_names = draw(st.lists(slugs(15), min_size=1, max_size=3, unique=True))
    receivers = [draw(receiver(n)) for n in receiver_names]
    routing = {"default_receiver": draw(st.sampled_from(receiver_names))}
    if draw(st.booleans()):
        routing["group_by"] = draw(st.lists(st.sampled_from(["alertname", "service", "team", "severity"])
                                            | label_names, max_size=3, unique=True))
    if draw(st.booleans()):
        routing["heartbeat_receiver"] = draw(st.sampled_from(receiver_names))
    if any("email" in r for r in receivers) or draw(st.booleans()):     # e-mail needs a mail server
        routing["smtp"] = draw(st.fixed_dictionaries(
            {"smarthost": targets, "from": st.sampled_from(["alerts@example.com", "vigil@corp.example"])},
            optional={"username": st.sampled_from(["alerts", "vigil@corp.example"]), "password": env_vars,
                      "require_tls": st.booleans()}))

    team_names = draw(st.lists(slugs(15), min_size=1, max_size=3, unique=True))
    teams = []
    for n in team_names:
        notify = draw(st.fixed_dictionaries({}, optional={
            s: st.lists(st.sampled_from(receiver_names), max_size=2, unique=True) for s in ("critical", "warning")}))
        teams.append({"name": n, **({"notify": notify} if notify or draw(st.booleans()) else {})})
    if draw(st.booleans()):
        stack["team"] = draw(st.sampled_from(team_names))

    count = draw(st.sampled_from([3, 2, 4, 1, 5, 6, 0]))     # st.lists would mostly draw none or one
    names = draw(st.lists(service_names, min_size=count, max_size=count, unique=True))
    services = [draw(service(n, team_names)) for n in names]
    if any("slo" in s for s in services) and stack.get("retention") in ("15d", "12h"):
        stack["retention"] = "30d"          # the SLOs' window must fit (a validation error otherwise)
    inventory = {"version": 1, "stack": stack, "receivers": receivers, "routing": routing, "teams": teams}
    if services or draw(st.booleans()):
        inventory["services"] = services
    return inventory


def dump(inventory: dict) -> str:
    return yaml.safe_dump(inventory, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000)


def vigil(*args: str) -> tuple[int, str, str]:
    """The CLI in-process: (exit code, stdout, stderr). An exception is a test failure (a traceback)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(list(args))
        except Exception:
            code = None
            err.write(traceback.format_exc())
    return code, out.getvalue(), err.getvalue()


# ---------------------------------------------------------------- 1: valid inventories render, promtool passes


# Besides the drawn ones, always: every kind at the shortest scrape interval evaluated every 7s,
# and (COPRIME) at long intervals with no common factor, where evaluations fall between samples.
FAST_AND_ODD = yaml.safe_load('''
version: 1
stack: {name: edge, scrape_interval: 1s, evaluation_interval: 7s, team: ops}
receivers: [{name: ops, webhook: {url: http://hook:8080/}}]
routing: {default_receiver: ops}
teams: [{name: ops, notify: {critical: [ops]}}]
services:
  - {name: web, team: ops, kind: http, targets: ["web:8000"],
     instrumentation: {requests: hits_total, status_label: code},
     alerts: {error_rate: {warning: 0.5%, critical: 2%, for: 1m}}}
  - {name: api, team: ops, kind: http, targets: ["api:8000"], instrumentation: spring-boot,
     alerts: {latency_p95: {warning: 250ms, critical: 1s, for: 30s}}}
  - name: worker
    team: ops
    kind: job
    targets: ["worker:9100"]
    health_url: http://worker:8080/health
    rules:
      - alert: QueueBacklog
        expr: queue_depth > 100
        for: 2m
        summary: "{{ $value | humanize }} jobs waiting on {{ $labels.instance }}"
        test:
          series: {'queue_depth{instance="worker:9100"}': 150}
          quiet: {'queue_depth{instance="worker:9100"}': 50}
          value: 150
  - {name: db, team: ops, kind: postgres}
  - {name: users-db, team: ops, kind: mysql, targets: ["mysql-exporter:9104"]}
  - {name: cache, team: ops, kind: redis, alerts: {disabled: [down]}}
  - {name: edge-proxy, team: ops, kind: nginx}
  - {name: box, team: ops, kind: host, targets: ["box:9100"],
     alerts: {cpu: {warning: 80%, for: 2m}, disk_fill: {within: 4h}}}
  - {name: site, team: ops, kind: probe, url: "https://www.example.com/",
     alerts: {tls_expiry: {warning: 21d, critical: 2d}}}
''')


COPRIME = {**FAST_AND_ODD, "stack": {**FAST_AND_ODD["stack"], "scrape_interval": "55s", "evaluation_interval": "59s"}}
# Found by the draws: at a 32s scrape a 5m window holds 9.375 samples, so a route's requests in it can be
# n.5, which the route line's expected text and Prometheus's floats round apart (562 against 563).
HALF_COUNTS = yaml.safe_load('''
version: 1
stack: {name: half, scrape_interval: 32s, team: ops}
receivers: [{name: ops, webhook: {url: http://hook:8080/}}]
routing: {default_receiver: ops}
teams: [{name: ops, notify: {critical: [ops]}}]
services:
  - {name: web, team: ops, kind: http, targets: ["web:8000"],
     instrumentation: {requests: hits_total, status_label: code, route_label: path}}
''')
# Found by the draws: at a 51s scrape a 5m rate of 100 transactions a scrape starts under the rollback
# alert's floor of 1 a second (a rate divides by its whole window, which first holds two samples).
SLOW_DATABASE = {**HALF_COUNTS, "stack": {"name": "slow", "scrape_interval": "51s", "evaluation_interval": "23s",
                                           "team": "ops"},
                 "services": [{"name": "db", "team": "ops", "kind": "postgres"}]}


@settings(max_examples=EXAMPLES or 15, **COMMON)
@given(inventories())
@example(FAST_AND_ODD)
@example(COPRIME)
@example(HALF_COUNTS)
@example(SLOW_DATABASE)
def test_valid_inventory_renders_and_promtool_accepts_it(inventory):
    tool("promtool")
    text = dump(inventory)
    with tempfile.TemporaryDirectory(prefix="vigil-prop-") as tmp:
        inv, tree = Path(tmp) / "inventory.yml", Path(tmp) / "out"
        inv.write_text(text, encoding="utf-8")
        code, _, err = vigil("generate", "-i", str(inv), "-o", str(tree))
        assert code == 0, f"vigil generate failed ({code}):\n{err}\ninventory:\n{text}"
        check = promtool("check", "config", "prometheus/prometheus.yml", cwd=tree)
        assert check.returncode == 0, f"promtool check config:\n{check.stdout}{check.stderr}\ninventory:\n{text}"
        # The DORA scenarios are the same for every inventory (a week of minutes: ~50 s); test_promtool runs them.
        tests = [t for t in rule_tests(tree) if "/dora/" not in t]
        assert tests, "no rule tests rendered"
        result = promtool("test", "rules", *tests, cwd=tree)
        failed = "\n".join(line for line in (result.stdout + result.stderr).splitlines()
                           if "SUCCESS" not in line and line.strip())
        assert result.returncode == 0, f"promtool test rules:\n{failed}\ninventory:\n{text}"


# ---------------------------------------------------------------- 2: one corruption, located errors, nothing written


def _get(data, path):
    for p in path:
        data = data[p]
    return data


def _paths(data, path=()):
    """Every (path, value) of the document, depth first."""
    yield path, data
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _paths(v, path + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _paths(v, path + (i,))


def _fixed_mappings(inv: dict) -> list[tuple]:
    """Mappings whose keys are fixed by the schema (so any other key is unknown)."""
    out = [(), ("stack",), ("routing",)] + ([("routing", "smtp")] if "smtp" in inv["routing"] else [])
    if "endpoints" in inv["stack"]:
        out.append(("stack", "endpoints"))
    out += [("stack", "remote_write", i) for i in range(len(inv["stack"].get("remote_write", [])))]
    for i, r in enumerate(inv["receivers"]):
        out += [("receivers", i)] + [("receivers", i, c) for c in Receiver.CHANNELS if c in r]
    for i, t in enumerate(inv["teams"]):
        out += [("teams", i)] + ([("teams", i, "notify")] if "notify" in t else [])
    for i, s in enumerate(inv.get("services", [])):
        at = ("services", i)
        out.append(at)
        if "slo" in s:
            out += [at + ("slo",)] + ([at + ("slo", "latency")] if "latency" in s["slo"] else [])
        if "alerts" in s:
            out += [at + ("alerts",)] + [at + ("alerts", a) for a in s["alerts"] if a != "disabled"]
        if isinstance(s.get("instrumentation"), dict):
            out.append(at + ("instrumentation",))
        for j, r in enumerate(s.get("rules", [])):
            out += [at + ("rules", j)] + ([at + ("rules", j, "test")] if "test" in r else [])
        out += [at + ("panels", j) for j in range(len(s.get("panels", [])))]
    return out


def _required(inv: dict) -> list[tuple]:
    out = [("version",), ("stack",), ("stack", "name"), ("receivers",), ("routing",),
           ("routing", "default_receiver"), ("teams",)]
    if "smtp" in inv["routing"]:
        out += [("routing", "smtp", "smarthost"), ("routing", "smtp", "from")]
        if any("email" in r for r in inv["receivers"]):
            out.append(("routing", "smtp"))             # then e-mail has no mail server
    for i, r in enumerate(inv["receivers"]):
        out.append(("receivers", i, "name"))
        channels = [c for c in Receiver.CHANNELS if c in r]
        out += [("receivers", i, c, k) for c in channels for k in r[c]]
        if len(channels) == 1:
            out.append(("receivers", i, channels[0]))   # then it sends nowhere
    out += [("stack", "remote_write", i, "url") for i in range(len(inv["stack"].get("remote_write", [])))]
    out += [("teams", i, "name") for i in range(len(inv["teams"]))]
    for i, s in enumerate(inv.get("services", [])):
        at = ("services", i)
        out += [at + ("name",), at + ("team",), at + ("kind",)]
        if KINDS[s["kind"]].FIELDS.get("targets") == "required":
            out.append(at + ("targets",))
        if KINDS[s["kind"]].FIELDS.get("url") == "required":
            out.append(at + ("url",))
        if isinstance(s.get("instrumentation"), dict):
            out.append(at + ("instrumentation", "requests"))
        if "latency" in s.get("slo", {}):
            out += [at + ("slo", "latency", "threshold"), at + ("slo", "latency", "objective")]
        for j, r in enumerate(s.get("rules", [])):
            out += [at + ("rules", j, k) for k in ("alert", "expr", "summary")]
            if "test" in r:
                out.append(at + ("rules", j, "test", "series"))
        for j in range(len(s.get("panels", []))):
            out += [at + ("panels", j, "title"), at + ("panels", j, "expr")]
    return out


def _durations(inv: dict) -> list[tuple]:
    out = [("stack", k) for k in ("scrape_interval", "evaluation_interval", "retention") if k in inv["stack"]]
    for i, s in enumerate(inv.get("services", [])):
        at = ("services", i)
        for a, params in s.get("alerts", {}).items():
            if a == "disabled":
                continue
            for k in params:
                if isinstance(KINDS[s["kind"]].ALERTS[a].params[k], Duration):
                    out.append(at + ("alerts", a, k))
        if "latency" in s.get("slo", {}):
            out.append(at + ("slo", "latency", "threshold"))
        out += [at + ("rules", j, "for") for j, r in enumerate(s.get("rules", [])) if "for" in r]
    return out


def _percents(inv: dict) -> list[tuple]:
    out = []
    for i, s in enumerate(inv.get("services", [])):
        at = ("services", i)
        for a, params in s.get("alerts", {}).items():
            if a == "disabled":
                continue
            out += [at + ("alerts", a, k) for k in params
                    if isinstance(KINDS[s["kind"]].ALERTS[a].params[k], Decimal)]
        slo = s.get("slo", {})
        if "availability" in slo:
            out.append(at + ("slo", "availability"))
        if "latency" in slo:
            out.append(at + ("slo", "latency", "objective"))
    return out


BAD_DURATIONS = ["5 minutes", "1.5s", "-1s", "15", "1h 30m", "", "5M", "30m1h", "1d2x", "PT5M", 15, 1.5, True,
                 [], {"s": 1}]
BAD_INTERVALS = ["0s", "500ms", "2m", "1h"]     # durations, but outside 1s..1m
BAD_PERCENTS = ["150%", "-1%", "abc", "5%%", "", "1,5%", "nan", "inf", 101, -0.5, True, [], {"p": 1}]
BAD_TEMPLATES = ["Backlog {{ x }}", "Backlog {{ $labels.instance", "{{ $nope }} waiting", "{{ end }}"]  # Go says no
# The annotations of a rule with a test: Vigil states the expanded text, and expands only
# $labels.NAME, $value and $value | humanize, humanizePercentage or humanizeDuration.
UNEXPANDABLE_TEMPLATES = ["{{ $labels.instance | toUpper }} backlog", "{{ .Labels.instance }} backlog",
                          "{{ $externalLabels.env }} backlog", "{{ humanize $value }} waiting"]
BAD_VALUES = [  # path (relative, inside the document) -> a value that is never valid there
    (("version",), [2, "1", "one", None]),
    (("stack", "name"), [123, "Demo", "demo_stack", "-demo", "demo-", "", ["demo"], "x" * 64]),
    (("stack", "grafana_url"), ["localhost:3000", "ftp://grafana", "http://", "http://a b"]),
    (("routing", "group_by"), ["alertname", ["__name__"], ["9label"]]),
    (("receivers",), [[], "ops", {"name": "ops"}]),
    (("teams",), [[], "payments"]),
    (("services",), ["checkout", {"name": "x"}]),
]


def _service_bad_values(s: dict) -> list[tuple[tuple, list]]:
    out = [(("name",), ["Checkout", "check_out", "-x", "x-", "x" * 37, 7, "prometheus", "stack-host"]),
           (("kind",), ["mongodb", "HTTP", None, 1]),
           (("labels",), [["tier"], "tier=web", {"__meta": "x"}, {"9x": "y"}, {"team": "x"}, {"job": "x"},
                          {"tier": ["a"]}, {"tier": ""}, {"tier": 1}]),
           (("runbook_url",), ["wiki/runbooks", "mailto:ops@example.com"]),
           (("rules",), [{"alert": "X"}, [{"alert": "ServiceDown", "expr": "up == 0", "summary": "s"}],
                         [{"alert": "bad-name", "expr": "up == 0", "summary": "s"}],
                         [{"alert": "Fine", "expr": "", "summary": "s"}],
                         [{"alert": "Fine", "expr": "up", "summary": "s", "severity": "page"}]]),
           (("alerts",), [["down"], {"disabled": "down"}, {"down": "1m"}, {"disabled": ["nonexistent"]}])]
    fields = KINDS[s["kind"]].FIELDS
    if fields.get("targets") in ("required", "optional"):
        out.append((("targets",), ["checkout:8000", [], ["checkout"], ["checkout:0"], ["checkout:70000"],
                                   ["http://checkout:8000"], [8000]] if fields["targets"] == "required"
                    else ["checkout:8000", ["checkout"], ["checkout:0"], ["checkout:70000"], [8000]]))
    else:
        out.append((("targets",), [["checkout:8000"]]))
    if fields.get("url") == "required":
        out.append((("url",), ["example.com", "ftp://example.com/", "https://", None, ""]))
    else:
        out.append((("url",), ["https://example.com/"]))
    if s["kind"] == "http":
        out.append((("instrumentation",), ["prometheus_client", "nope", 3, ["a"], {"status_label": "code"},
                                           {"requests": "a-b"}, {"requests": "x", "duration": "h_bucket"},
                                           {"requests": "x", "extra": "y"}]))
        out.append((("slo",), [{"availability": 100}, {"availability": 0}, {"latency": {"threshold": "1s"}},
                               "99.9"]))
    else:
        out.append((("instrumentation",), ["prometheus-client"]))
        out.append((("slo",), [{"availability": 99.9}]))
    if s["kind"] == "probe":
        out.append((("health_url",), ["https://example.com/health"]))
    else:
        out.append((("health_url",), ["localhost:8080/health", "checkout:8000"]))
        out.append((("metrics_path",), ["metrics", "/with space", ""]))
    return out


def _unused(name: str, taken) -> str:
    while name in taken:
        name = "no-such-" + name
    return name


@st.composite
def corrupted(draw) -> tuple[str, str | bytes]:
    """-> (what was done, the inventory's text or bytes): a valid inventory with exactly one thing broken."""
    inv = draw(inventories())
    bad = copy.deepcopy(inv)
    services = bad.get("services", [])
    what = draw(st.sampled_from(["unknown-key", "delete", "reference", "duration", "interval", "percent",
                                 "threshold-order", "bad-value", "service-bad-value", "wrong-type", "duplicate",
                                 "template", "yaml"]))

    if what == "delete":
        path = draw(st.sampled_from(_required(bad)))
        del _get(bad, path[:-1])[path[-1]]
    elif what == "unknown-key":
        path = draw(st.sampled_from(_fixed_mappings(bad)))
        mapping = _get(bad, path)
        typos = [k + "x" for k in mapping] + [k[:-1] for k in mapping if len(k) > 2] + \
            (["info"] if path[-1:] == ("notify",) else [])     # `info` is never notified: not a key of notify
        key = draw(st.builds(lambda k: "x_" + k, idents) | st.sampled_from(typos or ["x_"]))
        assume(key not in mapping)
        mapping[key] = draw(st.sampled_from([1, "x", True, None, [], {}]))
    elif what == "reference":
        receivers = {r["name"] for r in bad["receivers"]}
        teams = {t["name"] for t in bad["teams"]}
        choices = [("routing", "default_receiver")]
        choices += [("routing", "heartbeat_receiver")] * ("heartbeat_receiver" in bad["routing"])
        choices += [("stack", "team")]
        choices += [("services", i, "team") for i in range(len(services))]
        choices += [("teams", i, "notify", s, j) for i, t in enumerate(bad["teams"])
                    for s, names in t.get("notify", {}).items() for j in range(len(names))]
        choices += [("services", i, "alerts", "disabled", j) for i, s in enumerate(services)
                    for j in range(len(s.get("alerts", {}).get("disabled", [])))]
        choices += [("services", i, "instrumentation") for i, s in enumerate(services) if s["kind"] == "http"]
        path = draw(st.sampled_from(choices))
        if path[-1] == "team" or path == ("stack", "team"):
            value = _unused(draw(slugs(12)), teams)
        elif path[-2:-1] == ("disabled",):
            value = _unused(draw(idents), KINDS[services[path[1]]["kind"]].ALERTS)
        elif path[-1] == "instrumentation":
            value = _unused(draw(slugs(20)), presets.PRESETS)
        else:
            value = _unused(draw(slugs(12)), receivers)
        _get(bad, path[:-1])[path[-1]] = value
    elif what in ("duration", "interval", "percent"):
        paths = {"duration": _durations, "percent": _percents,
                 "interval": lambda inv: [("stack", "scrape_interval"), ("stack", "evaluation_interval")]}[what](bad)
        assume(paths)
        path = draw(st.sampled_from(paths))
        values = {"duration": BAD_DURATIONS, "interval": BAD_DURATIONS + BAD_INTERVALS, "percent": BAD_PERCENTS}
        _get(bad, path[:-1])[path[-1]] = draw(st.sampled_from(values[what]))
    elif what == "threshold-order":
        choices = [(i, a) for i, s in enumerate(services) for a, spec in KINDS[s["kind"]].ALERTS.items()
                   if {"warning", "critical"} <= set(spec.params)]
        assume(choices)
        i, a = draw(st.sampled_from(choices))
        spec = KINDS[services[i]["kind"]].ALERTS[a]
        lo, hi = _range(spec.params["warning"], [spec.params["warning"], spec.params["critical"]])
        x, y = sorted(draw(st.lists(st.integers(lo, hi), min_size=2, max_size=2)))   # may be equal
        w, c = (x, y) if spec.falling else (y, x)
        alerts = services[i].setdefault("alerts", {})
        alerts[a] = {**(alerts.get(a) or {}), "warning": _from_units(spec.params["warning"], w, draw),
                     "critical": _from_units(spec.params["critical"], c, draw)}
    elif what == "bad-value":
        path, values = draw(st.sampled_from(BAD_VALUES))
        _get(bad, path[:-1])[path[-1]] = draw(st.sampled_from(values))
    elif what == "service-bad-value":
        assume(services)
        i = draw(st.integers(0, len(services) - 1))
        path, values = draw(st.sampled_from(_service_bad_values(services[i])))
        services[i][path[0]] = draw(st.sampled_from(values))
    elif what == "wrong-type":
        # Any node but the root, in a shape it never has: a scalar becomes a mapping or a
        # nested list, a list a scalar or a mapping, a mapping a scalar or a list.
        path, value = draw(st.sampled_from([(p, v) for p, v in _paths(bad) if p]))
        if isinstance(value, dict):
            new = draw(st.sampled_from(["not-a-mapping", 7, [1]]))
        elif isinstance(value, list):
            new = draw(st.sampled_from(["not-a-list", 7, {"x_bogus": 1}]))
        else:
            new = draw(st.sampled_from([{"x_bogus": [1]}, [[1]]]))
        _get(bad, path[:-1])[path[-1]] = new
    elif what == "template":
        rules = [r for s in services for r in s.get("rules", [])]
        assume(rules)
        rule = draw(st.sampled_from(rules))
        rule[draw(st.sampled_from(["summary", "description"]))] = draw(st.sampled_from(
            BAD_TEMPLATES + (UNEXPANDABLE_TEMPLATES if "test" in rule else [])))
    elif what == "duplicate":
        sections = [s for s in ("receivers", "teams", "services") if bad.get(s)]
        section = draw(st.sampled_from(sections + ["rules"] * any(s.get("rules") for s in services)))
        if section == "rules":
            s = draw(st.sampled_from([s for s in services if s.get("rules")]))
            s["rules"].append(copy.deepcopy(draw(st.sampled_from(s["rules"]))))
        else:
            items = bad[section]
            j = draw(st.integers(0, len(items) - 1))
            if len(items) > 1 and draw(st.booleans()):
                k = draw(st.integers(0, len(items) - 1).filter(lambda k: k != j))
                items[k]["name"] = items[j]["name"]
            else:
                items.insert(draw(st.integers(0, len(items))), copy.deepcopy(items[j]))
    else:
        return "yaml", draw(garbage(dump(inv)))
    return what, dump(bad)


@st.composite
def garbage(draw, text: str) -> str | bytes:
    lines = text.splitlines(keepends=True)
    how = draw(st.sampled_from(["insert", "duplicate-key", "unterminated", "whole", "bytes"]))
    if how == "insert":
        at = draw(st.integers(0, len(lines)))
        junk = draw(st.sampled_from(["key: [unclosed\n", "]]]\n", "\tversion: 1\n", "{{{\n", "- a\n  b: : c\n",
                                     "x: 'open\n", "x: *undefined_alias\n", "x: !!python/object:os.system 1\n",
                                     "<<: {a: 1}\n", "? [a]\n: b\n", "bad:\x07bell\n"]))
        return "".join(lines[:at]) + junk + "".join(lines[at:])
    if how == "duplicate-key":
        tops = [line for line in lines if re.match(r"^[a-z_]+:", line)]
        return text + draw(st.sampled_from(tops)).split(":")[0] + ": 1\n"
    if how == "bytes":      # not UTF-8: a Latin-1 byte, or a UTF-16 file
        if draw(st.booleans()):
            at = draw(st.integers(0, len(text)))
            return text[:at].encode() + b"\xe9" + text[at:].encode()
        return text.encode("utf-16")
    if how == "unterminated":     # a quoted scalar or a flow collection left open
        return text + draw(st.sampled_from(["extra: \"unterminated\n", "extra: {a: 1\n", "extra: [1, 2\n"]))
    return draw(st.sampled_from(["", "---\n", "version: 1\n---\nversion: 1\n", "- a\n- b\n", "just a string\n",
                                 "42\n", "null\n", "%YAML 9.9\n---\na: 1\n", "a: &x [*x]\n"]))


@settings(max_examples=EXAMPLES * 4 or 150, **COMMON)
@given(corrupted())
def test_invalid_inventory_is_rejected_with_located_errors(case):
    what, text = case
    with tempfile.TemporaryDirectory(prefix="vigil-prop-") as tmp:
        inv, tree = Path(tmp) / "inventory.yml", Path(tmp) / "out"
        inv.write_bytes(text if isinstance(text, bytes) else text.encode())
        code, out, err = vigil("validate", "-i", str(inv))
        context = f"corruption: {what}\nstderr:\n{err}\ninventory:\n{text}"
        assert "Traceback" not in err, context
        assert code == 2, f"exit {code}, expected 2\n{context}"
        assert PROBLEM_LINE.search(err), f"no FILE:LINE: where: what line\n{context}"
        code, out, err = vigil("generate", "-i", str(inv), "-o", str(tree))
        assert "Traceback" not in err, context
        assert code == 2, f"generate: exit {code}, expected 2\n{context}"
        assert not tree.exists(), f"generate wrote {sorted(map(str, tree.rglob('*')))}\n{context}"
