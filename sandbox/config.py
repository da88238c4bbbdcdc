"""What a sandbox instance serves: seed, sizes, token lifetime, rate limits and faults.

Read from arguments, a faults file, or the environment (`MULTISTORE_SANDBOX_…`).
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError

from sandbox.faults import Fault, parse_faults


class Limit(BaseModel):
    """A vendor's account-wide token bucket: `burst` calls at once, refilled `per_minute`."""

    per_minute: float = Field(gt=0)
    burst: int = Field(ge=1)


# The vendors' published limits where they have one (shared/DOMAIN_NOTES.md, pools.yaml).
DEFAULT_LIMITS: dict[str, Limit] = {
    "dnc": Limit(per_minute=120, burst=10),
    "shortener": Limit(per_minute=600, burst=20),
    "dealercom": Limit(per_minute=120, burst=4),
    # Shopify's REST leaky bucket: 40 calls, leaking 2 per second.
    "shopify": Limit(per_minute=120, burst=40),
}


class SandboxConfig(BaseModel):
    seed: int = 0
    # How many ids `/admin/stores` lists (store-0001 …); every id is served regardless.
    stores: int = Field(default=10, ge=0)
    contacts_per_store: int = Field(default=200, ge=0, le=10_000_000)
    vehicles_per_store: int = Field(default=50, ge=0, le=1_000_000)
    # Products each store sells on its channels (sandbox.channels).
    products_per_store: int = Field(default=200, ge=0, le=1_000_000)
    token_ttl_seconds: float = Field(default=300, gt=0)
    limits: dict[str, Limit] = Field(default_factory=lambda: dict(DEFAULT_LIMITS))
    faults: list[Fault] = Field(default_factory=list)
    # Dates (purchases, inquiries, stock) are generated relative to this day.
    today: date = Field(default_factory=date.today)

    @classmethod
    def from_env(cls, **overrides: Any) -> SandboxConfig:
        """Defaults, then MULTISTORE_SANDBOX_{SEED,STORES,CONTACTS,VEHICLES,TOKEN_TTL,FAULTS},
        then `overrides` (None values ignored)."""
        values: dict[str, Any] = {}
        for env, key in (
            ("SEED", "seed"),
            ("STORES", "stores"),
            ("CONTACTS", "contacts_per_store"),
            ("VEHICLES", "vehicles_per_store"),
            ("TOKEN_TTL", "token_ttl_seconds"),
        ):
            raw = os.environ.get(f"MULTISTORE_SANDBOX_{env}")
            if raw:
                values[key] = raw
        raw_faults = os.environ.get("MULTISTORE_SANDBOX_FAULTS")
        if raw_faults:
            values["faults"] = load_faults(raw_faults, where="MULTISTORE_SANDBOX_FAULTS")
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValueError(f"sandbox config: {where}: {first['msg']}") from None


def load_faults(source: str | Path, *, where: str | None = None) -> list[Fault]:
    """Faults from a YAML/JSON file path, or inline JSON (a string starting with `[` or `{`)."""
    text = str(source).strip()
    label = where or str(source)
    if not text.startswith(("[", "{")):
        path = Path(text)
        if not path.is_file():
            raise ValueError(f"{label}: faults file {path} does not exist")
        label = str(path)
        text = path.read_text()
    try:
        data = yaml.safe_load(text)  # YAML is a superset of JSON
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "cannot parse"
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValueError(f"{label}: not valid YAML/JSON: {problem}{where}") from None
    return parse_faults(data, where=label)
