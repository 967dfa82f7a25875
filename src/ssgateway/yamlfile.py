"""YAML files that remember where each key came from, for errors that name the file, line and key.

Used by the configuration and the mapping language alike: :func:`load` returns the data and a
:class:`Located` document that turns a pydantic error location into ``file:line``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ssgateway.errors import ConfigError

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = ["Located", "interpolate_env", "load", "loads"]

Path_ = tuple[str | int, ...]

try:  # libyaml's composer is several times faster; fall back to pure Python where it is missing
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader


@dataclass
class Located:
    """A loaded YAML document: its data, its file name and the line of every key and item."""

    data: Any
    file: str
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, loc: Iterable[str | int]) -> int | None:
        """The line of the deepest known prefix of ``loc`` (a pydantic error location or a key path)."""
        path: Path_ = tuple(loc)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def error(
        self, loc: Iterable[str | int], message: str, *, error: type[ConfigError] = ConfigError
    ) -> ConfigError:
        """An error at ``loc`` naming the file, line and dotted key."""
        loc = tuple(loc)
        key = ".".join(str(p) for p in loc) or None
        return error(message, file=self.file, line=self.line_of(loc), key=key)

    def validation_errors(
        self, exc: ValidationError, *, prefix: Path_ = (), error: type[ConfigError] = ConfigError
    ) -> list[ConfigError]:
        """One error per pydantic error, located in the file; input values are never echoed."""
        found = []
        for e in exc.errors(include_input=False, include_url=False):
            loc = prefix + tuple(p for p in e["loc"] if not _is_internal(p))
            found.append(self.error(loc, e["msg"], error=error))
        return found


def _is_internal(part: str | int) -> bool:
    # pydantic adds tagged-union and function-wrapper names to locations; they are not keys of the file
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int], file: str, error: type[ConfigError]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                raise error(
                    "duplicate key",
                    file=file,
                    line=key_node.start_mark.line + 1,
                    key=".".join(map(str, (*path, key))),
                )
            seen.add(key)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*path, key), lines, file, error)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), lines, file, error)


def loads(text: str, file: str = "<string>", *, error: type[ConfigError] = ConfigError) -> Located:
    """Parse YAML text into a :class:`Located` document.

    Raises:
        ConfigError: (or ``error``) on YAML syntax errors and duplicate keys, naming the file and line.
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Located(data=None, file=file)
        lines: dict[Path_, int] = {}
        _walk(node, (), lines, file, error)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise error(f"invalid YAML: {exc.problem or exc}", file=file, line=line) from exc
    except yaml.YAMLError as exc:
        raise error(f"invalid YAML: {exc}", file=file) from exc
    finally:
        loader.dispose()
    return Located(data=data, file=file, lines=lines)


def load(path: str | Path, *, error: type[ConfigError] = ConfigError) -> Located:
    """Read and parse a YAML file (UTF-8); problems raise ``error`` (a :class:`ConfigError` kind)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error("file not found", file=str(p)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read: {exc}", file=str(p)) from exc
    return loads(text, str(p), error=error)


_ENV = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _iter_strings(data: Any, path: Path_) -> Iterator[tuple[Path_, str]]:
    if isinstance(data, str):
        yield path, data
    elif isinstance(data, dict):
        for k, v in data.items():
            yield from _iter_strings(v, (*path, str(k)))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _iter_strings(v, (*path, i))


def _set(data: Any, path: Path_, value: str) -> None:
    for part in path[:-1]:
        data = data[part]
    data[path[-1]] = value


def interpolate_env(doc: Located, env: dict[str, str] | None = None) -> None:
    """Replace ``${NAME}`` and ``${NAME:-default}`` in every string value; ``$$`` is a literal ``$``.

    Raises:
        ConfigError: naming file, line and key when a variable is unset and has no default.
    """
    environ = os.environ if env is None else env
    for path, text in list(_iter_strings(doc.data, ())):
        if "$" not in text:
            continue

        def sub(m: re.Match[str], path: Path_ = path) -> str:
            if m.group(0) == "$$":
                return "$"
            name, default = m.group(1), m.group(2)
            value = environ.get(name)
            if value is None:
                if default is None:
                    raise doc.error(
                        path, f"environment variable {name} is not set (and no ${{{name}:-default}})"
                    )
                return default
            return value

        new = _ENV.sub(sub, text)
        if new != text:
            if path:
                _set(doc.data, path, new)
            else:
                doc.data = new
