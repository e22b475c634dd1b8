"""Shared fixtures: a throw-away Prefect API for the whole session, small generated inputs,
and the real clips of ../shared/testdata where that folder exists."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# Child processes that run flows start Prefect's temporary server on a new database; under the
# suite's load on two cores that can take longer than Prefect's 20 s (as lipsync_sts sets too).
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

# Prefect sets up its console log handler when the flows are first imported, bound to the
# sys.stderr of that moment. Import them here, before any test captures output, or a test that
# first imports them under capsys leaves the handler writing to a closed stream for every test after.
import flows.dub  # noqa: E402,F401

REPO = Path(__file__).resolve().parents[1]
TESTDATA = REPO.parent / "shared" / "testdata"


def load_bench(name: str):
    """bench/<name>.py as a module (bench/ is scripts, not a package; they import each other by name)."""
    sys.path.insert(0, str(REPO / "bench"))
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def prefect_api():
    """A temporary Prefect server and database, so tests never touch the user's Prefect."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def testdata() -> Path:
    if not TESTDATA.is_dir():
        pytest.skip(f"real test clips not present at {TESTDATA} (they live beside the repo, in ../shared/testdata)")
    return TESTDATA
