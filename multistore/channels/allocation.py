"""How many units each sales channel may sell: every product at once, in whole units.

The store's inventory system is the source of truth. For each product

    available   = max(on hand − reserved, 0)
    buffer      = whole units held back (a fixed count, or a percentage rounded *up*)
    allocatable = max(available − buffer, 0)

and the allocatable units are shared among the channels in proportion to per-channel weights,
which the strategy decides:

- ``equal``: every enabled channel weighs 1.
- ``priority``: a channel weighs its ``priority`` (a channel at priority 0 gets nothing unless
  every channel is at 0, when the split is equal).
- ``performance``: recent units sold per product and channel, plus ``smoothing`` so that a
  channel with no sales yet still gets a share.
- ``demand``: a forecast per product and channel.
- ``custom``: each channel's configured ``weight``.

Custom rules (``Rule``) then change weights, floors and caps for the products they match, whatever
the strategy. Shares are apportioned by largest remainder: each channel gets the floor of its
quota, and the units the floors leave are handed out one each to the largest fractional parts
(ties to the higher priority, then to the earlier channel), so no unit is lost to rounding. A
channel's cap (``max_units``) is honoured by handing its excess to the channels still under their
caps; only when every eligible channel is capped do units stay ``held`` (kept by the store, never
silently dropped): ``sum(channels) + held + buffer == available`` for every product.

A channel's ``safety_units`` are then taken off its own share (never below 0) and held too, not
handed to the others: a channel that accepts only absolute quantity writes (eBay, Amazon, a custom
REST channel) overwrites a sale made between the sync's stock read and the write landing, and
the units held back are what such a sale may take without the channels together selling more
than on hand (docs/channel-sync.md, "Overselling").

A row whose weights are all zero (no sales, no forecast) is split equally: a product nobody has
sold yet is still for sale. A channel with 0 units is a 0 in the result, never a missing value.

No Prefect here; numpy over the (products × channels) matrix, no per-product Python.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd


class AllocationError(ValueError):
    """Bad allocation settings; the message is one line naming the field."""


class Strategy(StrEnum):
    EQUAL = "equal"
    PRIORITY = "priority"
    PERFORMANCE = "performance"
    DEMAND = "demand"
    CUSTOM = "custom"

    @classmethod
    def parse(cls, value: str) -> Strategy:
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise AllocationError(f"strategy: {value!r} is not one of {names}") from None


@dataclass(frozen=True)
class Channel:
    """One sales channel's allocation settings."""

    name: str
    priority: int = 1
    weight: float = 1.0
    min_units: int = 0
    max_units: int | None = None
    enabled: bool = True
    # Units of every product kept off this channel's share (held by the store).
    safety_units: int = 0

    def __post_init__(self) -> None:
        _whole(self.min_units, f"channel {self.name}: min_units")
        _whole(self.safety_units, f"channel {self.name}: safety_units")
        if self.max_units is not None:
            _whole(self.max_units, f"channel {self.name}: max_units")
        if not (self.weight >= 0 and math.isfinite(self.weight)):
            raise AllocationError(f"channel {self.name}: weight must be ≥ 0, got {self.weight}")
        if self.priority < 0:
            raise AllocationError(f"channel {self.name}: priority must be ≥ 0")


@dataclass(frozen=True)
class Rule:
    """A custom rule: for the products that match, change one channel's weight, floor or cap.

    ``where`` maps a product column to a value or a list of values (all must match);
    ``sku_prefix`` matches the start of the SKU. Rules apply in order; a later rule overrides an
    earlier one for the products both match.
    """

    channel: str
    where: Mapping[str, Any] = field(default_factory=dict)
    sku_prefix: str | None = None
    weight: float | None = None
    min_units: int | None = None
    max_units: int | None = None
    exclude: bool = False

    def __post_init__(self) -> None:
        for name in ("min_units", "max_units"):
            value = getattr(self, name)
            if value is not None:
                _whole(value, f"rule for {self.channel}: {name}")
        if self.weight is not None and not (self.weight >= 0 and math.isfinite(self.weight)):
            raise AllocationError(f"rule for {self.channel}: weight must be ≥ 0")


