"""Demand forecasting per store and SKU for the hubs: seasonal naive and exponential smoothing,
backtested on a holdout with MASE and sMAPE per series.

- seasonal naive repeats the last week (daily data, season 7);
- exponential smoothing is statsmodels' Holt-Winters with a damped additive trend and weekly
  seasonality, multiplicative when the series never hits zero (multiplicative seasonality
  cannot take a zero), additive otherwise;
- MASE = the holdout's mean absolute error / the in-sample mean absolute error of the seasonal
  naive one-season-ahead forecast (below 1 beats it); sMAPE = mean of 2|y−ŷ|/(|y|+|ŷ|), with 0
  where both are 0 (plain MAPE breaks on days without sales).

Sales come as CSV (store_id, sku, date, units); a bad row is one line naming the row and the
field, skipped, and the rest used.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

SEASON = 7
COLUMNS = ("store_id", "sku", "date", "units")
METHODS = ("seasonal_naive", "ets")
# Exponential smoothing fits on the last year: enough weeks for the weekly pattern, half the
# optimiser's work of two years.
FIT_WINDOW = 364


class ForecastError(ValueError):
    """Sales that cannot be used at all (no file, no usable rows); one line."""


@dataclass
class Sales:
    frame: pd.DataFrame  # store_id, sku, date, units (summed per day)
    rejects: list[str]


def read_sales_csv(path: Path) -> Sales:
    """The usable rows of a sales CSV; each bad row named (1-based line numbers, header = 1)."""
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ForecastError(f"{path}: cannot read sales: {reason}") from None
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise ForecastError(f"{path}: missing column {missing[0]!r} (need {', '.join(COLUMNS)})")
    return parse_sales(raw, source=str(path))


def parse_sales(raw: pd.DataFrame, *, source: str = "sales") -> Sales:
    """Vectorised checks; rows failing any are rejected with the first reason."""
    frame = raw.loc[:, list(COLUMNS)].astype(str).apply(lambda c: c.str.strip())
    dates = pd.to_datetime(frame["date"], format="%Y-%m-%d", errors="coerce")
    units = pd.to_numeric(frame["units"], errors="coerce")
    checks = [
        (frame["store_id"] == "", lambda r: "store_id: empty"),
        (frame["sku"] == "", lambda r: "sku: empty"),
        (dates.isna(), lambda r: f"date: {r['date']!r} is not YYYY-MM-DD"),
        (units.isna(), lambda r: f"units: {r['units']!r} is not a number"),
        (units < 0, lambda r: f"units: {r['units']} is negative"),
    ]
    checks = [(bad.fillna(False).to_numpy(bool), message) for bad, message in checks]
    bad_rows = np.logical_or.reduce([bad for bad, _ in checks])
    rejects: list[str] = []
    for position in np.flatnonzero(bad_rows):  # the first failing check names the row
        row = frame.iloc[position]
        message = next(message for bad, message in checks if bad[position])
        rejects.append(f"{source}: line {position + 2}: {message(row)}")
    good = ~bad_rows
    clean = pd.DataFrame(
        {
            "store_id": frame.loc[good, "store_id"],
            "sku": frame.loc[good, "sku"],
            "date": dates[good],
            "units": units[good].astype(float),
        }
    )
    clean = clean.groupby(["store_id", "sku", "date"], as_index=False)["units"].sum()
    return Sales(clean, rejects)


def daily_series(sales: pd.DataFrame) -> dict[tuple[str, str], pd.Series]:
    """One daily series per (store, SKU), days without a sale filled with 0."""
    series = {}
    for (store_id, sku), group in sales.groupby(["store_id", "sku"], sort=True):
        values = group.set_index("date")["units"].sort_index()
        full = pd.date_range(values.index.min(), values.index.max(), freq="D")
        series[(store_id, sku)] = values.reindex(full, fill_value=0.0)
    return series


def seasonal_naive(history: np.ndarray, horizon: int) -> np.ndarray:
    last = history[-SEASON:]
    return np.resize(last, horizon).astype(float)


def ets(history: np.ndarray, horizon: int) -> np.ndarray:
    # Imported here: statsmodels brings SciPy (0.7 s of CPU), which every process that imports
    # the flows (each flow run, each `prefect deploy --all`) would otherwise pay to fit nothing.
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    history = history[-FIT_WINDOW:]
    seasonal = "mul" if history.min() > 0 else "add"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on flat series
        model = ExponentialSmoothing(
            history,
            trend="add",
            damped_trend=True,
            seasonal=seasonal,
            seasonal_periods=SEASON,
            # Heuristic start values and no brute-force grid: ~5x faster than the defaults for
            # the same holdout MASE on weekly-seasonal daily sales (measured on the bench data).
            initialization_method="heuristic",
        ).fit(optimized=True, use_brute=False)
        forecast = np.asarray(model.forecast(horizon), dtype=float)
    if not np.all(np.isfinite(forecast)):
        return seasonal_naive(history, horizon)
    return np.clip(forecast, 0.0, None)


FORECASTERS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "seasonal_naive": seasonal_naive,
    "ets": ets,
}


def mase(actual: np.ndarray, forecast: np.ndarray, history: np.ndarray) -> float:
    scale = np.mean(np.abs(history[SEASON:] - history[:-SEASON]))
    error = np.mean(np.abs(actual - forecast))
    if scale == 0:
        return 0.0 if error == 0 else float("inf")
    return float(error / scale)


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    denominator = np.abs(actual) + np.abs(forecast)
    ratio = np.divide(
        2 * np.abs(actual - forecast),
        denominator,
        out=np.zeros_like(denominator),
        where=denominator > 0,
    )
    return float(np.mean(ratio))


@dataclass
class Backtest:
    metrics: pd.DataFrame  # store_id, sku, method, mase, smape, fit_seconds
    holdout: pd.DataFrame  # store_id, sku, date, actual, <method>… (for the plot)
    forecasts: pd.DataFrame  # store_id, sku, date, method, units (the future, refit on all)
    skipped: list[str]


def backtest(
    series: dict[tuple[str, str], pd.Series],
    *,
    holdout: int = 28,
    horizon: int = 28,
    methods: tuple[str, ...] = METHODS,
    refit: bool = True,
    clock: Callable[[], float] | None = None,
) -> Backtest:
    """Fit each method on all but the last `holdout` days, score it on them; then (`refit`)
    fit on everything and forecast `horizon` days. A series too short (< holdout + 2 seasons) is
    skipped, named."""
    import time

    clock = clock or time.perf_counter
    metric_rows, holdout_frames, forecast_frames, skipped = [], [], [], []
    for (store_id, sku), values in series.items():
        data = values.to_numpy(dtype=float)
        if len(data) < holdout + 2 * SEASON:
            skipped.append(
                f"series {store_id}/{sku}: {len(data)} days, needs at least {holdout + 2 * SEASON}"
            )
            continue
        train, test = data[:-holdout], data[-holdout:]
        future = pd.date_range(values.index[-1] + pd.Timedelta(days=1), periods=horizon, freq="D")
        held = pd.DataFrame(
            {"store_id": store_id, "sku": sku, "date": values.index[-holdout:], "actual": test}
        )
        for method in methods:
            started = clock()
            predicted = FORECASTERS[method](train, holdout)
            fit_seconds = clock() - started
            metric_rows.append(
                {
                    "store_id": store_id,
                    "sku": sku,
                    "method": method,
                    "mase": mase(test, predicted, train),
                    "smape": smape(test, predicted),
                    "fit_seconds": fit_seconds,
                }
            )
            held[method] = predicted
            if not refit:
                continue
            ahead = FORECASTERS[method](data, horizon)
            forecast_frames.append(
                pd.DataFrame(
                    {
                        "store_id": store_id,
                        "sku": sku,
                        "date": future,
                        "method": method,
                        "units": ahead,
                    }
                )
            )
        holdout_frames.append(held)
    return Backtest(
        pd.DataFrame(
            metric_rows, columns=["store_id", "sku", "method", "mase", "smape", "fit_seconds"]
        ),
        pd.concat(holdout_frames, ignore_index=True) if holdout_frames else pd.DataFrame(),
        pd.concat(forecast_frames, ignore_index=True) if forecast_frames else pd.DataFrame(),
        skipped,
    )


def summary(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per method: series, median and mean MASE, median sMAPE, share of series beating seasonal
    naive (MASE < 1), mean fit seconds per series."""
    if metrics.empty:
        return pd.DataFrame()
    grouped = metrics.groupby("method")
    return pd.DataFrame(
        {
            "series": grouped.size(),
            "median_mase": grouped["mase"].median(),
            "mean_mase": grouped["mase"].mean(),
            "median_smape": grouped["smape"].median(),
            "beats_naive": grouped["mase"].apply(lambda m: float((m < 1).mean())),
            "fit_seconds": grouped["fit_seconds"].mean(),
        }
    ).reset_index()


