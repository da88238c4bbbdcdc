"""The forecasting report: a PNG of actuals against each method on the holdout, and a Markdown
summary (per-method MASE/sMAPE, the worst series, the rejected rows) that embeds it."""

from __future__ import annotations

import base64
import io

import pandas as pd

from multistore.network.forecast import Backtest, summary

PLOTTED_SERIES = 4


def plot_png(result: Backtest, *, series: int = PLOTTED_SERIES) -> bytes:
    """Actuals (black) and each method's holdout forecast for the `series` busiest series."""
    import matplotlib

    matplotlib.use("Agg")  # no display on workers
    from matplotlib import pyplot as plt

    held = result.holdout
    busiest = (
        held.groupby(["store_id", "sku"])["actual"].sum().sort_values(ascending=False).head(series)
    )
    fig, axes = plt.subplots(
        len(busiest), 1, figsize=(8, 2.2 * max(1, len(busiest))), squeeze=False
    )
    methods = [c for c in held.columns if c not in ("store_id", "sku", "date", "actual")]
    for ax, (store_id, sku) in zip(axes[:, 0], busiest.index, strict=False):
        part = held[(held["store_id"] == store_id) & (held["sku"] == sku)]
        ax.plot(part["date"], part["actual"], color="black", linewidth=1.5, label="actual")
        for method in methods:
            ax.plot(part["date"], part[method], linewidth=1, label=method)
        ax.set_title(f"{store_id} / {sku}", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return buffer.getvalue()


def markdown(result: Backtest, rejects: list[str], png: bytes | None, *, parquet: str) -> str:
    table = summary(result.metrics)
    lines = ["# Demand forecast", "", f"Forecasts and metrics: `{parquet}`", ""]
    if not table.empty:
        lines += [
            "| method | series | median MASE | mean MASE | median sMAPE | beats naive "
            "| fit s/series |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in table.itertuples():
            lines.append(
                f"| {row.method} | {row.series} | {row.median_mase:.3f} | {row.mean_mase:.3f} | "
                f"{row.median_smape:.3f} | {row.beats_naive:.0%} | {row.fit_seconds:.3f} |"
            )
        ets = result.metrics[result.metrics["method"] == "ets"].nlargest(5, "mase")
        if not ets.empty:
            lines += ["", "Hardest series (exponential smoothing):", ""]
            lines += [f"- {r.store_id} / {r.sku}: MASE {r.mase:.2f}" for r in ets.itertuples()]
    if png:
        encoded = base64.b64encode(png).decode()
        lines += ["", f"![actuals against forecasts](data:image/png;base64,{encoded})"]
    if rejects or result.skipped:
        lines += ["", f"Skipped ({len(rejects) + len(result.skipped)}):", ""]
        lines += [f"- {line}" for line in (rejects + result.skipped)[:50]]
    return "\n".join(lines) + "\n"


def metrics_table(result: Backtest) -> pd.DataFrame:
    return result.metrics.round({"mase": 4, "smape": 4, "fit_seconds": 4})
