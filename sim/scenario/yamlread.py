"""Reading one YAML file safely: within budgets of size, nesting and values (aliases
counted in full), plain text only, YAML 1.2 numbers and booleans, and a line for every
key path.

:func:`read_yaml` is the one entry: ``(data, lines)`` or a :class:`ScenarioError` naming
the file and line of every problem.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml

from .errors import ScenarioError, format_path
from .wording import (
    DECIMAL_FLOAT,
    DECIMAL_INT,
    Lines,
    Problem,
    inline,
    show_text,
    show_value,
    yaml_key,
)

__all__ = ["MAX_DEPTH", "MAX_FILE_BYTES", "MAX_NODES", "read_text", "read_yaml"]

MAX_FILE_BYTES = 1 << 20
"""Largest YAML file read (1 MiB)."""
MAX_NODES = 50_000
"""Most values (keys, scalars, lists, mappings) in one YAML file, each use of an alias
counted in full."""
MAX_DEPTH = 40
"""Deepest nesting of lists and mappings in one YAML file."""

_INT, _FLOAT = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in (
    "int", "float", "bool", "str", "null", "timestamp", "seq", "map", "merge"))
"""The YAML types a scenario may hold; ``!!python/...``, ``!!binary``, ``!!set`` and
other tags are refused."""


class _TooMuch(Exception):
    """A YAML file over one of the loader's budgets (line, message)."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message


class _Budgets:
    """Mixin of the loaders: a budget of nesting and of nodes while composing."""

    _depth = 0
    _nodes = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        """Compose one node, refusing nesting deeper than :data:`MAX_DEPTH` (PyYAML
        composes recursively: a very deep file would exhaust the stack) and more than
        :data:`MAX_NODES` nodes as written (aliases are counted in full later)."""
        self._depth += 1
        self._nodes += 1
        try:
            if self._depth > MAX_DEPTH or self._nodes > MAX_NODES:
                line = self.peek_event().start_mark.line + 1  # type: ignore[attr-defined]
                raise _TooMuch(line, f"the file nests lists and mappings more than "
                               f"{MAX_DEPTH} levels deep" if self._depth > MAX_DEPTH else
                               f"the file holds more than {MAX_NODES:,} values")
            return super().compose_node(parent, index)  # type: ignore[misc]
        finally:
            self._depth -= 1


class _Loader(_Budgets, yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 numbers and booleans, and budgets.

    YAML 1.1 reads ``040`` as 32 (octal), ``1:30`` as 90 (base 60), ``0x10`` as 16 and
    ``yes``/``on`` as true; here they stay text, so a number field given one is an error
    naming the key. Decimal numbers (``12``, ``-0.5``, ``1e-3``, ``1_000``), ``true``,
    ``false`` and dates are read as before.
    """


try:  # libyaml scans and parses five times faster; nodes are still composed in Python
    from yaml._yaml import CParser as _CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _CParser = None

if _CParser is not None:
    class _FastLoader(_Budgets, yaml.composer.Composer, _CParser,  # type: ignore[misc]
                      yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
        """:class:`_Loader` on libyaml's parser (its errors are reported by re-reading
        with :class:`_Loader`, whose messages are clearer)."""

        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            yaml.composer.Composer.__init__(self)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers
            if tag not in (_INT, _FLOAT, _BOOL, "tag:yaml.org,2002:value")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_INT, DECIMAL_INT, list("-+0123456789"))
_Loader.add_implicit_resolver(_FLOAT, DECIMAL_FLOAT, list("-+.0123456789"))
_Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))
if _CParser is not None:
    _FastLoader.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers


# --------------------------------------------------------------------------- nodes


def _children(node: yaml.Node) -> list[yaml.Node]:
    """The nodes a mapping (keys and values) or a list holds."""
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_graph(root: yaml.Node) -> None:
    """Refuse a node graph that is cyclic (an alias inside its own anchor), nests deeper
    than :data:`MAX_DEPTH` or holds more than :data:`MAX_NODES` values once every alias
    is expanded ("billion laughs"). Iterative, memoised: linear in the nodes as written.

    :raises _TooMuch: naming the line of the node where the budget is crossed.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            open_.discard(key)
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            line = node.start_mark.line + 1
            if size[key] > MAX_NODES:
                raise _TooMuch(line, f"the file holds more than {MAX_NODES:,} values once its "
                               "aliases (*name) are expanded, each use counted in full")
            if depth[key] > MAX_DEPTH:
                raise _TooMuch(line, f"the file nests lists and mappings more than "
                               f"{MAX_DEPTH} levels deep (through aliases)")
            continue
        if key in size:
            continue
        open_.add(key)
        stack.append((node, True))
        for kid in _children(node):
            if id(kid) in open_:
                raise _TooMuch(kid.start_mark.line + 1, "an alias (*name) refers to the "
                               "anchor (&name) it is inside: a recursive structure")
            if id(kid) not in size:
                stack.append((kid, False))


