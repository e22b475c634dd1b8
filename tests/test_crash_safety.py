"""A run killed while holding a stage's cache lock must not block the runs after it.

(The whole-dub version of this, SIGKILL at random moments and a rerun, is bench/kill_and_rerun.py.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from lipsync_sts.cache import CrashSafeLockManager
from tests.conftest import REPO

TAKE_LOCK_AND_DIE = """
import os, sys
from pathlib import Path
from lipsync_sts.cache import CrashSafeLockManager
assert CrashSafeLockManager(Path(sys.argv[1])).acquire_lock("stage-key", holder="killed-run")
print("locked", flush=True)
if sys.argv[2] == "die":
    os._exit(9)  # no release, no cleanup: as SIGKILL would leave it
sys.stdin.read()  # hold the lock until the test closes stdin
"""


def lock_in_another_process(folder, then: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", TAKE_LOCK_AND_DIE, str(folder), then], cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_lock_left_by_a_killed_run_is_taken_over_at_once(tmp_path):
    lock_in_another_process(tmp_path, "die").wait()
    assert (tmp_path / "stage-key.lock").exists()  # the dead run's lock is still on disk
    from prefect.locking.filesystem import FileSystemLockManager

    assert not FileSystemLockManager(tmp_path).acquire_lock("stage-key", holder="rerun", acquire_timeout=1), \
        "Prefect's own lock manager waits for the dead holder (forever, without a timeout)"

    start = time.monotonic()
    assert CrashSafeLockManager(tmp_path).acquire_lock("stage-key", holder="rerun", acquire_timeout=30)
    assert time.monotonic() - start < 5


def test_a_lock_held_by_a_live_run_is_waited_for(tmp_path):
    holder = lock_in_another_process(tmp_path, "hold")
    try:
        assert not CrashSafeLockManager(tmp_path).acquire_lock("stage-key", holder="second", acquire_timeout=0.5)
    finally:
        holder.stdin.close()
        holder.wait()
    # The holder exited without releasing: that lock is now stale too.
    assert CrashSafeLockManager(tmp_path).acquire_lock("stage-key", holder="second", acquire_timeout=5)


def test_a_lock_file_torn_by_a_crash_mid_write_is_stale_once_it_is_old(tmp_path):
    torn = tmp_path / "stage-key.lock"
    torn.write_bytes(b"")  # Prefect's own manager creates the file first, then writes the holder
    manager = CrashSafeLockManager(tmp_path)
    assert not manager.acquire_lock("stage-key", holder="rerun", acquire_timeout=0.3), \
        "a fresh empty lock may be mid-write: treated as held"
    old = time.time() - 60
    os.utime(torn, (old, old))
    assert manager.acquire_lock("stage-key", holder="rerun", acquire_timeout=5)


def test_the_holder_releases_and_a_lock_file_is_never_seen_half_written(tmp_path):
    manager = CrashSafeLockManager(tmp_path)
    assert manager.acquire_lock("stage-key", holder="me")
    assert manager.is_lock_holder("stage-key", "me")
    assert not list(tmp_path.glob(".stage-key.lock.*")), "the draft is gone once linked into place"
    manager.release_lock("stage-key", "me")
    assert not manager.is_locked("stage-key")


def test_the_dub_track_is_the_same_bytes_whenever_it_is_written(tmp_path):
    """A rerun recomputes the stages a kill interrupted; their outputs key everything after them,
    so they must not depend on the time of writing (soundfile stamps float WAVs with it)."""
    import numpy as np

    from lipsync_sts.store import ArtifactStore
    from tasks.fit_timing import FitTimingConfig, fit_dub_timing
    from tasks.synthesize import SpeechClips

    store = ArtifactStore(str(tmp_path / "store"))
    t = np.arange(11025) / 22050
    SpeechClips([(0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)], 22050, [[]]).save(tmp_path / "clips.npz")
    clips = store.put_file(tmp_path / "clips.npz", kind="speech-clips")
    segments = store.put_json([{"start": 0.2, "end": 0.8, "text": "नमस्ते"}])
    video = store.put_bytes(b"stand-in", kind="video", meta={"duration": 1.0})

    first = fit_dub_timing(store, clips, segments, video, FitTimingConfig())
    time.sleep(1.1)  # the stamp has one-second resolution
    second = fit_dub_timing(store, clips, segments, video, FitTimingConfig())
    assert first.sha256 == second.sha256
