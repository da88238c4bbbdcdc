"""Conflicts between what the store knows and what the channels report, found for every product
at once, and the store's rules for settling them.

Detected (one row per conflict, columns ``kind, sku, channel, expected, observed, detail``):

- ``stock_mismatch``: a channel's own count differs from *its own* allocation (never from the
  sum of all allocations); a channel reporting 0 is a count of 0, a channel not listing the
  product reports nothing and is no mismatch. A negative count is a mismatch with that detail.
- ``overselling``: a channel sold more than its allocation (channel = the channel), or the
  channels together sold more than on hand (channel = ``*``).
- ``price_discrepancy``: a channel's price differs from the store's by more than a cent.
- ``product_info``: a channel's title differs from the store's (case and spacing aside).
- ``duplicate_sale``: the same order line (channel, order id, SKU) reported more than once.

Resolution (``Resolution``), per conflict kind as the store's policy says:

- ``last_write_wins``: the candidate updated last.
- ``source_priority``: the candidate of the first source in the policy's order.
- ``conservative``: the smallest candidate (fewest units: oversells nothing).
- ``mean`` / ``median``: the aggregate of the candidates (units rounded down).
- ``weighted``: the seed's "intelligent merge", made explicit: the mean of the candidates
  weighted by each source's recent reliability, ``(clean syncs + 1) / (syncs + 2)`` over the
  reliability window (a source without history weighs ½); units rounded down.
- ``manual``: no value; the conflict goes to the review queue (``multistore conflicts list``)
  until someone resolves it (``multistore conflicts resolve ID --value V``).

Every decision names who or what decided: ``policy:<strategy>`` or ``user:<name>``.
No Prefect here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import pandas as pd

COLUMNS = ["kind", "sku", "channel", "expected", "observed", "detail"]
ALL_CHANNELS = "*"
PRICE_TOLERANCE = 0.01


class Kind(StrEnum):
    STOCK_MISMATCH = "stock_mismatch"
    OVERSELLING = "overselling"
    PRICE_DISCREPANCY = "price_discrepancy"
    PRODUCT_INFO = "product_info"
    DUPLICATE_SALE = "duplicate_sale"


class Resolution(StrEnum):
    LAST_WRITE_WINS = "last_write_wins"
    SOURCE_PRIORITY = "source_priority"
    CONSERVATIVE = "conservative"
    MEAN = "mean"
    MEDIAN = "median"
    WEIGHTED = "weighted"
    MANUAL = "manual"


DEFAULT_RULES: Mapping[Kind, Resolution] = {
    Kind.STOCK_MISMATCH: Resolution.CONSERVATIVE,
    Kind.OVERSELLING: Resolution.MANUAL,
    Kind.PRICE_DISCREPANCY: Resolution.SOURCE_PRIORITY,
    Kind.PRODUCT_INFO: Resolution.SOURCE_PRIORITY,
    Kind.DUPLICATE_SALE: Resolution.MANUAL,
}


class ConflictPolicyError(ValueError):
    """A bad conflict policy; one line naming the field."""


@dataclass(frozen=True)
class ConflictPolicy:
    """How a store settles each kind of conflict; `sources` orders ``source_priority``."""

    rules: Mapping[Kind, Resolution] = field(default_factory=lambda: dict(DEFAULT_RULES))
    sources: tuple[str, ...] = ("inventory",)

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> ConflictPolicy:
        rules = dict(DEFAULT_RULES)
        for kind, strategy in dict(data.get("rules", {}) or {}).items():  # type: ignore[call-overload]
            try:
                rules[Kind(kind)] = Resolution(strategy)
            except ValueError:
                raise ConflictPolicyError(
                    f"conflicts.rules: {kind!r}: {strategy!r} is not a known kind and strategy"
                ) from None
        sources = tuple(str(s) for s in data.get("sources", ("inventory",)) or ())  # type: ignore[union-attr]
        return cls(rules=rules, sources=sources)

    def strategy(self, kind: str) -> Resolution:
        return self.rules.get(Kind(kind), Resolution.MANUAL)


def detect(
    allocation: pd.DataFrame,
    listings: pd.DataFrame,
    *,
    source: pd.DataFrame | None = None,
    sales: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every conflict, vectorised.

    `allocation`: the engine's wide frame (SKU index, one column per channel, ``available``).
    `listings`: long, ``channel, sku, quantity`` and optionally ``price, title`` (NaN: not
    reported). `source`: the store's ``on_hand, price, title`` by SKU. `sales`: long,
    ``channel, sku, order_id, quantity`` since the last sync.
    """
    lines = _Lines(listings)
    parts = [_stock_mismatch(allocation, lines)]
    if source is not None:
        parts += [_price(lines, source), _info(lines, source)]
    if sales is not None and len(sales):
        parts += [_overselling(allocation, sales, source), duplicate_sales(sales)]
    found = [p for p in parts if len(p)]
    if not found:
        return pd.DataFrame({c: pd.Series(dtype=_dtype(c)) for c in COLUMNS})
    return pd.concat(found, ignore_index=True)[COLUMNS]


