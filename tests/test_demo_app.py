"""The demo shop (demo/app.py) as a program: started on 127.0.0.1 and a free port, asked over
HTTP, broken and fixed through its own `python app.py mode ...` CLI, stopped with SIGTERM.
What it must give the stack: the metric names the inventory and the prometheus-client preset
read, JSON log lines with the field names of vigil.logs, and synthetic traffic of its own."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from native import Process, free_port, wait_for
from prometheus_client.parser import text_string_to_metric_families

from vigil import logs
from vigil.presets import PRESETS

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "demo" / "app.py"
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))   # 127.0.0.1 only, never a proxy


def call(url: str, method: str = "GET", data: bytes | None = None, headers: dict | None = None,
         timeout: float = 10.0):
    """(status, headers, body) of one request; HTTP errors are answers too."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with OPENER.open(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.headers, e.read()


def start(tmp: Path, name: str, **env: str) -> tuple[Process, str]:
    port = free_port()
    environment = {"PATH": "/usr/bin:/bin", "DEMO_TRAFFIC_RPS": "0", **env}
    proc = Process([sys.executable, str(APP), "serve", "--port", str(port)], APP.parent, tmp / f"{name}.log")
    proc.proc = subprocess.Popen(proc.args, cwd=proc.cwd, stdout=open(proc.log, "ab"), stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, env=environment)
    base = f"http://127.0.0.1:{port}"
    wait_for("the demo app listening", lambda: call(base + "/health", timeout=2)[0] in (200, 503), 15, 0.05,
             proc=proc)
    return proc, base


def lines(proc: Process) -> list[dict]:
    """Every line the app wrote (stdout and stderr), each of which must be one JSON object."""
    text = proc.log.read_text()
    if proc.proc.poll() is None and not text.endswith("\n"):
        text = text[:text.rfind("\n") + 1]   # a line being written right now: read it next time
    out = []
    for raw in text.splitlines():
        try:
            out.append(json.loads(raw))
        except ValueError:
            pytest.fail(f"not a JSON line: {raw!r}\n{proc.tail()}")
        assert isinstance(out[-1], dict), raw
    return out


def samples(base: str) -> dict[tuple, float]:
    """/metrics parsed by prometheus_client's own parser: {(name, sorted labels): value}."""
    status, headers, body = call(base + "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain"), (status, headers)
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode()) for s in family.samples}


def total(smp: dict, name: str, **labels: str) -> float:
    return sum(v for (n, lab), v in smp.items() if n == name and labels.items() <= dict(lab).items())


def set_mode(base: str, mode: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, str(APP), "mode", mode, "--url", base], capture_output=True,
                            text=True, timeout=15, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["mode"] == mode, result.stdout
    return result


@pytest.fixture(scope="module")
def quiet(tmp_path_factory):
    """One app with no synthetic traffic: every request in it is the test's."""
    proc, base = start(tmp_path_factory.mktemp("demo"), "quiet")
    yield proc, base
    proc.stop()


def test_endpoints_answer(quiet):
    _, base = quiet
    status, headers, body = call(base + "/health")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    assert headers["Content-Type"] == "application/json"
    assert call(base + "/")[0] == 200
    products = json.loads(call(base + "/products")[2])["products"]
    assert products and call(base + f"/products/{products[0]['id']}")[0] == 200
    assert call(base + "/products/no-such-thing")[0] == 404
    order = json.dumps({"items": [products[0]["id"]]}).encode()
    status, _, body = call(base + "/checkout", "POST", order, {"Content-Type": "application/json"})
    # mode ok: a checkout is paid, but for the rare baseline decline
    # (a decline is a 500 whose body has no "status": look at the code first)
    assert status == 500 or (status, json.loads(body)["status"]) == (200, "paid"), (status, body)
    assert call(base + "/checkout", "POST", b"{not json")[0] == 400
    assert call(base + "/checkout")[0] == 405            # GET on a POST route
    assert call(base + "/nowhere?x=1")[0] == 404
    assert call(base + "/admin/mode", "POST", b"sideways")[0] == 400


