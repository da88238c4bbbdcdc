"""Helpers shared by the sandbox's own tests."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.config import SandboxConfig
from sandbox.server import SandboxHandle, serve_in_thread


def crm_token(base: str) -> str:
    form = {"grant_type": "client_credentials", "client_id": "t", "client_secret": "sandbox-secret"}
    response = httpx.post(f"{base}/crm/oauth/token", data=form)
    response.raise_for_status()
    return response.json()["access_token"]


def crm_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "api_key": "sandbox-key"}


@pytest.fixture
def own_sandbox(request: pytest.FixtureRequest) -> Iterator[SandboxHandle]:
    """A private sandbox with the config a test gives by `@pytest.mark.parametrize` indirection."""
    config: SandboxConfig = getattr(request, "param", None) or SandboxConfig()
    handle = serve_in_thread(config)
    yield handle
    handle.stop()
