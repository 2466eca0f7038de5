"""Grafana cannot run here, so the dashboards are proven in the two ways that can:
by shape (every dashboard and provisioning file is what the pinned Grafana reads,
and every alert's dashboard link lands on a rendered dashboard), and by running
every panel's PromQL against the real Prometheus scraping real targets: none may
error, and the http service's dashboard, the overview and the stack's must show data.
"""

from __future__ import annotations

import re
import shutil
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import DATA, ROOT, promtool, render_tree, run_vigil
from dashboard_queries import (
    BUILTINS,
    VAR,
    dashboards,
    expand,
    has_data,
    label_values,
    panels,
    prom_targets,
    query,
    resolve,
    target_expr,
    variables,
)
from logql import parse_errors
from native import native_stack, Process, alertmanager, free_port, prometheus, wait_for
from vigil import runbooks, slo
from vigil.kinds import http
from vigil.dashboards import builder, overview
from vigil.dashboards import job as job_dashboard
from vigil.dashboards import service as service_dashboard
from vigil.inventory import Service
from vigil.dashboards.builder import (
    Dashboard,
    Row,
    Target,
    Thresholds,
    Variable,
    layout,
    stat,
    timeseries,
)
from vigil.dashboards.datasources import GRAFANA
from vigil.render.grafana import DASHBOARDS_MOUNT, to_json
from vigil.runbooks import all_runbooks
from vigil.units import Duration
from vigil.validate import load_inventory

APP = Path(__file__).parent / "apps" / "red_app.py"
# The shop is the demo service itself (demo/app.py): its own synthetic traffic, broken to `errors`
# so the error panels and HighErrorRate have something to show.
DEMO = [sys.executable, str(ROOT / "demo" / "app.py"), "serve", "--port"]
DEMO_ENV = {"DEMO_TRAFFIC_RPS": "40", "DEMO_MODE": "errors"}



# ---------------------------------------------------------------- reading a rendered tree


def load_yaml(path: Path):
    return yaml.safe_load(path.read_text())


