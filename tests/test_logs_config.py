"""loki/: Loki's config, its ruler's rules and the log shipper's (Alloy) config.

Loki and Alloy do not run here. The tests hold the configs to what the pinned
versions document (Loki 3.7 single binary: tsdb/v13 on the filesystem, compactor
retention, local ruler storage laid out <dir>/<tenant>/; Alloy 1.x syntax and
components), parse every LogQL rule with Grafana's grammar, read the Alloy file
with a small scanner and parser of its syntax, and run the redaction regexes with
Python `re` (and compile them with Go's RE2 through promtool).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import DATA, ROOT, promtool, run_vigil
from logql import parse_errors
from vigil import logs
from vigil import stack as stack_part
from vigil.kinds import KINDS
from vigil.kinds.base import Context
from vigil.plan import plan as make_plan
from vigil.render import loki
from vigil.units import Duration
from vigil.validate import load_inventory

INVENTORIES = {"full": DATA / "full.yml", "demo": ROOT / "inventory.yml"}
FILES = ("loki/loki.yml", loki.RULES_FILE, "loki/alloy/config.alloy")


def _render(inventory: Path, out: Path) -> dict[str, bytes]:
    """The CLI's tree once vigil.render includes loki; until then the renderer itself."""
    result = run_vigil("generate", "-i", str(inventory), "-o", str(out))
    assert result.returncode == 0, result.stderr
    if all((out / f).is_file() for f in FILES):
        return {f: (out / f).read_bytes() for f in FILES}
    return loki.render(make_plan(load_inventory(inventory)))


@pytest.fixture(scope="module", params=sorted(INVENTORIES))
def case(request, tmp_path_factory):
    path = INVENTORIES[request.param]
    inv = load_inventory(path)
    return inv, _render(path, tmp_path_factory.mktemp(request.param))


# ---------------------------------------------------------------- loki.yml

# Top-level keys of Loki 3.x's config (pkg/loki/loki.go, Config) that Vigil may use.
LOKI_TOP = {"auth_enabled", "server", "common", "schema_config", "storage_config", "limits_config",
            "compactor", "ruler", "analytics", "ingester", "querier", "query_range", "frontend"}


def test_loki_config_has_what_the_pinned_loki_needs(case):
    inv, files = case
    stack = inv.stack
    text = files["loki/loki.yml"].decode()
    cfg = yaml.safe_load(text)
    assert set(cfg) <= LOKI_TOP, set(cfg) - LOKI_TOP
    assert cfg["auth_enabled"] is False
    assert cfg["server"]["http_listen_port"] == int(stack.endpoints.loki.rsplit(":", 1)[1])
    assert cfg["analytics"] == {"reporting_enabled": False}

    common = cfg["common"]
    assert common["path_prefix"] == loki.LOKI_DATA and common["replication_factor"] == 1
    assert common["ring"] == {"kvstore": {"store": "inmemory"}}
    # One storage backend in common: filesystem; it also makes the ruler's rule store local.
    assert list(common["storage"]) == ["filesystem"]
    assert common["storage"]["filesystem"]["rules_directory"] == loki.LOKI_RULES

    # Retention by the compactor needs the tsdb (or boltdb-shipper) index with a 24h period.
    [period] = cfg["schema_config"]["configs"]
    assert period["store"] == "tsdb" and period["schema"] == "v13" and period["object_store"] == "filesystem"
    assert period["index"] == {"prefix": "index_", "period": "24h"}
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(period["from"]))

    compactor = cfg["compactor"]
    assert compactor["retention_enabled"] is True
    assert compactor["delete_request_store"] == "filesystem"   # required once retention is enabled
    retention = Duration.parse(cfg["limits_config"]["retention_period"])
    assert retention >= Duration.parse("24h")                  # the compactor's minimum
    assert retention == max(stack.retention, Duration.parse("24h"))

    # Everything Loki writes sits in its data volume; the rules it only reads are mounted apart.
    writable = [common["storage"]["filesystem"]["chunks_directory"], compactor["working_directory"],
                cfg["ruler"]["rule_path"], *cfg["storage_config"]["tsdb_shipper"].values()]
    assert all(p.startswith(loki.LOKI_DATA + "/") for p in writable), writable
    assert not loki.LOKI_RULES.startswith(loki.LOKI_DATA + "/")


def test_the_ruler_sends_to_the_inventorys_alertmanager(case):
    inv, files = case
    ruler = yaml.safe_load(files["loki/loki.yml"])["ruler"]
    assert ruler["alertmanager_url"] == f"http://{inv.stack.endpoints.alertmanager}"
    assert ruler["enable_api"] is True
    Duration.parse(ruler["evaluation_interval"])