def _dtype(column: str) -> str:
    return "float64" if column in ("expected", "observed") else "object"


class _Lines:
    """Long rows (``channel, sku``, …) with their keys as arrays, each SKU looked up once per
    index: the string columns are converted and hashed once, not once per conflict kind."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.sku = frame["sku"].to_numpy(dtype=object)
        codes, names = pd.factorize(frame["channel"])
        self.channel_codes = codes
        self.channel_names = np.asarray(names, dtype=object)
        self.channel = self.channel_names[codes] if len(codes) else np.array([], dtype=object)
        self._rows: list[tuple[pd.Index, np.ndarray]] = []

    def __len__(self) -> int:
        return len(self.frame)

    def rows_in(self, index: pd.Index) -> np.ndarray:
        """Each row's position in `index` (−1: not there)."""
        # The allocation's and the store's SKUs are usually the same index (or equal copies).
        for known, rows in self._rows:
            if known is index or known.equals(index):
                return rows
        rows = index.get_indexer(self.sku)
        self._rows.append((index, rows))
        return rows

    def columns_in(self, columns: pd.Index) -> np.ndarray:
        """Each row's channel's position in `columns` (−1: not there)."""
        return np.append(columns.get_indexer(self.channel_names), -1)[self.channel_codes]

    def numbers(self, column: str) -> np.ndarray:
        return pd.to_numeric(self.frame[column], errors="coerce").to_numpy(dtype=np.float64)


def _allocated(allocation: pd.DataFrame, lines: _Lines) -> np.ndarray:
    """Each (channel, sku)'s own allocation; NaN where the channel or product is not allocated."""
    wide = allocation.drop(columns=["held", "buffer", "available"], errors="ignore")
    rows = lines.rows_in(wide.index)
    cols = lines.columns_in(wide.columns)
    values = wide.to_numpy(dtype=np.float64)
    ok = (rows >= 0) & (cols >= 0)
    out = np.full(len(lines), np.nan)
    out[ok] = values[rows[ok], cols[ok]]
    return out


def _by_sku(lines: _Lines, column: pd.Series, dtype: type = np.float64) -> np.ndarray:
    """`column` (indexed by SKU) for each row; NaN (None) where the SKU is not in it."""
    rows = lines.rows_in(column.index)
    values = column.to_numpy(dtype=dtype, na_value=np.nan if dtype is np.float64 else None)
    out = np.full(len(lines), np.nan if dtype is np.float64 else None, dtype=dtype)
    found = rows >= 0
    out[found] = values[rows[found]]
    return out


def _stock_mismatch(allocation: pd.DataFrame, lines: _Lines) -> pd.DataFrame:
    if not len(lines):
        return pd.DataFrame(columns=COLUMNS)
    observed = lines.numbers("quantity")
    expected = _allocated(allocation, lines)
    hit = ~np.isnan(observed) & ~np.isnan(expected) & (observed != expected)
    detail = np.where(observed[hit] < 0, "negative quantity from the channel", "count differs")
    return pd.DataFrame(
        {
            "kind": Kind.STOCK_MISMATCH.value,
            "sku": lines.sku[hit],
            "channel": lines.channel[hit],
            "expected": expected[hit],
            "observed": observed[hit],
            "detail": detail,
        }
    )


def _price(lines: _Lines, source: pd.DataFrame) -> pd.DataFrame:
    if "price" not in lines.frame.columns or "price" not in source.columns:
        return pd.DataFrame(columns=COLUMNS)
    observed = lines.numbers("price")
    expected = _by_sku(lines, pd.to_numeric(source["price"], errors="coerce"))
    with np.errstate(invalid="ignore"):
        hit = np.abs(observed - expected) > PRICE_TOLERANCE + 1e-9
    return _rows(Kind.PRICE_DISCREPANCY, lines, hit, expected, observed, "price differs")


def _info(lines: _Lines, source: pd.DataFrame) -> pd.DataFrame:
    if "title" not in lines.frame.columns or "title" not in source.columns:
        return pd.DataFrame(columns=COLUMNS)
    theirs = lines.frame["title"].to_numpy(dtype=object)
    ours = _by_sku(lines, source["title"], object)
    # Most titles are identical: only the others are normalised (the costly part).
    maybe = np.flatnonzero((theirs != ours) & pd.notna(theirs) & pd.notna(ours))
    differ = (
        _normal(pd.Series(theirs[maybe])).to_numpy() != _normal(pd.Series(ours[maybe])).to_numpy()
    )
    hit = np.zeros(len(lines), dtype=bool)
    hit[maybe[differ]] = True
    nan = np.full(len(lines), np.nan)
    out = _rows(Kind.PRODUCT_INFO, lines, hit, nan, nan, "")
    out["detail"] = "title differs: " + theirs[hit].astype(str)
    return out