def alert_rules(tree: Path):
    for path in sorted((tree / "prometheus/rules").rglob("*.yml")):
        for group in load_yaml(path)["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    yield path, rule


def dashboard_urls(tree: Path):
    for path, rule in alert_rules(tree):
        yield f"{path.name}: {rule['alert']}", rule["annotations"]["dashboard_url"]


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> Path:
    return render_tree(DATA / "full.yml", tmp_path_factory.mktemp("grafana") / "tree")


@pytest.fixture(scope="module", params=["example", "full"])
def tree(request, full) -> Path:
    return ROOT if request.param == "example" else full


# ---------------------------------------------------------------- provisioning


def test_datasources_have_fixed_uids_and_the_inventorys_endpoints(full):
    config = load_yaml(full / "grafana/provisioning/datasources/vigil.yml")
    assert config["apiVersion"] == 1
    by_uid = {d["uid"]: d for d in config["datasources"]}
    assert {uid: d["type"] for uid, d in by_uid.items()} == {
        "prometheus": "prometheus", "alertmanager": "alertmanager", "loki": "loki"}
    # full.yml points prometheus and alertmanager at 127.0.0.1; loki keeps its Compose default.
    assert by_uid["prometheus"]["url"] == "http://127.0.0.1:9090"
    assert by_uid["alertmanager"]["url"] == "http://127.0.0.1:9093"
    assert by_uid["loki"]["url"] == "http://loki:3100"
    assert by_uid["alertmanager"]["jsonData"]["implementation"] == "prometheus"
    assert by_uid["prometheus"]["jsonData"]["timeInterval"] == "10s"      # full.yml's scrape_interval
    assert [d["uid"] for d in config["datasources"] if d["isDefault"]] == ["prometheus"]
    for d in config["datasources"]:
        assert d["access"] == "proxy" and d["editable"] is False and d["name"]


def test_one_provider_per_folder_and_every_folder_has_one(tree):
    config = load_yaml(tree / "grafana/provisioning/dashboards/vigil.yml")
    assert config["apiVersion"] == 1
    providers = config["providers"]
    dirs = sorted(p.name for p in (tree / "grafana/dashboards").iterdir())
    assert sorted(p["options"]["path"] for p in providers) == [f"{DASHBOARDS_MOUNT}/{d}" for d in dirs]
    for key in ("name", "folder", "folderUid"):
        values = [p[key] for p in providers]
        assert len(set(values)) == len(values), key
    for p in providers:
        assert p["type"] == "file" and p["orgId"] == 1 and 0 < len(p["folderUid"]) <= 40
        assert p["options"]["foldersFromFilesStructure"] is False     # `folder` names the folder
    inventory = load_yaml(DATA / "full.yml") if tree != ROOT else load_yaml(ROOT / "inventory.yml")
    teams = {t["name"] for t in inventory["teams"]}
    assert {p["folder"] for p in providers} <= teams | {"Vigil"}
    assert "Vigil" in {p["folder"] for p in providers}


def test_team_folders_hold_their_teams_services(full):
    inventory = load_yaml(DATA / "full.yml")
    owner = {s["name"]: s["team"] for s in inventory["services"]}
    found = dashboards(full)
    for key in found:
        folder, uid = key.split("/")
        if uid.startswith("svc-"):
            assert folder == f"team-{owner[uid[4:]]}", key
        else:
            assert folder == "vigil", key
    expected = {f"svc-{s['name']}" for s in inventory["services"] if s["kind"] in ("http", "job")}
    assert {k.split("/")[1] for k in found if k.split("/")[1].startswith("svc-")} == expected


# ---------------------------------------------------------------- dashboards by shape


def test_every_dashboard_is_deterministic_json_for_the_pinned_grafana(tree):
    found = dashboards(tree)
    assert {"vigil/vigil-overview", "vigil/vigil-alerts", "vigil/vigil-stack", "vigil/vigil-host",
            "vigil/vigil-probes"} <= set(found)
    uids = [d["uid"] for d in found.values()]
    assert len(set(uids)) == len(uids)
    for key, d in found.items():
        path = tree / "grafana/dashboards" / f"{key}.json"
        assert path.read_bytes() == to_json(d)   # canonical: sorted keys, a line per key and per panel
        assert d["uid"] == key.split("/")[1] and 0 < len(d["uid"]) <= 40
        assert d["schemaVersion"] == builder.SCHEMA_VERSION
        assert "id" not in d, "provisioned dashboards carry no database id"
        assert "vigil" in d["tags"] and d["title"]
        assert d["annotations"]["list"][0]["builtIn"] == 1


def test_panels_have_unique_ids_and_fit_the_grid_without_overlapping(tree):
    for key, d in dashboards(tree).items():
        ids = [p["id"] for p in panels(d)]
        assert len(set(ids)) == len(ids), key
        for p in panels(d):
            g = p["gridPos"]
            assert all(isinstance(g[k], int) for k in "hwxy"), (key, p["title"])
            assert g["w"] > 0 and g["h"] > 0 and g["x"] >= 0 and g["y"] >= 0
            assert g["x"] + g["w"] <= builder.GRID_WIDTH, (key, p["title"])
        # Rows and the panels shown at once (a collapsed row's panels take room only when opened).
        boxes = [(g["x"], g["y"], g["x"] + g["w"], g["y"] + g["h"], p["title"])
                 for p in d["panels"] for g in (p["gridPos"],)]
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                overlap = a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
                assert not overlap, f"{key}: {a[4]!r} overlaps {b[4]!r}"


def test_every_query_names_a_provisioned_datasource_and_defined_variables(tree):
    provisioned = {d["uid"]: d["type"] for d in
                   load_yaml(tree / "grafana/provisioning/datasources/vigil.yml")["datasources"]}
    for key, d in dashboards(tree).items():
        names = set(variables(d)) | set(BUILTINS)
        # Every dashboard can be pointed at another Prometheus: its first variable picks it,
        # the provisioned one by default, and every Prometheus query reads it.
        chosen = d["templating"]["list"][0]
        assert (chosen["name"], chosen["type"], chosen["query"]) == ("datasource", "datasource", "prometheus"), key
        assert provisioned[chosen["current"]["value"]] == "prometheus"

        def uid(ref: dict) -> str:
            if ref["type"] == "prometheus":
                assert ref["uid"] == "${datasource}", (key, ref)
                return chosen["current"]["value"]
            return ref["uid"]
        for v in d["templating"]["list"]:
            if v["type"] == "query":
                assert uid(v["datasource"]) in provisioned
        for a in d["annotations"]["list"]:
            assert a["datasource"] == GRAFANA
        for p in panels(d):
            if p["type"] in ("row", "text"):
                continue
            assert p["targets"], (key, p["title"])
            assert uid(p["datasource"]) in provisioned, (key, p["title"])
            refs = [t["refId"] for t in p["targets"]]
            assert len(set(refs)) == len(refs)
            for t in p["targets"]:
                assert uid(t["datasource"]) in provisioned and t["expr"].strip(), (key, p["title"])
                used = {a or b or c for a, b, c in VAR.findall(t["expr"])} - {str(i) for i in range(10)}
                assert used <= names, (key, p["title"], used - names)


# Values of the log dashboards' variables as Grafana would interpolate them (regex-escaped text).
LOG_VARIABLES = {**BUILTINS, "search": r"req-1\.2", "exception": r"Key\.Error", "service": "(demo|shop)"}


def test_every_logql_query_parses_with_grafanas_grammar(tree):
    """Loki cannot run here: its queries go through Grafana's own LogQL parser, with the
    variables filled in as Grafana would; each service dashboard has its log panels."""
    found = []
    for key, d in dashboards(tree).items():
        for p in panels(d):
            for t in p.get("targets", []):
                if t["datasource"]["type"] == "loki":
                    found.append((f"{key} / {p['title']}", target_expr(t, LOG_VARIABLES)))
    errors = [f"{where}: {err}\n    {expr}" for (where, expr), err in zip(found, parse_errors([e for _, e in found]))
              if err]
    assert not errors, "\n".join(errors)
    services = [k for k in dashboards(tree) if k.split("/")[1].startswith("svc-")]
    assert services and len([w for w, _ in found if "/svc-" in w]) == 3 * len(services)
    assert len([w for w, _ in found if w.startswith("vigil/vigil-errors")]) == 5


def test_units_are_grafana_unit_ids(tree):
    inventory = load_yaml(DATA / "full.yml") if tree != ROOT else load_yaml(ROOT / "inventory.yml")
    theirs = {p.get("unit", "short") for s in inventory["services"] for p in s.get("panels", [])}
    for key, d in dashboards(tree).items():
        for p in panels(d):
            if p["type"] == "row":
                continue
            units = {p["fieldConfig"]["defaults"]["unit"]}
            units |= {prop["value"] for o in p["fieldConfig"]["overrides"] for prop in o["properties"]
                      if prop["id"] == "unit"}
            assert units <= builder.UNITS | theirs, (key, p["title"], units)


def test_every_alert_links_to_a_rendered_dashboard(tree):
    found = {d["uid"]: d for d in dashboards(tree).values()}
    checked = 0
    for where, url in dashboard_urls(tree):
        path = url.split("/d/", 1)[1]
        uid, _, query = path.partition("?")
        assert uid in found, f"{where}: {url} names no rendered dashboard"
        for name, _ in urllib.parse.parse_qsl(query):
            assert name.startswith("var-") and name[4:] in variables(found[uid]), f"{where}: {url}"
        checked += 1
    assert checked > 10


def test_every_alert_has_a_runbook_where_it_links(tree):
    """Vigil's own alerts have written runbooks; every rendered alert
    has a panel titled with its name on the runbooks dashboard, where its default link lands."""
    # (that every rendered alert of Vigil's has one: test_contract's builtin-names test)
    assert all(book.means and book.check for book in all_runbooks().values())
    books = dashboards(tree)[f"vigil/{runbooks.DASHBOARD}"]
    titles = {p["title"].split(" (")[0]: p for p in panels(books) if p["type"] == "text"}
    by_id = {p["id"]: p for p in panels(books)}
    checked, linked = 0, 0
    for path, rule in alert_rules(tree):
        assert rule["alert"] in titles, f"{path.name}: {rule['alert']} has no runbook panel"
        assert titles[rule["alert"]]["options"]["content"].strip()
        url = rule["annotations"]["runbook_url"]
        assert f"/d/{runbooks.DASHBOARD}#" not in url, "a runbook link lands on the top of the page"
        if f"/d/{runbooks.DASHBOARD}?" in url:
            # It opens the alert's own panel alone: Grafana's viewPanel=panel-<id>.
            (view,) = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["viewPanel"]
            assert view.startswith("panel-"), url
            panel = by_id.get(int(view.removeprefix("panel-")))
            assert panel is not None, f"{path.name}: {rule['alert']}: {url} names no panel"
            assert panel["title"] in (rule["alert"], f"{rule['alert']} ({rule['labels'].get('service')})"), url
            assert panel["type"] == "text"
            linked += 1
        checked += 1
    assert checked > 10 and linked > (10 if tree == ROOT else -1)


def test_dashboard_links_and_data_links_land_on_rendered_dashboards(tree):
    found = {d["uid"] for d in dashboards(tree).values()}
    for key, d in dashboards(tree).items():
        urls = [link["url"] for link in d["links"] if link["type"] == "link"]
        urls += [link["url"] for p in panels(d) for link in p.get("links", [])]
        for url in urls:
            uid = url.split("/d/", 1)[1].partition("?")[0]
            assert uid in found, (key, url)


def test_overview_rows_link_by_the_kinds_own_uid_scheme(full):
    overview = dashboards(full)["vigil/vigil-overview"]
    (table,) = [p for p in panels(overview) if p["type"] == "table"]
    status = table["targets"][0]["expr"]
    # One term per dashboard scheme, each from its kind module.
    for path in ('"svc-$1"', '"vigil-host?var-service=$1"', '"vigil-probes?var-service=$1"',
                 '"vigil-postgres?var-service=$1"', '"vigil-redis?var-service=$1"'):
        assert path in status
    links = [prop["value"] for o in table["fieldConfig"]["overrides"] for prop in o["properties"]
             if prop["id"] == "links"]
    assert links == [[{"title": "Open its dashboard", "url": "/d/${__data.fields.dashboard}", "targetBlank": False}]]
    assert "team" in variables(overview)


def test_service_dashboards_read_the_thresholds_of_their_alerts(full):
    d = dashboards(full)["team-payments/svc-checkout"]
    by_title = {p["title"]: p for p in panels(d)}
    steps = by_title["Errors"]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    # (its SLOs page for errors and latency: the threshold alerts only warn, so no red line)
    assert [(s["value"], s["color"]) for s in steps] == [(None, "green"), (0.005, "orange")]
    steps = by_title["p95 latency"]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in steps] == [None, 0.5]
    # The user's own panels, as written in the inventory.
    assert by_title["Orders per minute"]["targets"][0]["expr"] == "sum(rate(orders_total[5m])) * 60"
    assert by_title["Queue depth"]["type"] == "stat"
    # Deploy markers: Grafana annotations tagged with the service name.
    (deploys,) = [a for a in d["annotations"]["list"] if a["name"] == "Deploys"]
    assert deploys["target"] == {"type": "tags", "tags": ["deploy", "service:checkout"], "matchAny": False,
                                 "limit": 100}
    # Each preset's route label; a counter without one is broken down by status only.
    exprs = {k: [t["expr"] for p in panels(v) for t in p.get("targets", [])] for k, v in dashboards(full).items()}
    assert any("sum by (handler, status)" in e for e in exprs["team-platform/svc-api"])
    assert any("sum by (http_route, http_response_status_code)" in e for e in exprs["team-platform/svc-gateway"])
    assert any("sum by (status) (rate(django_http" in e for e in exprs["team-payments/svc-backoffice"])
    # ... and says so: no route variable, "by status" where another preset says "by route"
    backoffice = dashboards(full)["team-payments/svc-backoffice"]
    assert "route" not in variables(backoffice) and "route" in variables(d)
    titles = {p["title"] for p in panels(backoffice)}
    assert {"Requests by status", "5xx by status"} <= titles and not {t for t in titles if "by route" in t}
    # No latency rules without a histogram: no latency panels either.
    assert not any("duration" in e for e in exprs["team-data/svc-counter-only"])
    assert "p95 by instance" not in {p["title"] for p in panels(dashboards(full)["team-data/svc-counter-only"])}
    # Each instance's p95 from the raw buckets, as the table's column (and narrowed by the same variables).
    (graph,) = [p for p in panels(d) if p["title"] == "p95 by instance"]
    (table,) = [p for p in panels(d) if p["title"] == "Each instance"]
    assert graph["targets"][0]["expr"] == table["targets"][3]["expr"]
    assert "by (instance, le)" in graph["targets"][0]["expr"] and 'instance=~"$instance"' in graph["targets"][0]["expr"]


