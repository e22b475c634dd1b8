"""A command's start: what a dub imports before its first stage, and Prefect's temporary API
server started beside those imports rather than after them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_importing_the_dub_flow_loads_no_backend_it_may_not_use():
    # torch (Wav2Lip, SyncNet), matplotlib (the timeline picture), librosa and numba (pitch) are
    # imported by the stages that use them: ~8 s of every command's start on two cores.
    code = ("import json, sys, flows.dub; "
            "print(json.dumps([m for m in ('torch', 'matplotlib', 'librosa', 'numba') if m in sys.modules]))")
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1]) == []


@pytest.fixture
def early_api(monkeypatch, tmp_path):
    """lipsync_sts.prefect_api as a command sees it with no server configured (even where the
    suite's own test server is), its servers on a database of their own, stopped afterwards."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from lipsync_sts import prefect_api

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))  # never the user's database
    monkeypatch.setattr(prefect_api, "_early", None)
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        yield prefect_api
    if prefect_api._early is not None:
        from prefect.logging.handlers import APILogHandler

        APILogHandler().flush()  # the flow's logs reach its server before the server goes
        prefect_api._early.stop()


@pytest.mark.timeout(300)
def test_a_flow_run_inside_serving_is_recorded_by_the_early_server(early_api):
    from prefect import flow, get_client
    from prefect.settings import PREFECT_API_URL

    early_api.start_early()
    server = early_api._early
    assert server is not None and server.process.poll() is None

    @flow
    def where_am_i() -> str:
        from prefect.runtime import flow_run

        return flow_run.id

    with early_api.serving():
        assert PREFECT_API_URL.value() == server.api_url
        run_id = where_am_i()

        async def read() -> str:
            async with get_client() as client:
                return (await client.read_flow_run(run_id)).state.type.value

        import asyncio

        assert asyncio.run(read()) == "COMPLETED"
    assert PREFECT_API_URL.value() != server.api_url  # only the flow's run is pointed at it


def test_with_a_server_configured_nothing_is_started(early_api, monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    early_api.start_early()
    assert early_api._early is None


@pytest.mark.timeout(120)
def test_a_server_configured_in_the_profile_wins_and_the_early_one_is_stopped(early_api):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    early_api.start_early()
    server = early_api._early
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        with early_api.serving():
            assert PREFECT_API_URL.value() == "http://127.0.0.1:9/api"
    assert server.process.poll() is not None and early_api._early is None
