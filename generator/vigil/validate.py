"""Plain data with positions -> a valid Inventory, or every problem, located.

pydantic checks the shape; this module turns its errors into one line per
problem and adds what a shape cannot say: references between sections,
duplicate names, and what each service kind accepts.
"""

from __future__ import annotations

import datetime
import typing
from pathlib import Path as FsPath

from pydantic import BaseModel, ValidationError

from . import dora, logs, presets, slo, tracker
from .errors import InventoryError, Problem, did_you_mean
from .inventory import Inventory, Receiver, Service
from .kinds import BUILTIN_ALERTNAMES, KINDS, alert_specs
from .kinds.base import alert_params, instances_down_problems, user_rule_problems
from .load import Document, load_file
from .stack import RESERVED
from .units import Duration

RESERVED_LABELS = frozenset({"service", "team", "kind", "job", "instance", "severity", "alertname", "probe", "le"})
INTERVAL_RANGE = (Duration.parse("1s"), Duration.parse("1m"))


def load_inventory(path: str | FsPath) -> Inventory:
    return validate(load_file(path))


def validate(doc: Document) -> Inventory:
    if not isinstance(doc.data, dict):
        raise InventoryError(doc.problems + [doc.problem((), "an inventory is a YAML mapping (version, stack, "
                                                             "receivers, ...)")])
    problems: list[Problem] = []
    inventory = None
    try:
        inventory = Inventory.model_validate(doc.data)
    except ValidationError as e:
        problems += [_problem(doc, err) for err in e.errors()]
    problems += _cross_checks(doc, inventory)
    # a value the loader could not read (now None) fails its type check too: say it once
    read = {(p.line, p.where) for p in doc.problems}
    problems = doc.problems + [p for p in problems if (p.line, p.where) not in read]
    if problems:
        raise InventoryError(problems)
    return _resolved(inventory)


def _resolved(inventory: Inventory) -> Inventory:
    """Defaults that depend on more than one section, settled once: whether each service reports errors."""
    services = [s.model_copy(update={"errors": tracker.reports(s, inventory.stack)}) for s in inventory.services]
    return inventory.model_copy(update={"services": services})


# ---------------------------------------------------------------- pydantic errors, in the user's words


def _problem(doc: Document, err: dict) -> Problem:
    loc = tuple(p for p in err["loc"] if p != "[key]")
    kind, value = err["type"], err.get("input")
    if kind == "missing":
        return doc.problem(loc[:-1], f"missing required key {loc[-1]!r}")
    if kind == "extra_forbidden":
        allowed = _fields_at(loc[:-1])
        if loc[-1] == "info" and loc[-2:-1] == ("notify",):
            return doc.problem(loc, "info alerts are never notified (they are visible in Grafana); "
                                    "notify takes critical and warning")
        hint = did_you_mean(loc[-1], allowed) or (f" (allowed: {', '.join(allowed)})" if allowed else "")
        return doc.problem(loc, f"unknown key {loc[-1]!r}{hint}")
    if kind == "literal_error":
        expected = [x.strip().strip("'") for x in err["ctx"]["expected"].replace(" or ", ", ").split(",")]
        if loc == ("version",):
            return doc.problem(loc, f"unsupported inventory version {value!r} (this Vigil reads version 1)")
        return doc.problem(loc, f"{value!r} is not one of {', '.join(expected)}{did_you_mean(value, expected)}")
    if kind == "value_error":
        return doc.problem(loc, str(err["ctx"]["error"]))
    if kind in ("string_type", "int_type", "float_type", "bool_type", "list_type", "dict_type", "model_type",
                "model_attributes_type"):
        want = {"string_type": "a string", "int_type": "a whole number", "float_type": "a number",
                "bool_type": "true or false", "list_type": "a list"}.get(kind, "a mapping")
        if value is None and want in ("a mapping", "a list") and loc and isinstance(loc[-1], str):
            # `stack:` with its keys not indented under it: YAML reads an empty value
            return doc.problem(loc, f"expected {want}, but nothing is indented under {loc[-1]!r} (indent what "
                                    f"belongs to it by two more spaces than {loc[-1]!r}, with spaces, not tabs)")
        hint = " (YAML reads yes/no/on/off/true/false as booleans: quote it)" if isinstance(value, bool) \
            else " (quote it)" if want == "a string" and isinstance(value, (int, float, datetime.date)) else ""
        return doc.problem(loc, f"expected {want}, got {_show(value)}{hint}")
    if kind == "too_short":
        return doc.problem(loc, "must not be empty")
    if kind == "string_too_short":
        return doc.problem(loc, "must not be empty")
    if kind == "string_pattern_mismatch" and loc[-1] == "metrics_path":
        return doc.problem(loc, f"invalid path {value!r} (starts with '/', no spaces)")
    return doc.problem(loc, f"{err['msg']} (got {_show(value)})")


