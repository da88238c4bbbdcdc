"""forecast-demand: per store and SKU, backtested baselines and a forecast for the hubs.

1. read the sales CSV (store_id, sku, date, units); bad rows are named and skipped;
2. keep the stores of one hub's region when `hub` is given;
3. backtest seasonal naive and exponential smoothing on the last `holdout` days (MASE, sMAPE),
   then forecast `horizon` days ahead from all the history;
4. write forecasts and metrics as Parquet under data/forecasts/run=<stamp>/;
5. publish a report artifact: the per-method table and a plot of actuals against forecasts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact
from prefect.cache_policies import NONE

from multistore.network import forecast
from multistore.network.forecast_report import markdown, metrics_table, plot_png
from multistore.network.registry import Network
from multistore.parquet import partition_path, write_atomic
from multistore.settings import get_settings


@task(name="read-sales", cache_policy=NONE)
def read_sales(path: str, hub: str | None) -> forecast.Sales:
    sales = forecast.read_sales_csv(Path(path))
    logger = get_run_logger()
    for line in sales.rejects:
        logger.warning(line)
    if hub is not None:
        network = Network()
        region = network.hub(hub).region_id
        stores = {node.store_id for node, _ in network.nodes() if node.region_id == region}
        sales.frame = sales.frame[sales.frame["store_id"].isin(stores)]
    return sales


@task(name="backtest-and-forecast", cache_policy=NONE)
def backtest(sales: forecast.Sales, holdout: int, horizon: int) -> forecast.Backtest:
    return forecast.backtest(forecast.daily_series(sales.frame), holdout=holdout, horizon=horizon)


@task(name="write-forecasts", cache_policy=NONE)
def write_outputs(result: forecast.Backtest, stamp: str) -> str:
    root = get_settings().data_dir
    path = partition_path(root, "forecasts", "forecast.parquet", run=stamp)
    write_atomic(result.forecasts, path)
    write_atomic(metrics_table(result), path.with_name("metrics.parquet"))
    return str(path.parent)


@flow(name="forecast-demand")
async def forecast_demand(
    sales_csv: str | None = None, hub: str | None = None, holdout: int = 28, horizon: int = 28
) -> dict[str, Any]:
    """Backtest and forecast every (store, SKU) series of the sales file."""
    path = sales_csv or str(get_settings().data_dir / "sales.csv")
    sales = read_sales(path, hub)
    result = backtest(sales, holdout, horizon)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    written = write_outputs(result, stamp)
    png = plot_png(result) if not result.holdout.empty else None
    if png:
        Path(written, "actuals-vs-forecast.png").write_bytes(png)
    await acreate_markdown_artifact(
        markdown(result, sales.rejects, png, parquet=written),
        key="demand-forecast",
        description="Backtest of the forecasting methods, per store and SKU",
    )
    table = forecast.summary(result.metrics)
    medians = (
        dict(zip(table["method"], table["median_mase"], strict=True)) if not table.empty else {}
    )
    return {
        "series": int(result.metrics[["store_id", "sku"]].drop_duplicates().shape[0]),
        "rejected_rows": len(sales.rejects),
        "skipped_series": len(result.skipped),
        "median_mase": medians,
        "output": written,
    }
