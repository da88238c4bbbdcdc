"""One store's channel sync: read what each channel shows, then on hand from the inventory system,
allocate, and write to each channel only the quantities that differ from what it showed (a second
sync with nothing changed writes nothing). Plain functions over the clients; the Prefect flow
composes them as tasks.

Why the channels are read before on hand, and written conditionally: a sale on a channel lowers
both its count and on hand. Read before on hand, every sale up to the stock read is in the
allocation; a sale after a channel's read is kept by its write (Shopify's compare-and-set,
Square's `occurred_at`), so each channel ends at its allocation less what it sold since, and the
channels together never show more than on hand (docs/channel-sync.md, "Overselling").
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import timedelta

import numpy as np
import pandas as pd

from multistore.channels.allocation import Policy, allocate
from multistore.channels.conflicts import detect, duplicate_sales
from multistore.channels.connectors import ChannelClient, StockroomClient
from multistore.channels.history import SalesHistory, demand
from multistore.channels.reservations import Reservations


@dataclass
class ChannelReport:
    channel: str
    listed: int = 0
    changes: int = 0
    written: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    # What the channel still shows where a write failed: a stock mismatch to record.
    stale: dict[str, float] = field(default_factory=dict)
    calls: int = 0
    rate_limited: int = 0
    negative: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def read_stock(store_id: str, stockroom: StockroomClient, book: Reservations) -> pd.DataFrame:
    """On hand from the inventory system, recorded; returns on_hand, reserved, price, title."""
    source = stockroom.read_stock()
    on_hand = pd.to_numeric(source["on_hand"], errors="coerce").fillna(0).astype(int)
    book.set_on_hand(store_id, on_hand.to_dict())
    return book.stock(store_id).join(source[["price", "title"]], how="left")


def changes(target: pd.Series, levels: pd.DataFrame) -> dict[str, int]:
    """SKU → units to write: every listed product whose shown quantity is not its allocation (a
    missing or negative count is rewritten too). Products the channel does not list are left."""
    shown = levels.drop_duplicates("sku", keep="last").set_index("sku")["quantity"]
    wanted = target.reindex(shown.index)
    listed = wanted.notna()
    differ = listed & (shown.isna() | (shown.to_numpy() != wanted.to_numpy()))
    return {str(k): int(v) for k, v in wanted[differ].items()}


# How far back a sync reads a channel's orders (duplicate order lines are found in them; one
# already recorded is not recorded twice).
ORDERS_WINDOW = timedelta(days=1)


@dataclass
class Shown:
    """What a channel showed when read, and what reading it cost."""

    levels: pd.DataFrame
    calls: int
    rate_limited: int
    seconds: float
    # sku, order_id, quantity per order line of the last ORDERS_WINDOW (None: not read).
    orders: pd.DataFrame | None = None


def read_channel(client: ChannelClient) -> Shown:
    before_calls, before_429 = client.calls, client.throttled
    start = time.perf_counter()
    levels = client.read_levels()
    orders = client.read_orders(client.clock.now() - ORDERS_WINDOW)
    return Shown(
        levels,
        client.calls - before_calls,
        client.throttled - before_429,
        time.perf_counter() - start,
        orders,
    )


def sync_channel(
    client: ChannelClient, target: pd.Series, shown: Shown | None = None
) -> ChannelReport:
    """Bring one channel to `target` (units per SKU) with as few writes as the batches allow;
    `shown` is what it showed when read (read now when not given)."""
    shown = shown or read_channel(client)
    levels = shown.levels
    before_calls, before_429 = client.calls, client.throttled
    start = time.perf_counter()
    delta = changes(target, levels)
    result = client.write(delta)
    return ChannelReport(
        channel=client.service,
        listed=len(levels),
        changes=len(delta),
        written=result.written,
        failed=result.failed,
        stale=_shown(levels, result.failed),
        calls=shown.calls + client.calls - before_calls,
        rate_limited=shown.rate_limited + client.throttled - before_429,
        negative=int((levels["quantity"] < 0).sum()),
        seconds=shown.seconds + time.perf_counter() - start,
    )


def sync_store(
    store_id: str,
    policy: Policy,
    stockroom: StockroomClient,
    clients: Mapping[str, ChannelClient],
    book: Reservations,
    *,
    only: str | None = None,
    history: SalesHistory | None = None,
    forecast: pd.DataFrame | None = None,
) -> dict[str, ChannelReport]:
    """Sync every channel of `clients` (or `only` that one). With `history`, the channels' sales
    since the last sync are recorded and weigh the allocation (performance; demand with the
    store's `forecast`: sku, units)."""
    names = [only] if only else [n for n in policy.names if n in clients]
    shown = {name: read_channel(clients[name]) for name in reading_order(names)}
    stock = read_stock(store_id, stockroom, book)
    weighed = weigh(store_id, policy, history, shown, forecast).inputs if history else {}
    allocation = allocate(stock, policy, **weighed)
    reports = {}
    for name in names:
        target = allocation[name].astype(np.int64)
        reports[name] = sync_channel(clients[name], target, shown[name])
        reports[name].channel = name
        if history:
            history.left(store_id, name, left_showing(name, target, reports[name]))
    return reports


def reading_order(names: list[str]) -> list[str]:
    """The channels in the reverse of the order they are written: the channel written first is
    read last, so the least time passes between each channel's read and its write (fewer sales
    to keep, and a rate-limited vendor's budget is not left to refill idle in between)."""
    return names[::-1]


def weigh(
    store_id: str,
    policy: Policy,
    history: SalesHistory,
    shown: Mapping[str, Shown],
    forecast: pd.DataFrame | None,
) -> Weighed:
    """The allocation's sales and demand: what each channel sold since the last sync is
    recorded first (from its counts just read), then the recent history is read back."""
    sold = [history.observe(store_id, name, read.levels) for name, read in shown.items()]
    sales = history.sales(store_id, policy.names)
    if forecast is None:
        forecast = pd.DataFrame(columns=["sku", "units"])
    return Weighed(
        {"sales": sales, "forecast": demand(forecast, sales, policy.smoothing)},
        pd.concat(sold, ignore_index=True) if sold else None,
    )


@dataclass
class Weighed:
    inputs: dict[str, pd.DataFrame]  # the allocation's `sales` and `forecast`
    sold: pd.DataFrame | None  # what each channel sold since the last sync (history.observe)


def find_conflicts(
    allocation: pd.DataFrame,
    stock: pd.DataFrame,
    shown: Mapping[str, Shown],
    reports: Mapping[str, ChannelReport],
    sold: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every conflict kind the channels' own answers show:

    - stock mismatch: what each channel shows after the sync against its allocation (a failed
      write leaves the old count);
    - price and product information: each channel's price and title as read, against the
      store's inventory system;
    - overselling: a channel that sold more since the last sync than that sync left it showing
      (it takes orders past 0), or channels that together sold more than the store had (on hand
      now + what they sold);
    - duplicate sale: an order line a channel reported twice, in the orders it was read with
      (`Shown.orders`, for the clients that read orders).
    """
    listings = []
    for name, report in reports.items():
        after = left_showing(name, allocation[name], report)
        said = shown[name].levels.drop_duplicates("sku", keep="last")[["sku", "price", "title"]]
        listings.append(after.merge(said, on="sku", how="left"))
    found = detect(allocation, pd.concat(listings, ignore_index=True), source=stock)
    orders = [r.orders.assign(channel=n) for n, r in shown.items() if r.orders is not None]
    if orders:
        found = pd.concat([found, duplicate_sales(pd.concat(orders))], ignore_index=True)
    if sold is None or not len(sold):
        return found
    had = sold.pivot_table(index="sku", columns="channel", values="left", aggfunc="max")
    had["available"] = np.nan
    before = stock[["on_hand"]].copy()
    total = sold.groupby("sku")["quantity"].sum().reindex(before.index).fillna(0)
    before["on_hand"] = before["on_hand"] + total
    over = detect(had, sold.iloc[:0][["channel", "sku", "quantity"]], source=before, sales=sold)
    return pd.concat([found, over], ignore_index=True)


def left_showing(name: str, target: pd.Series, report: ChannelReport) -> pd.DataFrame:
    """What the channel shows after the sync, without asking it again: its allocation, except
    where a write failed and it still shows what it showed before (a stock mismatch)."""
    shown = target.astype(float).copy()
    stale = pd.Series(report.stale, dtype=float)
    shown.loc[stale.index.intersection(shown.index)] = stale
    return pd.DataFrame({"channel": name, "sku": shown.index, "quantity": shown.to_numpy()})


def _shown(levels: pd.DataFrame, skus: Mapping[str, str]) -> dict[str, float]:
    shown = levels.drop_duplicates("sku", keep="last").set_index("sku")["quantity"]
    return {s: float(shown[s]) for s in skus if s in shown.index}
