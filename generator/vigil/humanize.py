"""The few Prometheus template functions Vigil's annotations use, in Python.

Rule tests must state the exact annotations an alert carries, so the expected
text is expanded here from the same template the rule carries. promtool checks
this replica on every run of `promtool test rules`.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal


def _g4(v: float) -> str:  # Go's %.4g and C's agree
    return "%.4g" % v


def humanize(v: float) -> str:
    if v == 0 or math.isnan(v) or math.isinf(v):
        return _g4(v)
    prefix = ""
    if abs(v) >= 1:
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(v) < 1000:
                break
            prefix, v = p, v / 1000
        return _g4(v) + prefix
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix, v = p, v * 1000
    return _g4(v) + prefix


def humanize_percentage(v: float) -> str:
    return _g4(v * 100) + "%"


def humanize_duration(v: float) -> str:
    if math.isnan(v) or math.isinf(v):
        return _g4(v)
    if v == 0:
        return _g4(v) + "s"
    if abs(v) >= 1:
        sign = "-" if v < 0 else ""
        v = abs(v)
        whole = int(v)
        s, m, h, d = whole % 60, (whole // 60) % 60, (whole // 3600) % 24, whole // 86400
        if d:
            return f"{sign}{d}d {h}h {m}m {s}s"
        if h:
            return f"{sign}{h}h {m}m {s}s"
        if m:
            return f"{sign}{m}m {s}s"
        return f"{sign}{_g4(v)}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix, v = p, v * 1000
    return f"{_g4(v)}{prefix}s"


def go_value(v: float) -> str:
    """`{{ $value }}`: Go prints a float64 with %v — the shortest digits that
    round-trip, in exponent form when the exponent is below -4 or 6 and more."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return "0"
    d = Decimal(repr(float(v))).normalize()        # Python's repr is the shortest round-trip form too
    sign, digits, exponent = d.as_tuple()
    exp = len(digits) - 1 + exponent
    ds = "".join(map(str, digits))
    if exp < -4 or exp >= 6:
        return f"{'-' if sign else ''}{ds[0]}{'.' + ds[1:] if len(ds) > 1 else ''}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    return format(d, "f")


_FUNCS = {"humanize": humanize, "humanizePercentage": humanize_percentage, "humanizeDuration": humanize_duration}
_ACTION = re.compile(r"\{\{\s*(.*?)\s*\}\}")


def expand(template: str, labels: dict, value: float | None) -> str:
    """Expand `{{ $labels.x }}` and `{{ $value | fn }}`; anything else is an error."""
    parts = _parsed.get(template) or _parse(template)
    if len(parts) == 1:
        return template
    out = []
    for part in parts:
        if type(part) is str:
            out.append(part)
        elif part[0] is None:
            out.append(labels.get(part[1], ""))
        else:
            head, fn, action = part
            if head == "$value" and value is not None and not fn:
                out.append(go_value(value))
            elif head == "$value" and value is not None and (fn in _FUNCS):
                out.append(_FUNCS[fn](value))
            else:
                raise ValueError(f"Vigil cannot expand {{{{ {action} }}}}")
    return "".join(out)


# A template's text split at its actions, once: tests expand the same few annotations thousands of times.
_parsed: dict[str, list] = {}


def _parse(template: str) -> list:
    """[text, action, text, ...]: an action is (None, label) for `$labels.label`, else (head, fn, action)."""
    parts, at = [], 0
    for m in _ACTION.finditer(template):
        action = m.group(1)
        label = re.fullmatch(r"\$labels\.(\w+)", action)
        head, _, fn = (p.strip() for p in action.partition("|"))
        parts += [template[at:m.start()], (None, label.group(1)) if label else (head, fn, action)]
        at = m.end()
    parts.append(template[at:])
    _parsed[template] = parts
    return parts


# What Go's text/template and Prometheus' template functions know: the first word of an action.
_KEYWORDS = {"if", "else", "end", "range", "with", "template", "define", "block", "break", "continue", "nil"}
_FUNCTIONS = {"humanize", "humanize1024", "humanizeDuration", "humanizePercentage", "humanizeTimestamp",
              "title", "toUpper", "toLower", "printf", "print", "println", "query", "first", "label", "value",
              "strvalue", "sortByLabel", "match", "reReplaceAll", "safeHtml", "stripPort", "stripDomain", "args",
              "tmpl", "graphLink", "tableLink", "pathPrefix", "externalURL", "parseDuration", "len", "index",
              "eq", "ne", "lt", "le", "gt", "ge", "and", "or", "not", "urlquery", "html", "js", "call", "slice"}


def template_problem(text: str) -> str | None:
    """A rough check of a Go template (what Prometheus would refuse): unclosed
    actions, unknown functions or variables, unbalanced if/range/with ... end."""
    if text.count("{{") != text.count("}}") or re.search(r"\{\{(?:(?!\}\}).)*\{\{", text, re.S):
        return "unclosed {{ ... }} action"
    depth = 0
    for action in _ACTION.findall(text):
        word = action.strip("- ").split(" ", 1)[0].split("|", 1)[0].strip()
        head = word.split(".", 1)[0]
        if word.startswith("/*") or word == "" or word.startswith(("(", '"')) or word.startswith("."):
            continue
        if head.startswith("$"):
            if head not in ("$labels", "$value", "$externalLabels", "$externalURL", "$"):
                return f"undefined variable {head}"
            continue
        if word in ("if", "range", "with", "define", "block"):
            depth += 1
        elif word == "end":
            depth -= 1
            if depth < 0:
                return "{{ end }} without an opening if, range or with"
        elif word not in _KEYWORDS and word not in _FUNCTIONS:
            return f"function {word!r} is not defined"
    return "unclosed if, range or with (missing {{ end }})" if depth else None


def uses_value(template: str) -> bool:
    return any("$value" in a for a in _ACTION.findall(template))