@pytest.mark.parametrize("instrumentation", ["prometheus-fastapi-instrumentator",
                                             {"preset": "prometheus-fastapi-instrumentator", "buckets": [0.1, 1]}])
def test_a_histogram_without_the_route_label_is_not_split_by_route(instrumentation):
    """The instrumentator's histogram has no labels: no "p95 by route", and the heatmap says it
    covers every route, whether the preset is named or started from."""
    svc = Service.model_validate({"name": "api", "team": "t", "kind": "http", "targets": ["api:80"],
                                  "instrumentation": instrumentation})
    shown = {p["title"]: p for p in panels(service_dashboard.dashboard(svc).to_dict())}
    assert "p95 by route" not in shown and "5xx by route" in shown
    assert "of every route" in shown["Latency heatmap"]["description"]
    assert 'handler=~"$route"' not in shown["Latency heatmap"]["targets"][0]["expr"]


# The panels of an http service's dashboard that draw an alert's levels, and the alert.
LEVEL_PANELS = {"Errors": "HighErrorRate", "Error ratio by instance": "HighErrorRate", "Error ratio": "HighErrorRate",
                "p95 latency": "HighLatency", "Latency p50 / p95 / p99": "HighLatency", "p95 by route": "HighLatency",
                "p95 by instance": "HighLatency"}
