"""SPEC §3 and §4, checked on the rendered files: every alert carries its
labels and annotations and has tests that show it firing and silent; scrape
jobs carry service, team and kind; the stack watches itself."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from conftest import DATA, ROOT, render_tree
from vigil.kinds import BUILTIN_ALERTNAMES


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> Path:
    return render_tree(DATA / "full.yml", tmp_path_factory.mktemp("full") / "tree")


def load(path: Path):
    return yaml.safe_load(path.read_text())


def alerts(tree: Path):
    for path in sorted((tree / "prometheus/rules").rglob("*.yml")):
        for group in load(path)["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    yield path, rule


@pytest.mark.parametrize("which", ["example", "full"])
def test_every_alert_carries_the_labels_and_annotations_of_spec_4(which, full):
    tree = ROOT if which == "example" else full
    seen = 0
    for path, rule in alerts(tree):
        where = f"{path.name}: {rule['alert']}"
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), where
        assert "team" in rule["labels"], where
        # service comes from the rule; the stack's own rules cover several parts and take it from the
        # series (test_every_fired_alert_has_service_team_severity shows they carry it).
        assert "service" in rule["labels"] or path.name == "stack.yml", where
        assert set(rule["annotations"]) >= {"summary", "description", "runbook_url", "dashboard_url"}, where
        assert rule["annotations"]["dashboard_url"].startswith(("http://", "https://")), where
        seen += 1
    assert seen > 10


def test_every_fired_alert_has_service_team_severity(full):
    """What Alertmanager will see: the labels of each expected alert in the tests."""
    for path in (full / "prometheus/tests").rglob("*.test.yml"):
        for test in load(path)["tests"]:
            for check in test["alert_rule_test"]:
                for alert in check["exp_alerts"]:
                    assert {"service", "team", "severity"} <= set(alert["exp_labels"]), (path.name, test["name"])


def test_every_alert_has_a_firing_and_a_silent_test(full):
    fired, silent = defaultdict(set), defaultdict(set)
    for path in (full / "prometheus/tests").rglob("*.test.yml"):
        rules_file = path.name.removesuffix(".test.yml")
        for test in load(path)["tests"]:
            for check in test["alert_rule_test"]:
                target = fired if check["exp_alerts"] else silent
                target[rules_file].add(check["alertname"])
                for alert in check["exp_alerts"]:
                    fired[rules_file].add((check["alertname"], alert["exp_labels"]["severity"]))
    for path, rule in alerts(full):
        name = path.name.removesuffix(".yml")
        if rule["alert"] != "Watchdog":   # it fires always, by design
            assert rule["alert"] in silent[name], f"{path.name}: {rule['alert']} has no silent test"
        # User rules without example series can only be shown silent; every other rule must fire.
        if rule["alert"] != "CheckoutNoOrders":
            assert (rule["alert"], rule["labels"]["severity"]) in fired[name], \
                f"{path.name}: {rule['alert']} ({rule['labels']['severity']}) is never shown firing"


def test_every_test_in_a_file_has_a_name_of_its_own(full):
    """promtool names the failing test and nothing else: two tests of one name leave the on-call
    reader guessing which case broke."""
    for path in (full / "prometheus/tests").rglob("*.test.yml"):
        names = [test["name"] for test in load(path)["tests"]]
        assert len(names) > 0 and len(set(names)) == len(names), \
            (path.name, sorted({n for n in names if names.count(n) > 1}))


def test_builtin_alert_names_are_all_rendered_and_complete(full):
    rendered = {rule["alert"] for _, rule in alerts(full)}
    rendered |= {rule["alert"] for group in load(full / "loki/rules/fake/vigil.yml")["groups"]
                 for rule in group["rules"]}
    user = {"CheckoutQueueBacklog", "CheckoutNoOrders", "MailerQueueStuck"}
    assert rendered - user == BUILTIN_ALERTNAMES


def test_scrape_jobs_carry_service_team_kind(full):
    config = load(full / "prometheus/prometheus.yml")
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    for name, job in jobs.items():
        for sc in job["static_configs"]:
            assert {"service", "team", "kind"} <= set(sc["labels"]), name
    assert jobs["checkout"]["metrics_path"] == "/internal/metrics"
    assert jobs["checkout"]["static_configs"][0] == {
        "targets": ["checkout:8000", "checkout-2:8000", "checkout-3:8000"],
        "labels": {"service": "checkout", "team": "payments", "kind": "http", "tier": "frontend", "region": "eu"}}
    assert jobs["orders-db"]["static_configs"][0]["targets"] == ["orders-db-exporter:9187"]
    # The stack's own parts and its host are always there.
    assert {"prometheus", "alertmanager", "grafana", "loki", "alloy", "blackbox", "cadvisor", "stack-host"} <= set(jobs)
    assert jobs["stack-host"]["static_configs"][0]["targets"] == ["127.0.0.1:9100"]


def test_probes_go_through_the_blackbox_exporter(full):
    config = load(full / "prometheus/prometheus.yml")
    probe = next(j for j in config["scrape_configs"] if j["job_name"] == "blackbox_http")
    targets = {sc["targets"][0]: sc["labels"] for sc in probe["static_configs"]}
    assert targets["https://www.example.com/"]["kind"] == "probe"
    assert targets["http://checkout:8000/health"] == {"service": "checkout", "team": "payments", "kind": "http",
                                                      "tier": "frontend", "region": "eu", "probe": "health"}
    assert {"target_label": "__address__", "replacement": "127.0.0.1:9115"} in probe["relabel_configs"]
    assert probe["params"] == {"module": ["http_2xx"]}
    assert "http_2xx" in load(full / "blackbox/blackbox.yml")["modules"]


def test_global_settings_alerting_and_remote_write(full):
    config = load(full / "prometheus/prometheus.yml")
    assert config["global"] == {"scrape_interval": "10s", "evaluation_interval": "20s",
                                "external_labels": {"stack": "full-test", "env": "staging"}}
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:9093"]
    assert config["remote_write"] == [{"url": "https://mimir.example.com/api/v1/push", "name": "mimir"}]
    # Relative paths: the same files run in a container and as a plain process.
    assert all(not p.startswith("/") for p in config["rule_files"])
    for path in (full / "prometheus/tests").rglob("*.test.yml"):
        (rule_file,) = load(path)["rule_files"]
        assert (path.parent / rule_file).resolve().is_file()


def test_links_follow_the_dashboard_uid_scheme(full):
    urls = {(p.name, r["alert"]): r["annotations"] for p, r in alerts(full)}
    base = "https://grafana.example.com/d/"
    assert urls[("checkout.yml", "HighErrorRate")]["dashboard_url"] == base + "svc-checkout"
    assert urls[("checkout.yml", "HighErrorRate")]["runbook_url"] == "https://wiki.example.com/runbooks/checkout"
    assert urls[("api.yml", "ServiceDown")]["runbook_url"] == "https://wiki.example.com/runbooks#servicedown"
    assert urls[("web-1.yml", "HostDiskFull")]["dashboard_url"] == base + "vigil-host?var-service=web-1"
    assert urls[("homepage.yml", "ProbeSlow")]["dashboard_url"] == base + "vigil-probes?var-service=homepage"
    assert urls[("orders-db.yml", "ServiceDown")]["dashboard_url"] == base + "vigil-postgres?var-service=orders-db"
    assert urls[("stack.yml", "Watchdog")]["dashboard_url"] == base + "vigil-stack"


def test_overrides_and_disabled_alerts_reach_the_rules(full):
    names = defaultdict(set)
    exprs = {}
    for path, rule in alerts(full):
        names[path.name].add(rule["alert"])
        exprs[(path.name, rule["alert"], rule["labels"]["severity"])] = (rule["expr"], rule.get("for"))
    assert "HighLatency" not in names["api.yml"]
    assert "ServiceDown" not in names["nightly-export.yml"]
    assert {"HostHighCpu", "HostDiskWillFill"}.isdisjoint(names["db-host.yml"])
    assert "HighLatency" not in names["counter-only.yml"]     # no duration histogram: no latency alerts
    assert "CertificateExpiresSoon" not in names["status-api.yml"]   # plain http: no certificate
    assert exprs[("checkout.yml", "HighErrorRate", "warning")] == (
        'service:http_error_ratio:rate5m{service="checkout"} > 0.005 and on (service, team) '
        'service:http_requests:rate5m{service="checkout"} * 300 >= 50', "5m")
    assert ("checkout.yml", "HighErrorRate", "critical") not in exprs        # its SLO pages instead
    assert exprs[("checkout.yml", "ServiceDown", "critical")] == (
        '(up{job="checkout"} == 0) unless on (service) (max by (service) (up{job="checkout"}) > 0)', "30s")
    assert exprs[("checkout.yml", "InstanceDown", "critical")][1] == "1m"
    assert exprs[("api.yml", "ServiceDown", "critical")] == ('up{job="api"} == 0', "30s")
    assert exprs[("cache.yml", "ServiceDown", "critical")][1] == "2m"
    assert exprs[("homepage.yml", "CertificateExpiresSoon", "critical")] == (
        'max_over_time(probe_ssl_earliest_cert_expiry{job="blackbox_http",service="homepage"}[40s]) - time() > 0 and '
        'max_over_time(probe_ssl_earliest_cert_expiry{job="blackbox_http",service="homepage"}[40s]) - time() < 604800',
        "1h")


def test_instrumentation_presets_pick_the_library_metric_names(full):
    records = {}
    for path in (full / "prometheus/rules/services").glob("*.yml"):
        for group in load(path)["groups"]:
            for rule in group["rules"]:
                if rule.get("record") == "service:http_errors:rate5m":
                    records[path.stem] = rule["expr"]
    assert 'http_requests_total{service="checkout",status=~"5.."}' in records["checkout"]
    assert 'starlette_requests_total{service="catalog",status_code=~"5.."}' in records["catalog"]
    assert 'django_http_responses_total_by_status_total{service="backoffice",status=~"5.."}' in records["backoffice"]
    assert 'http_server_request_duration_seconds_count{service="gateway",http_response_status_code=~"5.."}' \
        in records["gateway"]
    assert 'http_server_requests_seconds_count{service="billing",status=~"5.."}' in records["billing"]
    assert 'legacy_hits_total{service="legacy",code=~"5.."}' in records["legacy"]


def test_the_reference_documents_every_kind_alert_and_builtin():
    doc = (ROOT / "docs/inventory.md").read_text()
    from vigil.kinds import KINDS
    from vigil.presets import PRESETS
    for kind, module in KINDS.items():
        assert f"`{kind}`" in doc, kind
        for key in module.ALERTS:
            assert f"| `{key}` |" in doc, f"docs/inventory.md lacks the {kind} alert key {key}"
    for name in BUILTIN_ALERTNAMES | set(PRESETS):
        assert f"`{name}`" in doc, f"docs/inventory.md lacks {name}"
