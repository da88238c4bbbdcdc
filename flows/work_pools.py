"""The work pools the deployments go to, created before `prefect deploy` needs them.

`prefect deploy` refuses a deployment whose work pool does not exist, so `multistore setup` (and the
demo, and the tests) create the process pool first, and the Docker pool when asked
(`multistore setup --docker-pool`, for prefect.docker.yaml).
"""

from __future__ import annotations

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import ObjectAlreadyExists
from prefect.workers.base import BaseWorker
from prefect.workers.process import ProcessWorker

PROCESS_POOL = "multistore-process"
DOCKER_POOL = "multistore-docker"


async def _ensure_pool(name: str, worker: type[BaseWorker]) -> bool:
    async with get_client() as client:
        try:
            await client.create_work_pool(
                WorkPoolCreate(
                    name=name,
                    type=worker.type,
                    # Without the worker's template the pool would have no job variables at all.
                    base_job_template=worker.get_default_base_job_template(),
                )
            )
        except ObjectAlreadyExists:
            return False
    return True


async def ensure_process_pool(name: str = PROCESS_POOL) -> bool:
    """Create the process work pool `name` unless it exists; True when it was created."""
    return await _ensure_pool(name, ProcessWorker)


async def ensure_docker_pool(name: str = DOCKER_POOL) -> bool:
    """Create the Docker work pool `name` (prefect-docker) unless it exists; True when created."""
    from prefect_docker.worker import DockerWorker

    return await _ensure_pool(name, DockerWorker)