def test_loki_yaml_loads_back_as_rendered(case):
    inv, files = case
    assert yaml.safe_load(files["loki/loki.yml"]) == json.loads(json.dumps(loki.config(inv.stack)))


# ---------------------------------------------------------------- the ruler's rules


def test_rules_sit_where_the_local_ruler_store_reads_them(case):
    _, files = case
    # rules_directory (LOKI_RULES) <- loki/rules/; the store reads <dir>/<tenant>/<file>,
    # and the tenant is "fake" without auth.
    assert loki.RULES_FILE == f"loki/rules/{loki.TENANT}/vigil.yml" and loki.TENANT == "fake"
    assert loki.RULES_FILE in files


def _rules(files) -> list[dict]:
    doc = yaml.safe_load(files[loki.RULES_FILE])
    assert set(doc) == {"groups"}
    return [r for g in doc["groups"] for r in g["rules"]]


def test_every_rule_parses_as_logql(case):
    _, files = case
    rules = _rules(files)
    exprs = [r["expr"] for r in rules]
    assert exprs
    assert parse_errors(exprs) == [None] * len(exprs)


def test_every_http_and_job_service_gets_its_error_spike_alert(case):
    inv, files = case
    ctx = Context.of(inv.stack)
    rules = _rules(files)
    expected = [s for s in inv.services if s.kind in logs.ERROR_SPIKE_KINDS]
    assert [r["labels"]["service"] for r in rules] == [s.name for s in expected]
    for rule, service in zip(rules, expected):
        assert rule["alert"] == logs.ERROR_SPIKE
        assert rule["labels"] == {"service": service.name, "team": service.team, "severity": "warning"}
        assert list(rule["annotations"]) == ["summary", "description", "runbook_url", "dashboard_url"]
        assert all(rule["annotations"][k] for k in ("summary", "description"))
        assert rule["annotations"]["runbook_url"] == ctx.runbook(service, logs.ERROR_SPIKE)
        assert rule["annotations"]["dashboard_url"] == ctx.dashboard(KINDS[service.kind].dashboard(service))
        assert rule["for"] == logs.ERROR_SPIKE_FOR
        assert logs.stream(service.name, errors=True) in rule["expr"]


def test_the_error_spike_has_a_floor_a_baseline_and_fires_on_a_first_burst():
    expr = logs.error_spike("checkout", floor=10, ratio=3, window="5m", baseline="1h")
    now = logs.error_count("checkout", "5m")
    assert f"({now} > 10) and " in expr                                  # the absolute floor
    assert f"{logs.error_count('checkout', '1h', offset='5m')} / 12" in expr   # the hour before, per 5m
    assert "or vector(0)" in expr        # no errors in the hour before: baseline 0, the burst fires
    assert parse_errors([expr, logs.error_spike("a", 2.5, 1.5, "10m", "2h")]) == [None, None]
    with pytest.raises(ValueError):
        logs.error_spike("checkout", window="7m", baseline="1h")


