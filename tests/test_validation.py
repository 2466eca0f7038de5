"""SPEC §5: how an invalid inventory is reported.

Exit code 2, one line per problem on stderr, `FILE:LINE: where.in.inventory:
what is wrong (hint)`, every problem at once, never a traceback, nothing
written. Each case below is a small edit of BASE, so the line it must report
is easy to count.
"""

from __future__ import annotations

import re
import time
import tracemalloc
from pathlib import Path

import pytest

from conftest import render_tree, run_vigil
from vigil.errors import InventoryError, Problem
from vigil.load import MAX_BYTES, MAX_DEPTH
from vigil.validate import load_inventory

BASE = """\
version: 1
stack:
  name: demo
receivers:
  - name: ops
    slack: {channel: "#ops", webhook: SLACK_WEBHOOK_URL}
routing:
  default_receiver: ops
teams:
  - name: platform
    notify: {critical: [ops], warning: [ops]}
services:
  - name: checkout
    team: platform
    kind: http
    targets: ["checkout:8000"]
"""
#  1 version   2 stack   3 name: demo   4 receivers   5 - name: ops   6 slack
#  7 routing   8 default_receiver   9 teams   10 - name: platform   11 notify
# 12 services  13 - name: checkout  14 team   15 kind   16 targets   17 (added)

LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<where>\S+|\(top level\)): (?P<message>.+)$")


def edit(old: str, new: str, text: str = BASE) -> str:
    """BASE with `old` (which must occur once) replaced."""
    assert text.count(old) == 1, f"{old!r} must occur once in the inventory"
    return text.replace(old, new)


def add(*lines: str) -> str:
    """BASE with lines appended to its one service: the first is line 17."""
    return BASE + "".join(line + "\n" for line in lines)


def problems(tmp_path: Path, text: str | bytes) -> list[Problem]:
    """Every problem the inventory has; anything but InventoryError fails the test."""
    path = tmp_path / "inventory.yml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    with pytest.raises(InventoryError) as e:
        load_inventory(path)
    found = e.value.problems
    assert found, "InventoryError without problems"
    for p in found:
        assert p.file == str(path)
        assert LINE.match(str(p)), f"not FILE:LINE: where: message: {p}"
    return found


def one(tmp_path: Path, text: str | bytes) -> Problem:
    found = problems(tmp_path, text)
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


def test_base_is_valid(tmp_path):
    path = tmp_path / "inventory.yml"
    path.write_text(BASE)
    assert [s.name for s in load_inventory(path).services] == ["checkout"]


# ---------------------------------------------------------------- one problem each: line, place, message

def case(id, text, line, where, message):
    return pytest.param(text, line, where, message, id=id)


UNKNOWN_KEYS = [
    case("top level", BASE + "sevices: []\n", 17, "sevices", "unknown key 'sevices' (did you mean 'services'?)"),
    case("top level, no close match", BASE + "colour: red\n", 17, "colour",
         "unknown key 'colour' (allowed: version, stack, receivers, routing, teams, services)"),
    case("stack", edit("  name: demo\n", "  name: demo\n  scrape_intervall: 15s\n"), 4, "stack.scrape_intervall",
         "unknown key 'scrape_intervall' (did you mean 'scrape_interval'?)"),
    case("stack.endpoints", edit("  name: demo\n", "  name: demo\n  endpoints: {prometeus: 'p:9090'}\n"), 4,
         "stack.endpoints.prometeus", "unknown key 'prometeus' (did you mean 'prometheus'?)"),
    case("receiver", edit("SLACK_WEBHOOK_URL}\n", "SLACK_WEBHOOK_URL}\n    emial: {to: a@example.com}\n"), 7,
         "receivers[0].emial", "unknown key 'emial' (did you mean 'email'?)"),
    case("notify severity", edit("{critical: [ops],", "{critcal: [ops],"), 11, "teams[0].notify.critcal",
         "unknown key 'critcal' (did you mean 'critical'?)"),
    case("service", add("    tem: platform"), 17, "services[0].tem", "unknown key 'tem' (did you mean 'team'?)"),
    case("alert override key", add("    alerts:", "      error_rate: {warnin: 1%}"), 18,
         "services[0].alerts.error_rate.warnin", "unknown key 'warnin' (did you mean 'warning'?)"),
    case("alert override name", add("    alerts:", "      eror_rate: {warning: 1%}"), 18,
         "services[0].alerts.eror_rate", "no alert 'eror_rate' for this kind (did you mean 'error_rate'?)"),
    case("disabled alert name", add("    alerts:", "      disabled: [dwn]"), 18,
         "services[0].alerts.disabled[0]", "no alert 'dwn' for this kind (did you mean 'down'?)"),
    case("user rule", add("    rules:", "      - alert: QueueBacklog", "        expr: q > 1", "        summary: x",
                          "        sevrity: warning"), 21, "services[0].rules[0].sevrity",
         "unknown key 'sevrity' (did you mean 'severity'?)"),
    case("info under notify", edit("warning: [ops]}", "warning: [ops], info: [ops]}"), 11, "teams[0].notify.info",
         "info alerts are never notified"),
]

MISSING = [
    case("stack.name", edit("  name: demo\n", "  environment: local\n"), 2, "stack", "missing required key 'name'"),
    case("routing", edit("routing:\n  default_receiver: ops\n", ""), 1, "(top level)",
         "missing required key 'routing'"),
    case("version", BASE.replace("version: 1\n", "", 1), 1, "(top level)", "missing required key 'version'"),
    case("service kind", edit("    kind: http\n", ""), 13, "services[0]", "missing required key 'kind'"),
    case("rule summary", add("    rules:", "      - alert: QueueBacklog", "        expr: q > 1"), 18,
         "services[0].rules[0]", "missing required key 'summary'"),
]