def _scalar(node: yaml.ScalarNode, loader: _Loader) -> Any:
    """A scalar's value. An explicit ``!!int``/``!!float``/``!!bool`` tag on text that
    YAML 1.2 would not read as one (``!!int 040``) keeps the text."""
    if node.tag in (_INT, _FLOAT, _BOOL) and \
            loader.resolve(yaml.ScalarNode, node.value, (True, False)) != node.tag:
        return node.value
    return loader.construct_object(node, deep=True)


def _node_key(path: tuple[Any, ...]) -> str:
    """The key path a node's problem is reported under (a mapping key's own path)."""
    return format_path(path[:-1] if path and path[-1] == "<key>" else path)


def _build_mapping(node: yaml.MappingNode, loader: _Loader, path: tuple[Any, ...],
                   file: str, lines: Lines, problems: list[Problem]) -> dict[str, Any]:
    """A mapping's data; a key given twice is a problem (the first is kept)."""
    loader.flatten_mapping(node)
    out: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = yaml_key(_build(key_node, loader, (*path, "<key>"), file, {}, problems))
        sub = (*path, key)
        if key in out:
            first = lines.get(sub, (file, None))[1]
            also = f" (first given on line {first})" if first else ""
            problems.append((file, key_node.start_mark.line + 1, format_path(sub),
                             f"duplicate key{also}"))
            continue
        lines[sub] = (file, key_node.start_mark.line + 1)
        out[key] = _build(value_node, loader, sub, file, lines, problems)
    return out


def _build(node: yaml.Node, loader: _Loader, path: tuple[Any, ...], file: str,
           lines: Lines, problems: list[Problem]) -> Any:
    """Construct Python data from a YAML node, recording each key path's line.

    ``lines[()]`` is the line of the first key of the file. Duplicate keys and values
    that cannot be read (a date like 2022-02-30) are added to ``problems``.
    """
    if not path:
        lines[()] = (file, node.start_mark.line + 1)
    if node.tag not in _PLAIN_TAGS:
        problems.append((file, node.start_mark.line + 1, _node_key(path), f"the YAML tag "
                         f"{show_text(node.tag)} is not allowed: a scenario holds plain "
                         "numbers, text, dates, true/false, lists and mappings"))
        return None
    if isinstance(node, yaml.MappingNode):
        return _build_mapping(node, loader, path, file, lines, problems)
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            lines[(*path, i)] = (file, item.start_mark.line + 1)
            items.append(_build(item, loader, (*path, i), file, lines, problems))
        return items
    try:
        return _scalar(node, loader)
    except ValueError as exc:  # e.g. a date like 2022-02-30 that matches the date pattern
        problems.append((file, node.start_mark.line + 1, _node_key(path),
                         f"invalid value {show_value(node.value)}: {str(exc)[:200]}"))
        return node.value


# --------------------------------------------------------------------------- files

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufffe\uffff]")