@dataclass(frozen=True)
class Policy:
    """A store's allocation policy."""

    channels: tuple[Channel, ...]
    strategy: Strategy = Strategy.EQUAL
    buffer_units: int = 0
    buffer_percent: float = 0.0
    smoothing: float = 1.0
    rules: tuple[Rule, ...] = ()

    def __post_init__(self) -> None:
        if not self.channels:
            raise AllocationError("channels: a policy needs at least one channel")
        names = [c.name for c in self.channels]
        if len(set(names)) != len(names):
            raise AllocationError(f"channels: duplicate names in {names}")
        _whole(self.buffer_units, "buffer_units")
        if not (0 <= self.buffer_percent <= 100):
            raise AllocationError(f"buffer_percent: {self.buffer_percent} is not in 0..100")
        if self.smoothing < 0:
            raise AllocationError("smoothing must be ≥ 0")
        for rule in self.rules:
            if rule.channel not in names:
                raise AllocationError(f"rule: unknown channel {rule.channel!r}")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.channels]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Policy:
        """A policy from a store's config (YAML/JSON): bad fields are one-line errors."""
        try:
            channels = tuple(
                Channel(**c) if isinstance(c, Mapping) else Channel(name=str(c))
                for c in data.get("channels", ())
            )
            rules = tuple(Rule(**r) for r in data.get("rules", ()))
            return cls(
                channels=channels,
                strategy=Strategy.parse(data.get("strategy", "equal")),
                buffer_units=data.get("buffer_units", 0),
                buffer_percent=float(data.get("buffer_percent", 0.0)),
                smoothing=float(data.get("smoothing", 1.0)),
                rules=rules,
            )
        except TypeError as exc:
            raise AllocationError(f"allocation policy: {exc}") from None