DUPLICATES = [
    case("key in stack", edit("  name: demo\n", "  name: demo\n  name: other\n"), 4, "stack.name",
         "duplicate key 'name' (first given on line 3)"),
    case("key at top level", BASE + "version: 1\n", 17, "version", "duplicate key 'version' (first given on line 1)"),
    case("key in a service", add("    team: platform"), 17, "services[0].team",
         "duplicate key 'team' (first given on line 14)"),
    case("receiver name", edit("routing:", "  - name: ops\n    webhook: {url: 'http://audit:8080/'}\nrouting:"), 7,
         "receivers[1].name", "duplicate name 'ops' (also receivers[0], line 5)"),
    case("team name", edit("services:", "  - name: platform\nservices:"), 12, "teams[1].name",
         "duplicate name 'platform' (also teams[0], line 10)"),
    case("service name", add("  - name: checkout", "    team: platform", "    kind: job", "    targets: ['x:9100']"),
         17, "services[1].name", "duplicate name 'checkout' (also services[0], line 13)"),
    case("user alert name", add("    rules:", "      - {alert: Backlog, expr: q > 1, summary: x}",
                                "      - {alert: Backlog, expr: q > 2, summary: y}"), 19,
         "services[0].rules[1].alert", "duplicate alert name 'Backlog'"),
]

REFERENCES = [
    case("service team", edit("    team: platform", "    team: platfrom"), 14, "services[0].team",
         "unknown team 'platfrom' (did you mean 'platform'?)"),
    case("stack team", edit("  name: demo\n", "  name: demo\n  team: platfor\n"), 4, "stack.team",
         "unknown team 'platfor' (did you mean 'platform'?)"),
    case("notify receiver", edit("critical: [ops]", "critical: [opps]"), 11, "teams[0].notify.critical[0]",
         "unknown receiver 'opps' (did you mean 'ops'?)"),
    case("notify receiver, second", edit("warning: [ops]", "warning: [ops, oops]"), 11,
         "teams[0].notify.warning[1]", "unknown receiver 'oops' (did you mean 'ops'?)"),
    case("default receiver", edit("default_receiver: ops", "default_receiver: opz"), 8, "routing.default_receiver",
         "unknown receiver 'opz' (did you mean 'ops'?)"),
    case("heartbeat receiver", edit("default_receiver: ops", "default_receiver: ops\n  heartbeat_receiver: deadman"),
         9, "routing.heartbeat_receiver", "unknown receiver 'deadman' (known: ops)"),
]

DURATIONS_AND_PERCENTAGES = [
    case("'5 mins'", add("    alerts:", "      down: {for: 5 mins}"), 18, "services[0].alerts.down.for",
         "invalid duration '5 mins' (write durations like 30s, 5m, 1h30m or 300ms)"),
    case("a bare number", add("    alerts:", "      down: {for: 5}"), 18, "services[0].alerts.down.for",
         "expected a duration, got 5"),
    case("stack retention", edit("  name: demo\n", "  name: demo\n  retention: 2 weeks\n"), 4, "stack.retention",
         "invalid duration '2 weeks'"),
    case("rule for", add("    rules:", "      - alert: Backlog", "        expr: q > 1", "        for: 10 min",
                         "        summary: x"), 20, "services[0].rules[0].for", "invalid duration '10 min'"),
    case("slo latency threshold", add("    slo:", "      latency: {threshold: 300, objective: 99}"), 18,
         "services[0].slo.latency.threshold", "expected a duration, got 300"),
    case("'120%'", add("    alerts:", "      error_rate: {critical: 120%}"), 18,
         "services[0].alerts.error_rate.critical", "percentage '120%' is outside 0..100"),
    case("'abc' percent", add("    alerts:", "      error_rate: {critical: abc}"), 18,
         "services[0].alerts.error_rate.critical", "invalid percentage 'abc' (write a percentage like 1% or 99.9)"),
    case("slo '120%'", add("    slo: {availability: 120%}"), 17, "services[0].slo.availability",
         "percentage '120%' is outside 0..100"),
    case("slo 'abc'", add("    slo: {availability: abc}"), 17, "services[0].slo.availability",
         "invalid percentage 'abc'"),
    case("slo 100", add("    slo: {availability: 100}"), 17, "services[0].slo.availability",
         "must be between 0 and 100 (exclusive)"),
    case("error rate warning above critical", add("    alerts:", "      error_rate: {warning: 5%, critical: 1%}"), 18,
         "services[0].alerts.error_rate", "warning threshold 5% must be below the critical one 1%"),
    case("warning equal to critical", add("    alerts:", "      error_rate: {warning: 5%, critical: 5%}"), 18,
         "services[0].alerts.error_rate", "must be below the critical one"),
    case("latency warning above the default critical", add("    alerts:", "      latency_p95: {warning: 3s}"), 18,
         "services[0].alerts.latency_p95", "warning threshold 3s must be below the critical one 2s"),
    case("tls expiry: warning must come first", edit(
        "    targets: [\"checkout:8000\"]\n", "    url: https://shop.example.com\n",
        edit("kind: http", "kind: probe")) + "    alerts:\n      tls_expiry: {warning: 1d, critical: 3d}\n", 18,
         "services[0].alerts.tls_expiry", "warning threshold 1d must be above the critical one 3d"),
    # the critical of a filling disk is the nearer horizon and the fuller disk, on each axis
    case("disk fill: critical freer than the warning", edit("kind: http", "kind: host")
         + "    alerts:\n      disk_fill: {free: 15%}\n", 18, "services[0].alerts.disk_fill.critical_free",
         "20% must not be over free (15%): the critical is the nearer, fuller case"),
    case("disk fill: critical horizon farther", edit("kind: http", "kind: host")
         + "    alerts:\n      disk_fill: {within: 12h, critical_within: 1d}\n", 18,
         "services[0].alerts.disk_fill.critical_within", "1d must not be over within (12h)"),
]

