"""The session's Prefect server is real: a flow run lands in its database."""

import pytest
from prefect import flow, get_client

pytestmark = pytest.mark.prefect


@flow
async def _hello(name: str) -> str:
    return f"hello {name}"


async def test_flow_run_is_recorded_by_the_server(prefect_server):
    state = await _hello("store-1", return_state=True)
    assert await state.result() == "hello store-1"
    async with get_client() as client:
        run = await client.read_flow_run(state.state_details.flow_run_id)
    assert run.state.is_completed()
    assert str(client.api_url).startswith(prefect_server.url)
