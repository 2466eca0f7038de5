"""A .env file read exactly as Docker Compose v2 reads its project .env (compose-go's
dotenv package and its ${VAR} substitution), so that Vigil's secret files and the
values Compose hands to the containers never differ.

What Compose does, and so this module (tests/test_dotenv.py holds it to the real
binary, `docker-compose config`):

- a UTF-8 byte-order mark is skipped; blank lines and lines starting with `#` too;
- `export ` before a key is ignored; `KEY=value` and `KEY: value` both assign; a key
  alone on its line takes its value from the environment (when set there);
- unquoted values end at the line's end, or at ` #` (a comment); trailing white
  space (a CR of CRLF included) is dropped; `${VAR}`, `$VAR`, `${VAR:-default}` ...
  are expanded, `$$` is a `$`;
- 'single quotes' keep everything as written (a backslash only escapes the quote);
- "double quotes" run to the closing quote, across lines: \\n, \\t ... are escapes,
  then ${VAR} is expanded; after the closing quote, the rest of the line is read
  as if it started a new statement (so `"v" # c` is v, and a comment);
- a variable is looked up in the environment first, then among the keys above it;
  unset, it is empty (Compose warns); `${VAR:?why}` on an unset one is an error;
  a `$` before anything but a name or `{` stays a `$`.

One deliberate difference: Compose takes any bytes; a .env that is not UTF-8 is
refused here with the line of the first bad byte (a Latin-1 secret would otherwise
reach Alertmanager as mojibake).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Callable, Optional

Lookup = Callable[[str], Optional[str]]

_BLANK = frozenset("\t\v\f\r \x85\xa0")      # white space within a line (Go's dotenv isSpace)
_NAME = re.compile(r"[_A-Za-z][_A-Za-z0-9]*")
_KEY_PUNCT = frozenset("_.-[]")
_EXPORT = re.compile(r"export[\t\n\f\r ]+")   # Go's ^export\s+
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


class DotenvError(ValueError):
    """A line Compose would refuse; `line` counts from 1."""

    def __init__(self, line: int, message: str):
        self.line, self.message = line, message
        super().__init__(f"line {line}: {message}")


def _is_space(c: str) -> bool:
    """Go's unicode.IsSpace."""
    return c in "\t\n\v\f\r \x85\xa0" or (c > "\xff" and unicodedata.category(c) == "Zs") \
        or c in "\u2028\u2029"


def _rstrip(s: str) -> str:
    end = len(s)
    while end and _is_space(s[end - 1]):
        end -= 1
    return s[:end]