def _show(value) -> str:
    if isinstance(value, datetime.date):  # YAML reads 2024-01-31 as a date
        return f"the date {value.isoformat()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _fields_at(path: tuple) -> list[str]:
    """The keys the model at `path` allows, for hints."""
    tp = Inventory
    for part in path:
        if isinstance(part, int):
            tp = _unwrap(tp, list)
        elif isinstance(tp, type) and issubclass(tp, BaseModel):
            field = next((f for n, f in tp.model_fields.items() if (f.alias or n) == part), None)
            if field is None:
                return []
            tp = field.annotation
        else:
            return []
        tp = _unwrap(tp, None)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or n for n, f in tp.model_fields.items()]
    return []


def _unwrap(tp, container):
    """Optional[X] -> X; list[X] -> X when `container` is list."""
    for _ in range(3):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        origin = typing.get_origin(tp)
        if origin is typing.Union and len(args) == 1:
            tp = args[0]
        elif container is list and origin is list:
            return args[0]
        else:
            break
    return tp


# ---------------------------------------------------------------- what a shape cannot say


def _items(data, key: str) -> list[tuple[int, dict]]:
    items = data.get(key) if isinstance(data, dict) else None
    return [(i, x) for i, x in enumerate(items) if isinstance(x, dict)] if isinstance(items, list) else []


def _names(doc: Document, section: str, problems: list) -> set:
    seen: dict = {}
    for i, item in _items(doc.data, section):
        name = item.get("name")
        if not isinstance(name, str):
            continue
        if name in seen:
            problems.append(doc.problem((section, i, "name"),
                                        f"duplicate name {name!r} (also {section}[{seen[name]}], "
                                        f"line {doc.line((section, seen[name], 'name'))})"))
        else:
            seen[name] = i
    return set(seen)


def _ref(doc: Document, path: tuple, value, known: set, what: str, problems: list) -> None:
    if isinstance(value, str) and value not in known:
        hint = did_you_mean(value, known) or (f" (known: {', '.join(sorted(known))})" if known else "")
        problems.append(doc.problem(path, f"unknown {what} {value!r}{hint}"))


