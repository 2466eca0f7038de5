"""SLOs (slo.py): error budgets over 30 days, multi-window multi-burn-rate alerts.

Proven four ways: the inventory's mistakes are located errors; the rendered rules
pass promtool and their generated scenario tests pass (outage pages, 2x opens a
ticket, 0.5x stays silent, a spike stops paging once the short windows clear,
the low-traffic guard holds) — and fail when the maths drifts; each preset's
known buckets are the installed library's; and against the real Prometheus
scraping a real app, every SLI series and every SLO panel has data.
"""

from __future__ import annotations

import re
import shutil
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from conftest import promtool, render_tree, run_vigil
from dashboard_queries import dashboards, has_data, panels, prom_targets, query, resolve, target_expr, traffic
from native import native_stack, Process, free_port, prometheus, wait_for
from vigil import runbooks, slo
from vigil.errors import InventoryError
from vigil.presets import PRESETS
from vigil.validate import load_inventory

APP = Path(__file__).parent / "apps" / "red_app.py"

BASE = """\
version: 1
stack:
  name: demo
{stack}receivers:
  - name: ops
    slack: {{channel: "#ops", webhook: SLACK_WEBHOOK_URL}}
routing:
  default_receiver: ops
teams:
  - name: platform
    notify: {{critical: [ops], warning: [ops]}}
services:
  - name: checkout
    team: platform
    kind: http
    targets: ["checkout:8000"]
"""


def inventory(*lines: str, stack: str = "") -> str:
    """BASE with lines added to its one service: the first is line 17 (without `stack` lines)."""
    return BASE.format(stack=stack) + "".join(line + "\n" for line in lines)


def problems(tmp_path: Path, text: str) -> list:
    path = tmp_path / "inventory.yml"
    path.write_text(text)
    with pytest.raises(InventoryError) as e:
        load_inventory(path)
    return e.value.problems


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize("lines,line,where,message", [
    (("    slo:", "      latency: {threshold: 300ms, objective: 99}"), 18, "services[0].slo.latency.threshold",
     "300ms is not a bucket boundary of prometheus-client's histogram (nearest: 250ms, 500ms)"),
    (("    instrumentation: django-prometheus", "    slo: {latency: {threshold: 100s, objective: 99}}"), 18,
     "services[0].slo.latency.threshold",
     "1m40s is not a bucket boundary of django-prometheus's histogram (nearest: 1m15s)"),
    (("    instrumentation: {requests: reqs_total, duration: req_seconds, buckets: [0.1, 0.3]}",
      "    slo: {latency: {threshold: 250ms, objective: 99}}"), 18, "services[0].slo.latency.threshold",
     "250ms is not a bucket boundary of the histogram's buckets (instrumentation.buckets) (nearest: 100ms, 300ms)"),
    (("    instrumentation: {requests: reqs_total}", "    slo: {latency: {threshold: 250ms, objective: 99}}"), 18,
     "services[0].slo.latency", "a latency SLO needs the latency histogram"),
    (("    instrumentation: {requests: reqs_total, duration: req_seconds, buckets: [0, 1]}",), 17,
     "services[0].instrumentation.buckets[0]", "expected a positive number of seconds, got 0"),
    (("    instrumentation: {requests: reqs_total, duration: req_seconds, buckets: fast}",), 17,
     "services[0].instrumentation.buckets", "expected a list of the histogram's bucket upper bounds"),
    (("    slo: {availability: 99.9, min_requests: -1}",), 17, "services[0].slo.min_requests",
     "expected a whole number of requests, 0 or more (0 turns the low-traffic guard off), got -1"),
    (("    slo: {availability: 99.9, min_requests: often}",), 17, "services[0].slo.min_requests",
     "expected a whole number of requests"),
    # Micrometer's buckets depend on its settings: a latency SLO must name them.
    (("    instrumentation: spring-boot", "    slo: {latency: {threshold: 300ms, objective: 99}}"), 18,
     "services[0].slo.latency.threshold", "spring-boot's histogram has no fixed buckets, so Vigil cannot know 300ms "
     "is a bucket boundary"),
    (("    instrumentation: {requests: reqs_total, duration: req_seconds}",
      "    slo: {latency: {threshold: 300ms, objective: 99}}"), 18, "services[0].slo.latency.threshold",
     "instrumentation gives no buckets"),
    # The SLO's window must fit in what Prometheus keeps.
    (("    slo: {availability: 99.9}",), 17, "services[0].slo",
     "the SLOs' 30d window is longer than stack.retention (15d)"),
], ids=["not a bucket", "above every bucket", "custom buckets", "no histogram", "bucket 0", "buckets not a list",
        "negative min_requests", "min_requests not a number", "spring-boot without buckets",
        "mapping without buckets", "retention shorter than the window"])
