"""The work pools prefect.yaml deploys to, created before `prefect deploy` needs them.

`prefect deploy` refuses a deployment whose work pool does not exist, so `multistore setup` (and the
demo, and the tests) create the process pool first. The Docker pool is created by hand where a
Docker engine runs (docs/deployments.md).
"""

from __future__ import annotations

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import ObjectAlreadyExists
from prefect.workers.process import ProcessWorker

PROCESS_POOL = "multistore-process"


async def ensure_process_pool(name: str = PROCESS_POOL) -> bool:
    """Create the process work pool `name` unless it exists; True when it was created."""
    async with get_client() as client:
        try:
            await client.create_work_pool(
                WorkPoolCreate(
                    name=name,
                    type="process",
                    # Without the worker's template the pool would have no job variables at all.
                    base_job_template=ProcessWorker.get_default_base_job_template(),
                )
            )
        except ObjectAlreadyExists:
            return False
    return True
