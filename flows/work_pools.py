"""The work pools the deployments go to, created before `prefect deploy` needs them.

`prefect deploy` refuses a deployment whose work pool does not exist, so `multistore setup` (and the
demo, and the tests) create the process pool first, and the Docker pool when asked
(`multistore setup --docker-pool`, for prefect.docker.yaml).
"""

from __future__ import annotations

import contextlib

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import ObjectAlreadyExists
from prefect.workers.base import BaseWorker
from prefect.workers.process import ProcessWorker

PROCESS_POOL = "multistore-process"
DOCKER_POOL = "multistore-docker"
TICK_QUEUE = "ticks"  # the tick deployment's queue (prefect.yaml)


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
    """Create the process work pool `name` unless it exists, and its `ticks` queue; True when
    the pool was created."""
    created = await _ensure_pool(name, ProcessWorker)
    await _ensure_first_queue(name, TICK_QUEUE)
    return created


async def _ensure_first_queue(pool: str, queue: str) -> None:
    """The queue `queue` of `pool`, first in its priority order: a worker short of capacity
    takes its runs before the `default` queue's (the tick's before store runs)."""
    async with get_client() as client:
        with contextlib.suppress(ObjectAlreadyExists):
            await client.create_work_queue(name=queue, work_pool_name=pool, priority=1)


async def ensure_docker_pool(name: str = DOCKER_POOL) -> bool:
    """Create the Docker work pool `name` (prefect-docker) unless it exists, and its `ticks`
    queue; True when created."""
    from prefect_docker.worker import DockerWorker

    created = await _ensure_pool(name, DockerWorker)
    await _ensure_first_queue(name, TICK_QUEUE)
    return created
