"""Run the sandbox: in a background thread (fixtures, benchmarks) or in the foreground (CLI)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from sandbox.app import create_app
from sandbox.config import SandboxConfig
from sandbox.state import SandboxState


@dataclass
class SandboxHandle:
    url: str
    state: SandboxState
    server: uvicorn.Server
    thread: threading.Thread
    loop: asyncio.AbstractEventLoop | None = None

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving; hanging requests are released, open sockets closed. Idempotent."""
        if not self.thread.is_alive():
            return
        if self.loop is not None and self.state.stopping is not None:
            self.loop.call_soon_threadsafe(self.state.stopping.set)
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(timeout)


# How long an idle connection stays open; our clients let theirs go sooner (sandbox/client.py).
KEEPALIVE_SECONDS = 2


def _config(app: FastAPI, **options: object) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        lifespan="off",
        timeout_graceful_shutdown=1,
        # The default keep-alive lets idle browser connections delay shutdown.
        timeout_keep_alive=KEEPALIVE_SECONDS,
        ws_ping_interval=None,
        **{"log_level": "warning", "access_log": False, **options},
    )


def serve_in_thread(
    config: SandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> SandboxHandle:
    """Start the sandbox on `host:port` (0: a free port) in a thread; returns once it serves."""
    app = create_app(config)
    state: SandboxState = app.state.sandbox
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets that say so, and without
    # it Nagle's algorithm meets delayed ACKs and every answer takes ~40 ms.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(_config(app))
    handle = SandboxHandle(f"http://{host}:{bound_port}", state, server, threading.Thread())
    failure: list[BaseException] = []

    def run() -> None:
        async def main() -> None:
            handle.loop = asyncio.get_running_loop()
            state.stopping = asyncio.Event()
            await server.serve(sockets=[sock])

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)

    handle.thread = threading.Thread(target=run, name="sandbox", daemon=True)
    handle.thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if failure or not handle.thread.is_alive():
            raise RuntimeError(f"sandbox failed to start on {handle.url}: {failure or 'exited'}")
        if time.monotonic() > deadline:
            handle.stop()
            raise TimeoutError(f"sandbox did not start on {handle.url} within 10 s")
        time.sleep(0.01)
    return handle


def serve(
    config: SandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 8765
) -> None:
    """Serve in the foreground until interrupted (Ctrl-C)."""
    app = create_app(config)

    async def main() -> None:
        app.state.sandbox.stopping = asyncio.Event()
        await uvicorn.Server(
            _config(app, host=host, port=port, log_level="info", access_log=True)
        ).serve()

    asyncio.run(main())
