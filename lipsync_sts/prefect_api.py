"""Prefect's temporary API server, started as a command starts rather than when its flow does.

With no Prefect server configured (PREFECT_API_URL), Prefect starts a temporary one when the first
flow runs: it imports its server package into the command's process (~5 s on two cores), then
waits for the server's own process to come up (~8 s more), and only then runs the flow, after the
command has already spent seconds importing the pipeline. :func:`start_early` spawns that same
server process (Prefect's app under uvicorn, with the settings Prefect gives it) before the
command imports anything heavy, so the two start side by side; :func:`serving` then waits for it
and points Prefect at it for the flow run. It stops when the command exits, as Prefect's does.

Where a server is configured (an environment variable or the active profile), or temporary servers
are turned off, nothing is started, or what was started is stopped unused; where the early server
fails to come up, Prefect starts its own as before. LIPSYNC_STS_EARLY_API=0 leaves it to Prefect
(bench/bench_startup.py measures the two).
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

STARTUP_TIMEOUT_S = 120.0  # a loaded 2-core machine took up to ~15 s


class TemporaryApi:
    def __init__(self, process: subprocess.Popen, port: int) -> None:
        self.process, self.port = process, port
        self.healthy = False

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def wait(self, timeout: float = STARTUP_TIMEOUT_S) -> bool:
        """Whether the server answers its health check within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not self.healthy and time.monotonic() < deadline and self.process.poll() is None:
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as response:
                    self.healthy = response.status == 200
            except OSError:
                time.sleep(0.1)
        return self.healthy

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


_early: TemporaryApi | None = None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_early() -> None:
    """Spawn the temporary server now, unless PREFECT_API_URL is set or one is already spawned.
    Prefect itself is not imported here: its import is part of what the server overlaps."""
    global _early
    if _early is not None or os.environ.get("PREFECT_API_URL") or os.environ.get("LIPSYNC_STS_EARLY_API") == "0":
        return
    spec = importlib.util.find_spec("prefect")
    if spec is None or not spec.submodule_search_locations:
        return
    port = _free_port()
    # What prefect.server.api.server.SubprocessASGIServer runs, with the environment it sets.
    env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--app-dir", str(Path(spec.submodule_search_locations[0]).parent),
         "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "error", "--lifespan", "on"], env=env)
    _early = TemporaryApi(process, port)
    atexit.register(_early.stop)  # registered before Prefect's own exit handlers, so it runs after them


@contextmanager
def serving() -> Iterator[None]:
    """Run a flow inside this: against the early server where one was started and is wanted."""
    global _early
    server = _early
    if server is None:
        yield
        return
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    from lipsync_sts.cache import hash_stage_code

    hash_stage_code()  # ~0.2 s of tokenising, spent while the server is still coming up
    settings = get_current_settings()
    if settings.api.url or not settings.server.ephemeral.enabled or not server.wait():
        server.stop()  # a configured server, no temporary servers wanted, or it did not come up
        _early = None
        yield
        return
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        yield
