"""The CRM's tasks: read contacts through its API, change flags through its web UI."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NONE

from multistore.clients.crm import CRMApi
from multistore.clients.crm_ui import CRMWebUI


@task(name="crm-contacts", cache_policy=NONE)
def fetch_contacts(client: CRMApi) -> list[dict[str, Any]]:
    """All contacts of the store's dealer, as the CRM returns them."""
    with client:
        return client.contacts()


@task(name="crm-ui-flags", cache_policy=NONE)
def update_flags(client: CRMWebUI, changes: dict[str, bool]) -> dict[str, Any]:
    """Change each contact's DoNotCall flag in the CRM's web UI; statistics of the browser work."""
    return client.apply_flags(changes)
