"""kind: nginx against reality: a real nginx with stub_status, the Debian
prometheus-nginx-exporter and the real Prometheus, scraping every second.

Every metric the kind's rules and dashboard read is one the exporter exposes; every
panel and alert expression runs and the panels show data; connections past
worker_connections fire NginxDroppedConnections and held ones NginxTooManyConnections;
and stopping nginx fires ServiceDown. Also: the generated promtool tests pass for an
inventory that overrides every threshold."""

from __future__ import annotations

import re
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import promtool, run_vigil, tool
from dashboard_queries import dashboards, has_data, panels, prom_targets, query, resolve, target_expr
from native import native_stack, Process, free_port, prometheus, wait_for

from vigil.kinds import nginx

INVENTORY = """\
  - name: web
    team: platform
    kind: nginx
    targets: ["127.0.0.1:{exp}"]
    alerts:
      down: {{for: 2s}}
      connections: {{warning: 5, critical: 8, for: 0s}}
      dropped: {{for: 0s}}
"""
OVERRIDES = """\
  - name: web-tuned
    team: platform
    kind: nginx
    targets: ["127.0.0.1:{closed}"]
    alerts:
      connections: {{warning: 300, critical: 700, for: 2m}}
      dropped: {{warning: 0.25, for: 30s}}
  - name: web-quiet
    team: platform
    kind: nginx
    alerts:
      disabled: [connections]
"""
NGINX_CONF = """\
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections {workers}; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location /stub_status {{ stub_status; }}
        location / {{ return 200 "ok\\n"; }}
    }}
}}
"""
WORKER_CONNECTIONS = 24     # the listening socket takes one of them
NOT_THE_EXPORTERS = {"up", "ALERTS", "ALERTS_FOR_STATE"}