VALUES = [
    case("health_url without scheme", add("    health_url: checkout:8000/health"), 17, "services[0].health_url",
         "invalid URL 'checkout:8000/health' (write a full http:// or https:// URL)"),
    case("grafana_url", edit("  name: demo\n", "  name: demo\n  grafana_url: localhost:3000\n"), 4,
         "stack.grafana_url", "invalid URL 'localhost:3000'"),
    case("runbook_url ftp", add("    runbook_url: ftp://wiki/runbook"), 17, "services[0].runbook_url",
         "invalid URL 'ftp://wiki/runbook'"),
    case("webhook url with a space", edit('    slack: {channel: "#ops", webhook: SLACK_WEBHOOK_URL}',
                                          "    webhook: {url: http://audit :8080/}"), 6, "receivers[0].webhook.url",
         "invalid URL"),
    case("target without port", edit('["checkout:8000"]', '["checkout"]'), 16, "services[0].targets[0]",
         "invalid target 'checkout' (write host:port, e.g. checkout:8000 or 127.0.0.1:9100)"),
    case("target port too big", edit('["checkout:8000"]', '["checkout:70000"]'), 16, "services[0].targets[0]",
         "invalid target 'checkout:70000' (port must be 1..65535)"),
    case("second target", edit('["checkout:8000"]', '["checkout:8000", "http://checkout:8000"]'), 16,
         "services[0].targets[1]", "invalid target 'http://checkout:8000'"),
    # Prometheus scrapes a target listed twice once: the alerts would count a replica that is not there
    case("target twice", edit('["checkout:8000"]', '["checkout:8000", "checkout:8001", "checkout:8000"]'), 16,
         "services[0].targets[2]", "target 'checkout:8000' listed twice"),
    case("endpoint", edit("  name: demo\n", "  name: demo\n  endpoints: {prometheus: prometheus}\n"), 4,
         "stack.endpoints.prometheus", "invalid target 'prometheus'"),
    case("webhook secret written in", edit("webhook: SLACK_WEBHOOK_URL", "webhook: https://hooks.slack.com/T0/B0"),
         6, "receivers[0].slack.webhook", "name an environment variable from .env"),
    case("metrics_path", add("    metrics_path: metrics"), 17, "services[0].metrics_path", "invalid path 'metrics'"),
    case("kind", edit("kind: http", "kind: htp"), 15, "services[0].kind",
         "'htp' is not one of http, job, postgres, mysql, redis, nginx, host, probe (did you mean 'http'?)"),
    case("severity", add("    rules:", "      - {alert: Backlog, expr: q > 1, summary: x, severity: page}"), 18,
         "services[0].rules[0].severity", "'page' is not one of critical, warning, info"),
    case("label name", add("    labels: {1tier: x}"), 17, "services[0].labels.1tier", "invalid label name '1tier'"),
    case("rule test series", add("    rules:", "      - alert: Backlog", "        expr: q > 1", "        summary: x",
                                 "        test:", "          series: {q: [1, 2]}"), 22,
         "services[0].rules[0].test.series.q", "expected promtool values like '0+10x20' or a number, got [1, 2]"),
]

NAMES = [
    case("service uppercase", edit("name: checkout", "name: Checkout"), 13, "services[0].name",
         "invalid name 'Checkout' (use lowercase letters, digits and '-', starting with a letter)"),
    case("service underscore", edit("name: checkout", "name: check_out"), 13, "services[0].name",
         "invalid name 'check_out'"),
    case("service too long", edit("name: checkout", "name: " + "c" * 37), 13, "services[0].name",
         "at most 36 characters"),
    case("team with an underscore", edit("services:", "  - name: data_team\nservices:"), 12, "teams[1].name",
         "invalid name 'data_team'"),
    case("stack name ends in '-'", edit("name: demo", "name: demo-"), 3, "stack.name", "not ending in '-'"),
    case("service name is a list", edit("name: checkout", "name: [checkout]"), 13, "services[0].name",
         "expected a string, got a list"),
    case("service name is a mapping", edit("name: checkout", "name: {checkout: 1}"), 13, "services[0].name",
         "expected a string, got a mapping"),
]

KINDS = [
    case("http without targets", edit('    targets: ["checkout:8000"]\n', ""), 13, "services[0]",
         "kind http needs targets (host:port to scrape)"),
    case("http with empty targets", edit('["checkout:8000"]', "[]"), 13, "services[0]", "kind http needs targets"),
    case("probe with targets", edit("kind: http", "kind: probe") + "    url: https://shop.example.com\n", 16,
         "services[0].targets", "kind probe has no targets (give url)"),
    case("probe without url", edit("kind: http", "kind: probe", edit('    targets: ["checkout:8000"]\n', "")), 13,
         "services[0]", "kind probe needs url"),
    case("url on http", add("    url: https://shop.example.com"), 17, "services[0].url", "kind http takes no url"),
    case("instrumentation on job", edit("kind: http", "kind: job") + "    instrumentation: prometheus-client\n", 17,
         "services[0].instrumentation", "kind job takes no instrumentation (only http does)"),
    case("slo on redis", edit("kind: http", "kind: redis") + "    slo: {availability: 99.9}\n", 17,
         "services[0].slo", "kind redis takes no slo"),
    case("unknown preset", add("    instrumentation: prometheus-clent"), 17, "services[0].instrumentation",
         "unknown instrumentation preset 'prometheus-clent' (did you mean 'prometheus-client'?)"),
    case("preset is a list", add("    instrumentation: [prometheus-client]"), 17, "services[0].instrumentation",
         "expected a preset name or a mapping"),
    case("mapping: unknown key", add("    instrumentation:", "      requests: http_total", "      status: code"), 19,
         "services[0].instrumentation.status", "unknown key 'status' (allowed: requests, status_label, duration, route_label, buckets)"),
    case("mapping: requests missing", add("    instrumentation:", "      duration: http_seconds"), 17,
         "services[0].instrumentation", "missing required key 'requests'"),
    case("mapping: bad metric name", add("    instrumentation:", "      requests: http total"), 18,
         "services[0].instrumentation.requests", "invalid metric name 'http total'"),
    case("mapping: bad label name", add("    instrumentation:", "      requests: http_total",
                                        "      status_label: status-code"), 19,
         "services[0].instrumentation.status_label", "invalid label name 'status-code'"),
    case("mapping: _bucket", add("    instrumentation:", "      requests: http_total",
                                 "      duration: http_seconds_bucket"), 19,
         "services[0].instrumentation.duration", "without _bucket: 'http_seconds'"),
    case("alert of another kind", add("    alerts:", "      slow: {for: 5m}"), 18, "services[0].alerts.slow",
         "no alert 'slow' for this kind"),
    case("user rule named like a built-in", add("    rules:", "      - alert: ServiceDown", "        expr: up == 0",
                                                "        summary: x"), 18, "services[0].rules[0].alert",
         "'ServiceDown' is one of Vigil's own alerts"),
    case("user rule named HighErrorRate", add("    rules:", "      - {alert: HighErrorRate, expr: e > 1, summary: x}"),
         18, "services[0].rules[0].alert", "'HighErrorRate' is one of Vigil's own alerts"),
    case("$value without test.value", add("    rules:", "      - alert: Backlog", "        expr: q > 1",
                                          "        summary: '{{ $value }} waiting'", "        test:",
                                          "          series: {q: 5}"), 21,
         "services[0].rules[0].test.value", "summary uses $value: give test.value"),
]