def _cross_checks(doc: Document, inventory: Inventory | None) -> list[Problem]:
    data, problems = doc.data, []
    receivers = _names(doc, "receivers", problems)
    teams = _names(doc, "teams", problems)
    _names(doc, "services", problems)

    for i, r in _items(data, "receivers"):
        if any(r.get(k) is not None for k in Receiver.CHANNELS):
            continue
        empty = [k for k in Receiver.CHANNELS if k in r]     # `slack:` with nothing under it
        if empty:
            problems.append(doc.problem(("receivers", i, empty[0]), f"{empty[0]} is empty: receiver {r.get('name')!r} "
                                                                    f"sends nowhere (indent its keys under "
                                                                    f"{empty[0]!r} by two more spaces)"))
        else:
            problems.append(doc.problem(("receivers", i), f"receiver {r.get('name')!r} sends nowhere "
                                                          f"(give one of: {', '.join(Receiver.CHANNELS)})"))
    routing = data.get("routing") if isinstance(data.get("routing"), dict) else {}
    group_by = routing.get("group_by") if isinstance(routing.get("group_by"), list) else []
    for j, label in enumerate(group_by):
        if isinstance(label, str) and label in group_by[:j]:
            problems.append(doc.problem(("routing", "group_by", j), f"label {label!r} is listed twice "
                                                                   f"(Alertmanager refuses the config)"))
    for key in ("default_receiver", "heartbeat_receiver"):
        _ref(doc, ("routing", key), routing.get(key), receivers, "receiver", problems)
    if any("email" in r for _, r in _items(data, "receivers")) and "smtp" not in routing:
        first = next(i for i, r in _items(data, "receivers") if "email" in r)
        problems.append(doc.problem(("receivers", first, "email"), "e-mail needs a mail server: set routing.smtp "
                                                                   "{smarthost, from}"))
    for i, t in _items(data, "teams"):
        notify = t.get("notify") if isinstance(t.get("notify"), dict) else {}
        for sev, names in notify.items():
            seen_here: set = set()
            for j, name in enumerate(names if isinstance(names, list) else []):
                _ref(doc, ("teams", i, "notify", sev, j), name, receivers, "receiver", problems)
                if isinstance(name, str) and name in seen_here:
                    problems.append(doc.problem(("teams", i, "notify", sev, j), f"receiver {name!r} listed twice"))
                seen_here.add(name) if isinstance(name, str) else None
        _deploy_refs(doc, i, t, receivers, problems)
    stack = data.get("stack") if isinstance(data.get("stack"), dict) else {}
    _ref(doc, ("stack", "team"), stack.get("team"), teams, "team", problems)
    services = {s["name"] for _, s in _items(data, "services") if isinstance(s.get("name"), str)}
    page = stack.get("status_page") if isinstance(stack.get("status_page"), dict) else {}
    for i, a in _items(page, "announcements"):
        for j, name in enumerate(a.get("services") if isinstance(a.get("services"), list) else []):
            _ref(doc, ("stack", "status_page", "announcements", i, "services", j), name, services, "service",
                 problems)
    seen_rw: dict = {}
    remote_write = stack.get("remote_write") if isinstance(stack.get("remote_write"), list) else []
    for i, rw in enumerate(remote_write):
        name = rw.get("name") if isinstance(rw, dict) else None
        if isinstance(name, str) and name in seen_rw:
            problems.append(doc.problem(("stack", "remote_write", i, "name"),
                                        f"duplicate name {name!r} (also remote_write[{seen_rw[name]}])"))
        elif isinstance(name, str):
            seen_rw[name] = i
    problems += _redaction_checks(doc, stack)
    for key in ("scrape_interval", "evaluation_interval"):
        try:
            d = Duration.parse(stack[key])
        except (KeyError, ValueError):
            continue
        if not INTERVAL_RANGE[0] <= d <= INTERVAL_RANGE[1]:
            problems.append(doc.problem(("stack", key), f"{d} is outside {INTERVAL_RANGE[0]}..{INTERVAL_RANGE[1]} "
                                                        f"(Vigil's rates use 5m windows, which need several samples)"))
    if inventory is not None:
        window = dora.window_problem(inventory.stack.dora.failure_window)
        if window:
            problems.append(doc.problem(("stack", "dora", "failure_window"), window))

    for i, raw in _items(data, "services"):
        at = ("services", i)
        _ref(doc, at + ("team",), raw.get("team"), teams, "team", problems)
        if isinstance(raw.get("name"), str) and raw["name"] in RESERVED:  # a list or mapping is not hashable
            problems.append(doc.problem(at + ("name",), f"{raw['name']!r} is a name the stack uses for its own "
                                                        f"parts (reserved: {', '.join(sorted(RESERVED))})"))
        for label in (raw.get("labels") or {}) if isinstance(raw.get("labels"), dict) else ():
            if label in RESERVED_LABELS:
                problems.append(doc.problem(at + ("labels", label), f"label {label!r} is set by Vigil "
                                                                   f"(reserved: {', '.join(sorted(RESERVED_LABELS))})"))
        # by index, not by name: two services may share a name (reported above)
        service = inventory.services[i] if inventory else _typed_service(raw)
        if service is not None:
            retention = inventory.stack.retention if inventory else None
            problems += [doc.problem(at + path, msg) for path, msg in _kind_problems(service, retention)]
            if inventory is not None:
                problems += [doc.problem(at + path, msg) for path, msg in tracker.problems(service, inventory.stack)]
            probed = "url" if service.kind == "probe" else "health_url" if service.health_url else None
            if probed and inventory is not None and inventory.stack.endpoints.blackbox is None:
                problems.append(doc.problem(at + (probed,), "stack.endpoints.blackbox is null (not run here), so "
                                                            "nothing probes it (give the blackbox exporter's "
                                                            "host:port, or remove it)"))
        elif isinstance(raw.get("kind"), str) and raw["kind"] in KINDS and isinstance(raw.get("alerts"), dict):
            # a service with shape problems: its alert overrides need only its kind, report them now too
            _, _, found = alert_params(KINDS[raw["kind"]].ALERTS, raw["alerts"])
            problems += [doc.problem(at + ("alerts",) + path, msg) for path, msg in found]
    return problems


def _redaction_checks(doc: Document, stack: dict) -> list[Problem]:
    """stack.logs.redact: disable names a default rule; an added rule has a name of its own."""
    logs_ = stack.get("logs") if isinstance(stack.get("logs"), dict) else {}
    redact = logs_.get("redact") if isinstance(logs_.get("redact"), dict) else {}
    at, out = ("stack", "logs", "redact"), []
    defaults = [r.name for r in logs.REDACTIONS]
    disabled = redact.get("disable") if isinstance(redact.get("disable"), list) else []
    for j, name in enumerate(disabled):
        if isinstance(name, str) and name not in defaults:
            out.append(doc.problem(at + ("disable", j), f"no default redaction {name!r}"
                                   + (did_you_mean(name, defaults) or f" (defaults: {', '.join(defaults)})")))
    taken = {n: None for n in defaults if n not in disabled}
    for j, rule in enumerate(redact.get("add") if isinstance(redact.get("add"), list) else []):
        name = rule.get("name") if isinstance(rule, dict) else None
        if not isinstance(name, str):
            continue
        if name in taken:
            where = "a default rule (disable it to replace it)" if taken[name] is None else \
                f"also add[{taken[name]}]"
            out.append(doc.problem(at + ("add", j, "name"), f"duplicate redaction name {name!r} ({where})"))
        else:
            taken[name] = j
    return out


