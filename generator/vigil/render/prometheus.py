"""prometheus/: prometheus.yml, rules/ and the promtool tests of every rule."""

from __future__ import annotations

import posixpath

from .. import dora, webauth
from ..inventory import Stack
from ..kinds.base import PROBE_JOB
from ..stack import team_of
from ..plan import Plan
from ..rules import Alert, Record, RuleFile, RuleTest
from .blackbox import MODULE
from .yamlout import dump

RULE_GLOBS = ("rules/*.yml", "rules/services/*.yml")


def render(plan: Plan) -> dict[str, bytes]:
    return {"prometheus/prometheus.yml": dump(config(plan)), **rule_files(plan.inventory.stack, plan.rule_files)}


def rule_files(stack: Stack, rule_files: list[RuleFile]) -> dict[str, bytes]:
    """Each rule file and its test files."""
    files = {}
    for rf in rule_files:
        files[f"prometheus/{rf.path}"] = dump({"groups": [_group(g) for g in rf.groups]})
        suites: dict[str, list[RuleTest]] = {"": []}
        for t in rf.tests:
            suites.setdefault(t.suite, []).append(t)
        for suite, tests in suites.items():
            if not tests and len(suites) > 1:
                continue    # every test of the file is in a suite of its own (dora.yml)
            path = test_path(rf.path, suite)
            files[f"prometheus/{path}"] = dump(_tests(stack, rf, path, tests))
    return files


def test_path(rule_path: str, suite: str = "") -> str:
    """Where the tests of a rule file's suite go, under prometheus/: rules/x.yml -> tests/[suite/]x.test.yml."""
    path = rule_path.replace("rules/", f"tests/{suite}/" if suite else "tests/", 1)
    return path.removesuffix(".yml") + ".test.yml"


def config(plan: Plan) -> dict:
    stack = plan.inventory.stack
    out = {
        "global": {"scrape_interval": str(stack.scrape_interval),
                   "evaluation_interval": str(stack.eval_interval),
                   "external_labels": {"stack": stack.name, "env": stack.environment}},
        "alerting": {"alertmanagers": [{**(_basic_auth("alertmanager") if stack.basic_auth else {}),
                                        "static_configs": [{"targets": [stack.endpoints.alertmanager]}]}]},
        "rule_files": list(RULE_GLOBS),
        "scrape_configs": [_job(j) for j in plan.jobs] + (      # null: no Pushgateway run here
            [dora.scrape_job(stack.endpoints.pushgateway, team_of(stack))] if stack.endpoints.pushgateway else []),
    }
    if plan.probes:
        out["scrape_configs"].append({
            "job_name": PROBE_JOB,
            "metrics_path": "/probe",
            "params": {"module": [MODULE]},
            "static_configs": [{"targets": [p.url], "labels": dict(p.labels)} for p in plan.probes],
            # The URL becomes the probe's target parameter and instance; the exporter is scraped.
            "relabel_configs": [
                {"source_labels": ["__address__"], "target_label": "__param_target"},
                {"source_labels": ["__param_target"], "target_label": "instance"},
                {"target_label": "__address__", "replacement": stack.endpoints.blackbox},
            ],
        })
    if stack.remote_write:
        out["remote_write"] = [{k: v for k, v in rw.model_dump().items() if v is not None} for rw in stack.remote_write]
    return out


def _job(job) -> dict:
    out = {"job_name": job.name}
    if job.metrics_path != "/metrics":
        out["metrics_path"] = job.metrics_path
    if job.password_of:
        out.update(_basic_auth(job.password_of))
    if job.honor_labels:
        out["honor_labels"] = True
    out["static_configs"] = [{"targets": list(job.targets), "labels": dict(job.labels)}]
    return out


def _basic_auth(part: str) -> dict:
    """Prometheus asks `part` with its password (webauth.py), read from a file `vigil secrets` writes."""
    return {"basic_auth": {"username": webauth.USER, "password_file": webauth.password_file(part)}}


def _group(group) -> dict:
    out = {"name": group.name}
    if group.interval is not None:
        out["interval"] = str(group.interval)
    out["rules"] = [_rule(r) for r in group.rules]
    return out


def _rule(rule) -> dict:
    if isinstance(rule, Record):
        return {"record": rule.record, "expr": rule.expr, **({"labels": dict(rule.labels)} if rule.labels else {})}
    assert isinstance(rule, Alert)
    out = {"alert": rule.name, "expr": rule.expr}
    if rule.for_:
        out["for"] = str(rule.for_)
    out["labels"] = dict(rule.labels)
    out["annotations"] = dict(rule.annotations)
    return out


def _tests(stack: Stack, rf: RuleFile, test_path: str, tests: list[RuleTest]) -> dict:
    """One test file: the tests of one suite, which share an evaluation interval."""
    rel = posixpath.relpath(rf.path, posixpath.dirname(test_path))
    evaluations = {t.evaluation or stack.eval_interval for t in tests} or {stack.eval_interval}
    assert len(evaluations) == 1, f"{test_path}: tests of one file share an evaluation interval"
    out = {"rule_files": [rel], "evaluation_interval": str(evaluations.pop())}
    if len(rf.groups) > 1:
        # promtool evaluates every group at every step (whatever its interval), in an order of its
        # own unless told: groups that read another's records come after it in the file.
        out["group_eval_order"] = [g.name for g in rf.groups]
    out["tests"] = [_test(t, str(stack.scrape_interval)) for t in tests]
    return out


def _test(test: RuleTest, interval: str) -> dict:
    out = {
        "name": test.name,
        "interval": str(test.interval) if test.interval else interval,
        "input_series": [{"series": s, "values": v} for s, v in test.series],
        "alert_rule_test": [{"eval_time": str(c.at), "alertname": c.alertname,
                             "exp_alerts": [{"exp_labels": dict(e.labels), "exp_annotations": dict(e.annotations)}
                                            for e in c.alerts]} for c in test.checks],
    }
    if test.exprs:
        out["promql_expr_test"] = [{"expr": c.expr, "eval_time": str(c.at),
                                    "exp_samples": [{"labels": _labels_text(labels), "value": value}
                                                    for labels, value in c.samples]} for c in test.exprs]
    return out


def _labels_text(labels: dict) -> str:
    """promtool's exp_samples labels: a series selector without the name's braces omitted."""
    name = labels.get("__name__", "")
    rest = ", ".join(f'{k}="{v}"' for k, v in labels.items() if k != "__name__")
    return f"{name}{{{rest}}}"