def _whole(value: Any, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise AllocationError(f"{what} must be a whole number of units ≥ 0, got {value!r}")


def buffer_units(available: np.ndarray, policy: Policy) -> np.ndarray:
    """Whole units held back per product: the fixed count or the percentage rounded up,
    whichever is larger, never more than what is available."""
    pct = np.ceil(available * (policy.buffer_percent / 100.0) - 1e-9).astype(np.int64)
    return np.minimum(np.maximum(pct, policy.buffer_units), available)


def allocate(
    stock: pd.DataFrame,
    policy: Policy,
    *,
    sales: pd.DataFrame | None = None,
    forecast: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Allocate every product of `stock` to the policy's channels.

    `stock` is indexed by SKU with ``on_hand`` and optionally ``reserved`` (and any columns the
    rules look at); `sales` and `forecast` are (SKU × channel) frames, missing cells meaning 0.
    Returns a frame indexed like `stock`: one int64 column per channel, then ``held`` (what caps
    refused plus the channels' safety units), ``buffer`` and ``available``.
    """
    available = _available(stock)
    buffer = buffer_units(available, policy)
    allocatable = available - buffer
    weights = strategy_weights(stock.index, policy, sales=sales, forecast=forecast)
    floors, caps = _limits(stock, policy, weights)
    alloc = apportion(allocatable, weights, floors, caps, _tie_order(policy))
    safety = np.array([c.safety_units for c in policy.channels], dtype=np.int64)
    if safety.any():
        alloc = np.maximum(alloc - safety, 0)
    out = pd.DataFrame(alloc, index=stock.index, columns=policy.names)
    out["held"] = allocatable - alloc.sum(axis=1)
    out["buffer"] = buffer
    out["available"] = available
    return out


def _available(stock: pd.DataFrame) -> np.ndarray:
    if "on_hand" not in stock.columns:
        raise AllocationError("stock: an on_hand column is needed")
    on_hand = _counts(stock["on_hand"])
    reserved = _counts(stock["reserved"]) if "reserved" in stock.columns else 0
    # A negative count (a channel or the inventory system saying -3) sells nothing.
    return np.maximum(on_hand - reserved, 0)


def _counts(column: pd.Series) -> np.ndarray:
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=0.0)
    return np.floor(np.nan_to_num(values, nan=0.0)).astype(np.int64)


def strategy_weights(
    index: pd.Index,
    policy: Policy,
    *,
    sales: pd.DataFrame | None = None,
    forecast: pd.DataFrame | None = None,
) -> np.ndarray:
    """The (products × channels) weights of the policy's strategy, before the rules."""
    n, names = len(index), policy.names
    strategy = policy.strategy
    if strategy is Strategy.EQUAL:
        weights = np.ones((n, len(names)))
    elif strategy is Strategy.PRIORITY:
        weights = np.tile([float(c.priority) for c in policy.channels], (n, 1))
    elif strategy is Strategy.CUSTOM:
        weights = np.tile([c.weight for c in policy.channels], (n, 1))
    elif strategy is Strategy.PERFORMANCE:
        weights = _matrix(sales, index, names, "sales") + policy.smoothing
    else:
        weights = _matrix(forecast, index, names, "forecast")
    enabled = np.array([c.enabled for c in policy.channels])
    return np.where(enabled, weights, 0.0)


def _matrix(frame: pd.DataFrame | None, index: pd.Index, names: list[str], what: str) -> np.ndarray:
    if frame is None:
        raise AllocationError(f"{what}: the strategy needs a (SKU × channel) frame")
    aligned = frame.reindex(index=index, columns=names)
    values = aligned.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    # Unknown or negative history counts as none: it must not take units from the others.
    return np.clip(np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0), 0.0, None)


def _limits(
    stock: pd.DataFrame, policy: Policy, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Apply the rules to `weights` (in place); return the floors and caps per cell."""
    n = weights.shape[0]
    big = np.iinfo(np.int64).max // 4
    floors = np.tile([c.min_units for c in policy.channels], (n, 1)).astype(np.int64)
    caps = np.tile(
        [big if c.max_units is None else c.max_units for c in policy.channels], (n, 1)
    ).astype(np.int64)
    column = {name: j for j, name in enumerate(policy.names)}
    for rule in policy.rules:
        mask = _matches(stock, rule)
        j = column[rule.channel]
        if rule.weight is not None:
            weights[mask, j] = rule.weight
        if rule.min_units is not None:
            floors[mask, j] = rule.min_units
        if rule.max_units is not None:
            caps[mask, j] = rule.max_units
        if rule.exclude:
            weights[mask, j] = 0.0
            caps[mask, j] = 0
    disabled = ~np.array([c.enabled for c in policy.channels])
    caps[:, disabled] = 0
    return np.minimum(floors, caps), caps


def _matches(stock: pd.DataFrame, rule: Rule) -> np.ndarray:
    mask = np.ones(len(stock), dtype=bool)
    if rule.sku_prefix is not None:
        mask &= stock.index.astype(str).str.startswith(rule.sku_prefix)
    for column, wanted in rule.where.items():
        if column not in stock.columns:
            raise AllocationError(f"rule for {rule.channel}: unknown product column {column!r}")
        values = wanted if isinstance(wanted, (list, tuple, set)) else [wanted]
        mask &= stock[column].isin(values).to_numpy()
    return mask


def _tie_order(policy: Policy) -> np.ndarray:
    """Rank of each channel when fractional parts tie: higher priority, then config order."""
    order = sorted(range(len(policy.channels)), key=lambda j: (-policy.channels[j].priority, j))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


def apportion(
    total: np.ndarray,
    weights: np.ndarray,
    floors: np.ndarray,
    caps: np.ndarray,
    tie_rank: np.ndarray,
) -> np.ndarray:
    """Whole units per (product, channel): floors first, then `total` − floors by weight with
    largest remainders, never above a cap; what every cap refuses is left unallocated."""
    n, m = weights.shape
    alloc = np.zeros((n, m), dtype=np.int64)
    remaining = total.astype(np.int64).copy()
    # Floors, in tie order, while units last (a floor is a wish, not a promise of stock).
    for j in np.argsort(tie_rank):
        give = np.minimum(floors[:, j], remaining)
        alloc[:, j] += give
        remaining -= give
    open_ = caps > alloc
    for _ in range(m + 1):
        if not remaining.any():
            break
        eligible = open_ & (weights > 0)
        # A row with no weighted channel left splits equally among its open channels.
        w = np.where(eligible.any(axis=1, keepdims=True), np.where(eligible, weights, 0.0), open_)
        share = largest_remainder(remaining, w.astype(np.float64), tie_rank)
        share = np.minimum(share, caps - alloc)
        alloc += share
        remaining -= share.sum(axis=1)
        open_ &= caps > alloc
        if not (open_.any(axis=1) & (remaining > 0)).any():
            break
    return alloc


def largest_remainder(total: np.ndarray, weights: np.ndarray, tie_rank: np.ndarray) -> np.ndarray:
    """Split `total` (per row) in proportion to `weights` (rows × columns), in whole units that
    add up to exactly `total` for every row with a positive weight (zero for the others)."""
    n, m = weights.shape
    # Summed left to right, exactly as the per-product reference does (same floats).
    wsum = np.zeros(n)
    for j in range(m):
        wsum = wsum + weights[:, j]
    safe = np.where(wsum > 0, wsum, 1.0)
    quota = total[:, None] * weights / safe[:, None]
    base = np.floor(quota).astype(np.int64)
    base = np.where(wsum[:, None] > 0, base, 0)
    left = np.where(wsum > 0, total - base.sum(axis=1), 0)
    frac = np.where(weights > 0, quota - base, -1.0)
    # Order each row: largest fractional part first, then tie rank (lexsort: last key primary).
    order = np.lexsort((np.broadcast_to(tie_rank, (n, m)), -frac), axis=1)
    position = np.empty_like(order)
    np.put_along_axis(position, order, np.arange(m)[None, :].repeat(n, 0), axis=1)
    extra = (position < left[:, None]) & (weights > 0)
    return base + extra.astype(np.int64)


def allocation_frame(stock: pd.DataFrame, policy: Policy, **inputs: Any) -> pd.DataFrame:
    """`allocate` in long form for reports and the CLI: sku, channel, units."""
    wide = allocate(stock, policy, **inputs)
    long = wide[policy.names].rename_axis("sku").reset_index()
    return long.melt(id_vars="sku", var_name="channel", value_name="units")