STACK = [
    case("receiver without a channel", edit('    slack: {channel: "#ops", webhook: SLACK_WEBHOOK_URL}\n', ""), 5,
         "receivers[0]", "receiver 'ops' sends nowhere (give one of: slack, discord, mattermost, pagerduty, email, webhook)"),
    case("receiver with a null channel", edit('{channel: "#ops", webhook: SLACK_WEBHOOK_URL}', "~"), 6,
         "receivers[0].slack", "slack is empty: receiver 'ops' sends nowhere (indent its keys under 'slack'"),
    case("scrape_interval 500ms", edit("  name: demo\n", "  name: demo\n  scrape_interval: 500ms\n"), 4,
         "stack.scrape_interval", "500ms is outside 1s..1m"),
    case("scrape_interval 5m", edit("  name: demo\n", "  name: demo\n  scrape_interval: 5m\n"), 4,
         "stack.scrape_interval", "5m is outside 1s..1m"),
    case("evaluation_interval 2m", edit("  name: demo\n", "  name: demo\n  evaluation_interval: 2m\n"), 4,
         "stack.evaluation_interval", "2m is outside 1s..1m"),
    case("failure_window 90s", edit("  name: demo\n", "  name: demo\n  dora: {failure_window: 90s}\n"), 4,
         "stack.dora.failure_window", "1m30s is not a whole number of minutes from 5m to 1d"),
    case("failure_window 2m", edit("  name: demo\n", "  name: demo\n  dora:\n    failure_window: 2m\n"), 5,
         "stack.dora.failure_window", "2m is not a whole number of minutes from 5m to 1d"),
    case("failure_window 2d", edit("  name: demo\n", "  name: demo\n  dora: {failure_window: 2d}\n"), 4,
         "stack.dora.failure_window", "2d is not a whole number of minutes from 5m to 1d"),
    case("failure_window 1 hour", edit("  name: demo\n", "  name: demo\n  dora: {failure_window: 1 hour}\n"), 4,
         "stack.dora.failure_window", "invalid duration '1 hour'"),
    case("version 2", edit("version: 1", "version: 2"), 1, "version",
         "unsupported inventory version 2 (this Vigil reads version 1)"),
    case("version '1'", edit("version: 1", "version: '1'"), 1, "version", "unsupported inventory version '1'"),
    case("version 1.0", edit("version: 1", "version: 1.0"), 1, "version", "unsupported inventory version 1.0"),
    case("version yes", edit("version: 1", "version: yes"), 1, "version", "unsupported inventory version True"),
]

QUOTING = [
    case("label value yes", add("    labels: {critical: yes}"), 17, "services[0].labels.critical",
         "expected a string, got True (YAML reads yes/no/on/off/true/false as booleans: quote it)"),
    case("label value off", add("    labels:", "      paging: off"), 18, "services[0].labels.paging",
         "got False (YAML reads yes/no/on/off/true/false as booleans: quote it)"),
    case("label value a number", add("    labels: {tier: 1}"), 17, "services[0].labels.tier",
         "expected a string, got 1 (quote it)"),
    case("label value a date", add("    labels: {since: 2024-01-31}"), 17, "services[0].labels.since",
         "expected a string, got the date 2024-01-31 (quote it)"),
    case("slack channel no", edit('channel: "#ops"', "channel: no"), 6, "receivers[0].slack.channel",
         "got False (YAML reads yes/no/on/off/true/false as booleans: quote it)"),
    case("summary a number", add("    rules:", "      - {alert: Backlog, expr: q > 1, summary: 42}"), 18,
         "services[0].rules[0].summary", "expected a string, got 42 (quote it)"),
]


@pytest.mark.parametrize("name", ["prometheus", "alertmanager", "grafana", "loki", "stack-host", "node-exporter",
                                  "vigil"])
def test_reserved_service_names(tmp_path, name):
    p = one(tmp_path, edit("name: checkout", f"name: {name}"))
    assert (p.line, p.where) == (13, "services[0].name")
    assert p.message.startswith(f"{name!r} is a name the stack uses for its own parts (reserved: ")


@pytest.mark.parametrize("label", ["service", "team", "job", "instance", "severity", "kind", "alertname", "le"])
def test_reserved_labels(tmp_path, label):
    p = one(tmp_path, add("    labels:", "      tier: web", f"      {label}: x"))
    assert (p.line, p.where) == (19, f"services[0].labels.{label}")
    assert p.message.startswith(f"label {label!r} is set by Vigil (reserved: ")


def test_reserved_label_prefix(tmp_path):
    p = one(tmp_path, add("    labels: {__name__: x}"))
    assert (p.line, p.where) == (17, "services[0].labels.__name__")
    assert "reserved" in p.message


def test_duplicate_services_are_each_checked_by_their_own_kind(tmp_path):
    """The second `checkout` (a job, with targets) must not hide that the first has none."""
    text = edit('    targets: ["checkout:8000"]\n', "") + \
        "  - name: checkout\n    team: platform\n    kind: job\n    targets: ['x:9100']\n"
    assert [(p.line, p.where, p.message.split(" (")[0]) for p in problems(tmp_path, text)] == [
        (13, "services[0]", "kind http needs targets"),
        (16, "services[1].name", "duplicate name 'checkout'"),
    ]


def test_probe_with_targets_and_no_url_says_both(tmp_path):
    found = problems(tmp_path, edit("kind: http", "kind: probe"))
    assert [(p.line, p.where) for p in found] == [(13, "services[0]"), (16, "services[0].targets")]


def test_unknown_receiver_with_no_receivers_at_all(tmp_path):
    text = edit('receivers:\n  - name: ops\n    slack: {channel: "#ops", webhook: SLACK_WEBHOOK_URL}\n',
                "receivers: []\n")
    assert [(p.line, p.where) for p in problems(tmp_path, text)] == [
        (4, "receivers"), (6, "routing.default_receiver"),
        (9, "teams[0].notify.critical[0]"), (9, "teams[0].notify.warning[0]")]


def test_threshold_order_is_checked_even_after_another_override_failed(tmp_path):
    text = add("    alerts:", "      down: {for: 5 mins}", "      error_rate: {warning: 5%, critical: 1%}")
    assert [(p.line, p.where) for p in problems(tmp_path, text)] == [
        (18, "services[0].alerts.down.for"), (19, "services[0].alerts.error_rate")]