def test_slo_mistakes_are_located(tmp_path, lines, line, where, message):
    stack = "  retention: 15d\n" if "stack.retention" in message else ""
    (p,) = problems(tmp_path, inventory(*lines, stack=stack))
    line += bool(stack)
    assert (p.line, p.where) == (line, where), str(p)
    assert message in p.message, str(p)


@pytest.mark.parametrize("lines", [
    ("    slo: {latency: {threshold: 250ms, objective: 99}}",),
    ("    slo: {latency: {threshold: 1s, objective: 99}, min_requests: 0}",),
    ("    instrumentation: {preset: spring-boot, buckets: [0.1, 0.3]}",    # Micrometer's buckets, as configured
     "    slo: {latency: {threshold: 300ms, objective: 99}}"),
    ("    instrumentation: {requests: reqs_total, duration: req_seconds, buckets: [0.1, 0.3]}",
     "    slo: {latency: {threshold: 300ms, objective: 99}}"),
])
def test_valid_slos(tmp_path, lines):
    path = tmp_path / "inventory.yml"
    path.write_text(inventory(*lines))
    assert load_inventory(path).services[0].slo is not None


def test_each_presets_buckets_are_the_installed_librarys():
    from django_prometheus.conf import PROMETHEUS_LATENCY_BUCKETS
    from opentelemetry.instrumentation._semconv import HTTP_DURATION_HISTOGRAM_BUCKETS_NEW
    from prometheus_client import Histogram
    import inspect
    from prometheus_fastapi_instrumentator import metrics
    highr = inspect.signature(metrics.default).parameters["latency_highr_buckets"].default
    finite = lambda bs: tuple(float(b) for b in bs if b != float("inf"))        # noqa: E731
    assert PRESETS["prometheus-client"].buckets == finite(Histogram.DEFAULT_BUCKETS)
    assert PRESETS["starlette-exporter"].buckets == finite(Histogram.DEFAULT_BUCKETS)   # it passes none
    assert PRESETS["prometheus-fastapi-instrumentator"].buckets == finite(highr)
    assert PRESETS["django-prometheus"].buckets == finite(PROMETHEUS_LATENCY_BUCKETS)
    assert PRESETS["opentelemetry"].buckets == finite(HTTP_DURATION_HISTOGRAM_BUCKETS_NEW)
    assert PRESETS["spring-boot"].buckets is None


def test_le_matches_every_clients_spelling():
    assert slo.le_matcher(0.25) == 'le="0.25"'
    assert slo.le_matcher(1.0) == 'le=~"1|1\\\\.0"'        # Go writes 1; Python and Prometheus 3 write 1.0
    assert slo.le_matcher(10.0) == 'le=~"10|10\\\\.0"'    # escaped: 1.0 must not match 100


# ---------------------------------------------------------------- the rules and their promtool tests

SLOS = ("    slo:", "      availability: 99.9", "      latency: {threshold: 250ms, objective: 99}")


def render(tmp_path: Path, interval: str) -> Path:
    stack = f"  scrape_interval: {interval}\n  evaluation_interval: {interval}\n"
    (tmp_path / "inventory.yml").write_text(inventory(*SLOS, stack=stack))
    return render_tree(tmp_path / "inventory.yml", tmp_path / "tree")


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return render(tmp_path_factory.mktemp("slo"), "15s")


RULES = "prometheus/rules/services/checkout.yml"
SLO_TESTS = "prometheus/tests/slo/services/checkout.test.yml"