LEVEL_COLOURS = {"warning": "orange", "critical": "red"}


def test_service_dashboards_draw_only_the_levels_their_alerts_fire_at(tree):
    """Each threshold line on an error or latency panel is a level of the rendered alert: none for a
    disabled alert, no red one where an SLO pages instead (the alert only warns)."""
    levels = {}
    for _, rule in alert_rules(tree):
        if rule["alert"] in set(LEVEL_PANELS.values()):
            value = float(re.match(r"\S+\{[^}]*\} > ([0-9.e+-]+)", rule["expr"]).group(1))
            levels.setdefault((rule["labels"]["service"], rule["alert"]), {})[
                LEVEL_COLOURS[rule["labels"]["severity"]]] = value
    drawn = []
    for key, d in dashboards(tree).items():
        if "http" not in d["tags"]:
            continue
        for p in panels(d):
            if p["title"] in LEVEL_PANELS:
                steps = p["fieldConfig"]["defaults"]["thresholds"]["steps"]
                found = {s["color"]: s["value"] for s in steps[1:]}
                assert found == levels.get((d["title"], LEVEL_PANELS[p["title"]]), {}), (key, p["title"])
                drawn.append(set(found))
    assert {"orange"} in drawn                    # a service with an SLO (both trees have one)
    if tree != ROOT:
        assert {"orange", "red"} in drawn         # and one without


WINDOW = re.compile(r"\[(\d\w*)(?::\w*)?\]")      # a range or subquery window written as a duration


def windows_longer_than(tree: Path, retention: Duration) -> list[str]:
    out = []
    for key, d in dashboards(tree).items():
        for p in panels(d):
            for t in prom_targets(p):
                out += [f"{key} / {p['title']}: [{w}] in {t['expr']}" for w in WINDOW.findall(t["expr"])
                        if Duration.parse(w) > retention]
    return out


def test_no_panel_window_exceeds_the_retention(tree):
    """A 30-day average over 15 days of data is a 15-day one under a false title: windows follow
    the retention, and the titles say so."""
    inventory = load_inventory(ROOT / "inventory.yml" if tree == ROOT else DATA / "full.yml")
    assert not windows_longer_than(tree, inventory.stack.retention)


def test_windows_follow_a_short_retention_and_say_so(tmp_path):
    inventory = load_yaml(DATA / "full.yml")
    inventory["stack"]["retention"] = "3d"
    for s in inventory["services"]:
        s.pop("slo", None)        # (a 30-day SLO needs 30 days of retention: a located error)
    short = tmp_path / "short.yml"
    short.write_text(yaml.safe_dump(inventory, sort_keys=False))
    cut = render_tree(short, tmp_path / "tree")
    assert not windows_longer_than(cut, Duration.parse("3d"))
    titles = {p["title"] for p in panels(dashboards(cut)["vigil/vigil-probes"])}
    assert "Uptime over 3d (all that is kept)" in titles
    status = next(p for p in panels(dashboards(cut)["vigil/vigil-probes"]) if p["title"] == "Status")
    assert "[3d]" in " ".join(t["expr"] for t in status["targets"])


def test_dashboards_of_many_services_read_recording_rules_not_histograms(full):
    for key in ("vigil/vigil-overview", "vigil/vigil-alerts", "vigil/vigil-stack"):
        for p in panels(dashboards(full)[key]):
            for t in p.get("targets", []):
                assert "_bucket" not in t["expr"] and "histogram_quantile" not in t["expr"], (key, p["title"])
                assert "http_requests_total" not in t["expr"], (key, p["title"])
    # the overview's services table: five instant queries, one series per service each
    (table,) = [p for p in panels(dashboards(full)["vigil/vigil-overview"]) if p["type"] == "table"]
    assert len(table["targets"]) == 5 and all(t["instant"] for t in table["targets"])


def grafana_colour(thresholds: dict, value: float, low: float, high: float) -> str:
    """The colour Grafana gives `value` (@grafana/data getActiveThresholdForValue): the last step at
    or under it; in percentage mode, under its percent of the range low..high (the field's min and
    max; where unset, those of every field the panel shows: fieldOverrides' global range)."""
    if thresholds["mode"] == "percentage":
        value = (value - low) / (high - low) * 100
    colour = thresholds["steps"][0]["color"]
    for step in thresholds["steps"][1:]:
        if value >= step["value"]:
            colour = step["color"]
    return colour


