"""Two identical dubs started together on one store: both correct, nothing corrupted, and the
stage work done once (the second waits on the first's cache lock and reads its result)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

from lipsync_sts.demo import build_sample_video
from tests.conftest import REPO


def test_two_identical_dubs_at_once_share_the_work_and_agree(tmp_path):
    clip = build_sample_video(tmp_path / "in.mp4", text="नमस्ते।")
    store = tmp_path / "store"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PYTHONPATH": str(REPO)}

    def start(name: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "lipsync_sts.cli", "dub", str(clip), "--from", "hi",
                                 "--to", "ur", "--store", str(store), "-o", str(tmp_path / f"{name}.mp4")],
                                cwd=REPO, env={**env, "PREFECT_HOME": str(tmp_path / f"prefect-{name}")},
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    runs = [start("a"), start("b")]
    logs = [p.communicate(timeout=600)[0] for p in runs]
    assert [p.returncode for p in runs] == [0, 0], logs
    digest = {n: hashlib.sha256((tmp_path / f"{n}.mp4").read_bytes()).hexdigest() for n in "ab"}
    assert digest["a"] == digest["b"]

    def computed(log: str) -> set[tuple[str, str]]:
        """(stage, what for) of the summary rows that ran rather than came from the cache."""
        rows = [line.split() for line in log.splitlines()]
        return {(r[0], r[1]) for r in rows if len(r) >= 4 and r[2] == "completed" and r[3].endswith("s")}

    both = computed(logs[0]) & computed(logs[1])
    # ingest is keyed by the file, not by content, and is only hashing: it may run in both.
    assert both <= {("ingest", "-")}, f"stages computed twice: {both}"
    for obj in (store / "objects").rglob("*"):
        if obj.is_file():
            assert hashlib.sha256(obj.read_bytes()).hexdigest() == obj.name.split(".")[0]
