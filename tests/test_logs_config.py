"""loki/: Loki's config, its ruler's rules and the log shipper's (Alloy) config.

Loki and Alloy do not run here. The tests hold the configs to what the pinned
versions document (Loki 3.7 single binary: tsdb/v13 on the filesystem, compactor
retention, local ruler storage laid out <dir>/<tenant>/; Alloy 1.x syntax and
components), parse every LogQL rule with Grafana's grammar, read the Alloy file
with a small scanner and parser of its syntax, and run the redaction rules read back out
of it with RE2 (google-re2) as Alloy's stage.replace runs them, over a corpus of secrets
and ordinary lines (and compile them with Go's regexp through promtool).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import re2
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
    # Docker's API through the read-only socket proxy (render/compose.py), never the socket itself
    assert _attrs(docker[2])["host"] == _attrs(source[2])["host"] == "tcp://docker-socket-proxy:2375"
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
    assert kinds == ["stage.replace"] * len(logs.redactions(case[0].stack)) + ["stage.json", "stage.template",
                                                                              "stage.labels"]
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
#
# The rules are read back out of the rendered config.alloy and run with RE2 (google-re2,
# the engine Go's regexp follows) the way Alloy's stage.replace runs them, over a corpus
# of real-format secrets and of ordinary lines that must pass untouched.

REDACTION_DATA = DATA / "redaction"
SECRET = re.compile(r"«(.*?)»", re.S)
_RE2 = re2.Options()
_RE2.log_errors = False


def _replace_stages(files) -> list[tuple[str, str]]:
    blocks, _ = _alloy(files)
    [process] = _blocks(blocks, "loki.process")
    return [(a["expression"], a.get("replace", "")) for a in (_attrs(b[2]) for b in _blocks(process[2], "stage.replace"))]


def stage_replace(expression: str, replace: str, line: str) -> str:
    """Alloy's stage.replace on the log line (loki/process/stages/replace.go): every
    match's participating capture groups are replaced by the `replace` template, the
    rest of the line kept. The templates here are literal text (no `{{`)."""
    assert "{{" not in replace
    out, previous = [], 0
    for m in re2.compile(expression, _RE2).finditer(line):
        for g in range(1, m.re.groups + 1):
            start, end = m.span(g)
            if start == -1:
                continue
            if previous == 0 or previous <= start:
                out.append(line[previous:start] + replace)
                previous = end
    return "".join(out) + line[previous:]


def redact(stages: list[tuple[str, str]], line: str) -> str:
    for expression, replace in stages:
        line = stage_replace(expression, replace, line)
    return line


def corpus(name: str) -> list[str]:
    return [line for line in (REDACTION_DATA / name).read_text().splitlines() if line and not line.startswith("# ")]


def leaked(line_with_marks: str, out: str, markers: set[str]) -> list[str]:
    """The secrets of a line (between « ») still in the output: any 8 characters of one
    (all of a shorter one) that the rest of the line or a marker does not explain."""
    context = SECRET.sub("\0", line_with_marks)
    found = []
    for secret in SECRET.findall(line_with_marks):
        n = min(8, len(secret))
        windows = {secret[i:i + n] for i in range(len(secret) - n + 1)}
        if any(w in out and w not in context and not any(w in m for m in markers) for w in windows):
            found.append(secret)
    return found


@pytest.fixture(scope="module")
def stages(tmp_path_factory) -> list[tuple[str, str]]:
    """The rules as the example inventory renders them (the defaults)."""
    return _replace_stages(_render(ROOT / "inventory.yml", tmp_path_factory.mktemp("redaction")))


def test_redaction_rules_are_rendered_in_order_and_are_re2(case):
    inv, files = case
    rendered = _replace_stages(files)
    assert rendered == [(r.pattern, r.replace) for r in logs.redactions(inv.stack)]
    assert len(rendered) == len(logs.REDACTIONS) >= 15
    for expression, replace in rendered:
        compiled = re2.compile(expression, _RE2)
        assert compiled.groups >= 1, f"{expression}: stage.replace replaces capture groups"
        assert "{{" not in replace                  # `replace` is a Go template: keep it literal
    text = files["loki/alloy/config.alloy"].decode()
    assert all(f"// redact: {r.name}\n" in text for r in logs.REDACTIONS)   # each rule named where it is


def test_redaction_regexes_compile_with_gos_regexp(tmp_path, stages):
    """promtool compiles label-matcher regexes with Go's regexp itself, Alloy's engine."""
    exprs = [f'up{{line=~{json.dumps(".*" + e + ".*")}}}' for e, _ in stages]
    (tmp_path / "re2.yml").write_text(yaml.safe_dump(
        {"groups": [{"name": "re2", "rules": [{"record": f"re2:{i}", "expr": e} for i, e in enumerate(exprs)]}]}))
    result = promtool("check", "rules", "re2.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    # and a lookahead is refused, so the check can fail
    (tmp_path / "bad.yml").write_text(yaml.safe_dump(
        {"groups": [{"name": "re2", "rules": [{"record": "re2:bad", "expr": 'up{line=~"a(?=b)"}'}]}]}))
    assert promtool("check", "rules", "bad.yml", cwd=tmp_path).returncode != 0


def test_redaction_corpus_nothing_leaked_nothing_mangled(stages, capsys):
    secrets, ordinary = corpus("secrets.txt"), corpus("ordinary.txt")
    assert len(secrets) >= 60 and len(ordinary) >= 30
    markers = {r for _, r in stages}
    leaks, n_leaked = {}, 0
    for marked in secrets:
        out = redact(stages, SECRET.sub(r"\1", marked))
        found = leaked(marked, out, markers)
        if found:
            leaks[marked], n_leaked = out, n_leaked + len(found)
    mangled = {line: redact(stages, line) for line in ordinary if redact(stages, line) != line}
    n_secrets = sum(len(SECRET.findall(line)) for line in secrets)
    assert n_secrets >= 60
    with capsys.disabled():
        print(f"\nredaction corpus: {n_secrets} secrets in {len(secrets)} lines, {n_secrets - n_leaked} redacted, "
              f"{n_leaked} leaked; {len(ordinary)} ordinary lines, {len(mangled)} mangled")
    assert not leaks, "\n".join(f"{k}\n  -> {v}" for k, v in leaks.items())
    assert not mangled, "\n".join(f"{k}\n  -> {v}" for k, v in mangled.items())


def test_redaction_keeps_the_line_around_a_secret(stages):
    assert redact(stages, "Authorization: Bearer abcdefgh12345678") == "Authorization: Bearer <redacted>"
    assert redact(stages, "mail a@b.io and c@d.io") == f"mail {logs.REDACTED_EMAIL} and {logs.REDACTED_EMAIL}"
    assert redact(stages, "postgres://app:pw1234@db:5432/shop") == "postgres://app:<redacted>@db:5432/shop"
    assert redact(stages, "Set-Cookie: sid=abc123; Path=/; HttpOnly") == "Set-Cookie: sid=<redacted>; Path=/; HttpOnly"


def test_redacted_json_stays_json_and_redaction_is_idempotent(stages):
    for line in (SECRET.sub(r"\1", x) for x in corpus("secrets.txt")):
        out = redact(stages, line)
        assert redact(stages, out) == out, line          # a marker is not redacted again
        if line.startswith('{"'):
            json.loads(out)                               # a JSON line stays JSON


def test_re2_and_python_differ_where_it_matters():
    """Why the corpus runs under RE2: \\b is ASCII-only in RE2 (Go), Unicode in Python's re,
    so a Python copy of a rule would say another thing next to non-ASCII letters."""
    assert re2.search(r"\b(é)", "é") is None and re.search(r"\b(é)", "é")


def test_the_inventory_adds_rules_and_turns_defaults_off(tmp_path):
    text = (ROOT / "inventory.yml").read_text()
    assert "\nstack:\n" in text
    text = text.replace("\nstack:\n", "\nstack:\n  logs:\n    redact:\n      disable: [email]\n      add:\n"
                                      "        - {name: ticket, pattern: 'ticket=(T-[0-9]+)', replace: '<ticket>'}\n", 1)
    (tmp_path / "inventory.yml").write_text(text)
    files = _render(tmp_path / "inventory.yml", tmp_path / "out")
    rendered = _replace_stages(files)
    assert rendered[-1] == ("ticket=(T-[0-9]+)", "<ticket>")
    assert len(rendered) == len(logs.REDACTIONS)          # one off, one added
    assert redact(rendered, "ticket=T-42 by a@b.io password=x1") == "ticket=<ticket> by a@b.io password=<redacted>"


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