def _normal(titles: pd.Series) -> pd.Series:
    return titles.astype("string").str.casefold().str.split().str.join(" ")


def _rows(kind: Kind, lines: _Lines, hit: np.ndarray, expected, observed, detail: str):
    return pd.DataFrame(
        {
            "kind": kind.value,
            "sku": lines.sku[hit],
            "channel": lines.channel[hit],
            "expected": np.asarray(expected, dtype=np.float64)[hit],
            "observed": np.asarray(observed, dtype=np.float64)[hit],
            "detail": detail,
        }
    )


def _overselling(
    allocation: pd.DataFrame, sales: pd.DataFrame, source: pd.DataFrame | None
) -> pd.DataFrame:
    unique = sales.drop_duplicates(["channel", "order_id", "sku"])
    sold = _Lines(unique.groupby(["channel", "sku"], as_index=False)["quantity"].sum())
    allocated = _allocated(allocation, sold)
    qty = sold.numbers("quantity")
    over = ~np.isnan(allocated) & (qty > allocated)
    per_channel = _rows(Kind.OVERSELLING, sold, over, allocated, qty, "sold beyond allocation")
    total = unique.groupby("sku")["quantity"].sum()
    if source is not None and "on_hand" in source.columns:
        on_hand = pd.to_numeric(source["on_hand"], errors="coerce").reindex(total.index)
    else:
        on_hand = allocation["available"].reindex(total.index)
    beyond = (total > on_hand).to_numpy()
    together = pd.DataFrame(
        {
            "kind": Kind.OVERSELLING.value,
            "sku": total.index.to_numpy()[beyond],
            "channel": ALL_CHANNELS,
            "expected": on_hand.to_numpy(dtype=np.float64)[beyond],
            "observed": total.to_numpy(dtype=np.float64)[beyond],
            "detail": "channels together sold beyond on hand",
        }
    )
    return pd.concat([per_channel, together], ignore_index=True)


def duplicate_sales(sales: pd.DataFrame) -> pd.DataFrame:
    """Order lines (channel, order id, SKU) reported more than once: ``channel, sku, order_id,
    quantity`` in, conflict rows out."""
    counts = sales.groupby(["channel", "order_id", "sku"], as_index=False).size()
    dup = counts[counts["size"] > 1]
    return pd.DataFrame(
        {
            "kind": Kind.DUPLICATE_SALE.value,
            "sku": dup["sku"].to_numpy(),
            "channel": dup["channel"].to_numpy(),
            "expected": 1.0,
            "observed": dup["size"].to_numpy(dtype=np.float64),
            "detail": "order "
            + dup["order_id"].astype(str).to_numpy()
            + " reported more than once",
        }
    )


# --- resolution -------------------------------------------------------------------------------


def reliability(history: pd.DataFrame) -> pd.Series:
    """Each source's recent reliability from ``source, clean`` rows (one per recent sync, clean =
    no conflict found): ``(clean + 1) / (syncs + 2)``, so no history weighs ½."""
    if not len(history):
        return pd.Series(dtype=np.float64)
    grouped = history.groupby("source")["clean"].agg(["sum", "count"])
    return (grouped["sum"] + 1) / (grouped["count"] + 2)


def resolve(
    candidates: pd.DataFrame,
    strategy: Resolution,
    *,
    sources: Sequence[str] = (),
    weights: pd.Series | None = None,
    whole_units: bool = True,
) -> pd.Series:
    """The settled value per conflict, all conflicts at once.

    `candidates`: long, ``conflict, source, value, updated_at`` (one row per source's claim).
    Returns a float Series by conflict (NaN for ``manual``: it waits for a person).
    """
    by = candidates.groupby("conflict", sort=True)["value"]
    if strategy is Resolution.MANUAL:
        return by.first() * np.nan
    if strategy is Resolution.CONSERVATIVE:
        value = by.min()
    elif strategy is Resolution.MEAN:
        value = by.mean()
    elif strategy is Resolution.MEDIAN:
        value = by.median()
    elif strategy is Resolution.LAST_WRITE_WINS:
        latest = candidates.sort_values(["conflict", "updated_at"], kind="stable")
        value = latest.groupby("conflict", sort=True)["value"].last()
    elif strategy is Resolution.SOURCE_PRIORITY:
        rank = {s: i for i, s in enumerate(sources)}
        ranked = candidates.assign(_rank=candidates["source"].map(rank).fillna(len(rank)))
        ranked = ranked.sort_values(["conflict", "_rank"], kind="stable")
        value = ranked.groupby("conflict", sort=True)["value"].first()
    else:
        w = candidates["source"].map(weights if weights is not None else {}).fillna(0.5)
        weighted = candidates.assign(_wv=w * candidates["value"], _w=w)
        sums = weighted.groupby("conflict", sort=True)[["_wv", "_w"]].sum()
        value = sums["_wv"] / sums["_w"]
    return np.floor(value + 1e-9) if whole_units else value