# ---------------------------------------------------------------- all at once, in line order

def test_every_problem_is_reported_at_once_in_line_order(tmp_path):
    text = """\
version: 1
stack:
  name: Demo
  scrape_interval: 5 mins
receivers:
  - name: ops
    slack: {channel: "#ops", webhook: SLACK_WEBHOOK_URL}
  - name: ops
    email: {to: ops@example.com}
routing:
  default_receiver: opz
teams:
  - name: platform
    notify: {critical: [ops], info: [ops]}
services:
  - name: checkout
    team: payments
    kind: http
    targets: ["checkout"]
    labels: {tier: yes, team: x}
    alerts:
      error_rate: {critical: 120%}
    team: platform
  - name: grafana
    team: platform
    kind: probe
"""
    found = problems(tmp_path, text)
    assert [(p.line, p.where) for p in found] == [
        (3, "stack.name"),
        (4, "stack.scrape_interval"),
        (8, "receivers[1].name"),
        (9, "receivers[1].email"),           # e-mail without routing.smtp
        (11, "routing.default_receiver"),
        (14, "teams[0].notify.info"),
        (17, "services[0].team"),
        (19, "services[0].targets[0]"),
        (20, "services[0].labels.team"),
        (20, "services[0].labels.tier"),
        (22, "services[0].alerts.error_rate.critical"),
        (23, "services[0].team"),             # the duplicate key, found while reading
        (24, "services[1]"),                  # a probe needs url
        (24, "services[1].name"),             # grafana is reserved
    ]
    assert found == sorted(found)


def test_a_duplicate_key_does_not_hide_other_problems(tmp_path):
    text = edit("  name: demo\n", "  name: demo\n  name: demo\n", edit("team: platform", "team: platfrom"))
    assert [(p.line, p.where) for p in problems(tmp_path, text)] == [(4, "stack.name"), (15, "services[0].team")]


# ---------------------------------------------------------------- YAML itself

YAML_CASES = [
    case("unclosed flow sequence", edit("  name: demo\n", "  name: [demo\n"), 4, "(yaml)",
         "YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence that starts on line 3)"),
    case("bad indentation", edit("  name: demo\n", "  name: demo\n bad: x\n"), 4, "(yaml)", "YAML syntax error"),
    case("a tab", edit("  name: demo\n", "\tname: demo\n"), 3, "(yaml)",
         "YAML syntax error: found character that cannot start any token"),
    case("unclosed quote", edit('"#ops"', '"#ops'), 16, "(yaml)",
         "did not find expected ',' or '}' (while parsing a flow mapping that starts on line 6)"),
    case("a key without ':'", BASE + "services2\n", 18, "(yaml)",
         "could not find expected ':' (while scanning a simple key that starts on line 17)"),
    case("empty file", "", 1, "(yaml)", "the file is empty (an inventory is one YAML mapping)"),
    case("only comments", "# inventory\n\n# to do\n", 1, "(yaml)", "the file is empty"),
    case("two documents", BASE + "---\nversion: 1\n", 18, "(yaml)", "the file holds more than one YAML document"),
    case("a list", "- version: 1\n", 1, "(top level)", "an inventory is a YAML mapping"),
    case("a string", "inventory\n", 1, "(top level)", "an inventory is a YAML mapping"),
    case("null", "~\n", 1, "(top level)", "an inventory is a YAML mapping"),
    case("merge key", edit("  name: demo\n", "  name: demo\n  <<: {environment: prod}\n"), 4, "stack",
         "merge keys (<<) are not supported: write the keys out"),
    case("a list as a key", BASE + "? [a, b]\n: 1\n", 17, "(top level)", "a key must be a plain string"),
    case("control character", edit("name: demo", "name: de\x07mo"), 3, "(yaml)",
         "unacceptable character #x0007: control characters are not allowed"),
    case("python tag", edit("name: demo", "name: !!python/name:os.system x"), 3, "stack.name",
         "unsupported YAML tag 'tag:yaml.org,2002:python/name:os.system'"),
    case("local tag", edit("name: demo", "name: !Ref demo"), 3, "stack.name", "unsupported YAML tag '!Ref'"),
    case("!!bool on a word", edit("name: demo", "name: !!bool maybe"), 3, "stack.name",
         "cannot read 'maybe' as bool (quote it to keep it a string)"),
    case("!!timestamp on a word", edit("name: demo", "name: !!timestamp soon"), 3, "stack.name",
         "cannot read 'soon' as timestamp"),
    case("!!int on a word", edit("name: demo", "name: !!int ten"), 3, "stack.name", "cannot read 'ten' as int"),
    case("!!map on a scalar", edit("name: demo", "name: !!map demo"), 3, "stack.name",
         "YAML tag 'tag:yaml.org,2002:map' does not fit 'demo'"),
    case("an impossible date", add("    labels: {since: 2024-13-45}"), 17, "services[0].labels.since",
         "cannot read '2024-13-45' as timestamp (quote it to keep it a string)"),
    case("recursive alias", BASE + "extra: &a [*a]\n", 17, "(yaml)", "alias *a refers to a node that contains it"),
    case("deep nesting", BASE + "extra: " + "[" * (MAX_DEPTH + 10) + "]" * (MAX_DEPTH + 10) + "\n", 17, "(yaml)",
         f"nested more than {MAX_DEPTH} levels deep"),
]


def test_not_utf8(tmp_path):
    p = one(tmp_path, BASE.encode().replace(b"name: demo", b"name: d\xe9mo"))
    assert (p.line, p.where, p.message) == (3, "(file)", "not UTF-8 text")


def test_utf16(tmp_path):
    p = one(tmp_path, BASE.encode("utf-16"))
    assert (p.line, p.where, p.message) == (1, "(file)", "not UTF-8 text")


def test_file_over_the_size_limit(tmp_path):
    path = tmp_path / "inventory.yml"
    with open(path, "wb") as f:
        f.write(BASE.encode())
        f.truncate(MAX_BYTES + 1)   # sparse: no need to write 16 MiB
    with pytest.raises(InventoryError) as e:
        load_inventory(path)
    [p] = e.value.problems
    assert (p.line, p.where) == (1, "(file)")
    assert p.message == f"file is {MAX_BYTES + 1} bytes, more than the {MAX_BYTES} an inventory may have"