def test_rules_are_recorded_in_one_scheme_and_alert_on_each_objective(tree):
    windows_group, long_group, group = yaml.safe_load((tree / RULES).read_text())["groups"]
    # The windows are sums of one-minute tiles: those under a day in the group that records the tiles,
    # evaluated once a tile, the longer ones every 4 minutes; both before the alerts. The pages' short
    # windows come from the raw counters: 30m in the tiles' group, 5m at every evaluation.
    assert (windows_group["name"], windows_group["interval"]) == ("service:checkout:slo", "1m")
    assert (long_group["name"], long_group["interval"]) == ("service:checkout:slo-long", "4m")
    assert "interval" not in group
    records = [r for g in (windows_group, long_group, group) for r in g["rules"]
               if "record" in r and r["record"].startswith("service:slo_")]
    burns = [r for r in group["rules"] if r.get("alert") == slo.ALERT]
    assert [str(w) for w in slo.WINDOWS] == ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"]
    assert [str(w) for w in slo.RAW_WINDOWS] == ["5m", "30m"]
    assert [str(w) for w in slo.FRESH_WINDOWS] == ["5m"]
    for name in ("availability", "latency"):
        def mine(g):
            return [r["record"] for r in g["rules"]
                    if r.get("labels", {}).get("slo") == name or f'slo="{name}"' in r["expr"]]
        assert mine(windows_group) == ["service:slo_requests:increase1m", "service:slo_errors:increase1m",
                                       "service:slo_errors:ratio_rate30m", "service:slo_errors:ratio_rate1h", "service:slo_requests:increase1h",
                                       "service:slo_errors:ratio_rate2h",
                                       "service:slo_errors:ratio_rate6h", "service:slo_requests:increase6h"]
        assert mine(long_group) == ["service:slo_errors:ratio_rate1d", "service:slo_requests:increase1d",
                                    "service:slo_errors:ratio_rate3d", "service:slo_requests:increase3d",
                                    "service:slo_errors:ratio_rate30d", "service:slo_error_budget_remaining:ratio30d"]
        raw = [r["record"] for r in group["rules"] if "record" in r and r.get("labels", {}).get("slo") == name]
        assert raw == ["service:slo_errors:ratio_rate5m"]
    assert len(burns) == 4
    assert [(b["labels"]["slo"], b["labels"]["severity"]) for b in burns] == [
        ("availability", "critical"), ("availability", "warning"), ("latency", "critical"), ("latency", "warning")]
    exprs = {r["record"] + r.get("labels", {}).get("slo", "") + r["expr"][-40:]: r["expr"] for r in records}
    by = lambda record, needle: next(e for k, e in exprs.items() if k.startswith(record) and needle in e)  # noqa
    # Request-weighted: bad requests over the window / all requests over it, from the raw counters ...
    assert '{service="checkout",status=~"5.."}[5m]' in by("service:slo_errors:ratio_rate5m", "status")
    # ... or from the tiles, which count them once a minute.
    assert 'http_request_duration_seconds_bucket{service="checkout",le="0.25"}[1m]' in \
        by("service:slo_errors:increase1m", "le=")
    assert by("service:slo_errors:ratio_rate3d", 'slo="latency"') == (
        'sum_over_time(service:slo_errors:increase1m{service="checkout",slo="latency"}[3d]) / '
        '(sum_over_time(service:slo_requests:increase1m{service="checkout",slo="latency"}[3d]) > 0)')
    assert by("service:slo_error_budget_remaining", 'slo="availability"').startswith("clamp_min(")
    critical = burns[0]["expr"]
    assert "ratio_rate1h{service=\"checkout\",slo=\"availability\"} / 0.001 > 14.4" in critical
    assert "ratio_rate30m{service=\"checkout\",slo=\"availability\"} / 0.001 > 6" in critical
    # The low-traffic guard counts the requests of the long window.
    assert "service:slo_requests:increase6h{service=\"checkout\",slo=\"availability\"} >= 100" in critical
    assert "/ 0.01 > 3" in burns[3]["expr"] and "/ 0.01 > 1 " in burns[3]["expr"]
    assert "{{ $value | humanize }}" in burns[0]["annotations"]["summary"]
    assert "exhausted" in burns[0]["annotations"]["description"]
    assert burns[0]["annotations"]["dashboard_url"].endswith("/d/svc-checkout")
    assert burns[0]["annotations"]["runbook_url"].endswith(f"?viewPanel=panel-{runbooks.panel_id('ErrorBudgetBurn')}")