# ---------------------------------------------------------------- Alloy: a scanner and parser of its syntax

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:[^"\\\n]|\\(?:[abfnrtv\\"]|[0-7]{3}|x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}))*")
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[{}\[\](),.=])
""", re.VERBOSE | re.DOTALL)


def tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        assert m, f"cannot scan Alloy at {pos}: {text[pos:pos + 40]!r}"
        if m.lastgroup not in ("ws", "comment"):
            out.append((m.lastgroup, m.group()))
        pos = m.end()
    return out


class AlloyParser:
    """Blocks, attributes and the values Vigil writes: strings, numbers, bools, lists,
    objects and dotted references. -> [(block name, label, body)], body = [(attr, value) | block]."""

    def __init__(self, text: str):
        self.toks, self.i = tokens(text), 0
        self.refs: list[str] = []

    def peek(self, k: int = 0):
        return self.toks[self.i + k] if self.i + k < len(self.toks) else (None, None)

    def take(self, kind=None, text=None):
        tok = self.peek()
        assert tok[0] is not None, "unexpected end of the Alloy file"
        assert (kind is None or tok[0] == kind) and (text is None or tok[1] == text), (tok, kind, text, self.i)
        self.i += 1
        return tok[1]

    def body(self, top: bool) -> list:
        items = []
        while self.peek()[0] is not None and self.peek()[1] != "}":
            name = self.take("ident")
            if self.peek()[1] == "=":
                assert not top, f"attribute {name} at the top level"
                self.take(text="=")
                items.append((name, self.value()))
                continue
            while self.peek()[1] == ".":
                self.take(text=".")
                name += "." + self.take("ident")
            label = json.loads(self.take("string")) if self.peek()[0] == "string" else None
            self.take(text="{")
            inner = self.body(top=False)
            self.take(text="}")
            items.append((name, label, inner))
        return items

    def value(self):
        kind, text = self.peek()
        if kind == "string":
            self.take()
            return json.loads(text)
        if kind == "number":
            self.take()
            return float(text)
        if text == "[":
            self.take()
            out = []
            while self.peek()[1] != "]":
                out.append(self.value())
                if self.peek()[1] == ",":
                    self.take()
            self.take(text="]")
            return out
        if text == "{":
            self.take()
            out = {}
            while self.peek()[1] != "}":
                key = self.take()
                self.take(text="=")
                out[json.loads(key) if key.startswith('"') else key] = self.value()
                if self.peek()[1] == ",":
                    self.take()
            self.take(text="}")
            return out
        if text in ("true", "false"):
            self.take()
            return text == "true"
        path = self.take("ident")
        while self.peek()[1] == ".":
            self.take(text=".")
            path += "." + self.take("ident")
        self.refs.append(path)
        return ("ref", path)

    def parse(self) -> list:
        blocks = self.body(top=True)
        assert self.peek()[0] is None, f"trailing tokens: {self.toks[self.i:self.i + 5]}"
        return blocks


def _alloy(files):
    p = AlloyParser(files["loki/alloy/config.alloy"].decode())
    return p.parse(), p.refs


def _blocks(items, name):
    return [b for b in items if len(b) == 3 and b[0] == name]


def _attrs(items) -> dict:
    return {i[0]: i[1] for i in items if len(i) == 2}


def test_alloy_config_is_well_formed(case):
    _, files = case
    text = files["loki/alloy/config.alloy"].decode()
    assert text.endswith("\n") and "\t" not in text
    depth = 0
    for kind, tok in tokens(text):       # strings are single tokens: braces inside them do not count
        if kind == "punct" and tok in "{[(":
            depth += 1
        elif kind == "punct" and tok in "}])":
            depth -= 1
            assert depth >= 0
    assert depth == 0
    blocks, _ = _alloy(files)
    names = [(b[0], b[1]) for b in blocks]
    assert len(names) == len(set(names)), "a component defined twice"


# What each component Vigil uses exports (Alloy reference docs).
EXPORTS = {"discovery.docker": {"targets"}, "discovery.relabel": {"output", "rules"},
           "loki.process": {"receiver"}, "loki.write": {"receiver"}}


def test_alloy_references_only_components_it_defines(case):
    _, files = case
    blocks, refs = _alloy(files)
    defined = {(b[0], b[1]) for b in blocks if b[1] is not None}
    assert refs
    for ref in refs:
        *component, label, export = ref.split(".")
        name = ".".join(component)
        assert (name, label) in defined, f"{ref}: no {name} {label!r} in the file"
        assert export in EXPORTS[name], f"{ref}: {name} exports {EXPORTS[name]}"
    # and the pipeline is wired end to end
    [source] = _blocks(blocks, "loki.source.docker")
    a = _attrs(source[2])
    assert a["targets"] == ("ref", "discovery.docker.containers.targets")
    assert a["relabel_rules"] == ("ref", "discovery.relabel.containers.rules")
    [process] = _blocks(blocks, "loki.process")
    assert a["forward_to"] == [("ref", f"loki.process.{process[1]}.receiver")]
    [write] = _blocks(blocks, "loki.write")
    assert _attrs(process[2])["forward_to"] == [("ref", f"loki.write.{write[1]}.receiver")]


def test_alloy_reads_docker_and_pushes_to_the_inventorys_loki(case):
    inv, files = case
    blocks, _ = _alloy(files)
    [docker] = _blocks(blocks, "discovery.docker")
    [source] = _blocks(blocks, "loki.source.docker")
    assert _attrs(docker[2])["host"] == _attrs(source[2])["host"] == "unix:///var/run/docker.sock"
    [write] = _blocks(blocks, "loki.write")
    [endpoint] = _blocks(write[2], "endpoint")
    assert _attrs(endpoint[2])["url"] == f"http://{inv.stack.endpoints.loki}/loki/api/v1/push"
    # Alloy serves /metrics where Prometheus scrapes it (stack.endpoints.alloy).
    port = inv.stack.endpoints.alloy.rsplit(":", 1)[1]
    assert f"--server.http.listen-addr=0.0.0.0:{port}" in loki.alloy_command(inv.stack)


def _relabel(rules: list[dict], labels: dict) -> dict:
    """Prometheus' `replace` relabelling, the action of every rule Vigil writes: anchored
    regex over the joined source labels, $1-style groups in the replacement; an empty
    result removes the target label."""
    out = dict(labels)
    for rule in rules:
        assert rule.get("action", "replace") == "replace"
        value = ";".join(out.get(s, "") for s in rule["source_labels"])
        m = re.fullmatch(rule.get("regex", "(.*)"), value)
        if not m:
            continue
        result = re.sub(r"\$(\d+)|\$\{(\d+)\}", lambda g, m=m: m.group(int(g.group(1) or g.group(2))) or "",
                        rule.get("replacement", "$1"))
        if result:
            out[rule["target_label"]] = result
        else:
            out.pop(rule["target_label"], None)
    return {k: v for k, v in out.items() if not k.startswith("__")}


def _relabel_rules(files) -> list[dict]:
    blocks, _ = _alloy(files)
    [relabel] = _blocks(blocks, "discovery.relabel")
    assert _attrs(relabel[2])["targets"] == []
    return [_attrs(r[2]) for r in _blocks(relabel[2], "rule")]


def _container(name: str) -> dict:
    return {loki.COMPOSE_SERVICE_LABEL: name, loki.CONTAINER_NAME_LABEL: f"/vigil-{name}-1"}


def test_alloy_labels_every_inventory_service_with_its_team(case):
    inv, files = case
    rules = _relabel_rules(files)
    for service in inv.services:
        assert _relabel(rules, _container(service.name)) == {
            logs.SERVICE: service.name, logs.TEAM: service.team, logs.CONTAINER: f"vigil-{service.name}-1"}
        assert sum(r.get("regex") == service.name for r in rules) == 1   # one rule per inventory service


def test_alloy_labels_the_stacks_own_containers_with_the_stack_team(case):
    inv, files = case
    rules = _relabel_rules(files)
    team = stack_part.team_of(inv.stack)
    assert set(stack_part.COMPONENTS) | {"node-exporter"} <= set(loki.STACK_SERVICES)
    for name in loki.STACK_SERVICES:
        assert _relabel(rules, _container(name))[logs.TEAM] == team, name
    # a container Compose did not start: only its name; a stranger gets no team
    assert _relabel(rules, {loki.CONTAINER_NAME_LABEL: "/adhoc"}) == {logs.CONTAINER: "adhoc"}
    assert logs.TEAM not in _relabel(rules, _container("someone-else"))


def test_alloy_labels_the_exporters_compose_runs_with_their_services_team(case):
    inv, files = case
    rules = _relabel_rules(files)
    run = loki.run_by_stack(inv)
    if inv.stack.name == "full-test":
        assert run, "full.yml has exporter services without targets"
    for service, _ in run:
        name = loki.exporter_host(service)
        assert _relabel(rules, _container(name))[logs.TEAM] == service.team, name


def test_alloy_parses_json_lines_and_labels_their_level(case):
    _, files = case
    blocks, _ = _alloy(files)
    [process] = _blocks(blocks, "loki.process")
    stages = [b for b in process[2] if len(b) == 3]
    kinds = [b[0] for b in stages]
    # redaction first, on the raw line; then parsing; the level label last
    assert kinds == ["stage.replace"] * len(logs.REDACTIONS) + ["stage.json", "stage.template", "stage.labels"]
    json_stage = _attrs(stages[-3][2])
    assert json_stage["expressions"] == {f: f for f in (logs.LEVEL, logs.MESSAGE, logs.REQUEST_ID, logs.ERROR_TYPE)}
    assert "drop_malformed" not in json_stage       # non-JSON lines pass untouched
    template = _attrs(stages[-2][2])
    assert template["source"] == logs.LEVEL and "ToLower .Value" in template["template"]
    assert _attrs(stages[-1][2])["values"] == {logs.LEVEL: logs.LEVEL}
    # the stream labels stay the bounded few the dashboards and alerts read
    rules = _relabel_rules(files)
    assert {r["target_label"] for r in rules} == {logs.SERVICE, logs.TEAM, logs.CONTAINER}


# ---------------------------------------------------------------- redaction

LOOKAROUND_OR_BACKREF = re.compile(r"\(\?<?[=!]|\(\?P[=>]|\(\?>|\\[1-9]|\\k<|\\g<|[*+?}][+]")


def test_redaction_regexes_are_re2_safe_and_in_the_config(case):
    _, files = case
    blocks, _ = _alloy(files)
    [process] = _blocks(blocks, "loki.process")
    replaces = [_attrs(b[2]) for b in _blocks(process[2], "stage.replace")]
    assert [(r["expression"], r["replace"]) for r in replaces] == list(logs.REDACTIONS)
    for expression, replacement in logs.REDACTIONS:
        assert not LOOKAROUND_OR_BACKREF.search(expression), expression
        assert re.compile(expression).groups == 1, f"{expression}: stage.replace replaces capture groups"
        assert "{{" not in replacement          # `replace` is a Go template: keep it literal


def test_redaction_regexes_compile_with_gos_re2(tmp_path):
    """promtool compiles label-matcher regexes with Go's regexp (RE2): it refuses
    lookarounds and backreferences as Alloy would."""
    exprs = [f'up{{line=~{json.dumps(".*" + e + ".*")}}}' for e, _ in logs.REDACTIONS]
    (tmp_path / "re2.yml").write_text(yaml.safe_dump(
        {"groups": [{"name": "re2", "rules": [{"record": f"re2:{i}", "expr": e} for i, e in enumerate(exprs)]}]}))
    result = promtool("check", "rules", "re2.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    # and a lookahead is refused, so the check can fail
    (tmp_path / "bad.yml").write_text(yaml.safe_dump(
        {"groups": [{"name": "re2", "rules": [{"record": "re2:bad", "expr": 'up{line=~"a(?=b)"}'}]}]}))
    assert promtool("check", "rules", "bad.yml", cwd=tmp_path).returncode != 0


SECRETS = [
    ("user jane.doe+shop@example.co.uk signed in", "jane.doe+shop@example.co.uk", logs.REDACTED_EMAIL),
    ('{"level":"INFO","msg":"mail to ops@corp.example.com failed","request_id":"r-1"}',
     "ops@corp.example.com", logs.REDACTED_EMAIL),
    ("Authorization: Bearer abcDEF123456._~+/xyz==", "abcDEF123456._~+/xyz==", logs.REDACTED_TOKEN),
    ("headers={'authorization': 'bearer 0123456789abcdef'}", "0123456789abcdef", logs.REDACTED_TOKEN),
    ('{"level":"error","msg":"upstream said 401","auth":"Bearer sk_live_51HaBcDeFgHiJ"}',
     "sk_live_51HaBcDeFgHiJ", logs.REDACTED_TOKEN),
    ("token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk refreshed",
     "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk", logs.REDACTED_TOKEN),
]

ORDINARY = [
    "GET /api/v1/orders/42?id=abc-123&page=2 200 12ms",
    "request_id=7f3c9a2e-5b1d-4c8e-9f00-1a2b3c4d5e6f user_id=12345 status=ok",
    '{"level":"info","msg":"served https://shop.example.com/cart?item=9","request_id":"0af7651916cd43dd"}',
    "fetched https://api.example.com/v2/items/7 in 35ms",
    "the bearer of bad news arrived",
    "image registry.example.com/team/app@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945",
    "KeyError: 'sku' in checkout/cart.py line 88",
    "",
]


@pytest.mark.parametrize(("line", "secret", "mark"), SECRETS)
def test_redaction_removes_emails_and_tokens(line, secret, mark):
    out = logs.redact(line)
    assert secret not in out and mark in out, out
    assert logs.redact(out) == out                    # idempotent: the mark is not redacted again
    if line.startswith("{"):
        json.loads(out)                               # a JSON line stays JSON


def test_redaction_keeps_the_words_around_a_token():
    assert logs.redact("Authorization: Bearer abcdefgh12345678") == f"Authorization: Bearer {logs.REDACTED_TOKEN}"
    assert logs.redact("mail a@b.io and c@d.io") == f"mail {logs.REDACTED_EMAIL} and {logs.REDACTED_EMAIL}"


@pytest.mark.parametrize("line", ORDINARY)
def test_redaction_leaves_ordinary_lines_alone(line):
    assert logs.redact(line) == line


# ---------------------------------------------------------------- determinism and pins


def test_rendering_is_deterministic(case, tmp_path):
    inv, files = case
    path = next(p for p in INVENTORIES.values() if load_inventory(p) == inv)
    again = loki.render(make_plan(load_inventory(path)))
    assert again == files
    assert loki.render(make_plan(load_inventory(path))) == again


def test_images_are_pinned():
    assert re.fullmatch(r"grafana/loki:3\.\d+\.\d+", loki.LOKI_IMAGE)
    assert re.fullmatch(r"grafana/alloy:v1\.\d+\.\d+", loki.ALLOY_IMAGE)
