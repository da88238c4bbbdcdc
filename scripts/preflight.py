"""A container's checks before it runs a flow: the image, the Prefect server, the registry.

prefect.docker.yaml starts every flow-run container as

    python /opt/multistore/scripts/preflight.py prefect flow-run execute

and this runs the command after its checks pass. A check that fails prints one line naming
what cannot be reached or does not match, and how to fix it, marks the flow run Failed with that
line when the server answers (so the UI says why, not just "exit code 1"), and exits 1 before
any store work starts.

1. The image is the version the deployment was built for: its VERSION (written by
   scripts/build_image.py) equals the tag of MULTISTORE_IMAGE_EXPECTED.
2. PREFECT_API_URL answers from inside the container (network mode, loopback, firewall).
3. The registry (MULTISTORE_DATABASE_URL, or SQLite under MULTISTORE_DATA_DIR) opens.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NETWORK_HINT = (
    "(from inside the container: with network_mode host the host's 127.0.0.1 is reachable;"
    " on a bridge network use an address the container can route to)"
)


class PreflightError(Exception):
    pass


def check_image(root: Path = ROOT) -> None:
    expected = os.environ.get("MULTISTORE_IMAGE_EXPECTED", "")
    stamp = root / "VERSION"
    have = stamp.read_text().strip() if stamp.is_file() else ""
    if not expected or not have:
        return  # not started from a versioned image and deployment: nothing to compare
    want = expected.rsplit(":", 1)[-1]
    if have != want:
        raise PreflightError(
            f"image {expected} holds multistore version {have}, the deployment was built for"
            f" {want}: rebuild with scripts/build_image.py and deploy prefect.docker.yaml again,"
            " or remove the stale tag on this worker's machine"
        )


def check_server() -> None:
    import httpx

    url = os.environ.get("PREFECT_API_URL", "")
    if not url:
        raise PreflightError("PREFECT_API_URL is not set in the container: set it in the job")
    try:
        httpx.get(f"{url.rstrip('/')}/health", timeout=10).raise_for_status()
    except httpx.HTTPError as exc:
        raise PreflightError(
            f"cannot reach the Prefect server at {url} ({type(exc).__name__}) {NETWORK_HINT}"
        ) from None


def check_registry() -> None:
    from multistore.db import DatabaseUnavailable, get_engine

    try:
        get_engine()
    except DatabaseUnavailable as exc:
        raise PreflightError(f"{exc} {NETWORK_HINT}") from None


def fail_flow_run(message: str) -> None:
    """Mark this container's flow run Failed with `message`, if the server can be told."""
    run_id = os.environ.get("PREFECT__FLOW_RUN_ID")
    if not run_id:
        return
    try:
        from prefect.client.orchestration import get_client
        from prefect.states import Failed

        with get_client(sync_client=True) as client:
            client.set_flow_run_state(run_id, Failed(message=message), force=True)
    except Exception:
        pass  # the server may be what is unreachable; the line on stderr stays


def main(argv: list[str]) -> int:
    try:
        check_image()
        check_server()
        check_registry()
    except PreflightError as exc:
        message = f"preflight: {exc}"
        print(message, file=sys.stderr, flush=True)
        fail_flow_run(message)
        return 1
    if argv:
        os.execvp(argv[0], argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
