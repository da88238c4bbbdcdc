"""A dealer's CRM (VinSolutions-shaped) endpoint and credentials: document `crm-<store_id>`."""

from __future__ import annotations

from typing import Any

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from multistore.calls import Pools
from multistore.clients.crm import CRMApi, CRMApiConfig
from multistore.clients.crm_ui import CRMWebConfig, CRMWebUI


class CRMCredentials(Block):
    """OAuth client credentials and API key for the CRM's API, and a login for its web UI.

    The web UI is the only way to change a contact's DoNotCall flag, hence the second login.
    """

    _block_type_name = "CRM Credentials"
    _block_type_slug = "crm-credentials"
    _description = "A dealer's CRM: API base URL, OAuth client credentials, API key, web UI login."

    base_url: str = Field(description="The CRM's base URL, e.g. https://crm.example.com/crm")
    dealer_id: str = Field(description="The dealer's id in the CRM")
    client_id: str = Field(description="OAuth2 client id (client-credentials grant)")
    client_secret: SecretStr = Field(description="OAuth2 client secret")
    api_key: SecretStr = Field(description="Sent as the `api_key` header on every API call")
    ui_username: str = Field(description="Login for the CRM's web UI")
    ui_password: SecretStr = Field(description="Password for the CRM's web UI")
    page_size: int = Field(default=100, ge=1, le=1000, description="Contacts per API page")

    def get_client(self, store_id: str, *, pools: Pools, **options: Any) -> CRMApi:
        """The CRM's API for `store_id` (`options`: clock, http, breaker)."""
        config = CRMApiConfig(
            base_url=self.base_url,
            dealer_id=self.dealer_id,
            client_id=self.client_id,
            client_secret=self.client_secret,
            api_key=self.api_key,
            page_size=self.page_size,
        )
        return CRMApi(config, store_id=store_id, pools=pools, **options)

    def get_ui_client(self, store_id: str, *, pools: Pools, **options: Any) -> CRMWebUI:
        """The CRM's web UI for `store_id` (`options`: clock, pages_per_slot)."""
        config = CRMWebConfig(
            base_url=self.base_url,
            dealer_id=self.dealer_id,
            username=self.ui_username,
            password=self.ui_password,
        )
        return CRMWebUI(config, store_id=store_id, pools=pools, **options)
