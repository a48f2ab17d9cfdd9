"""The one TOML -> frozen-dataclass loader, for the kiosk's config and the platform's.

IT edits these files by hand, so every mistake is refused at start-up, all at once, each
naming the file, the line and the dotted key: an unknown section or key (with the nearest
valid name, since most are typos), a value of the wrong type (naming the type expected: no
``"8600"`` for a port, no ``1`` for ``true``), and whatever a section's ``validate() ->
[(key, message)]`` finds out of range. A table sets only the keys it names: the rest keep the
default instance's values, so a partial ``[policy.employee]`` keeps the employee defaults.

A dataclass field named ``source`` is not a key: it records the file the config came from.
Why not pydantic (already installed for the platform's API): in strict mode it refuses the
plain dicts and lists TOML gives for dataclasses and tuples, in lax mode it turns ``"8600"``
into a port, and it builds a nested section from its class defaults, not the parent's.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from common.errors import CodedError, ErrorCode

T = TypeVar("T")


class ConfigError(CodedError):
    """A config (a file, or a setting given on a command line) that cannot be used;
    ``context["errors"]`` (also ``errors``) holds one line per problem."""

    code = ErrorCode.CONFIG_INVALID

    def __init__(self, message: str, *, errors: list[str] | None = None, **context: Any) -> None:
        super().__init__(message, errors=errors or [message], **context)

    @property
    def errors(self) -> list[str]:
        return list(self.context["errors"])


# the ConfigError (sub)class a caller raises: ``error(message, errors=[...])``
ErrorFactory = Callable[..., ConfigError]

SOURCE = "source"


def load_file(path: Path, default: T, error: ErrorFactory = ConfigError,
              prepare: Callable[[dict[str, Any]], None] | None = None) -> T:
    """``default`` with the TOML file at ``path`` applied; ``error`` if it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read config ({exc})", errors=[f"{path}: {exc}"]) from exc
    return load_text(text, str(path), default, error, prepare)


def load_text(text: str, source: str, default: T, error: ErrorFactory = ConfigError,
              prepare: Callable[[dict[str, Any]], None] | None = None) -> T:
    """``default`` with the TOML ``text`` applied (``prepare`` may fill the parsed tables in
    first); every problem found is raised in one ``error``, one line each."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{source}: {exc}", errors=[f"{source}: {exc}"]) from exc
    if prepare is not None:
        prepare(data)
    errors: list[str] = []
    built = _Builder(text, source, errors).build(default, data, ())
    if errors:
        raise error("\n".join(errors), errors=errors)
    if any(f.name == SOURCE for f in dataclasses.fields(built)):
        built = dataclasses.replace(built, **{SOURCE: source})
    return built


class _Builder:
    def __init__(self, text: str, source: str, errors: list[str]) -> None:
        self.text = text
        self.source = source
        self.errors = errors

    def fail(self, path: tuple[str, ...], message: str) -> None:
        self.errors.append(f"{self.source}:{_line(self.text, path)}: {message}")

    def build(self, default: Any, data: Any, path: tuple[str, ...]) -> Any:
        if not isinstance(data, dict):
            self.fail(path, f"[{'.'.join(path)}] must be a table")
            return default
        hints = typing.get_type_hints(type(default))
        names = [f.name for f in dataclasses.fields(default) if f.name != SOURCE]
        values: dict[str, Any] = {}
        for key, value in data.items():
            key_path = (*path, key)
            dotted = ".".join(key_path)
            if key not in names:
                self.fail(key_path, _unknown(path, key, value, names))
                continue
            kind = hints[key]
            if dataclasses.is_dataclass(kind):
                values[key] = self.build(getattr(default, key), value, key_path)
                continue
            coerced = _coerce(value, kind)
            if coerced is _INVALID:
                self.fail(key_path, f"'{dotted}' must be {_type_name(kind)}, got "
                          f"{type(value).__name__} {value!r}")
                continue
            values[key] = coerced
        try:
            obj = dataclasses.replace(default, **values)
        except (TypeError, ValueError) as exc:
            self.fail(path, f"[{'.'.join(path)}] {exc}")
            return default
        validate = getattr(obj, "validate", None)
        for key, message in validate() if validate else ():
            self.fail((*path, key), f"'{'.'.join((*path, key))}' {message}")
        return obj


def _unknown(path: tuple[str, ...], key: str, value: Any, names: list[str]) -> str:
    """``unknown key 'server.prot' in [server] (did you mean 'port'?)``; a table is a section."""
    section = f"[{'.'.join(path)}]" if path else "the top level"
    what = (f"unknown section '[{'.'.join((*path, key))}]'" if isinstance(value, dict)
            else f"unknown key '{'.'.join((*path, key))}' in {section}")
    near = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    return f"{what} (did you mean '{near[0]}'?)" if near else f"{what} (valid: {', '.join(names)})"


_INVALID = object()


def _coerce(value: Any, kind: Any) -> Any:
    """``value`` as ``kind`` if TOML gave that type (an int is a float too; a list a tuple),
    else ``_INVALID``: no strings read as numbers, no numbers as booleans."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(kind):
            result = _coerce(value, option)
            if result is not _INVALID:
                return result
        return _INVALID
    if origin in (tuple, list):
        (item,) = typing.get_args(kind)[:1]
        if not isinstance(value, list):
            return _INVALID
        items = [_coerce(v, item) for v in value]
        return _INVALID if _INVALID in items else origin(items)
    if kind is bool:
        return value if isinstance(value, bool) else _INVALID
    if kind is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else _INVALID
    if kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return float(value) if ok else _INVALID
    if kind is str:
        return value if isinstance(value, str) else _INVALID
    return _INVALID


def _type_name(kind: Any) -> str:
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(option) for option in typing.get_args(kind))
    if typing.get_origin(kind) in (tuple, list):
        return f"a list of {_type_name(typing.get_args(kind)[0])}"
    return getattr(kind, "__name__", str(kind))


_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\- ]+?)\s*\]\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")


def _line(text: str, path: tuple[str, ...]) -> int:
    """Best-effort 1-based line of ``path`` in ``text`` (its key, else its table header)."""
    table: tuple[str, ...] = ()
    header_line = 0
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = tuple(part.strip() for part in header.group(1).split("."))
            if table == path or (table == path[:-1] and not header_line):
                header_line = number
            continue
        key = _KEY.match(line)
        if key and (*table, key.group(1)) == path:
            return number
    return header_line or 1