def billion_laughs(levels: int = 12) -> str:
    lines = ['lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"lol{i}: &lol{i} [" + ", ".join([f"*lol{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("text", [
    pytest.param(billion_laughs(), id="sequences"),
    pytest.param("a0: &a0 {" + ", ".join(f"k{j}: x" for j in range(10)) + "}\n" + "".join(
        f"a{i}: &a{i} {{" + ", ".join(f"k{j}: *a{i - 1}" for j in range(10)) + "}\n" for i in range(1, 12)),
        id="mappings"),
])
def test_alias_bomb_is_rejected_quickly_and_cheaply(tmp_path, text):
    tracemalloc.start()
    start = time.perf_counter()
    try:
        found = problems(tmp_path, text)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(found) == 1 and found[0].where == "(yaml)" and "aliases expand the document" in found[0].message
    assert elapsed < 1.0, f"took {elapsed:.1f}s"
    assert peak < 20 * 2**20, f"peaked at {peak / 2**20:.0f} MiB"


def test_aliases_within_reason_are_fine(tmp_path):
    path = tmp_path / "inventory.yml"
    path.write_text(edit("notify: {critical: [ops], warning: [ops]}", "notify: {critical: &ops [ops], warning: *ops}"))
    assert load_inventory(path).teams[0].notify.warning == ["ops"]


def test_very_deep_nesting_does_not_crash_the_cli(tmp_path):
    """libyaml's composer recurses in C: a deep enough document used to kill the process."""
    path = tmp_path / "deep.yml"
    path.write_text("version: 1\nextra: " + "[" * 200_000 + "]" * 200_000 + "\n")
    result = run_vigil("validate", "-i", str(path))
    assert result.returncode == 2, result.stderr
    assert f"{path}:2: (yaml): nested more than {MAX_DEPTH} levels deep" in result.stderr.splitlines()


# ---------------------------------------------------------------- the command line

BAD = add("    tem: platform", "    alerts:", "      down: {for: 5 mins}")


def stderr_problems(stderr: str, inventory: Path) -> list[str]:
    """The problem lines; the last line is a summary."""
    *lines, summary = stderr.splitlines()
    assert summary.startswith(f"{inventory}: {len(lines)} problem"), summary
    for line in lines:
        m = LINE.match(line)
        assert m and m["file"] == str(inventory), line
    return lines


def test_validate_reports_every_problem_and_exits_2(tmp_path):
    inventory = tmp_path / "bad.yml"
    inventory.write_text(BAD)
    result = run_vigil("validate", "-i", str(inventory))
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert stderr_problems(result.stderr, inventory) == [
        f"{inventory}:17: services[0].tem: unknown key 'tem' (did you mean 'team'?)",
        f"{inventory}:19: services[0].alerts.down.for: invalid duration '5 mins' "
        f"(write durations like 30s, 5m, 1h30m or 300ms)",
    ]


def test_validate_accepts_the_base_inventory(tmp_path):
    inventory = tmp_path / "good.yml"
    inventory.write_text(BASE)
    result = run_vigil("validate", "-i", str(inventory))
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.parametrize("command", ["validate", "generate"])
def test_missing_inventory_file(tmp_path, command):
    inventory = tmp_path / "nope.yml"
    result = run_vigil(command, "-i", str(inventory), *(["-o", str(tmp_path / "out")] if command == "generate" else []))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert stderr_problems(result.stderr, inventory) == [
        f"{inventory}:1: (file): cannot read the inventory: No such file or directory"]
    assert not (tmp_path / "out").exists()


def test_inventory_is_a_directory(tmp_path):
    result = run_vigil("validate", "-i", str(tmp_path))
    assert result.returncode == 2
    assert stderr_problems(result.stderr, tmp_path) == [f"{tmp_path}:1: (file): cannot read the inventory: "
                                                        f"Is a directory"]


@pytest.mark.parametrize("text", [BAD, "", "version: [1\n", "- a\n"], ids=["invalid", "empty", "syntax", "list"])
def test_generate_writes_nothing_for_a_bad_inventory(tmp_path, text):
    inventory = tmp_path / "bad.yml"
    inventory.write_text(text)
    out = tmp_path / "out"
    result = run_vigil("generate", "-i", str(inventory), "-o", str(out))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert stderr_problems(result.stderr, inventory)
    assert not out.exists()


def snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns) if p.is_file() else None
            for p in sorted(root.rglob("*"))}


def test_generate_leaves_an_existing_tree_as_it_was(tmp_path):
    good, bad = tmp_path / "good.yml", tmp_path / "bad.yml"
    good.write_text(BASE)
    tree = render_tree(good, tmp_path / "out")
    # What a valid run would rewrite and remove: a stale rendered file and a leftover one.
    stale = tree / "prometheus" / "prometheus.yml"
    stale.write_text("# edited by hand\n")
    (tree / "prometheus" / "rules" / "leftover.yml").write_text("groups: []\n")
    before = snapshot(tree)
    bad.write_text(BAD)
    result = run_vigil("generate", "-i", str(bad), "-o", str(tree))
    assert result.returncode == 2, result.stderr
    assert len(stderr_problems(result.stderr, bad)) == 2
    assert snapshot(tree) == before


def test_empty_label_values_are_rejected(tmp_path):
    found = problems(tmp_path, add("    labels: {tier: ''}"))
    assert [(p.line, p.where) for p in found] == [(17, "services[0].labels.tier")]
    assert "Prometheus drops empty labels" in found[0].message


@pytest.mark.parametrize("lines,line,where,message", [
    (("    instrumentation: {requests: bool}",), 17, "services[0].instrumentation.requests", "PromQL keyword"),
    (("    rules:", "      - {alert: Q, expr: q > 1, summary: 'Backlog {{ x }}'}"), 18, "services[0].rules[0].summary",
     "invalid template: function 'x' is not defined"),
    (("    rules:", "      - {alert: Q, expr: q > 1, summary: 'Backlog {{ $labels.instance'}"), 18,
     "services[0].rules[0].summary", "invalid template: unclosed"),
    (("    rules:", "      - {alert: Q, expr: q > 1, summary: ok, labels: {where: '{{ $nope }}'}}"), 18,
     "services[0].rules[0].labels.where", "invalid template: undefined variable $nope"),
    (("    rules:", "      - alert: Q", "        expr: q > 1", "        summary: '{{ $labels.instance | toUpper }}'",
      "        test: {series: {q: 5}}"), 20, "services[0].rules[0].summary", "Vigil cannot expand"),
])
def test_what_prometheus_would_refuse_is_caught_early(tmp_path, lines, line, where, message):
    found = problems(tmp_path, add(*lines))
    assert [(p.line, p.where) for p in found] == [(line, where)]
    assert message in found[0].message


