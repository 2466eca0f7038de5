"""kind: job with `pushgateway: true`, proven against the real Pushgateway and Prometheus:
a batch job pushes a group, Prometheus scrapes it with the rendered configuration (honor_labels),
the group keeps the job it was pushed as, and JobPushStale fires for that job once it stops
pushing. Without servers: the field is refused on other kinds, push_age without it."""

from __future__ import annotations

import shutil
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import promtool, render_tree, run_vigil, tool
from dashboard_queries import has_data, query
from native import Process, free_port, native_stack, prometheus, wait_for

INVENTORY = """\
  - name: batch
    team: data
    kind: job
    pushgateway: true
    targets: ["127.0.0.1:{push}"]
    alerts:
      push_age: {{warning: 3s}}
"""


def push(url: str, job: str, body: str) -> None:
    req = urllib.request.Request(f"{url}/metrics/job/{job}", data=body.encode(), method="PUT")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status in (200, 202), r.status


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("job-push")
    ports = {k: free_port() for k in ("prom", "closed", "push")}
    (tmp / "inventory.yml").write_text(native_stack("jobs", ports, ("data",)) + INVENTORY.format(**ports))
    tree = render_tree(tmp / "inventory.yml", tmp / "tree")
    # Its own persistence file: Debian's build defaults to one shared by the machine.
    gateway = Process([tool("prometheus-pushgateway"), f"--web.listen-address=127.0.0.1:{ports['push']}",
                       f"--persistence.file={tmp / 'pushgateway.data'}"], tmp, tmp / "pushgateway.log").start()
    prom = prometheus(tree, ports["prom"], tmp / "prom-data", tmp / "prometheus.log").start()
    url, push_url = f"http://127.0.0.1:{ports['prom']}", f"http://127.0.0.1:{ports['push']}"
    try:
        wait_for("Pushgateway ready", lambda: urllib.request.urlopen(f"{push_url}/-/ready", timeout=5).status == 200,
                 60, proc=gateway)
        wait_for("Prometheus ready", lambda: urllib.request.urlopen(f"{url}/-/ready", timeout=5).status == 200,
                 60, proc=prom)
        yield {"url": url, "push": push_url, "tree": tree, "prom": prom}
    finally:
        prom.stop()
        gateway.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_the_rendered_scrape_job_honors_the_pushed_labels(live):
    config = yaml.safe_load((live["tree"] / "prometheus/prometheus.yml").read_text())
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "batch"]
    assert job["honor_labels"] is True
    result = promtool("check", "config", "--lint=none", "prometheus.yml", cwd=live["tree"] / "prometheus")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_pushed_group_keeps_its_job_and_goes_stale(live):
    url = live["url"]
    push(live["push"], "nightly", "# TYPE nightly_rows_exported gauge\nnightly_rows_exported 42\n")
    got = wait_for("the pushed group in Prometheus under its own job",
                   lambda: query(url, 'nightly_rows_exported{job="nightly",service="batch"}')["data"]["result"],
                   60, proc=live["prom"])
    labels = got[0]["metric"]
    # Its own job, not the scrape job's renamed aside; the service and team still the inventory's.
    assert "exported_job" not in labels and labels["team"] == "data" and labels["kind"] == "job", labels
    # The Pushgateway's own up keeps the scrape job: ServiceDown still watches it.
    assert has_data(query(url, 'up{job="batch",service="batch"} == 1'))
    # No more pushes: older than push_age (3s), JobPushStale fires for the pushed job.
    fired = wait_for("JobPushStale firing for the pushed job", lambda: query(
        url, 'ALERTS{alertname="JobPushStale",alertstate="firing",service="batch"}')["data"]["result"],
        60, proc=live["prom"])
    alert = fired[0]["metric"]
    assert alert["job"] == "nightly" and alert["severity"] == "warning" and alert["team"] == "data", alert
    assert "exported_job" not in alert


def test_the_generated_rule_tests_pass(live):
    tree = live["tree"]
    result = promtool("test", "rules", "tests/services/batch.test.yml", cwd=tree / "prometheus")
    assert result.returncode == 0, result.stdout + result.stderr


def _problems(tmp: Path, services: str) -> str:
    ports = {"prom": 9090, "closed": 9}
    (tmp / "inventory.yml").write_text(native_stack("jobs", ports, ("data",)) + services)
    result = run_vigil("validate", "-i", str(tmp / "inventory.yml"))
    assert result.returncode == 2, result.stdout + result.stderr
    return result.stderr


def test_pushgateway_is_for_jobs_only(tmp_path):
    err = _problems(tmp_path, "  - {name: api, team: data, kind: http, targets: ['api:80'], pushgateway: true}\n")
    assert "inventory.yml:26: services[0].pushgateway: kind http takes no pushgateway (only job does)" in err, err


def test_push_age_needs_a_pushgateway(tmp_path):
    err = _problems(tmp_path, "  - {name: worker, team: data, kind: job, targets: ['w:9100'],"
                              " alerts: {push_age: {warning: 2h}}}\n")
    assert "services[0].alerts.push_age: push_age watches the groups pushed to a Pushgateway" in err, err
