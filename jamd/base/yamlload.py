"""YAML files the user writes (the config, controller mappings) -> validated dataclasses.

Two jobs, shared by every file jamd reads:

* :func:`load_yaml` reads a document with PyYAML's *safe* loader into a tree of :class:`Node`
  that keeps the line of every key and value, and refuses what YAML does behind a user's back:
  keys that are not text (``on:``/``off:``/``yes:``/``no:`` are booleans, ``010:`` is octal 8)
  and keys written twice (PyYAML silently keeps the last one).
* :func:`build` turns a node into a dataclass, field by field, from the type hints: an unknown
  key, a wrong type or a value out of range is a :class:`ConfigError` ``file:line: message``
  that says what is allowed. Never a traceback.

Range and choice rules are written on the type with ``Annotated``::

    channel: Annotated[int, Between(1, 16)] = 1
    curve: Literal["linear", "exp", "log"] = "linear"
    mode: ClockMode = ClockMode.INTERNAL                 # an Enum: one of its values
    model: Annotated[Path, Reader(read_model_path)]     # a function reads this one

A dataclass may define ``check(self, node)`` for rules across fields (it raises
``node.error(...)``), and a class may define ``from_yaml(cls, node, what)`` to read itself.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import functools
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union

import yaml

from jamd.base.errors import UserError

T = TypeVar("T")


class ConfigError(UserError):
    """A bad file: the message starts with ``file:line:`` and says what is allowed."""


@dataclass(eq=False)
class Node:
    """One YAML value with where it was written. ``value`` is a scalar (str, int, float, bool,
    None), a ``dict[str, Node]`` or a ``list[Node]``; ``key_lines`` has the line of each key of
    a mapping (the value of a key may start on a later line)."""

    value: Any
    file: str
    line: int  # 1-based, as editors show it
    key_lines: dict[str, int] = field(default_factory=dict)

    def error(self, message: str, key: str | None = None) -> ConfigError:
        line = self.key_lines.get(key, self.line) if key is not None else self.line
        return ConfigError(f"{self.file}:{line}: {message}")

    def get(self, key: str) -> Node | None:
        return self.value.get(key) if isinstance(self.value, dict) else None

    def plain(self) -> Any:
        """The value without line information (for tests and free-form fields)."""
        if isinstance(self.value, dict):
            return {k: v.plain() for k, v in self.value.items()}
        if isinstance(self.value, list):
            return [v.plain() for v in self.value]
        return self.value


# ------------------------------------------------------------------------------ reading


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader (libyaml's when installed: 10x faster, same marks); only its composer and
    its scalar resolution are used (see :class:`_Tree`)."""


def load_yaml(path: Path | str, text: str | None = None) -> Node:
    """Read one YAML document. An empty file is an empty mapping."""
    name = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{name}: no such file") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"{name}: cannot read: {e}") from None
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return Node({}, name, 1)
        return _Tree(loader, name).node(root)
    except yaml.MarkedYAMLError as e:
        if "nesting depth" in (e.problem or ""):  # PyYAML >= 6.0.4 has a nesting limit of its own
            raise ConfigError(f"{name}:1: nested too deeply to be a jamd file") from None
        raise ConfigError(_syntax_error(name, e)) from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{name}: not valid YAML: {e}") from None
    except RecursionError:  # older PyYAML recurses until Python stops it
        raise ConfigError(f"{name}:1: nested too deeply to be a jamd file") from None
    finally:
        loader.dispose()


def _syntax_error(name: str, e: yaml.MarkedYAMLError) -> str:
    """PyYAML reports where it noticed the problem; when that is not where the construct it
    was reading began (an unclosed bracket), both lines are said."""
    mark = e.problem_mark or e.context_mark
    line = mark.line + 1 if mark is not None else 1
    context = e.context or ""
    if e.context_mark is not None and e.problem_mark is not None and e.context_mark.line + 1 != line:
        context += f" (from line {e.context_mark.line + 1})"
    what = "; ".join(s for s in (context, e.problem) if s)
    return f"{name}:{line}: not valid YAML: {what}"


#: More values than any config or mapping has; past it, aliases are multiplying a small file
#: into a huge one ("billion laughs"), so reading stops.
MAX_VALUES = 100_000


