"""One settings object, read from the environment (`MULTISTORE_…`) and nothing else.

Credentials are not here: they live in Prefect blocks (blocks/).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MULTISTORE_", extra="ignore")

    data_dir: Path = Path("data")
    # Empty means a SQLite file under data_dir; PostgreSQL: postgresql+psycopg://postgres@127.0.0.1/db
    database_url: str = ""
    # Empty means Playwright's own browser (`playwright install chromium`).
    chromium_path: str = "/usr/bin/chromium"
    headless: bool = True
    sandbox_url: str = "http://127.0.0.1:8765"
    # Retries and backoff: `instant_backoff` makes waits zero in tests instead of sleeping.
    instant_backoff: bool = False
    # The PostgreSQL server where tests and benchmarks create throwaway databases.
    pg_admin_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    # `make demo` stops right after its report instead of waiting for Ctrl-C.
    demo_once: bool = False
    # STORE_IDS=a,b,c adds those stores with defaults (the one variable without our prefix).
    store_ids: str = Field(default="", validation_alias="STORE_IDS")
    # The Prefect server, for the parts that reach it over plain HTTP (health, metrics, logs):
    # Prefect's own variable, so one setting points both Prefect and multistore at it.
    # "json": console log lines as JSON objects (with store_id and flow_run_id), for log shippers.
    log_format: str = "text"
    # Where `multistore setup` points the alerts' webhook block when it creates it.
    alert_webhook_url: str = ""
    prefect_api_url: str = Field(default="", validation_alias="PREFECT_API_URL")
    # A store run's lease (multistore/leases.py): how long a holder that stopped renewing keeps
    # it. Short only where runs are killed on purpose (the kill test, bench/soak.py).
    store_lease_seconds: float = Field(default=90.0, gt=0)

    @property
    def registry_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'registry.db').resolve()}"

    def chromium_launch_options(self) -> dict:
        """Keyword arguments for `playwright.chromium.launch`."""
        options: dict = {"headless": self.headless, "args": list(CHROMIUM_ARGS)}
        if self.chromium_path:
            options["executable_path"] = self.chromium_path
        return options


@lru_cache
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment)."""
    get_settings.cache_clear()