def decode(data: bytes) -> str:
    """UTF-8 text without its byte-order mark; DotenvError at the line of a bad byte."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise DotenvError(line, f"not UTF-8 (byte 0x{data[e.start]:02x}): save the file as UTF-8") from None
    return text.removeprefix("\ufeff")


def parse(text: str, lookup: Lookup = lambda name: None) -> dict[str, str]:
    """KEY -> value, in file order. `lookup` is the environment Compose runs in."""
    out: dict[str, str] = {}
    pos, n = 0, len(text)
    while True:
        # the next statement: skip white space (new lines too) and comment lines
        while pos < n and (_is_space(text[pos]) or text[pos] == "#"):
            if text[pos] == "#":
                nl = text.find("\n", pos)
                pos = n if nl < 0 else nl
            else:
                pos += 1
        if pos >= n:
            return out
        line = text.count("\n", 0, pos) + 1
        export = _EXPORT.match(text, pos)   # `export KEY=...`; `exported=1` is a key
        if export:
            pos = export.end()
        start, key, inherited = pos, None, False
        while pos < n:
            c = text[pos]
            if c in "=:\n":
                key, inherited = text[start:pos], c == "\n"
                pos += 1
                break
            if not (c in _BLANK or c in _KEY_PUNCT or c.isalpha() or c.isnumeric()):
                raise DotenvError(line, f"unexpected character {c!r} in variable name "
                                        f"{text[start:].split(chr(10))[0]!r} (write KEY=value)")
            pos += 1
        else:   # no '=' before the end of the file: Compose reads the whole rest as the value of key ""
            key, inherited, pos = "", False, start
        key = _rstrip(key)
        if " " in key:
            raise DotenvError(line, f"key {key!r} cannot contain a space")
        while pos < n and text[pos] in _BLANK:
            pos += 1
        if inherited:
            value = lookup(key)
            if value is not None:
                out[key] = value
            continue
        value, pos = _value(text, pos, line, out, lookup)
        out[key] = value


def _value(text: str, pos: int, line: int, seen: dict, lookup: Lookup) -> tuple[str, int]:
    quote = text[pos] if pos < len(text) and text[pos] in "'\"" else None
    if quote is None:
        nl = text.find("\n", pos)
        end = len(text) if nl < 0 else nl
        value = _rstrip(text[pos:end].split(" #", 1)[0])
        return substitute(value, line, seen, lookup), end
    chars, escaped, i = [], False, pos + 1
    while i < len(text):
        c = text[i]
        if c == quote:
            if escaped:                     # \" or \': the quote itself
                chars.append(c)
                escaped = False
            else:
                value = "".join(chars)
                if quote == '"':
                    value = substitute(_unescape(value), line, seen, lookup)
                return value, i + 1
        elif escaped:
            chars += ["\\", c]
            escaped = False
        elif c == "\\":
            escaped = True
        else:
            chars.append(c)
        i += 1
    first = text[pos:].split("\n", 1)[0]
    raise DotenvError(line, f"unterminated quoted value {first} (close the {quote})")


def _unescape(value: str) -> str:
    r"""Escapes in double quotes: \n \t ... and \\ become what they name, \$ a literal $
    (as $$); any other backslash stays."""
    def one(m: re.Match) -> str:
        return "$$" if m.group(1) == "$" else _ESCAPES.get(m.group(1), m.group(0))
    return re.sub(r"\\(.)", one, value)


# ---------------------------------------------------------------- ${VAR} substitution (compose-go's template)


def substitute(value: str, line: int, seen: dict, lookup: Lookup) -> str:
    def find(name: str) -> Optional[str]:
        got = lookup(name)
        return got if got is not None else seen.get(name)
    return _substitute(value, line, find)


def _substitute(s: str, line: int, find) -> str:
    out, i = [], 0
    while True:
        j = s.find("$", i)
        if j < 0:
            out.append(s[i:])
            return "".join(out)
        out.append(s[i:j])
        rest = s[j + 1:]
        if rest.startswith("$"):
            out.append("$")
            i = j + 2
            continue
        m = _NAME.match(rest)
        if m:
            out.append(find(m.group()) or "")
            i = j + 1 + m.end()
            continue
        if rest.startswith("{"):
            close = _closing_brace(rest)
            if close is None:
                raise DotenvError(line, f"invalid variable {s[j:]!r} (no closing '}}')")
            out.append(_braced(rest[1:close], line, find, s))
            i = j + 1 + close + 1
            continue
        out.append("$")                 # a $ before anything else stays as written
        i = j + 1


def _closing_brace(rest: str) -> Optional[int]:
    depth = 0
    for k, c in enumerate(rest):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return k
    return None


def _braced(body: str, line: int, find, whole: str) -> str:
    m = _NAME.match(body)
    if not m:
        raise DotenvError(line, f"invalid variable ${{{body}}} in {whole!r}")
    name, op = m.group(), body[m.end():]
    value = find(name)
    if op == "":
        return value or ""
    for sep in (":-", ":?", ":+", "-", "?", "+"):
        if op.startswith(sep):
            arg = op[len(sep):]
            empty_counts = sep.startswith(":")
            unset = value is None or (empty_counts and value == "")
            kind = sep[-1]
            if kind == "-":
                return _substitute(arg, line, find) if unset else value
            if kind == "+":
                return "" if unset else _substitute(arg, line, find)
            if unset:
                why = _substitute(arg, line, find)
                raise DotenvError(line, f"required variable {name} is missing a value" + (f": {why}" if why else ""))
            return value
    raise DotenvError(line, f"invalid variable ${{{body}}} in {whole!r}")
