"""The do-not-call scrubbing service (DNC.com-shaped), shared: document `dnc-default`."""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field, SecretStr


class DNCService(Block):
    """The scrub API's base URL, key and the batch size it accepts (the vendor caps it at 1000)."""

    _block_type_name = "DNC Service"
    _block_type_slug = "dnc-service"
    _description = "A do-not-call scrubbing service: base URL, API key, numbers per batch request."

    base_url: str = Field(description="The scrub service's base URL (POST <base_url>/dnc/scrub)")
    api_key: SecretStr = Field(description="Sent as the `X-API-Key` header")
    batch_size: int = Field(default=1000, ge=1, le=1000, description="Numbers per scrub request")