def test_metrics_are_what_the_inventory_and_preset_read(quiet):
    _, base = quiet
    call(base + "/products/3")
    call(base + "/checkout", "POST", json.dumps({"items": [1], "card": "4000000000000002"}).encode())
    smp = samples(base)
    names = {n for n, _ in smp}
    preset = PRESETS["prometheus-client"]
    assert preset.requests in names and f"{preset.duration}_bucket" in names, sorted(names)
    requests = [dict(lab) for n, lab in smp if n == preset.requests]
    assert all({"method", preset.status_label, preset.route_label} <= set(lab) for lab in requests), requests
    # the route label holds templates, bounded: never the raw path
    routes = {lab[preset.route_label] for lab in requests}
    assert "/products/{id}" in routes and "/products/3" not in routes and "unmatched" in routes, routes
    assert all(not r.startswith("/nowhere") for r in routes)
    # the default buckets hold the inventory's SLO latency threshold, 250ms
    assert total(smp, f"{preset.duration}_bucket", route="/products/{id}", le="0.25") >= 1
    assert total(smp, preset.requests, route="/checkout", status="500") >= 1    # the declined test card
    # every demo_* metric the inventory's rules and panels read, by name, without a service label
    inventory = yaml.safe_load((ROOT / "inventory.yml").read_text())
    demo = next(s for s in inventory["services"] if s["name"] == "demo")
    exprs = [r["expr"] for r in demo.get("rules", [])] + [p["expr"] for p in demo.get("panels", [])]
    wanted = {m for e in exprs for m in re.findall(r"\b(demo_[a-z0-9_]+)", e)}
    assert {"demo_checkouts_total", "demo_checkout_failures_total"} <= wanted
    assert wanted <= names, wanted - names
    assert total(smp, "demo_checkout_failures_total") >= 1
    assert not any("service" in dict(lab) for n, lab in smp if n.startswith("demo_"))


def test_json_logs_and_request_ids(quiet):
    proc, base = quiet
    status, headers, _ = call(base + "/products", headers={"X-Request-ID": "test-req-0001"})
    assert status == 200 and headers["X-Request-ID"] == "test-req-0001"
    status, headers, _ = call(base + "/")
    generated = headers["X-Request-ID"]
    assert status == 200 and re.fullmatch(r"[0-9a-f]{32}", generated)
    # an id that is not a plain token (header or log injection) is replaced, not echoed
    assert call(base + "/", headers={"X-Request-ID": "a b\"c"})[1]["X-Request-ID"] != "a b\"c"
    call(base + "/checkout", "POST", json.dumps({"items": [2], "card": "4000000000000002"}).encode(),
         {"X-Request-ID": "test-declined-1"})

    def by_id(rid):
        return [line for line in lines(proc) if line.get(logs.REQUEST_ID) == rid]
    mine = wait_for("the request's log line", lambda: by_id("test-req-0001"), 5)
    assert len(mine) == 1
    line = mine[0]
    assert {"ts", logs.LEVEL, logs.MESSAGE, logs.REQUEST_ID, "method", "route", "status", "duration_ms"} <= set(line)
    assert (line[logs.LEVEL], line["method"], line["route"], line["status"]) == ("info", "GET", "/products", 200)
    assert datetime.fromisoformat(line["ts"]).tzinfo is not None and line["ts"].endswith("Z")
    assert isinstance(line["duration_ms"], (int, float)) and line["duration_ms"] >= 0
    assert by_id(generated)
    error = wait_for("the declined checkout's log line", lambda: by_id("test-declined-1"), 5)[0]
    assert error[logs.LEVEL] in logs.ERROR_LEVELS and error["status"] == 500
    assert error[logs.ERROR_TYPE] == "PaymentDeclined"
    assert error["stacktrace"].startswith("Traceback (most recent call last):")
    assert "PaymentDeclined" in error["stacktrace"].splitlines()[-1]
    for line in lines(proc):
        assert {"ts", logs.LEVEL, logs.MESSAGE} <= set(line), line
        assert line[logs.LEVEL] in ("info", "warning", "error"), line
        if line[logs.LEVEL] == "error":
            assert line[logs.ERROR_TYPE] and line["stacktrace"], line