def metric_names(expr: str) -> set[str]:
    return set(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", expr)) - NOT_THE_EXPORTERS


def exposed(port: int) -> set[str]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {re.split(r"[{ ]", line, maxsplit=1)[0] for line in text.splitlines() if line and not line.startswith("#")}


def rules_of(tree: Path, service: str) -> list[dict]:
    doc = yaml.safe_load((tree / "prometheus/rules/services" / f"{service}.yml").read_text())
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


def traffic(port: int, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
        except (urllib.error.URLError, OSError):
            pass
        stop.wait(0.05)


def firing(url: str, alertname: str, service: str = "web") -> bool:
    return has_data(query(url, f'ALERTS{{alertname="{alertname}",alertstate="firing",service="{service}"}}'))


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server, exporter = tool("nginx"), tool("prometheus-nginx-exporter")
    tool("prometheus")
    tmp = tmp_path_factory.mktemp("kind-nginx")
    ports = {k: free_port() for k in ("prom", "closed", "nginx", "exp")}
    (tmp / "inventory.yml").write_text(native_stack("kind-nginx", ports, ("platform",)) + INVENTORY.format(**ports))
    tree = tmp / "tree"
    result = run_vigil("generate", "-i", str(tmp / "inventory.yml"), "-o", str(tree))
    assert result.returncode == 0, result.stderr
    (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, port=ports["nginx"], workers=WORKER_CONNECTIONS))
    web = Process([server, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-e", str(tmp / "error.log")], tmp,
                  tmp / "nginx.log").start()
    procs = [web]
    stop = threading.Event()
    try:
        # 0.11 exits at start when it cannot read stub_status: nginx first.
        wait_for("nginx", lambda: urllib.request.urlopen(f"http://127.0.0.1:{ports['nginx']}/stub_status", timeout=1),
                 10, proc=web)
        procs.append(Process([exporter, f"-nginx.scrape-uri=http://127.0.0.1:{ports['nginx']}/stub_status",
                              f"-web.listen-address=127.0.0.1:{ports['exp']}"], tmp, tmp / "exporter.log").start())
        threading.Thread(target=traffic, args=(ports["nginx"], stop), daemon=True).start()
        prom = prometheus(tree, ports["prom"], tmp / "prom-data", tmp / "prometheus.log").start()
        procs.append(prom)
        url = f"http://127.0.0.1:{ports['prom']}"
        for what, expr in (("nginx reached", 'nginx_up{service="web"} == 1'),
                           ("rates over three samples", 'count_over_time(nginx_up{service="web"}[1m]) >= 3')):
            wait_for(what, lambda e=expr: has_data(query(url, e)), 20, proc=prom)
        yield {"url": url, "tree": tree, "tmp": tmp, "ports": ports, "nginx": web}
    finally:
        stop.set()
        for p in reversed(procs):
            p.stop()


def test_every_metric_of_the_rules_and_dashboard_is_exposed_by_the_exporter(live):
    used = set()
    for rule in rules_of(live["tree"], "web"):
        used |= metric_names(rule["expr"])
    for p in panels(dashboards(live["tree"])["vigil/vigil-nginx"]):
        for t in prom_targets(p):
            used |= metric_names(t["expr"])
    assert {"nginx_up", "nginx_connections_accepted", "nginx_connections_handled"} <= used
    have = exposed(live["ports"]["exp"])
    assert not used - have, f"not exposed by prometheus-nginx-exporter: {sorted(used - have)}"


def test_every_panel_and_alert_expression_runs_and_the_panels_have_data(live):
    url = live["url"]
    d = dashboards(live["tree"])["vigil/vigil-nginx"]
    every, first = resolve(url, d)
    errors, empty = [], []
    for p in panels(d):
        for t in prom_targets(p):
            for values in (every, first):
                result = query(url, target_expr(t, values))
                if result.get("status") != "success":
                    errors.append(f"{p['title']}: {result.get('error')}\n    {t['expr']}")
            # ALERTS panels may be empty: nothing need fire yet.
            if not has_data(query(url, target_expr(t, every))) and "ALERTS{" not in t["expr"]:
                empty.append(f"{p['title']}: {t['expr']}")
    for rule in rules_of(live["tree"], "web"):
        result = query(url, rule["expr"])
        if result.get("status") != "success":
            errors.append(f"{rule['alert']}: {result.get('error')}\n    {rule['expr']}")
    assert not errors, "\n".join(errors)
    assert not empty, "panels without data:\n" + "\n".join(empty)
    assert not firing(url, "NginxDroppedConnections")       # nothing dropped yet: accepted == handled


def test_promtool_tests_follow_overridden_thresholds(live, tmp_path):
    inv = tmp_path / "inventory.yml"
    inv.write_text((live["tmp"] / "inventory.yml").read_text() + OVERRIDES.format(**live["ports"]))
    tree = tmp_path / "tree"
    result = run_vigil("generate", "-i", str(inv), "-o", str(tree))
    assert result.returncode == 0, result.stderr
    tuned = {(r["alert"], r["labels"]["severity"]): r for r in rules_of(tree, "web-tuned")}
    assert tuned[("NginxTooManyConnections", "critical")]["expr"].endswith("> 700")
    assert tuned[("NginxDroppedConnections", "warning")]["expr"].endswith("[5m]) > 0.25")
    assert "NginxTooManyConnections" not in {r["alert"] for r in rules_of(tree, "web-quiet")}
    tests = [f"prometheus/tests/services/{s}.test.yml" for s in ("web", "web-tuned", "web-quiet")]
    result = promtool("test", "rules", *tests, cwd=tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(tests)
    names = set(re.findall(r"name: (Nginx\w+|ServiceDown)", (tree / tests[1]).read_text()))
    assert names >= set(nginx.RUNBOOKS), names


def test_connections_past_worker_connections_are_dropped_and_alerted(live):
    url, port = live["url"], live["ports"]["nginx"]
    held = []
    try:
        # Past worker_connections nginx first closes idle ("reusable") connections; ones halfway through
        # a request header are not, so past them it accepts connections and drops them unhandled.
        for _ in range(WORKER_CONNECTIONS + 6):
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.sendall(b"GET / HTTP/1.1\r\n")
            held.append(s)
            time.sleep(0.01)
        time.sleep(0.5)
        for s in held[10:]:                         # room for the exporter again; 10 stay connected
            s.close()
        for alertname in ("NginxDroppedConnections", "NginxTooManyConnections"):
            wait_for(f"{alertname} firing", lambda a=alertname: firing(url, a), 15)
    finally:
        for s in held:
            s.close()
    assert "worker_connections are not enough" in (live["tmp"] / "error.log").read_text()


def test_stopping_nginx_fires_service_down(live):
    url = live["url"]
    wait_for("nginx up again", lambda: has_data(query(url, 'nginx_up{service="web"} == 1'))
             and not firing(url, "ServiceDown"), 10)
    live["nginx"].stop()
    wait_for("ServiceDown for the stopped nginx", lambda: firing(url, "ServiceDown"), 15)
    # The exporter itself still answers: it is nginx_up that says the server is gone.
    assert has_data(query(url, 'up{service="web"} == 1')) and has_data(query(url, 'nginx_up{service="web"} == 0'))
