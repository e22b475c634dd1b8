"""Importing the pipeline shortens the GIL's switch interval (threads that take the GIL back once a
frame do not wait out Python's 5 ms beside a busy thread); an environment variable overrides it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _interval_after_import(**env: str) -> float:
    out = subprocess.run([sys.executable, "-c", "import sys, lipsync_sts; print(sys.getswitchinterval())"],
                         cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True, check=True).stdout
    return float(out)


def test_the_pipeline_asks_for_half_a_millisecond():
    assert abs(_interval_after_import(LIPSYNC_STS_SWITCH_INTERVAL="") - 0.0005) < 1e-9


def test_the_interval_can_be_set_back_to_pythons_default_for_measuring():
    assert abs(_interval_after_import(LIPSYNC_STS_SWITCH_INTERVAL="0.005") - 0.005) < 1e-9


def test_a_malformed_interval_is_refused_with_a_message_naming_the_variable():
    for bad in ("fast", "0", "-1"):
        run = subprocess.run([sys.executable, "-c", "import lipsync_sts"], cwd=REPO,
                             env={**os.environ, "LIPSYNC_STS_SWITCH_INTERVAL": bad}, capture_output=True, text=True)
        assert run.returncode != 0
        assert f"LIPSYNC_STS_SWITCH_INTERVAL={bad!r}" in run.stderr
        assert "positive number" in run.stderr