def test_modes_through_the_cli(tmp_path):
    proc, base = start(tmp_path, "modes")
    try:
        # errors: most shop requests answer 500, each with an error line naming the exception
        result = set_mode(base, "errors")
        assert json.loads(result.stdout) == {"mode": "errors", "previous": "ok"}
        statuses = [call(base + "/products", headers={"X-Request-ID": f"err-{i}"})[0] for i in range(40)]
        assert statuses.count(500) >= 20 and set(statuses) <= {200, 500}, statuses
        errors = [line for line in lines(proc) if str(line.get(logs.REQUEST_ID, "")).startswith("err-")
                  and line[logs.LEVEL] == "error"]
        assert len(errors) == statuses.count(500)
        assert {e[logs.ERROR_TYPE] for e in errors} == {"UpstreamUnavailable"}
        assert call(base + "/health")[0] == 200 and call(base + "/metrics")[0] == 200   # still scraped
        assert total(samples(base), "http_requests_total", route="/products", status="500") == statuses.count(500)
        # latency: shop requests take 1-3 s (over the p95 alert thresholds); /metrics stays quick
        set_mode(base, "latency")
        t0 = time.monotonic()
        assert call(base + "/products")[0] == 200
        assert 1.0 <= time.monotonic() - t0 < 4.0
        t0 = time.monotonic()
        call(base + "/metrics")
        assert time.monotonic() - t0 < 0.9
        # down: every endpoint answers 503, /metrics and /health too, so the scrape fails
        set_mode(base, "down")
        for path in ("/", "/products", "/health", "/metrics"):
            assert call(base + path)[0] == 503, path
        assert call(base + "/checkout", "POST", b"{}")[0] == 503
        # ok: back to normal
        set_mode(base, "ok")
        assert call(base + "/metrics")[0] == 200 and call(base + "/health")[0] == 200
        assert [call(base + "/products")[0] for _ in range(10)] == [200] * 10
        changes = [line for line in lines(proc) if line.get("msg", "").startswith("demo mode changed")]
        assert [(c["previous"], c["mode"], c[logs.LEVEL]) for c in changes] == [
            ("ok", "errors", "warning"), ("errors", "latency", "warning"), ("latency", "down", "warning"),
            ("down", "ok", "warning")]
    finally:
        proc.stop()
    # the CLI says so when the app is not there, or the mode is unknown
    gone = subprocess.run([sys.executable, str(APP), "mode", "ok", "--url", base], capture_output=True, text=True,
                          timeout=15)
    assert gone.returncode == 1 and "cannot reach" in gone.stderr
    bad = subprocess.run([sys.executable, str(APP), "mode", "sideways"], capture_output=True, text=True, timeout=15)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_demo_mode_env_starts_broken(tmp_path):
    proc, base = start(tmp_path, "down", DEMO_MODE="down")
    try:
        assert call(base + "/health")[0] == 503 and call(base + "/metrics")[0] == 503
    finally:
        proc.stop()


def test_synthetic_traffic_moves_the_counters_and_sigterm_stops_it(tmp_path):
    proc, base = start(tmp_path, "traffic", DEMO_TRAFFIC_RPS="100")

    def moved():
        smp = samples(base)
        shop = {r: total(smp, "http_requests_total", route=r) for r in ("/", "/products", "/checkout")}
        busy = all(v > 0 for v in shop.values()) and sum(shop.values()) >= 10
        return busy and total(smp, "demo_checkouts_total") > 0 and shop
    try:
        wait_for("ten requests over every route", moved, 10, 0.2, proc=proc)
        assert any(line.get("route") == "/checkout" for line in lines(proc))
        t0 = time.monotonic()
        proc.proc.terminate()
        assert proc.proc.wait(5) == 0, proc.tail()
        assert time.monotonic() - t0 < 2.0
        assert lines(proc)[-1][logs.MESSAGE] == "stopped"
    finally:
        proc.stop()