class _Tree:
    """PyYAML's node graph -> :class:`Node`, using the safe loader for scalars (so `yes` is a
    bool and `010` is 8, exactly as YAML says) and refusing what a jamd file never needs."""

    def __init__(self, loader: _Loader, name: str) -> None:
        self.loader, self.name = loader, name
        self.count = 0
        self.open: set[int] = set()  # nodes being converted: an alias to one is a loop

    def error(self, node: yaml.Node, message: str) -> ConfigError:
        return ConfigError(f"{self.name}:{node.start_mark.line + 1}: {message}")

    def node(self, node: yaml.Node) -> Node:
        self.count += 1
        if self.count > MAX_VALUES:
            raise self.error(node, f"more than {MAX_VALUES} values (aliases expanding?)")
        if id(node) in self.open:
            raise self.error(node, "an alias refers to the value that contains it")
        self.open.add(id(node))
        try:
            return self._convert(node)
        finally:
            self.open.discard(id(node))

    def _convert(self, node: yaml.Node) -> Node:
        line = node.start_mark.line + 1
        if node.tag not in (
            yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
            yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG,
        ) and not isinstance(node, yaml.ScalarNode):
            raise self.error(node, f"YAML tags ({node.tag}) are not supported in jamd files")
        if isinstance(node, yaml.SequenceNode):
            return Node([self.node(v) for v in node.value], self.name, line)
        if not isinstance(node, yaml.MappingNode):
            return Node(self.loader.construct_object(node, deep=True), self.name, line)
        values: dict[str, Node] = {}
        key_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise self.error(key_node, "'<<' merge keys are not supported; write the keys out")
            key = (
                self.loader.construct_object(key_node, deep=True)
                if isinstance(key_node, yaml.ScalarNode)
                else None
            )
            if not isinstance(key, str):
                raise self.error(key_node, _non_string_key(key_node, key))
            if key in values:
                raise self.error(key_node, f"key '{key}' is written twice (first on line {key_lines[key]})")
            values[key] = self.node(value_node)
            key_lines[key] = key_node.start_mark.line + 1
        return Node(values, self.name, line, key_lines)


def _non_string_key(key_node: yaml.Node, key: Any) -> str:
    if isinstance(key_node, yaml.ScalarNode):
        raw = key_node.value
        if isinstance(key, bool):
            return (
                f"key '{raw}' is read by YAML as the boolean {key}, not as text; "
                f"use the documented key name (e.g. 'trigger:' rather than 'on:'), or quote it"
            )
        return f"key '{raw}' is read by YAML as {type(key).__name__} {key!r}; keys must be text (quote it)"
    return "keys must be plain text, not lists or mappings"


# ---------------------------------------------------------------------------- building


@dataclass(frozen=True)
class Between:
    """An inclusive numeric range for ``Annotated[int | float, Between(lo, hi)]``."""

    lo: float | None = None
    hi: float | None = None
    what: str = ""  # a hint shown after the range, e.g. "as printed on gear"

    def describe(self) -> str:
        lo, hi = self.lo, self.hi
        if lo is not None and hi is not None:
            text = f"{_num(lo)}..{_num(hi)}"
        elif lo is not None:
            text = f"at least {_num(lo)}"
        elif hi is not None:
            text = f"at most {_num(hi)}"
        else:
            text = "any number"
        return f"{text} ({self.what})" if self.what else text

    def ok(self, v: float) -> bool:
        return (self.lo is None or v >= self.lo) and (self.hi is None or v <= self.hi)


#: The MIDI numbers users write, checked where they write them.
Channel = Annotated[int, Between(1, 16, "MIDI channels are numbered 1-16, as printed on gear")]
Data7 = Annotated[int, Between(0, 127)]


@dataclass(frozen=True)
class Reader:
    """``Annotated[X, Reader(fn)]``: read the value with ``fn(node, what) -> X`` (for values
    that are not plain data: a path checked on disk, a file loaded by name, two spellings)."""

    read: Any


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def build(tp: Any, node: Node, what: str = "") -> Any:
    """Read ``node`` as type ``tp`` (a dataclass, scalar, Literal, Enum, Optional, list,
    dict[str, X], Annotated with :class:`Between`, or a class with ``from_yaml``). ``what`` names
    the value in messages: its dotted key path (``clock.tempo``), empty for the top of a file."""
    origin = typing.get_origin(tp)
    if origin is Annotated:
        base, *extras = typing.get_args(tp)
        reader = next((e for e in extras if isinstance(e, Reader)), None)
        value = reader.read(node, what) if reader is not None else build(base, node, what)
        for extra in extras:
            if isinstance(extra, Between) and value is not None and not extra.ok(value):
                raise node.error(f"{what} must be {extra.describe()}, got {_show(node.value)}")
        return value
    if origin in (Union, types.UnionType):
        return _build_union(tp, node, what)
    if origin is Literal:
        return _choice(typing.get_args(tp), node, what)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(_choice(tuple(m.value for m in tp), node, what))
    if origin is list or origin is tuple:
        (item,) = typing.get_args(tp)[:1]
        if not isinstance(node.value, list):
            raise node.error(f"{what} must be a list (- item lines or [a, b]), got {_show(node.value)}")
        items = [build(item, n, what) for n in node.value]
        return items if origin is list else tuple(items)
    if origin is dict:
        _, item = typing.get_args(tp)
        mapping = _mapping(node, what)
        return {k: build(item, n, _child(what, k)) for k, n in mapping.items()}
    if hasattr(tp, "from_yaml"):
        return tp.from_yaml(node, what)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _build_dataclass(tp, node, what)
    return _build_scalar(tp, node, what)