def test_instances_up_is_green_only_when_every_instance_is(tree):
    """"2 up of 2" green, "1 up of 2" orange, "0 up of 2" red: the count up coloured by its share of
    all (the largest value the panel shows), the count of all in the text's colour."""
    found = []
    for key, d in dashboards(tree).items():
        for p in panels(d):
            if [t.get("legendFormat") for t in p.get("targets", [])] != ["up", "of"]:
                continue
            found.append(key)
            defaults = p["fieldConfig"]["defaults"]
            assert defaults["min"] == 0 and "max" not in defaults, (key, p["title"])

            def colour(up: int, of: int) -> str:
                return grafana_colour(defaults["thresholds"], up, defaults["min"], max(up, of))
            shown = [colour(up, of) for up, of in ((2, 2), (1, 1), (150, 150), (1, 2), (149, 150), (1, 150),
                                                   (0, 2), (0, 1))]
            assert shown == ["green"] * 3 + ["orange"] * 3 + ["red"] * 2, (key, p["title"], shown)
            (of,) = [o for o in p["fieldConfig"]["overrides"] if o["matcher"] == {"id": "byFrameRefID",
                                                                                   "options": "B"}]
            assert of["properties"] == [{"id": "color", "value": {"mode": "fixed", "fixedColor": "text"}}]
    assert {"vigil/vigil-host"} < set(found) and any(k.split("/")[1].startswith("svc-") for k in found)


def _saturation(d: dict) -> dict:
    row = next(i for i, p in enumerate(d["panels"]) if p["type"] == "row" and p["title"] == "Saturation")
    return {p["title"]: p["targets"][0]["expr"] for p in d["panels"][row + 1:row + 4]}


# Per instance at 5m: (CPU cores, memory bytes, open fds of the limit), and the series it exports.
MICROMETER = ((1, 150, 0.8), {"process_cpu_usage": "0.25", "system_cpu_count": "4",
                              'jvm_memory_used_bytes{area="heap",id="G1 Eden Space"}': "100",
                              'jvm_memory_used_bytes{area="nonheap",id="Metaspace"}': "50",
                              "process_files_open_files": "80", "process_files_max_files": "100"})
CLIENT = ((1, 1000, 0.01), {"process_cpu_seconds_total": "0+15x40", "process_resident_memory_bytes": "1000",
                            "process_open_fds": "10", "process_max_fds": "1000"})
# A JVM with the Prometheus client library's collectors has both (jvm_* among them): its resident set counts.
BOTH = ((1, 1000, 0.01), {**CLIENT[1], 'jvm_memory_used_bytes{area="heap"}': "100"})


