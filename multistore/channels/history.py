"""Each channel's sales history and demand, for the performance and demand strategies.

Sales are read off the channels' own counts, with no order API: a sync records what it left each
channel showing (`left`); at the next sync's read, a count lower than that is what the channel
sold meanwhile (`observe`). A count higher than left is an edit made at the channel, not a sale;
the stock-mismatch conflict covers it.

Demand per (SKU, channel) = the store's forecast for the SKU (multistore.network.forecast's
`latest_demand`: units over the forecast horizon) × the channel's share of the SKU's recent
sales, each channel counted with `smoothing` extra units so a channel that has not sold it yet
still has a share (`demand`). A SKU with no forecast has no demand: the allocation splits it
equally, favouring no channel for a product nobody expects to sell.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import delete, insert
from sqlmodel import Session, col, func, select

from multistore.channels.tables import ChannelLevel, ChannelSale
from multistore.db import get_engine
from multistore.models import utcnow

WINDOW = timedelta(days=28)


class SalesHistory:
    """The channels' sales of the registry at `url`, with `clock` for now."""

    def __init__(self, url: str | None = None, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = get_engine(url)
        self.clock = clock

    def observe(self, store_id: str, channel: str, levels: pd.DataFrame) -> pd.DataFrame:
        """Record what `channel` sold since the last sync left it (its counts read now).

        Returns ``channel, sku, order_id, quantity, left`` per SKU sold (`left`: what the last
        sync left it showing; selling more than that is overselling, a channel that takes
        orders past 0)."""
        shown = _quantities(levels)
        with Session(self.engine) as session:
            rows = session.exec(
                select(ChannelLevel.sku, ChannelLevel.quantity).where(
                    ChannelLevel.store_id == store_id, ChannelLevel.channel == channel
                )
            ).all()
            left = pd.Series(dict(rows), dtype="float64")
            sold = (left - shown.reindex(left.index)).dropna()
            sold = sold[sold > 0].astype(int)
            if not sold.empty:
                now = self.clock()
                session.execute(
                    insert(ChannelSale),
                    [
                        {
                            "store_id": store_id,
                            "channel": channel,
                            "sku": s,
                            "units": int(u),
                            "observed_at": now,
                        }
                        for s, u in sold.items()
                    ],
                )
                session.commit()
        return pd.DataFrame(
            {
                "channel": channel,
                "sku": sold.index.astype(str),
                "order_id": "since the last sync",
                "quantity": sold.to_numpy(dtype="int64"),
                "left": left.reindex(sold.index).to_numpy(dtype="float64"),
            }
        )

    def left(self, store_id: str, channel: str, levels: pd.DataFrame) -> None:
        """What the sync left `channel` showing (its allocation, or the old count where a
        write failed)."""
        shown = _quantities(levels).dropna()
        with Session(self.engine) as session:
            session.execute(
                delete(ChannelLevel).where(
                    col(ChannelLevel.store_id) == store_id, col(ChannelLevel.channel) == channel
                )
            )
            if not shown.empty:
                session.execute(
                    insert(ChannelLevel),
                    [
                        {"store_id": store_id, "channel": channel, "sku": s, "quantity": int(q)}
                        for s, q in shown.items()
                    ],
                )
            session.commit()

    def sales(self, store_id: str, channels: Sequence[str]) -> pd.DataFrame:
        """Units sold per SKU (rows) and channel (columns) over the last WINDOW."""
        since = self.clock() - WINDOW
        with Session(self.engine) as session:
            rows = session.exec(
                select(ChannelSale.sku, ChannelSale.channel, func.sum(ChannelSale.units))
                .where(ChannelSale.store_id == store_id, col(ChannelSale.observed_at) >= since)
                .group_by(ChannelSale.sku, ChannelSale.channel)
            ).all()
        frame = pd.DataFrame(rows, columns=["sku", "channel", "units"])
        table = frame.pivot_table(index="sku", columns="channel", values="units", aggfunc="sum")
        return table.reindex(columns=list(channels)).fillna(0.0)


def demand(forecast: pd.DataFrame, sales: pd.DataFrame, smoothing: float = 1.0) -> pd.DataFrame:
    """(SKU × channel) demand: the SKU's forecast units (`forecast`: sku, units) split by each
    channel's smoothed share of the SKU's recent sales (`sales`, SKU × channel)."""
    units = forecast.groupby("sku")["units"].sum().clip(lower=0)
    mix = sales.reindex(units.index).fillna(0.0) + smoothing
    share = mix.div(mix.sum(axis=1), axis=0)
    return share.mul(units, axis=0)


def _quantities(levels: pd.DataFrame) -> pd.Series:
    frame = levels.drop_duplicates("sku", keep="last")
    return pd.to_numeric(frame.set_index("sku")["quantity"], errors="coerce").astype("float64")