def test_every_scenario_is_generated_for_each_objective(tree):
    tests = yaml.safe_load((tree / SLO_TESTS).read_text())
    assert tests["evaluation_interval"] == "1m"
    names = [t["name"] for t in tests["tests"]]
    for name in ("availability", "latency"):
        assert [n.split(": ", 1)[1] for n in names if f"({name})" in n] == [
            "a total outage pages within minutes", "a 2× burn opens a ticket but never pages",
            "a 0.5× burn stays silent", "a short spike that ends: the page stops once the short windows clear",
            "a brief blip does not page", "a 17.28× burn fires critical (14.4× over 1h and 5m)", "a 7.2× burn fires critical (6× over 6h and 30m)",
            "a 3.6× burn fires warning (3× over 1d and 2h)", "a 1.2× burn fires warning (1× over 3d and 6h)",
            "the low-traffic guard: 50 requests in 30 minutes, all failing, never page",
            "the low-traffic guard: 200 requests in 30 minutes, all failing, page"]
    fired = {(t["name"].split(": ", 1)[1], a["exp_labels"]["severity"]) for t in tests["tests"]
             for c in t["alert_rule_test"] for a in c["exp_alerts"]}
    assert ("a total outage pages within minutes", "critical") in fired
    assert ("a 2× burn opens a ticket but never pages", "warning") in fired
    assert ("a 2× burn opens a ticket but never pages", "critical") not in fired
    assert not {f for f in fired if f[0].startswith(("a 0.5×", "the low-traffic guard: 50 "))}
    assert ("the low-traffic guard: 200 requests in 30 minutes, all failing, page", "critical") in fired
    spike = next(t for t in tests["tests"] if t["name"].startswith("ErrorBudgetBurn (availability): a short"))
    during, after = spike["alert_rule_test"]
    assert {a["exp_labels"]["severity"] for a in during["exp_alerts"]} == {"critical", "warning"}
    assert {a["exp_labels"]["severity"] for a in after["exp_alerts"]} == {"warning"}
    # The budget left comes from the recorded series through `query`, exactly as promtool expands it,
    # clamped and worded: an overspent budget is exhausted, not -19130%.
    assert "Error budget left over 30d: none (exhausted)." in after["exp_alerts"][0]["exp_annotations"]["description"]


SHARED = [  # (name, slo lines): two services share every parameter, the others differ in one each
    ("a", ["slo: {availability: 99.5, latency: {threshold: 250ms, objective: 99}}"]),
    ("b", ["slo: {availability: 99.5, latency: {threshold: 250ms, objective: 99}}"]),
    ("c", ["slo: {availability: 99.9, latency: {threshold: 250ms, objective: 99}}"]),
    ("d", ["slo: {availability: 99.5, latency: {threshold: 250ms, objective: 99}, min_requests: 0}"]),
    ("e", ["slo: {availability: 99.5, latency: {threshold: 250ms, objective: 95}, min_requests: 1000}"]),
]


def _slo_tests(text: str, name: str) -> dict:
    """The SLO scenario tests of service `name`, rendered in this process from a fresh start
    (slo.py's caches of the scenario maths emptied first)."""
    from vigil.plan import plan
    from vigil.render import render as render_all
    from vigil.validate import validate
    from vigil.load import load_text
    for cache in (slo._scenarios, slo._burns, slo.series_values):
        cache.cache_clear()
    files = render_all(plan(validate(load_text(text, "inventory.yml"))))
    return yaml.safe_load(files[f"prometheus/tests/slo/services/{name}.test.yml"])