@pytest.mark.parametrize("preset, exported, absent", [
    ("spring-boot", {"a": MICROMETER}, {"b": CLIENT}),
    ("prometheus-client", {"a": CLIENT}, {"b": MICROMETER}),
    ("opentelemetry", {"a": MICROMETER, "b": CLIENT, "c": BOTH}, {}),     # any runtime: either
    ("job", {"a": MICROMETER, "b": CLIENT, "c": BOTH}, {}),
])
def test_saturation_reads_the_process_metrics_of_the_services_library(preset, exported, absent, tmp_path):
    """Run by Prometheus itself (promtool) over the names each library really exports: a Spring Boot
    service's panels read Micrometer's (a CPU share of the host's CPUs, the JVM's memory, its own fd
    names), not the client libraries' `process_*` it does not have; a job or a library Vigil cannot
    tell shows whichever an instance exports, each instance once."""
    kind = {"kind": "job"} if preset == "job" else {"kind": "http", "instrumentation": preset}
    svc = Service.model_validate({"name": "app", "team": "t", "targets": ["a:80"], **kind})
    module = job_dashboard if preset == "job" else service_dashboard
    shown = _saturation(module.dashboard(svc).to_dict())
    assert len(shown) == 3 and all("Process" in t or "file descriptors" in t for t in shown), shown
    series = [{"series": name.replace("{", f'{{job="app",instance="{inst}",', 1) if "{" in name
               else f'{name}{{job="app",instance="{inst}"}}', "values": values if "x" in values else f"{values}x40"}
              for inst, (_, metrics) in {**exported, **absent}.items() for name, values in metrics.items()]
    tests = [{"expr": expand(expr, {"instance": ".*", "__rate_interval": "1m"}), "eval_time": "5m",
              "exp_samples": [{"labels": f'{{instance="{inst}"}}', "value": want[i]}
                              for inst, (want, _) in sorted(exported.items())]}
             for i, expr in enumerate(shown.values())]
    (tmp_path / "process.test.yml").write_text(yaml.safe_dump({"rule_files": [], "evaluation_interval": "15s",
                                                               "tests": [{"interval": "15s", "input_series": series,
                                                                          "promql_expr_test": tests}]}))
    result = promtool("test", "rules", "process.test.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    titles = list(shown)
    assert titles[1] == {"spring-boot": "Process memory (JVM heap and non-heap)",
                         "prometheus-client": "Process memory (resident set)"}.get(preset, "Process memory")


# ---------------------------------------------------------------- the builder itself


def test_layout_wraps_rows_and_numbers_panels():
    row = Row("r", tuple(stat(f"s{i}", Target("up"), width=10) for i in range(3)))
    out = layout([row, Row("collapsed", (timeseries("t", Target("up")),), collapsed=True), Row("last", ())])
    assert [(p["id"], p["gridPos"]["x"], p["gridPos"]["y"]) for p in out] == [
        (1, 0, 0), (2, 0, 1), (3, 10, 1), (4, 0, 5), (5, 0, 9), (7, 0, 10)]
    assert out[4]["panels"][0]["id"] == 6 and out[4]["collapsed"] is True


def test_runbook_links_stay_put_when_alerts_come_and_go():
    """A panel's id comes from its title alone: last month's notification still opens its runbook."""
    # pinned: the links in notifications already sent name these ids
    assert (runbooks.panel_id("HighErrorRate"), runbooks.panel_id("OrdersStuck (shop)")) == (279145318, 156372541)
    assert runbooks.panel_id("HighErrorRate") >= runbooks.FIRST_PANEL_ID
    assert runbooks.panel_title("HighErrorRate", "shop") == "HighErrorRate"       # Vigil's own: one panel
    assert runbooks.panel_title("OrdersStuck", "shop") == "OrdersStuck (shop)"   # a rule of the inventory's
    assert runbooks.link("http://g:3000/", "ServiceDown").startswith("http://g:3000/d/vigil-runbooks?viewPanel=panel-")
    with pytest.raises(ValueError, match="taken"):
        layout([Row("r", (stat("a", Target("up"), id=1000), stat("b", Target("up"), id=1000)))])


def test_builder_refuses_what_grafana_would_reject():
    with pytest.raises(ValueError):
        Dashboard(uid="x" * 41, title="t", rows=())
    with pytest.raises(ValueError):
        stat("no query")
    with pytest.raises(ValueError):
        timeseries("too wide", Target("up"), width=25)
    with pytest.raises(ValueError):
        Variable.custom("v", ["a,b"])


def test_variables_and_thresholds_render_grafanas_model():
    custom = Variable.custom("severity", ["critical", "warning"]).to_dict()
    assert custom["query"] == "critical,warning" and custom["current"]["value"] == "critical"
    assert [o["value"] for o in custom["options"]] == ["critical", "warning"]
    ds = Variable.datasource("ds", "prometheus").to_dict()
    assert ds["type"] == "datasource" and ds["query"] == "prometheus"
    q = Variable.from_query("team", "label_values(up, team)", include_all=True).to_dict()
    assert q["query"] == "label_values(up, team)" and q["allValue"] == ".*" and "definition" not in q
    assert Thresholds.falling(10, 3).to_dict()["steps"] == [
        {"color": "red", "value": None}, {"color": "orange", "value": 3}, {"color": "green", "value": 10}]
    # a critical level alone: red under it, green from it (1 Alertmanager known is not a warning)
    assert Thresholds.falling(critical=1).to_dict()["steps"] == [
        {"color": "red", "value": None}, {"color": "green", "value": 1}]
    assert builder.GRAFANA_IMAGE == f"grafana/grafana:{builder.GRAFANA_VERSION}"


# ---------------------------------------------------------------- every query against the real Prometheus


INVENTORY = """\
  - name: shop
    team: shop
    kind: http
    targets: ["127.0.0.1:{shop}", "127.0.0.1:{gone}"]    # one replica of two down
    health_url: http://127.0.0.1:{shop}/health
    slo: {{availability: 99.5, latency: {{threshold: 250ms, objective: 99}}}}
    alerts:
      error_rate: {{warning: 1%, for: 0s}}   # with its SLO, HighErrorRate only warns
    panels:
      - {{title: Checkouts per minute, expr: 'sum(rate(demo_checkouts_total{{service="shop"}}[1m])) * 60'}}
      - {{title: Routes, expr: 'count by (route) (http_requests_total{{service="shop"}})', type: table}}
  - name: worker
    team: platform
    kind: job
    targets: ["127.0.0.1:{worker}"]
    panels:
      - {{title: Samples scraped, expr: 'sum(scrape_samples_scraped{{service="worker"}})', type: stat}}
  - name: idle
    team: shop
    kind: http
    targets: ["127.0.0.1:{idle}"]
  - name: site
    team: shop
    kind: probe
    url: http://127.0.0.1:{shop}/health
"""
# Every panel of every dashboard shows data here, but these, each for its reason.
NO_CADVISOR = "cAdvisor has no Debian package and there is no Docker host to watch"
NO_DEPLOYS = "no deploys or incidents are recorded in this stack"
NO_TRAFFIC = "the idle service serves no requests: a ratio over none is no series, or NaN shown as 'no traffic'"
EMPTY = {
    **{("vigil/vigil-containers", t): NO_CADVISOR for t in ("Containers", "CPU", "Memory", "Network received",
                                                              "Network sent")},
    **{(f"team-{team}/svc-{svc}", t): NO_CADVISOR for team, svc in (("shop", "shop"), ("shop", "idle"),
                                                                     ("platform", "worker"))
       for t in ("Container CPU", "Container memory")},
    **{("team-shop/svc-idle", t): NO_TRAFFIC for t in (
        "Errors", "p95 latency", "Error ratio by instance", "Error ratio", "5xx by route", "p95 by route",
        "Latency p50 / p95 / p99", "p95 by instance")},
    **{(f"team-{team}/svc-{svc}", "Alerts"): "nothing fires or is pending for it"
       for team, svc in (("shop", "idle"), ("platform", "worker"))},
    # no deploys are recorded here: tests/test_deploy.py runs these queries against real ones
    **{("vigil/vigil-dora", t): NO_DEPLOYS for t in ("Deploys per day", "Frequency band", "Lead time (median)",
                                                     "Change failure rate", "Time to restore (median)", "Deploys",
                                                     "Services")},
}
EXPORTERS = {"prometheus-node-exporter": "node", "prometheus-blackbox-exporter": "blackbox"}


def _exporter(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not on PATH: install it (Debian/Ubuntu: `apt-get install --no-install-recommends "
                    f"prometheus-node-exporter prometheus-blackbox-exporter`)", pytrace=False)
    return path


def _get(url: str) -> bool:
    try:
        return urllib.request.urlopen(url, timeout=2).status == 200
    except OSError:
        return False


def _values(result: dict) -> list[str]:
    return sorted(s["value"][1] for s in result.get("data", {}).get("result", []))


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grafana-live")
    bins = {role: _exporter(name) for name, role in EXPORTERS.items()}
    ports = {k: free_port() for k in ("prom", "am", "closed", "shop", "worker", "node", "blackbox", "idle", "gone")}
    (tmp / "inventory.yml").write_text(native_stack("dash", ports, ("shop", "platform"), team="platform",
                                                  alertmanager=ports["am"], blackbox=ports["blackbox"],
                                                  node_exporter=ports["node"])
                                     + INVENTORY.format(**ports))
    tree = tmp / "tree"
    result = run_vigil("generate", "-i", str(tmp / "inventory.yml"), "-o", str(tree))
    assert result.returncode == 0, result.stderr
    procs = [Process([sys.executable, str(APP), str(ports["worker"])], tmp, tmp / "worker.log").start(),
             Process(["env", *(f"{k}={v}" for k, v in DEMO_ENV.items()), *DEMO, str(ports["shop"])], tmp,
                     tmp / "shop.log").start(),
             Process([sys.executable, str(APP), str(ports["idle"])], tmp, tmp / "idle.log").start()]
    # One request before Prometheus starts, none after: its counter exists and stands still.
    wait_for("the idle service", lambda: _get(f"http://127.0.0.1:{ports['idle']}/ok"), 30)
    procs += [
        Process([bins["node"], f"--web.listen-address=127.0.0.1:{ports['node']}"], tmp, tmp / "node.log").start(),
        Process([bins["blackbox"], "--config.file=blackbox.yml", f"--web.listen-address=127.0.0.1:{ports['blackbox']}"],
                tree / "blackbox", tmp / "blackbox.log").start(),
        alertmanager(tree / "alertmanager", ports["am"], tmp / "am-data", tmp / "alertmanager.log").start(),
    ]
    prom = prometheus(tree, ports["prom"], tmp / "prom-data", tmp / "prometheus.log").start()
    procs.append(prom)
    url = f"http://127.0.0.1:{ports['prom']}"
    try:
        for what, expr in (("the RED rules", 'service:http_request_duration_seconds:p95_rate5m{service="shop"}'),
                           ("HighErrorRate firing", 'ALERTS{alertname="HighErrorRate",alertstate="firing"}'),
                           ("every target scraped", 'count(up{kind!="stack"} == 1) >= 5'),
                           ("every rate over two samples or more", 'min(count_over_time(up[1m])) >= 3'),
                           ("Alertmanager and the exporters up",
                            'count(up{service=~"alertmanager|blackbox|stack-host"} == 1) == 3'),
                           ("the probes", 'probe_success{service="site"} == 1')):
            wait_for(what, lambda e=expr: has_data(query(url, e)), 45, proc=prom)
        for name in ("availability", "latency"):
            expr = f'{slo.BUDGET_LEFT}{{service="shop",slo="{name}"}}'
            first = slo.long_windows_ready(slo.Timing(1000, 1000)).seconds
            wait_for(expr, lambda e=expr: has_data(query(url, e)), first + 120, proc=prom)
        wait_for("the idle service's rate of 0", lambda: _values(query(url, f'{http.REQUESTS}{{service="idle"}}'))
                 == ["0"], 45, proc=prom)
        yield {"url": url, "tree": tree}
    finally:
        for p in procs:
            p.stop()


def test_every_panel_query_runs_and_shows_data_or_is_empty_for_a_reason(live):
    url, found = live["url"], dashboards(live["tree"])
    assert {"team-shop/svc-shop", "team-shop/svc-idle", "vigil/vigil-overview", "vigil/vigil-stack"} <= set(found)
    errors, empty, ran = [], [], 0
    for key, d in found.items():
        every, first = resolve(url, d, may_be_empty=key in ("vigil/vigil-containers", "vigil/vigil-dora"))
        for p in panels(d):
            targets = prom_targets(p)
            if not targets:
                continue
            shown = False
            for t in targets:
                for values in (every, first):
                    result = query(url, target_expr(t, values))
                    ran += 1
                    if result.get("status") != "success":
                        errors.append(f"{key} / {p['title']}: {result.get('error')}\n    {t['expr']}")
                shown |= has_data(query(url, target_expr(t, every)))
            if shown == ((key, p["title"]) in EMPTY):
                empty.append(f"{key} / {p['title']}: {'shows data' if shown else 'empty'}: "
                             f"{[t['expr'] for t in targets]}")
    assert not errors, "\n".join(errors)
    assert not empty, "panels without data, or with data though listed in EMPTY:\n" + "\n".join(empty)
    assert ran > 300


def test_overview_links_every_live_service_to_its_rendered_dashboard(live):
    url, found = live["url"], dashboards(live["tree"])
    by_uid = {d["uid"]: d for d in found.values()}
    (table,) = [p for p in panels(found["vigil/vigil-overview"]) if p["type"] == "table"]
    rows = query(url, expand(table["targets"][0]["expr"], {"team": ".*"}))["data"]["result"]
    links = {r["metric"]["service"]: r["metric"]["dashboard"] for r in rows}
    assert links == {"shop": "svc-shop", "idle": "svc-idle", "worker": "svc-worker",
                     "site": "vigil-probes?var-service=site",
                     "stack-host": "vigil-host?var-service=stack-host"}
    for service, path in links.items():
        uid, _, q = path.partition("?")
        assert uid in by_uid
        for name, value in urllib.parse.parse_qsl(q):
            var = variables(by_uid[uid])[name[4:]]
            assert value in label_values(url, var["query"]), (service, path)


def test_deploy_markers_and_error_panels_of_the_live_service(live):
    d = dashboards(live["tree"])["team-shop/svc-shop"]
    by_title = {p["title"]: p for p in panels(d)}
    every, _ = resolve(live["url"], d)
    result = query(live["url"], expand(by_title["5xx by route"]["targets"][0]["expr"], every))
    failing = {s["metric"]["route"] for s in result["data"]["result"]}
    assert failing and failing <= {"/", "/products", "/products/{id}", "/checkout"}, failing
    result = query(live["url"], expand(by_title["Alerts"]["targets"][0]["expr"], every))
    assert {s["metric"]["alertname"] for s in result["data"]["result"]} >= {"HighErrorRate"}


def test_one_replica_of_two_down_shows_and_no_traffic_is_not_nan(live):
    url, found = live["url"], dashboards(live["tree"])
    shop = found["team-shop/svc-shop"]
    every, _ = resolve(url, shop)
    by_title = {p["title"]: p for p in panels(shop)}

    def values(panel: dict, i: int = 0) -> list[str]:
        return _values(query(url, expand(by_title[panel]["targets"][i]["expr"], every)))
    # "1 up of 2", where min(up) would say DOWN and sum(up) would say 1 of who knows.
    assert (values("Instances up", 0), values("Instances up", 1)) == (["1"], ["2"])
    assert [t["legendFormat"] for t in by_title["Instances up"]["targets"]] == ["up", "of"]
    assert values("Each instance", 0) == ["0", "1"]                   # Up, per instance
    assert len(values("Each instance", 1)) == 1                       # requests: only the live one answers
    assert set(variables(shop)) >= {"datasource", "instance", "route", "search"}
    # A status-class split, 5xx counted apart from 2xx.
    classes = query(url, expand(by_title["Requests by status class"]["targets"][0]["expr"], every))
    assert {s["metric"]["class"] for s in classes["data"]["result"]} >= {"2xx", "5xx"}

    # No traffic: the recorded ratio and quantiles have no series (not NaN); the overview's
    # row for the service has no error ratio, and a ratio of sums, which can be NaN, says so.
    overview = found["vigil/vigil-overview"]
    (services,) = [p for p in panels(overview) if p["title"] == "Services" and p["type"] == "table"]
    errors = next(t for t in services["targets"] if http.ERROR_RATIO in t["expr"])
    rows = {s["metric"]["service"] for s in query(url, expand(errors["expr"], {"team": ".*"}))["data"]["result"]}
    assert "shop" in rows and "idle" not in rows
    (column,) = [o for o in services["fieldConfig"]["overrides"] if o["matcher"]["options"] == "Errors"]
    mappings = next(prop["value"] for prop in column["properties"] if prop["id"] == "mappings")
    assert {"type": "special", "options": {"match": "nan", "result": {"text": "no traffic", "index": 0}}} in mappings
    idle_d = found["team-shop/svc-idle"]
    every, _ = resolve(url, idle_d)
    for p in panels(idle_d):
        for t in prom_targets(p):
            result = query(url, target_expr(t, every))
            if "NaN" in _values(result):
                assert p["type"] != "timeseries", (p["title"], t["expr"])
                assert any(m.get("options", {}).get("match") == "nan"
                           for m in p["fieldConfig"]["defaults"]["mappings"]), p["title"]
    glance = {p["title"]: p for p in panels(idle_d) if p["type"] == "stat"}
    for title in ("Errors", "p95 latency"):
        assert not has_data(query(url, expand(glance[title]["targets"][0]["expr"], every))), title
        assert glance[title]["fieldConfig"]["defaults"]["noValue"] == "no traffic", title


# A recorded series (its name has a ':') in a query, and how it is read: over each step, or at the end.
RECORDED = re.compile(r"(\w+_over_time\()?\b[a-zA-Z_]\w*:[\w:]+(?:\{[^}]*\})?(\[\$__rate_interval\]| @ end\(\))?")


def test_range_panels_rank_once_and_read_recorded_series_over_each_step(tree):
    """topk in a range query ranks at every step: over a day, far more than k series. Ranked
    `@ end()`, the panel shows exactly k. And a graph, or a stat's sparkline (any range query),
    reads a recorded series as the worst (or mean) of each step, so a spike shows however wide
    the range, not one sample in a hundred."""
    read, kinds = 0, set()
    for key, d in dashboards(tree).items():
        for p in panels(d):
            for t in prom_targets(p):
                if t["instant"]:
                    continue
                kinds.add(p["type"])
                if "topk(" in t["expr"]:
                    assert "@ end()" in t["expr"], (key, p["title"], t["expr"])
                for over, how in RECORDED.findall(re.sub(r'"[^"]*"', '""', t["expr"])):
                    assert (over and how == "[$__rate_interval]") or how == " @ end()", (key, p["title"], t["expr"])
                    read += 1
    assert read > 30 and {"timeseries", "stat"} <= kinds


def test_overview_graphs_show_the_top_services_with_traffic(full, tmp_path):
    """Its error-ratio graph, run by Prometheus itself (promtool): exactly the TOP worst services
    among those with at least TRAFFIC_FLOOR requests a second; a trickle's one failure is not the worst."""
    (graph,) = [p for p in panels(dashboards(full)["vigil/vigil-overview"])
                if p["type"] == "timeseries" and p["title"] == "Error ratio"]
    expr = expand(graph["targets"][0]["expr"], {"team": ".*", "__rate_interval": "1m"})
    ratio = {f"s{i:02}": i / 100 for i in range(1, overview.TOP + 3)}     # two more than are shown
    series = [{"series": f'{http.REQUESTS}{{service="{s}",team="t"}}', "values": "1x10"} for s in ratio]
    series += [{"series": f'{http.ERROR_RATIO}{{service="{s}",team="t"}}', "values": f"{r}x10"}
               for s, r in ratio.items()]
    series += [{"series": f'{http.REQUESTS}{{service="trickle",team="t"}}',
                "values": f"{overview.TRAFFIC_FLOOR / 2}x10"},
               {"series": f'{http.ERROR_RATIO}{{service="trickle",team="t"}}', "values": "1x10"}]
    exp = [{"labels": f'{{service="{s}",team="t"}}', "value": ratio[s]} for s in list(ratio)[-overview.TOP:]]
    (tmp_path / "top.test.yml").write_text(yaml.safe_dump({"rule_files": [], "evaluation_interval": "1m", "tests": [
        {"interval": "1m", "input_series": series,
         "promql_expr_test": [{"expr": expr, "eval_time": "5m", "exp_samples": exp}]}]}))
    result = promtool("test", "rules", "top.test.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
