"""Every instrumentation preset installable from PyPI, proven against the real library:
one small app per preset (tests/apps/), instrumented as its users do, scraped by the
real Prometheus running the rendered RED rules. Per preset: the error ratio comes out
near the one in ten requests that fail, p95 latency is a real number, the route label
holds the routes (and the error alert names the failing one), and every Prometheus query of the service's dashboard runs and
shows data. (spring-boot, Micrometer in Java, is not on PyPI.)
"""

from __future__ import annotations

import importlib.util
import math
import re
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import run_vigil
from dashboard_queries import (
    dashboards,
    has_data,
    panels,
    prom_targets,
    query,
    resolve,
    target_expr,
    traffic,
)
from native import native_stack, Process, free_port, get_json, prometheus, wait_for
from vigil.presets import PRESETS

APPS_DIR = Path(__file__).parent / "apps"
# preset -> (service name, app, the Python modules it runs on)
APPS = {
    "prometheus-client": ("client", "red_app.py", ("prometheus_client",)),
    "prometheus-fastapi-instrumentator": ("fastapi", "fastapi_app.py",
                                          ("fastapi", "prometheus_fastapi_instrumentator", "uvicorn")),
    "starlette-exporter": ("starlette", "starlette_app.py", ("starlette", "starlette_exporter", "uvicorn")),
    "django-prometheus": ("django", "django_app.py", ("django", "django_prometheus", "uvicorn")),
    "opentelemetry": ("otel", "otel_app.py", (
        "opentelemetry.sdk", "opentelemetry.exporter.prometheus", "opentelemetry.instrumentation.fastapi",
        "fastapi", "uvicorn")),
}
NOT_ON_PYPI = {"spring-boot"}
TEAM = "shop"
RULES = ("service:http_requests:rate5m", "service:http_error_ratio:rate5m",
         "service:http_request_duration_seconds:p95_rate5m")
# cAdvisor has no Debian package (and there is no Docker host here): its queries must run, but stay empty.
NOT_HERE = ("container_",)

SERVICE = """\
  - name: {name}
    team: {team}
    kind: http
    instrumentation: {preset}
    targets: ["127.0.0.1:{port}"]
    alerts:
      error_rate: {{warning: 1%, critical: 90%, for: 0s}}
"""


def _missing_modules() -> list[str]:
    missing = []
    for _, _, modules in APPS.values():
        for module in modules:
            try:
                found = importlib.util.find_spec(module) is not None
            except ModuleNotFoundError:     # its parent package is missing
                found = False
            if not found and module not in missing:
                missing.append(module)
    return missing


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    missing = _missing_modules()
    if missing:
        pytest.fail(f"Python modules {', '.join(missing)} are not installed: install the pinned test "
                    f"requirements (`make venv`, or `.venv/bin/pip install -r requirements-test.txt`)", pytrace=False)
    tmp = tmp_path_factory.mktemp("presets-live")
    ports = {"prom": free_port(), "closed": free_port()}
    ports |= {preset: free_port() for preset in APPS}
    services = [SERVICE.format(name=name, team=TEAM, preset=preset, port=ports[preset])
                for preset, (name, _, _) in APPS.items()]
    inventory = native_stack("presets", ports, ("shop", "platform"), team="platform") + "".join(services)
    (tmp / "inventory.yml").write_text(inventory)
    tree = tmp / "tree"
    result = run_vigil("generate", "-i", str(tmp / "inventory.yml"), "-o", str(tree))
    assert result.returncode == 0, result.stderr
    prom = prometheus(tree, ports["prom"], tmp / "prom-data", tmp / "prometheus.log")
    apps = {preset: Process([sys.executable, str(APPS_DIR / app), str(ports[preset])], tmp, tmp / f"{name}.log")
            for preset, (name, app, _) in APPS.items()}
    stop = threading.Event()
    procs = [prom, *apps.values()]      # stopped in this order: Prometheus lets go of the apps first
    try:
        for p in apps.values():
            p.start()
        prom.start()
        for preset, p in apps.items():
            wait_for(f"{preset}'s app to print ready", lambda p=p: "ready" in p.tail(), 20, proc=p)
        for preset in APPS:
            threading.Thread(target=traffic, args=(ports[preset], stop), daemon=True).start()
        url = f"http://127.0.0.1:{ports['prom']}"
        deadline = time.monotonic() + 45
        for preset, (name, _, _) in APPS.items():
            for expr in [f'{rule}{{service="{name}"}}' for rule in RULES] + [
                    f'ALERTS{{alertname="HighErrorRate",service="{name}",alertstate="firing"}}']:
                wait_for(f"{preset}: {expr}", lambda e=expr: has_data(query(url, e)),
                         max(1.0, deadline - time.monotonic()), proc=prom)
        # Every rate over the dashboards' 1m $__rate_interval has two samples or more.
        jobs = "|".join(name for name, _, _ in APPS.values())
        enough = f'min(count_over_time(up{{job=~"{jobs}"}}[1m])) >= 3'
        wait_for("three scrapes of every app", lambda: has_data(query(url, enough)),
                 max(1.0, deadline - time.monotonic()), proc=prom)
        yield {"url": url, "tree": tree}
    finally:
        stop.set()
        for p in procs:
            p.stop()


