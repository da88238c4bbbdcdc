"""Forecasting: bad CSV rows named and skipped, metrics that mean what they say, and exponential
smoothing beating seasonal naive on weekly-seasonal sales."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from multistore.network import forecast
from multistore.network.forecast_report import markdown, plot_png


def test_bad_rows_are_named_skipped_and_the_rest_used(tmp_path: Path) -> None:
    path = tmp_path / "sales.csv"
    path.write_text(
        "store_id,sku,date,units\n"
        "s1,a,2026-01-01,3\n"
        "s1,a,2026-01-01,2\n"  # the same day twice: summed
        ",a,2026-01-02,1\n"
        "s1,a,2026-13-01,1\n"
        "s1,a,2026-01-03,many\n"
        "s1,a,2026-01-04,-2\n"
        "s1,b,2026-01-05,4\n"
    )
    sales = forecast.read_sales_csv(path)
    assert sales.rejects == [
        f"{path}: line 4: store_id: empty",
        f"{path}: line 5: date: '2026-13-01' is not YYYY-MM-DD",
        f"{path}: line 6: units: 'many' is not a number",
        f"{path}: line 7: units: -2 is negative",
    ]
    assert sales.frame.to_dict("records") == [
        {"store_id": "s1", "sku": "a", "date": pd.Timestamp("2026-01-01"), "units": 5.0},
        {"store_id": "s1", "sku": "b", "date": pd.Timestamp("2026-01-05"), "units": 4.0},
    ]


def test_a_file_without_the_columns_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "sales.csv"
    path.write_text("store,sku,date,units\n")
    with pytest.raises(forecast.ForecastError, match="missing column 'store_id'"):
        forecast.read_sales_csv(path)


def test_missing_days_are_zero_sales() -> None:
    frame = pd.DataFrame(
        {
            "store_id": ["s"] * 2,
            "sku": ["a"] * 2,
            "date": pd.to_datetime(["2026-01-01", "2026-01-04"]),
            "units": [1.0, 2.0],
        }
    )
    (series,) = forecast.daily_series(frame).values()
    assert series.tolist() == [1.0, 0.0, 0.0, 2.0]


def test_metrics() -> None:
    history = np.array([1, 2, 3, 4, 5, 6, 7, 2, 3, 4, 5, 6, 7, 8], dtype=float)  # naive error 1
    assert forecast.mase(np.array([3.0, 3.0]), np.array([1.0, 5.0]), history) == 2.0
    assert forecast.smape(np.array([0.0, 2.0]), np.array([0.0, 6.0])) == pytest.approx(0.5)
    assert forecast.seasonal_naive(history, 9).tolist() == [2, 3, 4, 5, 6, 7, 8, 2, 3]


def test_exponential_smoothing_beats_seasonal_naive_on_weekly_sales() -> None:
    series = forecast.daily_series(forecast.synthetic_sales(2, 2, days=400, seed=5))
    result = forecast.backtest(series, holdout=28, horizon=14)
    table = forecast.summary(result.metrics).set_index("method")
    assert table.loc["ets", "median_mase"] < table.loc["seasonal_naive", "median_mase"]
    assert table.loc["ets", "median_mase"] < 1.0
    assert len(result.forecasts) == 4 * 2 * 14  # 4 series, 2 methods, 14 days ahead
    assert (result.forecasts["units"] >= 0).all()
    png = plot_png(result)
    assert png.startswith(b"\x89PNG")
    report = markdown(result, ["sales.csv: line 3: units: 'x' is not a number"], png, parquet="out")
    assert "| ets | 4 |" in report and "data:image/png;base64," in report and "line 3" in report


def test_a_series_too_short_is_skipped_named() -> None:
    frame = pd.DataFrame(
        {"store_id": "s", "sku": "a", "date": pd.date_range("2026-01-01", periods=20), "units": 1.0}
    )
    result = forecast.backtest(forecast.daily_series(frame), holdout=28)
    assert result.metrics.empty
    assert result.skipped == ["series s/a: 20 days, needs at least 42"]