def test_services_sharing_slo_parameters_share_the_maths_and_only_those(tmp_path):
    """The scenario maths is worked out once per parameter set (budget, guard, step) and shared:
    each service's tests, rendered beside services with the same and with other parameters,
    are the tests it gets rendered alone with nothing cached."""
    def service(name: str, lines: list) -> str:
        return "".join(f"    {line}\n" for line in [f"- name: {name}", "  team: platform", "  kind: http",
                                                     f'  targets: ["{name}:8000"]', *(f"  {x}" for x in lines)])
    head = BASE.split("services:")[0].format(stack="") + "services:\n"
    together = head + "".join(service(n, lines) for n, lines in SHARED)
    for name, lines in SHARED:
        alone = _slo_tests(head + service(name, lines), name)
        assert _slo_tests(together, name) == alone, name
    a, c, d, e = (_slo_tests(together, n) for n in "acde")
    names = lambda t: [x["name"] for x in t["tests"]]                               # noqa: E731
    assert a["tests"][0]["input_series"][1]["values"] != c["tests"][0]["input_series"][1]["values"]   # budget
    assert not any("low-traffic guard" in n for n in names(d)) and any("low-traffic guard" in n for n in names(a))
    assert a != e


@pytest.mark.parametrize("interval", ["15s", "1s"])
def test_rendered_rules_pass_promtool_and_their_tests_in_seconds(tmp_path, interval):
    out = render(tmp_path, interval)
    result = promtool("check", "rules", RULES, cwd=out)
    assert result.returncode == 0, result.stdout + result.stderr
    start = time.monotonic()
    result = promtool("test", "rules", SLO_TESTS, cwd=out)
    took = time.monotonic() - start
    assert result.returncode == 0, result.stdout + result.stderr
    assert took < 20, f"the SLO scenario tests took {took:.1f}s"
    # The stack's interval does not reach them: the same tests, the same cost, at 15s or 1s.
    assert yaml.safe_load((out / SLO_TESTS).read_text())["evaluation_interval"] == "1m"
    if interval == "15s":      # at 1s the rest of the tree's tests take a minute: not this test's business
        result = run_vigil("check", "-o", str(out))
        assert result.returncode == 0, result.stdout + result.stderr


MUTATIONS = [
    # (what to change in the rule file, into what): each must make a generated scenario test fail.
    (r"/ 0\.001 > 14\.4 and (\S+) / 0\.001 > 14\.4", r"/ 0.001 > 1.44 and \1 / 0.001 > 1.44"),   # fast page
    (r"/ 0\.001 > 14\.4 and", "/ 0.001 > 1.44 and"),                      # ... over its long window only
    (r"/ 0\.001 > 6 and", "/ 0.001 > 60 and"),                              # the slow page factor
    (r"/ 0\.001 > 1 and", "/ 0.001 > 2.5 and"),                             # the slow ticket factor
    (r"ratio_rate5m(\{service=\"checkout\",slo=\"availability\"\} / 0\.001 > 14\.4)", r"ratio_rate1h\1"),  # short
    (r"(service:slo_requests:increase1h\{service=\"checkout\",slo=\"availability\"\}) >= 100", r"\1 >= 0"),  # guard
    (r"(service:slo_requests:increase3d\{service=\"checkout\",slo=\"latency\"\}) >= 100", r"\1 >= 0"),
    (r"(le=)\"0\.25\"", r"\1\"0.5\""),                                       # the latency threshold
    (r"(ratio_rate1h\{service=\"checkout\",slo=\"availability\"\}) / 0\.001", r"\1 / 0.002"),   # the budget
]


@pytest.mark.parametrize("pattern,repl", MUTATIONS, ids=[m[1] for m in MUTATIONS])
def test_generated_scenarios_catch_drifting_maths(tree, tmp_path, pattern, repl):
    copy = tmp_path / "mutant"
    shutil.copytree(tree / "prometheus", copy / "prometheus")
    path = copy / RULES
    text, n = re.subn(pattern, repl, path.read_text(), count=1)
    assert n == 1, f"mutation {pattern!r} found nothing"
    path.write_text(text)
    result = promtool("test", "rules", SLO_TESTS, cwd=copy)
    assert result.returncode != 0, f"the SLO tests still pass after {pattern!r} -> {repl!r}:\n{result.stdout}"