def value(url: str, expr: str) -> float:
    result = query(url, expr)
    assert result.get("status") == "success", f"{expr}: {result.get('error')}"
    series = result["data"]["result"]
    assert len(series) == 1, f"{expr}: expected one series, got {series}"
    return float(series[0]["value"][1])


def test_every_preset_from_pypi_has_an_app():
    assert set(APPS) == set(PRESETS) - NOT_ON_PYPI
    for _, app, _ in APPS.values():
        assert (APPS_DIR / app).is_file(), app


@pytest.mark.parametrize("preset", APPS)
def test_red_rules_see_the_librarys_requests_errors_and_latency(live, preset):
    url, name = live["url"], APPS[preset][0]
    assert value(url, f'service:http_requests:rate5m{{service="{name}"}}') > 0
    ratio = value(url, f'service:http_error_ratio:rate5m{{service="{name}"}}')
    assert 0.02 <= ratio <= 0.3, f"{preset}: error ratio {ratio}, expected about 0.1 (one request in ten fails)"
    p95 = value(url, f'service:http_request_duration_seconds:p95_rate5m{{service="{name}"}}')
    assert math.isfinite(p95) and p95 > 0, f"{preset}: p95 {p95}"


@pytest.mark.parametrize("preset", [p for p in APPS if PRESETS[p].route_label])
def test_the_route_label_holds_the_routes(live, preset):
    inst, name = PRESETS[preset], APPS[preset][0]
    result = query(live["url"], f'count by ({inst.route_label}) ({inst.requests}{{service="{name}"}})')
    routes = {s["metric"].get(inst.route_label) for s in result["data"]["result"]}
    assert {"/ok", "/fail"} <= routes, f"{preset}: {inst.route_label} values {routes}"


@pytest.mark.parametrize("preset", APPS)
def test_the_error_alert_names_the_failing_route(live, preset):
    """HighErrorRate fires on the one request in ten that fails; Prometheus expands its route line
    against the library's own route label: /fail, the only route that fails. Without a route label
    (django-prometheus), no line and nothing left of its template."""
    inst, name = PRESETS[preset], APPS[preset][0]

    def description():
        alerts = get_json(f"{live['url']}/api/v1/alerts")["data"]["alerts"]
        return [a["annotations"]["description"] for a in alerts if a["state"] == "firing"
                and a["labels"]["alertname"] == "HighErrorRate" and a["labels"]["service"] == name]
    (text,) = wait_for(f"{preset}: HighErrorRate firing", description, 60)
    if inst.route_label:
        assert re.search(r"\(warning above 1% for 0s, among at least 30 requests\)\. Worst route over the last "
                         r"5m: /fail 100% of \d+ requests\. See the service dashboard", text), text
    else:
        assert "). See the service dashboard" in text and "Worst" not in text, text
    assert "{{" not in text and "<no value>" not in text, text


@pytest.mark.parametrize("preset", APPS)
def test_every_query_of_the_service_dashboard_runs_and_shows_data(live, preset):
    url, name = live["url"], APPS[preset][0]
    d = dashboards(live["tree"])[f"team-{TEAM}/svc-{name}"]
    every, first = resolve(url, d)
    errors, empty, ran = [], [], 0
    for p in panels(d):
        for t in prom_targets(p):
            for values in (every, first):
                expr = target_expr(t, values)
                result = query(url, expr)
                ran += 1
                if result.get("status") != "success":
                    errors.append(f"{p['title']}: {result.get('error')}\n    {expr}")
                elif not has_data(result) and not any(m in expr for m in NOT_HERE):
                    empty.append(f"{p['title']}: {expr}")
    assert not errors, f"{preset}: queries failing:\n" + "\n".join(errors)
    assert not empty, f"{preset}: panels without data:\n" + "\n".join(empty)
    assert ran >= 20, ran
