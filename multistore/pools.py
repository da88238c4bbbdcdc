"""The pools' configuration: which Prefect concurrency limits exist and how big they are.

A pool named `api:dnc` is a global concurrency limit of that name (how many holders at once).
When it has `per_minute`, a second limit `rate:api:dnc` with slot decay is its rate limit: at most
`burst` calls at once, then `per_minute` refilled.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from multistore import datafiles

POOLS_FILE = "pools.yaml"

# The pools the code holds, named once (pools.yaml sizes them; a test checks it has each).
BROWSER = "browser"
API_CRM = "api:crm"
API_DNC = "api:dnc"
API_HOMENET = "api:homenet"
API_DEALERCOM = "api:dealercom"
API_SHORTENER = "api:shortener"
API_NODES = "api:nodes"  # store-node health checks in flight (the heartbeats)
# One per sales channel vendor and the stores' inventory systems (multistore.channels.connectors).
CHANNEL_POOLS = {
    vendor: f"api:{vendor}"
    for vendor in ("shopify", "square", "ebay", "amazon", "custom", "stockroom")
}
POOL_NAMES = (
    BROWSER,
    API_CRM,
    API_DNC,
    API_HOMENET,
    API_DEALERCOM,
    API_SHORTENER,
    API_NODES,
    *CHANNEL_POOLS.values(),
)


def rate_name(pool: str) -> str:
    """The rate limit that goes with `pool` (a limit with slot decay)."""
    return f"rate:{pool}"


class PoolSpec(BaseModel):
    name: str
    limit: int = Field(ge=1)
    per_minute: float | None = Field(default=None, gt=0)
    burst: int | None = Field(default=None, ge=1)

    @property
    def rate_name(self) -> str:
        return rate_name(self.name)

    @property
    def decay_per_second(self) -> float | None:
        return None if self.per_minute is None else self.per_minute / 60.0


def load_pools(path: Path | None = None) -> list[PoolSpec]:
    """Read the pools file; a bad entry is one error naming the pool and the field."""
    path = datafiles.find(POOLS_FILE, path)
    raw = datafiles.read(path)
    pools = []
    for name, body in (raw.get("pools") or {}).items():
        try:
            pools.append(PoolSpec(name=name, **(body or {})))
        except (ValidationError, TypeError) as exc:
            raise ValueError(f"{path}: pool {name!r}: {datafiles.first_error(exc)}") from None
    return pools