def test_remote_write_names_are_unique(tmp_path):
    text = edit("  name: demo\n", "  name: demo\n  remote_write:\n    - {url: 'https://a.example.com/push', name: m}\n"
                                  "    - {url: 'https://b.example.com/push', name: m}\n")
    found = problems(tmp_path, text)
    assert [(p.line, p.where) for p in found] == [(6, "stack.remote_write[1].name")]


# ---------------------------------------------------------------- values that passed validate, then failed later

SMTP = edit("  default_receiver: ops\n", "  default_receiver: ops\n  smtp: {smarthost: 'mail:25', from: a@example.com}\n")
EMAIL = edit('    slack: {channel: "#ops", webhook: SLACK_WEBHOOK_URL}', "    email: {to: ops@example.com}", SMTP)

GAPS = [
    # a trailing newline passed `re.match(...$)`, and became a file `checkout\n.yml`
    case("service name with a newline", edit("name: checkout", 'name: "checkout\\n"'), 13, "services[0].name",
         "invalid name 'checkout\\n'"),
    case("stack name with a newline", edit("name: demo", 'name: "demo\\n"'), 3, "stack.name", "invalid name"),
    case("team name with a newline", edit("services:", '  - name: "data\\n"\nservices:'), 12, "teams[1].name",
         "invalid name 'data\\n'"),
    case("target with a newline", edit('["checkout:8000"]', '["checkout:8000\\n"]'), 16, "services[0].targets[0]",
         "invalid target"),
    case("variable name with a newline", edit("webhook: SLACK_WEBHOOK_URL", 'webhook: "SLACK_WEBHOOK_URL\\n"'), 6,
         "receivers[0].slack.webhook", "invalid variable name"),
    case("label name with a newline", add('    labels: {"tier\\n": web}'), 17, "services[0].labels['tier\\n']",
         "invalid label name"),
    case("label value with a control character", add('    labels: {tier: "web\\u001b[31m"}'), 17,
         "services[0].labels.tier", "control character '\\x1b'"),
    case("duration with a newline", add("    alerts:", '      down: {for: "5m\\n"}'), 18,
         "services[0].alerts.down.for", "invalid duration"),
    case("preset metric with a newline", add("    instrumentation:", '      requests: "http_total\\n"'), 18,
         "services[0].instrumentation.requests", "invalid metric name"),
    case("rule alert name with a newline", add("    rules:", '      - {alert: "Backlog\\n", expr: q > 1, summary: x}'),
         18, "services[0].rules[0].alert", "invalid alert name"),
    # Go templates where Alertmanager does not expect them: every notification then fails
    case("template in a Slack channel", edit('channel: "#ops"', 'channel: "{{ .CommonLabels.team }}"'), 6,
         "receivers[0].slack.channel", "contains '{{'"),
    case("newline in a Slack channel", edit('channel: "#ops"', 'channel: "#ops\\n"'), 6,
         "receivers[0].slack.channel", "control character '\\n'"),
    case("space in a Slack channel", edit('channel: "#ops"', 'channel: "#ops team"'), 6,
         "receivers[0].slack.channel", "invalid Slack channel"),
    case("template in an e-mail to", edit("to: ops@example.com", "to: '{{ .X }}@example.com'", EMAIL), 6,
         "receivers[0].email.to", "contains '{{'"),
    case("e-mail to with a newline", edit("to: ops@example.com", 'to: "ops@example.com\\n"', EMAIL), 6,
         "receivers[0].email.to", "control character '\\n'"),
    case("template in smtp from", edit("from: a@example.com", "from: '{{ .X }}@example.com'", SMTP), 9,
         "routing.smtp.from", "contains '{{'"),
    case("template in the smtp user name", edit("from: a@example.com}", "from: a@example.com, username: '{{ .U }}'}",
                                                SMTP), 9, "routing.smtp.username", "contains '{{'"),
    # `{{` in paths and URLs crashed generate with a traceback
    case("template in metrics_path", add("    metrics_path: '/metrics{{x}}'"), 17, "services[0].metrics_path",
         "contains '{{'"),
    case("template in health_url", add("    health_url: 'http://checkout:8000/{{ .x }}'"), 17,
         "services[0].health_url", "contains '{{'"),
    case("template in runbook_base_url", edit("  name: demo\n", "  name: demo\n  runbook_base_url: "
                                                                "'https://wiki.example.com/{{ $labels.x }}'\n"), 4,
         "stack.runbook_base_url", "contains '{{'"),
    case("newline in a URL", add('    health_url: "http://checkout:8000/health\\n"'), 17, "services[0].health_url",
         "control character '\\n'"),
    # a label twice in group_by: amtool refused the rendered config
    case("group_by twice", edit("  default_receiver: ops\n", "  default_receiver: ops\n  group_by: [alertname, "
                                                             "service, alertname]\n"), 9, "routing.group_by[2]",
         "label 'alertname' is listed twice"),
    # credentials in URLs were written into rendered files
    case("user and password in a webhook URL", edit('    slack: {channel: "#ops", webhook: SLACK_WEBHOOK_URL}',
                                                    "    webhook: {url: 'https://bot:hunter2@audit.example.com/hook'}"),
         6, "receivers[0].webhook.url", "carries a credential (a user and password)"),
    case("token as the user of a URL", add("    health_url: 'https://ghp_abc123@checkout:8000/health'"), 17,
         "services[0].health_url", "carries a credential (a user name)"),
    case("token in the query", edit("  name: demo\n", "  name: demo\n  remote_write:\n"
                                                      "    - {url: 'https://metrics.example.com/push?api_key=s3cr3t'}\n"),
         5, "stack.remote_write[0].url", "carries a credential (the query parameter 'api_key')"),
    case("access_token in the query", add("    health_url: 'https://checkout:8000/health?x=1&access_token=abc'"), 17,
         "services[0].health_url", "the query parameter 'access_token'"),
]