# ---------------------------------------------------------------- against the real Prometheus

LIVE = """\
  - name: shop
    team: shop
    kind: http
    targets: ["127.0.0.1:{app}"]
    slo: {{availability: 99.9, latency: {{threshold: 250ms, objective: 99}}}}
  - name: shop-1s                       # the same app, a threshold Python writes as le="1.0"
    team: shop
    kind: http
    targets: ["127.0.0.1:{app}"]
    slo: {{latency: {{threshold: 1s, objective: 99.5}}}}
"""


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("slo-live")
    ports = {k: free_port() for k in ("prom", "closed", "app")}
    (tmp / "inventory.yml").write_text(native_stack("slo", ports, ("shop",)) + LIVE.format(**ports))
    tree = render_tree(tmp / "inventory.yml", tmp / "tree")
    app = Process([sys.executable, str(APP), str(ports["app"])], tmp, tmp / "app.log")
    prom = prometheus(tree, ports["prom"], tmp / "prom-data", tmp / "prometheus.log")
    stop = threading.Event()
    try:
        app.start()
        wait_for("the app", lambda: "ready" in app.tail(), 20, proc=app)
        threading.Thread(target=traffic, args=(ports["app"], stop), daemon=True).start()   # 1 in 10 fails
        prom.start()
        url = f"http://127.0.0.1:{ports['prom']}"
        for service, name in (("shop", "availability"), ("shop", "latency"), ("shop-1s", "latency")):
            expr = f'{slo.BUDGET_LEFT}{{service="{service}",slo="{name}"}}'
            first = slo.long_windows_ready(slo.Timing(1000, 1000)).seconds
            wait_for(expr, lambda e=expr: has_data(query(url, e)), first + 120, proc=prom)
        yield {"url": url, "tree": tree}
    finally:
        stop.set()
        prom.stop()
        app.stop()


def test_every_sli_series_has_data(live):
    url = live["url"]
    for service, name in (("shop", "availability"), ("shop", "latency"), ("shop-1s", "latency")):
        sel = f'{{service="{service}",slo="{name}",team="shop"}}'
        series = [slo.ERROR_RATIO.format(w=w) for w in slo.WINDOWS] + [
            slo.REQUESTS.format(w=w) for w in slo.GUARDED_WINDOWS + (slo.tile(slo.Timing(1000, 1000)),)]
        for s in series:
            assert has_data(query(url, s + sel)), s + sel
        assert has_data(query(url, slo.BUDGET_LEFT + sel))
    # One request in ten fails; every request is far under 250ms (and 1s: le="1.0" matched).
    [availability] = query(url, f'{slo.ERROR_RATIO.format(w="5m")}{{service="shop",slo="availability"}}')["data"][
        "result"]
    assert 0.03 < float(availability["value"][1]) < 0.3
    for service in ("shop", "shop-1s"):
        [latency] = query(url, f'{slo.ERROR_RATIO.format(w="5m")}{{service="{service}",slo="latency"}}')["data"][
            "result"]
        assert float(latency["value"][1]) < 0.05, (service, latency)


def test_every_slo_panel_query_returns_data(live):
    url, found = live["url"], dashboards(live["tree"])
    checked = 0
    for key in ("team-shop/svc-shop", "team-shop/svc-shop-1s", "vigil/vigil-overview"):
        d = found[key]
        every, _ = resolve(url, d)
        rows = [p for p in d["panels"] if p["type"] == "row"]
        slo_rows = {r["id"] for r in rows if r["title"].startswith("SLO")}
        assert slo_rows, key
        # panels after an SLO row header, up to the next row
        current = None
        for p in d["panels"]:
            if p["type"] == "row":
                current = p["id"]
                continue
            if current not in slo_rows:
                continue
            for t in prom_targets(p):
                result = query(url, target_expr(t, every))
                assert has_data(result), f"{key} / {p['title']}: no data\n    {t['expr']}\n    {result}"
                checked += 1
    assert checked >= 2 * 3 * 12 // 2
    assert any(p["title"] == "Error budget left (30d)" for p in panels(found["vigil/vigil-overview"]))
