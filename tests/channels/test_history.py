"""The channels' sales, read off their own counts between syncs, and the store's forecast shape
the performance and demand strategies, through the sync over HTTP to the sandbox."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from multistore.channels.allocation import Channel, Policy, Strategy
from multistore.channels.connectors import CLIENTS, ChannelConfig, StockroomClient
from multistore.channels.history import SalesHistory
from multistore.channels.reservations import Reservations
from multistore.channels.sync import sync_store
from sandbox import credentials
from tasks.channels import weigh_task

STORE = "store-0013"
NAMES = ("shopify", "square", "ebay")


def _policy(strategy: Strategy) -> Policy:
    return Policy(tuple(Channel(n) for n in NAMES), strategy=strategy)


def _synced(sandbox, strategy: Strategy):  # type: ignore[no-untyped-def]
    sandbox.admin.configure(products_per_store=20)
    config = ChannelConfig(sandbox.url, credentials.CHANNEL_TOKEN, STORE)
    clients = {n: CLIENTS[n](config) for n in NAMES}
    stockroom, book, history = StockroomClient(config), Reservations(), SalesHistory()
    sync_store(STORE, _policy(strategy), stockroom, clients, book, history=history)
    truth = sandbox.admin.channels_truth(STORE)
    # Two products each channel shows at least 3 of and the store has plenty of.
    hot, cold = [
        s
        for s, q in truth["on_hand"].items()
        if q >= 30 and min(truth["levels"][n][s] for n in NAMES) >= 3
    ][:2]
    for _ in range(3):  # shopify sells the hot product, three single sales
        assert sandbox.admin.sell(STORE, "shopify", hot, 1)["sold"]
    assert sandbox.admin.sell(STORE, "square", hot, 1)["sold"]

    def again(**options):  # type: ignore[no-untyped-def]
        sync_store(STORE, _policy(strategy), stockroom, clients, book, history=history, **options)
        return sandbox.admin.channels_truth(STORE)

    return history, hot, cold, again


def test_sales_between_syncs_are_recorded_and_weigh_the_performance_strategy(sandbox) -> None:  # type: ignore[no-untyped-def]
    history, hot, cold, again = _synced(sandbox, Strategy.PERFORMANCE)
    after = again()
    sales = history.sales(STORE, NAMES)
    assert sales.loc[hot].to_dict() == {"shopify": 3.0, "square": 1.0, "ebay": 0.0}
    assert cold not in sales.index or sales.loc[cold].sum() == 0
    hot_levels = {n: after["levels"][n][hot] for n in NAMES}
    # Weights 3+1 : 1+1 : 0+1 of what is available.
    assert hot_levels["shopify"] > hot_levels["square"] > hot_levels["ebay"]
    assert sum(hot_levels.values()) == after["on_hand"][hot]
    cold_levels = [after["levels"][n][cold] for n in NAMES]
    assert max(cold_levels) - min(cold_levels) <= 1
    # The next sync, with nothing sold, records no new sales.
    again()
    assert history.sales(STORE, NAMES).loc[hot].to_dict() == sales.loc[hot].to_dict()


def test_a_store_with_the_demand_strategy_gets_allocation_shaped_by_its_forecast(
    sandbox, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _history, hot, cold, again = _synced(sandbox, Strategy.DEMAND)
    forecast = pd.DataFrame({"sku": [hot], "units": [40.0]})
    after = again(forecast=forecast)
    hot_levels = {n: after["levels"][n][hot] for n in NAMES}
    # The forecast's units split by the channels' smoothed mix (4 : 2 : 1).
    assert hot_levels["shopify"] > hot_levels["square"] > hot_levels["ebay"]
    assert sum(hot_levels.values()) == after["on_hand"][hot]
    # No forecast for the cold product: no demand, split equally.
    cold_levels = [after["levels"][n][cold] for n in NAMES]
    assert max(cold_levels) - min(cold_levels) <= 1

    # The flow's task reads the store's newest forecast run (flows/forecast_demand.py's output).
    run = tmp_path / "forecasts" / "run=2026-12-01T00-00-00"
    run.mkdir(parents=True)
    days = pd.date_range("2026-12-02", periods=7)
    pd.DataFrame(
        {
            "store_id": STORE,
            "sku": [cold] * 7 + [hot] * 7,
            "date": list(days) * 2,
            "units": [10.0] * 7 + [0.0] * 7,
            "method": "ets",
        }
    ).to_parquet(run / "forecast.parquet")
    weighed = weigh_task.fn(STORE, _policy(Strategy.DEMAND), {}, tmp_path)
    assert weighed.inputs["forecast"].loc[cold].sum() == 70.0
    assert weighed.inputs["forecast"].loc[hot].sum() == 0.0
