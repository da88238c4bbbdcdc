"""The forecast-demand flow on the real Prefect server: Parquet out, a report artifact with the
plot, and a CSV's bad rows skipped (the rest used)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from prefect import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from flows.forecast_demand import forecast_demand
from multistore.network import forecast
from multistore.settings import get_settings


async def test_forecasts_written_and_reported(prefect_server) -> None:
    path = get_settings().data_dir / "sales.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    sales = forecast.synthetic_sales(1, 2, days=120, seed=2)
    sales["date"] = sales["date"].dt.strftime("%Y-%m-%d")
    text = sales.to_csv(index=False) + "store-000,sku-000,not-a-date,3\n"
    path.write_text(text)

    result = await forecast_demand(holdout=14, horizon=7)

    assert result["series"] == 2 and result["rejected_rows"] == 1
    assert set(result["median_mase"]) == {"ets", "seasonal_naive"}
    out = Path(result["output"])
    forecasts = pd.read_parquet(out / "forecast.parquet")
    assert len(forecasts) == 2 * 2 * 7
    metrics = pd.read_parquet(out / "metrics.parquet")
    assert set(metrics.columns) >= {"store_id", "sku", "method", "mase", "smape"}
    assert (out / "actuals-vs-forecast.png").read_bytes().startswith(b"\x89PNG")
    demand = forecast.latest_demand(get_settings().data_dir, store_id="store-000", days=3)
    assert list(demand["sku"]) == ["sku-000", "sku-001"] and (demand["units"] > 0).all()
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["demand-forecast"]))
        )
    assert artifacts and "data:image/png;base64," in artifacts[-1].data
    assert "not-a-date" in artifacts[-1].data
