"""Render once per shape. Services whose entries differ only in their own strings (name, team,
targets, label values, URLs) render to files that differ only in those strings (benchmarks/shapes.py
counts the renders left). So one stand-in per shape, with a marker in place of each such string, is
planned and rendered, and each member gets the stand-in's files, scrape jobs and probes with its own
strings in the markers' places.

The bytes are those each member's own render gives (tests/test_shapes.py renders mixes both ways).
What could render differently from a marker is rendered on its own: a service with its own `rules`
(the ids of their runbook panels hash its name, runbooks.panel_id), a team too long for a folder uid
(dashboards.team_folder hashes it), a string YAML would quote (`on`, `null`) or outside a charset
that YAML, JSON and PromQL write as it is. And every expansion is checked: a marker the render
changed (cut, upper-cased) leaves a fragment that is not a whole marker, and then that shape's
members are rendered on their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Callable, Sequence

from ..dashboards import team_folder
from ..inventory import Service
from .yamlout import plain_ok

MARK = "qzx"        # in every marker, once (where an entry's own text holds it, its shape renders alone)
_FRAGMENT = re.compile(MARK, re.IGNORECASE)
_FRAGMENT_BYTES = re.compile(MARK.encode(), re.IGNORECASE)
_URLS = ("url", "health_url", "runbook_url")
# Written as they are in YAML plain scalars, JSON, PromQL and Go template strings alike.
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~:/?#&=%+-]*")


def _mark(tag: str) -> str:
    return f"{MARK}{tag}{MARK[::-1]}"


@dataclass
class Shape:
    stand_in: Service
    members: list[tuple[int, Service, dict[str, str]]] = field(default_factory=list)   # index, service, marker -> its string

    @property
    def shared(self) -> bool:
        return self.stand_in is not self.members[0][1]


def shapes(services: Sequence[Service]) -> list[Shape]:
    """The services grouped by shape, each shape where its first member is. A service that cannot
    share is a shape of one, its own stand-in."""
    out: list[Shape] = []
    by_key: dict[str, Shape] = {}
    for i, s in enumerate(services):
        marked = _stand_in(s)
        if marked is None:
            out.append(Shape(s, [(i, s, {})]))
            continue
        stand_in, values = marked
        key = repr(stand_in)       # every field, nested models too
        shape = by_key.get(key)
        if shape is None:
            shape = by_key[key] = Shape(stand_in)
            out.append(shape)
        shape.members.append((i, s, values))
    for shape in out:
        if len(shape.members) == 1:       # nothing to share: its own render is the cheaper
            shape.stand_in = shape.members[0][1]
    return out


def _stand_in(s: Service) -> tuple[Service, dict[str, str]] | None:
    if s.rules or team_folder(s.team).uid != team_folder(s.team).key:
        return None
    values = {_mark("name"): s.name, _mark("team"): s.team}
    update: dict = {"name": _mark("name"), "team": _mark("team")}
    if s.targets is not None:
        update["targets"] = [f"{_mark(f't{i}')}:9" for i in range(len(s.targets))]
        values.update(zip(update["targets"], s.targets))
    if s.labels:
        update["labels"] = {k: _mark(f"l{i}") for i, k in enumerate(s.labels)}
        values.update(zip(update["labels"].values(), s.labels.values()))
    for key in _URLS:
        url = getattr(s, key)
        if url is not None:
            scheme = url.partition("://")[0]
            update[key] = f"{scheme}://{_mark(key.replace('_', ''))}/"
            values[update[key]] = url
    if not all(_SAFE.fullmatch(v) and plain_ok(v) for v in values.values()):
        return None
    return s.model_copy(update=update), values


class _Changed(Exception):
    """The render changed a marker: the shape's members render on their own."""


@dataclass(frozen=True)
class _Cut:
    pieces: tuple           # literal text and markers, alternating


@dataclass(frozen=True)
class _Object:
    value: object           # a scrape job or probe
    changes: tuple          # (field, template) of its fields that hold a marker


class _Template:
    """A stand-in's rendered files, jobs and probes, each string cut at its markers once: each
    member's are then joins of its own strings and the literal parts."""

    def __init__(self, markers: Sequence[str], rendered):
        alternatives = "(" + "|".join(re.escape(m) for m in sorted(markers, key=len, reverse=True)) + ")"
        self._split = {str: re.compile(alternatives).split, bytes: re.compile(alternatives.encode()).split}
        self.template = self._cut(rendered)

    def _cut(self, value):
        t = type(value)
        if t is str or t is bytes:
            pieces = self._split[t](value)
            if len((_FRAGMENT if t is str else _FRAGMENT_BYTES).findall(value)) != len(pieces) // 2:
                raise _Changed(value)
            return _Cut(tuple(pieces)) if len(pieces) > 1 else value
        if t is tuple or t is list:
            return t(self._cut(v) for v in value)
        if t is dict:
            return {self._cut(k): self._cut(v) for k, v in value.items()}
        if is_dataclass(value):
            changes = tuple((f.name, c) for f in fields(value)
                            if (c := self._cut(v := getattr(value, f.name))) is not v)
            return _Object(value, changes) if changes else value
        return value        # a number, or a set of label names: never a marker


def _fill(template, values: dict):
    """The template with the strings of `values` (str and bytes markers -> the member's own) in."""
    t = type(template)
    if t is _Cut:
        pieces = list(template.pieces)
        pieces[1::2] = [values[m] for m in pieces[1::2]]
        return type(pieces[0])().join(pieces)
    if t is tuple or t is list:
        return t(_fill(v, values) for v in template)
    if t is dict:
        return {_fill(k, values): _fill(v, values) for k, v in template.items()}
    if t is _Object:
        return replace(template.value, **{name: _fill(c, values) for name, c in template.changes})
    return template


def expand(shape: Shape, rendered, alone: Callable[[Service], object]) -> list[tuple[int, object]]:
    """Each member's files, jobs and probes, from `rendered`, the stand-in's: (index, its own) in
    order. `alone` renders a service on its own, for a shape whose render changed a marker."""
    if not shape.shared:
        return [(shape.members[0][0], rendered)]
    try:
        template = _Template(list(shape.members[0][2]), rendered).template
    except _Changed:
        return [(i, alone(s)) for i, s, _ in shape.members]
    return [(i, _fill(template, {**values, **{m.encode(): v.encode() for m, v in values.items()}}))
            for i, _, values in shape.members]