# What `vigil deploy` can post a deploy message through (deploy.py): not PagerDuty, which pages.
DEPLOY_CHANNELS = ("slack", "webhook", "email")


def _deploy_refs(doc: Document, i: int, team: dict, receivers: set, problems: list) -> None:
    names = team.get("deploys") if isinstance(team.get("deploys"), list) else []
    by_name = {r["name"]: r for _, r in _items(doc.data, "receivers") if isinstance(r.get("name"), str)}
    for j, name in enumerate(names):
        at = ("teams", i, "deploys", j)
        _ref(doc, at, name, receivers, "receiver", problems)
        if isinstance(name, str) and names.index(name) != j:
            problems.append(doc.problem(at, f"receiver {name!r} listed twice"))
        elif isinstance(name, str) and name in by_name \
                and not any(by_name[name].get(c) is not None for c in DEPLOY_CHANNELS):
            problems.append(doc.problem(at, f"receiver {name!r} cannot take deploy messages (give it one of: "
                                            f"{', '.join(DEPLOY_CHANNELS)})"))


def _typed_service(raw: dict) -> Service | None:
    try:
        return Service.model_validate(raw)
    except ValidationError:
        return None


def _kind_problems(service: Service, retention: Duration | None) -> list:
    """`retention`: the stack's, where the inventory is whole enough to know it."""
    kind = KINDS[service.kind]
    fields = kind.FIELDS
    out = []
    rule = fields.get("targets")
    if rule == "required" and not service.targets:
        out.append(((), f"kind {service.kind} needs targets (host:port to scrape)"))
    if rule == "forbidden" and service.targets is not None:
        out.append((("targets",), f"kind {service.kind} has no targets (give url)"))
    for j, target in enumerate(service.targets or ()):
        if target in service.targets[:j]:     # Prometheus scrapes it once: one target, not two replicas
            out.append((("targets", j), f"target {target!r} listed twice"))
    if fields.get("url") == "required" and not service.url:
        out.append(((), f"kind {service.kind} needs url (the address to probe)"))
    for key, what in (("url", "url"), ("instrumentation", "instrumentation"), ("slo", "slo")):
        if key != "url" and not fields.get(key) and getattr(service, key) is not None:
            out.append(((key,), f"kind {service.kind} takes no {what} (only http does)"))
    if fields.get("url") != "required" and service.url is not None:
        out.append((("url",), f"kind {service.kind} takes no url (only probe does; for a health check use health_url)"))
    if not fields.get("pushgateway") and service.pushgateway is not None:
        out.append((("pushgateway",), f"kind {service.kind} takes no pushgateway (only job does)"))
    if service.kind == "probe" and service.health_url is not None:
        out.append((("health_url",), "a probe is its own health check: use url"))
    if service.slo:
        for path, pct in ((("availability",), service.slo.availability),
                          (("latency", "objective"), service.slo.latency.objective if service.slo.latency else None)):
            if pct is not None and not 0 < pct < 100:
                out.append((("slo",) + path, f"objective {pct} must be between 0 and 100 (exclusive)"))
        if fields.get("slo"):
            out += slo.problems(service, presets.resolve(service.instrumentation)[0], retention)
    params, _, problems = alert_params(alert_specs(service), service.alerts)
    out += [(("alerts",) + path, msg) for path, msg in problems]
    if not problems and "instances_down" in params and service.targets:
        out += instances_down_problems(service, len(service.targets), params["instances_down"])
    if hasattr(kind, "check"):
        out += kind.check(service)
    seen = set()
    for i, rule in enumerate(service.rules):
        if rule.alert in BUILTIN_ALERTNAMES:
            out.append((("rules", i, "alert"), f"{rule.alert!r} is one of Vigil's own alerts: choose another name "
                                               f"(or tune the built-in one under alerts)"))
        elif rule.alert in seen:
            out.append((("rules", i, "alert"), f"duplicate alert name {rule.alert!r} in this service's rules"))
        seen.add(rule.alert)
    out += user_rule_problems(service)
    return out
