"""The configuration files under data/ (pools, breakers, compliance rules, alerts): one way to
find them, read them and say what is wrong with them.

A file is looked up in the data directory (`$MULTISTORE_DATA_DIR/<name>`) first, then in the
project's own data/ (the defaults shipped with the checkout). A file that is not YAML, or an
entry that does not validate, is one line naming the file and the entry's field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from multistore.settings import get_settings

PROJECT_DATA = Path(__file__).resolve().parent.parent / "data"


def find(name: str, explicit: Path | None = None) -> Path:
    """`explicit` when given; else the data directory's `name` if it exists; else the
    project's default."""
    if explicit is not None:
        return Path(explicit)
    local = get_settings().data_dir / name
    return local if local.exists() else PROJECT_DATA / name


def read(path: Path) -> dict[str, Any]:
    """The file's mapping ({} when empty or absent)."""
    if not path.exists():
        return {}
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ValueError(
            f"{path}:{where} not valid YAML ({getattr(exc, 'problem', exc)})"
        ) from None
    if raw is not None and not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping at the top, got {type(raw).__name__}")
    return raw or {}


def first_error(exc: ValidationError | TypeError) -> str:
    """`field.path: message` of a validation error's first complaint (one line)."""
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return f"{where}: {err['msg']}" if where else err["msg"]
    return str(exc)
