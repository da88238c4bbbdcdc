"""Configuration files: one way to find them, read them and say what is wrong with them.

The shipped settings (pools, breakers, compliance rules, alerts) are looked up in the data
directory (`$MULTISTORE_DATA_DIR/<name>`) first, then in the defaults packaged with multistore
(multistore/defaults/), so an installed wheel finds them as a checkout does. Every YAML or JSON
file the project reads (those, store files, network files) goes through `load`: a file that cannot
be read or parsed is one `ConfigError` line naming the file and, when the parser knows it, the
line and column; an entry that does not validate is named by `first_error`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from multistore.settings import get_settings

# Packaged with multistore (pyproject's package-data), beside this module in a wheel or checkout.
DEFAULTS = Path(__file__).resolve().parent / "defaults"


class ConfigError(ValueError):
    """Bad configuration: one line naming the file or field."""


def find(name: str, explicit: Path | None = None) -> Path:
    """`explicit` when given; else the data directory's `name` if it exists; else the default.

    A file named explicitly must exist: falling back to the defaults would silently apply other
    rules (federal EBR windows instead of a state's, say) than the ones the caller asked for.
    """
    if explicit is not None:
        explicit = Path(explicit)
        if not explicit.exists():
            raise ConfigError(
                f"{explicit}: no such file; create it, or name none to use "
                f"{get_settings().data_dir / name} or the packaged default"
            )
        return explicit
    local = get_settings().data_dir / name
    return local if local.exists() else DEFAULTS / name


def load(path: Path) -> Any:
    """The document in `path`: JSON when it ends in .json, else YAML (None when empty)."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return json.loads(text) if Path(path).suffix.lower() == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML{_yaml_position(exc)}") from None


def read(path: Path) -> dict[str, Any]:
    """A settings file's mapping ({} when empty or absent)."""
    if not path.exists():
        return {}
    raw = load(path)
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top, got {type(raw).__name__}")
    return raw or {}


def dump(document: Any, path: Path) -> None:
    """Write `document` as YAML (JSON for a .json path) that `load` reads back."""
    if Path(path).suffix.lower() == ".json":
        Path(path).write_text(json.dumps(document, indent=2) + "\n")
    else:
        Path(path).write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))


def first_error(exc: ValidationError | TypeError) -> str:
    """`field.path: message` of a validation error's first complaint (one line)."""
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        return f"{where}: {message}" if where else message
    return str(exc)


def _yaml_position(exc: yaml.YAMLError) -> str:
    """' at line L, column C: problem' (1-based, where the parser gave up), or ': message'."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None)
    if mark is None:
        return f": {' '.join(str(exc).split()) or type(exc).__name__}"
    where = f" at line {mark.line + 1}, column {mark.column + 1}"
    context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    what = problem or type(exc).__name__
    if context and context != problem:
        began = f" from line {start.line + 1}, column {start.column + 1}" if start else ""
        what += f" ({context}{began})"
    return f"{where}: {what}"