def _choice(choices: tuple[Any, ...], node: Node, what: str) -> Any:
    if node.value in choices and type(node.value) is type(choices[0]):
        return node.value
    raise node.error(f"{what} must be one of: {', '.join(map(str, choices))}; got {_show(node.value)}")


def _build_union(tp: Any, node: Node, what: str) -> Any:
    args = typing.get_args(tp)
    if node.value is None and type(None) in args:
        return None
    rest = [a for a in args if a is not type(None)]
    if len(rest) == 1:
        return build(rest[0], node, what)
    errors = []
    for a in rest:
        try:
            return build(a, node, what)
        except ConfigError as e:
            errors.append(str(e).split(": ", 1)[1])
    raise node.error(" or ".join(errors))


_SCALARS: dict[type, str] = {int: "a whole number", float: "a number", str: "text", bool: "true or false"}


def _build_scalar(tp: type, node: Node, what: str) -> Any:
    v = node.value
    # bool is an int in Python; YAML's `yes` must not pass for 1, nor 1 for `true`
    if tp is bool:
        ok = isinstance(v, bool)
    elif tp is int:
        ok = isinstance(v, int) and not isinstance(v, bool)
    elif tp is float:
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        v = float(v) if ok else v
    elif tp is str:
        ok = isinstance(v, str)
    elif tp is Any:
        return node.plain()
    else:
        raise TypeError(f"cannot read {tp!r} from YAML")
    if not ok:
        hint = ""
        if tp is str and v is not None:
            hint = " (put it in quotes: YAML reads on/off/yes/no as booleans and 010 as octal 8)"
        raise node.error(f"{what} must be {_SCALARS[tp]}, got {_show(v)}{hint}")
    return v


def _show(v: Any) -> str:
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    if v is None:
        return "nothing (null)"
    if isinstance(v, bool):
        return f"the boolean {str(v).lower()}"
    return repr(v)


def _child(what: str, key: str) -> str:
    return f"{what}.{key}" if what else key


def _mapping(node: Node, what: str) -> dict[str, Node]:
    if not isinstance(node.value, dict):
        raise node.error(
            f"{what or 'the file'} must be a mapping (key: value lines), got {_show(node.value)}"
        )
    return node.value


@functools.cache
def _fields(cls: type) -> tuple[dict[str, Any], dict[str, dataclasses.Field]]:
    """A dataclass's type hints and user-settable fields (cached: get_type_hints is slow)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    return hints, {f.name: f for f in dataclasses.fields(cls) if f.init and not f.name.startswith("_")}


def _build_dataclass(cls: type, node: Node, what: str) -> Any:
    mapping = _mapping(node, what)
    hints, fields = _fields(cls)
    for key in mapping:
        if key not in fields:
            where = f"in {what}" if what else "at the top level"
            raise node.error(unknown_key_message(key, list(fields), where), key)
    kwargs = {}
    for name, f in fields.items():
        if name in mapping:
            kwargs[name] = build(hints[name], mapping[name], _child(what, name))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise node.error(f"{what or 'the file'} needs '{name}'")
    obj = cls(**kwargs)
    check = getattr(obj, "check", None)
    if callable(check):
        check(node)
    return obj


def unknown_key_message(key: str, allowed: list[str], where: str) -> str:
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown key '{key}' {where}{hint}; allowed: {', '.join(allowed)}"


def load(cls: type[T], path: Path | str, text: str | None = None) -> T:
    """Read a YAML file as dataclass ``cls`` (the top level of the document)."""
    return build(cls, load_yaml(path, text))