def test_a_credential_in_a_url_is_not_repeated_in_the_error(tmp_path):
    p = one(tmp_path, add("    health_url: 'https://bot:hunter2@checkout:8000/h?token=t0ps3cret'"))
    assert "hunter2" not in str(p) and "t0ps3cret" not in str(p) and "bot" not in str(p), str(p)
    assert ".env" in p.message            # where the secret goes instead


@pytest.mark.parametrize("url", ["https://shop.example.com/?sort_key=price&page=2", "http://checkout:8000/health",
                                 "https://wiki.example.com/runbooks/checkout#down", "http://[::1]:9090/",
                                 "https://example.com/search?q=token"])
def test_ordinary_urls_still_pass(tmp_path, url):
    path = tmp_path / "inventory.yml"
    path.write_text(add(f"    health_url: '{url}'"))
    assert load_inventory(path).services[0].health_url == url


def test_templates_and_multi_line_text_stay_allowed_where_they_belong(tmp_path):
    path = tmp_path / "inventory.yml"
    path.write_text(add("    rules:", "      - alert: Backlog", "        expr: q > 1",
                        "        summary: '{{ $labels.instance }} is behind'", "        description: |",
                        "          line one", "          line two", "    panels:",
                        "      - {title: Queue, expr: q, legend: '{{instance}}'}"))
    service = load_inventory(path).services[0]
    assert service.rules[0].description == "line one\nline two\n" and service.panels[0].legend == "{{instance}}"


# ---------------------------------------------------------------- stack.logs.redact

def redact(*lines: str) -> str:
    """BASE with stack.logs.redact: its first given line is line 6."""
    return edit("  name: demo\n", "  name: demo\n  logs:\n    redact:\n" + "".join(f"      {x}\n" for x in lines))


REDACT = [
    case("lookahead", redact("add:", "  - {name: ticket, pattern: 'ticket=(?=T)(\\w+)'}"), 7,
         "stack.logs.redact.add[0].pattern",
         "is not RE2 (invalid perl operator: (?=; Alloy's regexp has no lookaround or backreferences)"),
    case("backreference", redact("add:", "  - {name: ticket, pattern: '(a)\\1'}"), 7,
         "stack.logs.redact.add[0].pattern", "is not RE2"),
    case("no capture group", redact("add:", "  - {name: ticket, pattern: 'ticket=\\w+'}"), 7,
         "stack.logs.redact.add[0].pattern", "has no capture group"),
    case("matches empty text", redact("add:", "  - {name: ticket, pattern: 'ticket=(\\w*)'}"), 7,
         "stack.logs.redact.add[0].pattern", "can match empty text"),
    case("template in replace", redact("add:", "  - {name: ticket, pattern: '(T-[0-9]+)', replace: '{{ .Value }}'}"),
         7, "stack.logs.redact.add[0].replace", "contains '{{'"),
    case("invalid name", redact("add:", "  - {name: Ticket, pattern: '(T-[0-9]+)'}"), 7,
         "stack.logs.redact.add[0].name", "invalid name"),
    case("name of a default", redact("add:", "  - {name: email, pattern: '(T-[0-9]+)'}"), 7,
         "stack.logs.redact.add[0].name", "duplicate redaction name 'email' (a default rule (disable it to replace it))"),
    case("name twice", redact("add:", "  - {name: t, pattern: '(T-[0-9]+)'}", "  - {name: t, pattern: '(U-[0-9]+)'}"),
         8, "stack.logs.redact.add[1].name", "duplicate redaction name 't' (also add[0])"),
    case("disable no default", redact("disable: [emial]"), 6, "stack.logs.redact.disable[0]",
         "no default redaction 'emial' (did you mean 'email'?)"),
    case("unknown key", redact("disbale: [email]"), 6, "stack.logs.redact.disbale",
         "unknown key 'disbale' (did you mean 'disable'?)"),
]


@pytest.mark.parametrize("text, line, where, message", UNKNOWN_KEYS + MISSING + DUPLICATES + REFERENCES
                         + DURATIONS_AND_PERCENTAGES + VALUES + NAMES + KINDS + STACK + QUOTING + YAML_CASES
                         + GAPS + REDACT)
def test_one_problem_located(tmp_path, text, line, where, message):
    p = one(tmp_path, text)
    assert (p.line, p.where) == (line, where), str(p)
    assert message in p.message, str(p)


def test_a_disabled_default_can_be_replaced(tmp_path):
    path = tmp_path / "inventory.yml"
    path.write_text(redact("disable: [email]", "add:", "  - {name: email, pattern: '([a-z]+@example\\.com)'}"))
    assert [r.name for r in load_inventory(path).stack.logs.redact.add] == ["email"]


def test_a_block_with_nothing_indented_under_it_says_so(tmp_path):
    """`stack:` whose keys lost their indentation: YAML reads an empty value there."""
    text = BASE.replace("stack:\n  name: demo\n", "stack:\nname: demo\n", 1)
    assert text != BASE
    path = tmp_path / "inventory.yml"
    path.write_text(text)
    with pytest.raises(InventoryError) as e:
        load_inventory(path)
    p = next(p for p in e.value.problems if p.where == "stack")
    assert "nothing is indented under 'stack'" in p.message and "got None" not in p.message, str(p)


def test_strict_validation_warns_without_a_heartbeat_receiver(tmp_path):
    """Watchdog needs somewhere to go: --strict says so, without failing a local trial."""
    (tmp_path / "inventory.yml").write_text(BASE)
    (tmp_path / ".env").write_text("SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T/B/x\nGF_SECURITY_ADMIN_PASSWORD=s3cret-enough\nVIGIL_PROMETHEUS_PASSWORD=prometheus-password-0123\nVIGIL_ALERTMANAGER_PASSWORD=alertmanager-password-0123\n")
    r = run_vigil("validate", "-i", str(tmp_path / "inventory.yml"), "--strict", "--env", str(tmp_path / ".env"))
    assert r.returncode == 0, r.stderr
    assert "warning: routing.heartbeat_receiver is not set" in r.stderr
    with_heartbeat = edit("  default_receiver: ops\n", "  default_receiver: ops\n  heartbeat_receiver: ops\n")
    (tmp_path / "inventory.yml").write_text(with_heartbeat)
    r = run_vigil("validate", "-i", str(tmp_path / "inventory.yml"), "--strict", "--env", str(tmp_path / ".env"))
    assert r.returncode == 0, r.stderr
    assert "heartbeat_receiver" not in r.stderr