def synthetic_sales(
    stores: int, skus: int, *, days: int = 730, seed: int = 0, start: str = "2024-01-01"
) -> pd.DataFrame:
    """Daily Poisson sales with a weekly pattern, a slow trend and per-series levels."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=days, freq="D")
    weekday = dates.dayofweek.to_numpy()
    frames = []
    for s in range(stores):
        for k in range(skus):
            level = rng.uniform(2, 40)
            weekly = 1 + rng.uniform(0.2, 0.6) * np.sin(2 * np.pi * (weekday + rng.integers(7)) / 7)
            trend = 1 + rng.uniform(-0.3, 0.3) * np.arange(days) / days
            units = rng.poisson(level * weekly * trend)
            frames.append(
                pd.DataFrame(
                    {
                        "store_id": f"store-{s:03d}",
                        "sku": f"sku-{k:03d}",
                        "date": dates,
                        "units": units,
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def latest_demand(
    data_dir: Path, *, store_id: str | None = None, method: str = "ets", days: int | None = None
) -> pd.DataFrame:
    """The newest forecast run's demand per store and SKU (units summed over the first `days`
    days ahead, all of them by default): what a hub plans supply with, and what demand-based
    channel allocation can weigh a store's SKUs by. Empty when nothing was forecast yet."""
    runs = sorted(Path(data_dir, "forecasts").glob("run=*/forecast.parquet"))
    if not runs:
        return pd.DataFrame(columns=["store_id", "sku", "units"])
    frame = pd.read_parquet(runs[-1])
    frame = frame[frame["method"] == method]
    if store_id is not None:
        frame = frame[frame["store_id"] == store_id]
    if days is not None:
        first = frame.groupby(["store_id", "sku"])["date"].transform("min")
        frame = frame[frame["date"] < first + pd.Timedelta(days=days)]
    return frame.groupby(["store_id", "sku"], as_index=False)["units"].sum()
