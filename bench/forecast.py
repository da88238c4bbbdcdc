"""Demand forecasting: 500 series × 2 years of daily sales (synthetic Poisson, weekly season).

    python bench/forecast.py [--series 500] [--days 730] [--holdout 28]

Each series is backtested on its last `holdout` days with seasonal naive and exponential
smoothing (multistore.network.forecast); prints per method the median MASE and sMAPE, the share
of series beating seasonal naive, fit + backtest seconds per series, and then
`median MASE: X (seasonal naive 1.0)` for exponential smoothing (target < 1.0).
"""

from __future__ import annotations

import argparse
import time

from multistore.network import forecast


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--series", type=int, default=500)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--holdout", type=int, default=28)
    args = parser.parse_args(argv)
    skus = 10 if args.series >= 10 else 1
    stores = max(1, args.series // skus)
    sales = forecast.synthetic_sales(stores, skus, days=args.days, seed=1)
    series = forecast.daily_series(sales)
    started = time.perf_counter()
    result = forecast.backtest(series, holdout=args.holdout, refit=False)
    elapsed = time.perf_counter() - started
    table = forecast.summary(result.metrics).set_index("method")
    print(f"{len(series)} series × {args.days} days, holdout {args.holdout}, {elapsed:.1f} s")
    for method, row in table.iterrows():
        print(
            f"{method}: median MASE {row['median_mase']:.3f}, median sMAPE "
            f"{row['median_smape']:.3f}, beats seasonal naive on {row['beats_naive']:.0%}, "
            f"{row['fit_seconds'] * 1000:.1f} ms per series"
        )
    print(f"fit + backtest seconds per series: {elapsed / len(series):.3f}")
    median = float(table.loc["ets", "median_mase"])
    print(f"median MASE: {median:.3f} (seasonal naive 1.0)")
    return median


if __name__ == "__main__":
    main()
