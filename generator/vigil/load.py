"""YAML -> plain data, remembering the line of every node.

Duplicate keys are errors (YAML would silently keep the last one); so are
non-string keys, alias bombs and files too large to be an inventory.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path as FsPath

import yaml

from .errors import InventoryError, Path, Problem, format_path

MAX_BYTES = 16 * 1024 * 1024  # a 10,000-service inventory is about 2 MiB
MAX_NODES = 2_000_000         # nodes after alias expansion: stops "billion laughs"
MAX_DEPTH = 64

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_constructor = yaml.constructor.SafeConstructor()


@dataclass
class Document:
    file: str
    data: object
    lines: dict = field(default_factory=dict)  # Path -> 1-based line
    problems: list = field(default_factory=list)  # duplicate keys and the like: validation reports them too

    def line(self, path: Path) -> int:
        """Line of the node at `path`, or of its nearest ancestor that exists."""
        path = tuple(path)
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path, 1)

    def problem(self, path: Path, message: str) -> Problem:
        return Problem(self.file, self.line(path), format_path(path), message)


def load_text(text: str, file: str = "inventory.yml") -> Document:
    doc = Document(file, None)
    try:
        _check_events(text, file)
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as e:
        raise InventoryError([_syntax_problem(file, e, text)]) from None
    except yaml.reader.ReaderError as e:  # a control character: locate it (e.position counts bytes or characters)
        at = text.find(chr(e.character)) if isinstance(e.character, int) else -1
        line = text[:at].count("\n") + 1 if at >= 0 else 1
        raise InventoryError([Problem(file, line, "(yaml)", str(e).splitlines()[0])]) from None
    except yaml.YAMLError as e:
        raise InventoryError([Problem(file, 1, "(yaml)", f"YAML error: {' '.join(str(e).split())}")]) from None
    if len(nodes) != 1:
        line = nodes[1].start_mark.line + 1 if len(nodes) > 1 else 1
        what = "the file is empty" if not nodes else "the file holds more than one YAML document"
        raise InventoryError([Problem(file, line, "(yaml)", f"{what} (an inventory is one YAML mapping)")])
    walker = _Walker(doc)
    doc.data = walker.build(nodes[0], ())
    doc.problems = walker.problems  # not raised here: validation goes on, so every problem is reported at once
    return doc


def _syntax_problem(file: str, e: yaml.MarkedYAMLError, text: str = "") -> Problem:
    mark = e.problem_mark or e.context_mark
    line = mark.line + 1 if mark else 1
    what = e.problem or e.context or "invalid YAML"
    if e.context and e.problem:  # "while parsing a flow sequence" that opened on another line
        started = e.context_mark.line + 1 if e.context_mark else line
        what += f" ({e.context}" + (f" that starts on line {started})" if started != line else ")")
    return Problem(file, line, "(yaml)", f"YAML syntax error: {what}{_hint(e, text, line)}")


# What usually causes each of libyaml's complaints, said the way a person fixes it.
_INDENT = ("indentation: items of one list, or keys of one mapping, start in the same column, and what "
           "belongs under a key is indented more than the key (spaces only, no tabs)")
_HINTS = (
    ("mapping values are not allowed", "a value holding ': ' needs quotes, e.g. summary: \"a: b\"; or check the "
                                       "indentation of this line"),
    ("did not find expected", "check the " + _INDENT),
    ("expected <block end>", "check the " + _INDENT),
    ("could not find expected ':'", "a key needs ': ' after it; a value spanning lines needs quotes"),
    ("found unexpected end of stream", "a quote or bracket opened here is never closed"),
    ("unknown escape character", "in double quotes a backslash starts an escape: write \\\\ or use single quotes"),
    ("cannot start any token", "quote the value: @, ` and % cannot start a plain YAML value"),
    ("found undefined alias", "an *alias needs an &anchor earlier in the file; to write a '*', quote the value"),
    ("found duplicate anchor", "each &anchor name may be defined once"),
)


def _hint(e: yaml.MarkedYAMLError, text: str, line: int) -> str:
    lines = text.splitlines()
    here = lines[line - 1] if 0 < line <= len(lines) else ""
    if "\t" in here[: len(here) - len(here.lstrip())] or "\\t" in str(e.problem):
        return " (hint: this line is indented with a tab: YAML indents with spaces only)"
    said = f"{e.problem or ''} {e.context or ''}"
    return next((f" (hint: {hint})" for marker, hint in _HINTS if marker in said), "")


def _check_events(text: str, file: str) -> None:
    """Nesting depth and alias expansion, from the parser's event stream: composing
    a document nested thousands deep crashes libyaml's recursive composer, and a
    "billion laughs" would eat memory long before the walker could count it."""
    sizes: dict = {}              # anchor -> nodes it stands for
    stack: list = [[None, 0]]     # open collections: [anchor, nodes so far]
    for event in yaml.parse(text, Loader=_Loader):
        line = event.start_mark.line + 1
        if isinstance(event, yaml.CollectionStartEvent):
            stack.append([event.anchor, 1])
            if len(stack) - 1 > MAX_DEPTH:
                raise InventoryError([Problem(file, line, "(yaml)", f"nested more than {MAX_DEPTH} levels deep")])
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, n = stack.pop()
            if anchor:
                sizes[anchor] = n
            stack[-1][1] += n
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor:
                sizes[event.anchor] = 1
            stack[-1][1] += 1
        elif isinstance(event, yaml.AliasEvent):
            if any(anchor == event.anchor for anchor, _ in stack[1:]):
                raise InventoryError([Problem(file, line, "(yaml)", f"alias *{event.anchor} refers to a node "
                                                                    f"that contains it (recursive)")])
            stack[-1][1] += sizes.get(event.anchor, 1)
            if sum(n for _, n in stack) > MAX_NODES:
                raise InventoryError([Problem(file, line, "(yaml)", f"aliases expand the document to more "
                                                                    f"than {MAX_NODES} nodes")])


def load_file(path: str | FsPath) -> Document:
    p = FsPath(path)
    name = str(path)
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise InventoryError([Problem(name, 1, "(file)",
                                          f"file is {size} bytes, more than the {MAX_BYTES} an inventory may have")])
        raw = p.read_bytes()
    except OSError as e:
        raise InventoryError([Problem(name, 1, "(file)", f"cannot read the inventory: {e.strerror}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise InventoryError([Problem(name, line, "(file)", "not UTF-8 text")]) from None
    return load_text(text, name)


class _Walker:
    def __init__(self, doc: Document):
        self.doc = doc
        self.count = 0
        self.problems: list[Problem] = []

    def _fail(self, node: yaml.Node, path: Path, message: str) -> None:
        self.problems.append(Problem(self.doc.file, node.start_mark.line + 1, format_path(path), message))

    def build(self, node: yaml.Node, path: Path, depth: int = 0):
        self.count += 1
        if self.count > MAX_NODES or depth > MAX_DEPTH:
            too_many = f"document too large after expanding aliases (over {MAX_NODES} nodes)"
            self._fail(node, path, too_many if self.count > MAX_NODES
                       else f"nested more than {MAX_DEPTH} levels deep after expanding aliases")
            raise InventoryError(self.problems)
        self.doc.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self._fail(key_node, path, "merge keys (<<) are not supported: write the keys out")
                    continue
                if not isinstance(key_node, yaml.ScalarNode):
                    self._fail(key_node, path, "a key must be a plain string")
                    continue
                key = key_node.value
                if key in out:
                    first = self.doc.lines.get(path + (key,), "?")
                    self._fail(key_node, path + (key,), f"duplicate key {key!r} (first given on line {first})")
                    continue
                self.doc.lines[path + (key,)] = key_node.start_mark.line + 1
                out[key] = self.build(value_node, path + (key,), depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        construct = _constructor.yaml_constructors.get(node.tag)
        if construct is None:
            self._fail(node, path, f"unsupported YAML tag {node.tag!r}")
            return None
        if inspect.isgeneratorfunction(construct):
            # e.g. `!!map abc`: the constructor would return a generator, not a value
            self._fail(node, path, f"YAML tag {node.tag!r} does not fit {node.value!r}")
            return None
        try:
            return construct(_constructor, node)
        except Exception:  # PyYAML's constructors raise ValueError, KeyError, AttributeError...
            short = node.tag.rsplit(":", 1)[-1]
            self._fail(node, path, f"cannot read {node.value!r} as {short} (quote it to keep it a string)")
            return None