def _read_bytes(path: Path, shown: str) -> bytes:
    """The bytes of a regular file of at most :data:`MAX_FILE_BYTES`; never blocks on a
    pipe or a device."""
    def fail(msg: str) -> ScenarioError:
        return ScenarioError([(shown, None, "", msg)])

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise fail("file not found") from None
    except OSError as exc:
        raise fail(f"cannot read file: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise fail("is a directory, not a scenario file")
        if not stat.S_ISREG(mode):
            raise fail("is not a regular file (a device, pipe or socket)")
        try:
            raw = f.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise fail(f"cannot read file: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise fail(f"the file is larger than {MAX_FILE_BYTES // 1024} KiB, the most a "
                   "scenario, sweep or targets file may be")
    return raw


def read_text(path: Path, shown: str) -> str:
    """The text of a YAML file: a regular file of at most :data:`MAX_FILE_BYTES`, UTF-8,
    without control characters, newlines as ``\\n``. Never blocks on a pipe or a device.

    :param shown: the file's name as messages show it.
    :raises ScenarioError: naming the file (and line) of every problem found.
    """
    raw = _read_bytes(path, shown)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError([(shown, raw[: exc.start].count(b"\n") + 1, "",
                              "the file is not UTF-8 text; save it as UTF-8")]) from None
    return checked_text(text, shown)


def checked_text(text: str, shown: str) -> str:
    """``text`` (a file's content, read or typed) with newlines as ``\\n``, if it is
    within :data:`MAX_FILE_BYTES` and has no control characters.

    :raises ScenarioError: naming the file (and line) of every problem found.
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise ScenarioError([(shown, None, "", f"the file is larger than "
                              f"{MAX_FILE_BYTES // 1024} KiB, the most a scenario, sweep or "
                              "targets file may be")])
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    problems: list[Problem] = []
    for m in _CONTROL.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        if not problems or problems[-1][1] != line:
            problems.append((shown, line, "", f"control character {inline(m.group())} in "
                             "the text; a scenario file is plain text (write it as an escape "
                             "such as \"\\e\" inside double quotes)"))
    if problems:
        raise ScenarioError(problems)
    return text


_YAML_HINTS = (
    ("expected ',' or '}'", "is a closing '}' or a comma missing?"),
    ("expected ',' or ']'", "is a closing ']' or a comma missing?"),
    ("expected <block end>", "check the indentation: the keys of one mapping must line up"),
    ("mapping values are not allowed", "check the indentation, or quote a value that "
                                       "contains ': '"),
    ("could not find expected ':'", "check the indentation, or quote a value that spans "
                                    "lines"),
    ("'\\t'", "indent with spaces, not tabs"),
    ("end of stream", "is a closing quote or bracket missing?"),
    ("expected a single document", "only one YAML document (no '---') per file"),
)


def _syntax_error(exc: yaml.MarkedYAMLError) -> tuple[int | None, str]:
    """(line, message) of a PyYAML error: its problem and context, never the snippet of
    the file PyYAML quotes."""
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else None
    problem = " ".join((exc.problem or "").split()) or "invalid YAML"
    context = " ".join((exc.context or "").split())
    if context and exc.context_mark and exc.context_mark.line + 1 != line:
        context += f" that starts on line {exc.context_mark.line + 1}"
    hint = next((h for pattern, h in _YAML_HINTS if pattern in f"{context} {problem}"), "")
    if problem.startswith("but ") and context:
        msg = f"YAML syntax error: {' '.join((exc.context or '').split())}, {problem}"
    else:
        msg = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
    return line, msg + (f"; {hint}" if hint else "")


def read_yaml(path: Path, shown: str, text: str | None = None) -> tuple[Any, Lines]:
    """Read one YAML file within the budgets: (data, key path -> (file, line)); the data
    is a mapping.

    :param shown: the file's name as messages show it.
    :param text: the file's content, if it is given rather than read (a what-if typed
        on the page, checked as if it were saved at ``path``).
    :raises ScenarioError: naming the file and line of every problem found.
    """
    text = read_text(path, shown) if text is None else checked_text(text, shown)
    try:
        return _parse(text, shown, _FastLoader if _CParser is not None else _Loader)
    except yaml.MarkedYAMLError:
        try:  # PyYAML's own parser says what is wrong more clearly than libyaml
            return _parse(text, shown, _Loader)
        except yaml.MarkedYAMLError as exc:
            line, msg = _syntax_error(exc)
            raise ScenarioError([(shown, line, "", msg)]) from None


def _parse(text: str, shown: str, kind: type) -> tuple[dict[str, Any], Lines]:
    """Parse YAML ``text`` with the loader class ``kind``.

    :raises yaml.MarkedYAMLError: for a syntax error (for the caller to word).
    :raises ScenarioError: for everything else.
    """
    loader = kind(text)
    lines: Lines = {}
    problems: list[Problem] = []
    try:
        node = loader.get_single_node()
        if node is None:
            raise ScenarioError([(shown, 1, "", "the file is empty (no keys)")])
        _check_graph(node)
        data = _build(node, loader, (), shown, lines, problems)
    except _TooMuch as exc:
        raise ScenarioError([(shown, exc.line, "", exc.message)]) from None
    except yaml.YAMLError as exc:
        if isinstance(exc, yaml.MarkedYAMLError):
            raise
        raise ScenarioError([(shown, None, "", f"YAML error ({type(exc).__name__})")]
                            ) from None
    finally:
        loader.dispose()
    if problems:
        raise ScenarioError(problems)
    if not isinstance(data, dict):
        kind_of = {list: "a list", str: "text"}.get(type(data), f"a single {type(data).__name__}")
        raise ScenarioError(
            [(shown, lines.get((), (shown, 1))[1], "",
              f"a scenario must be a mapping of 'key: value' lines, got {kind_of}")]
        )
    return data, lines
