"""The lipsync stage's video depends on its inputs alone, as a dub killed and rerun must give the
bytes of an uninterrupted one.

It did not: on CPUs with AVX-512, x264's macroblock tree read heap memory it never initialised
(lipsync_sts/media.py: x264_options), so the bytes depended on what the process had freed before
(after faster-whisper had run, every call gave other bytes). glibc's MALLOC_PERTURB_ fills each
fresh allocation with a byte of our choosing: runs with different bytes reproduce that, without
the ASR, and must still agree.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lipsync_sts import media

REPO = Path(__file__).resolve().parents[1]
CLIP = "v03_retalking_face3.mp4"  # 590x590: 37 macroblocks a row, not a multiple of 8
PERTURB = ("85", "170", "51")  # before the fix, each gave other bytes on an AVX-512 machine

ENCODE = """
import itertools, sys
from lipsync_sts import media
info = media.probe(sys.argv[1])
with media.VideoWriter(sys.argv[2], info.fps_fraction, info.width, info.height) as writer:
    for frame in itertools.islice(media.iter_frames(sys.argv[1]), 40):
        writer.write(frame)
"""

LIPSYNC = """
import sys
from lipsync_sts import media
from lipsync_sts.store import ArtifactStore
from tasks.lipsync import LipSyncConfig, lipsync_video
video, track, dub, store_dir = sys.argv[1:5]
store = ArtifactStore(store_dir)
out = lipsync_video(store, store.put_file(video, kind="video", meta=media.probe(video).model_dump()),
                    store.put_file(track, kind="face-track"), store.put_file(dub, kind="audio"), LipSyncConfig())
print("SHA", out.sha256)
"""


def _run(script: str, perturb: str, *args: str) -> str:
    env = {**os.environ, "MALLOC_PERTURB_": perturb, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_encoded_bytes_do_not_depend_on_the_heap(testdata, tmp_path):
    clip = testdata / "video" / CLIP
    digests = set()
    for perturb in PERTURB:
        out = tmp_path / f"out_{perturb}.mp4"
        _run(ENCODE, perturb, str(clip), str(out))
        digests.add(hashlib.sha256(out.read_bytes()).hexdigest())
    assert len(digests) == 1, "x264 output changed with the contents of freed heap memory"


def test_the_lipsync_stage_gives_the_same_bytes_whatever_ran_before(testdata, tmp_path):
    import numpy as np
    import soundfile as sf

    from models.face import FaceTrackConfig, track_faces

    clip = testdata / "video" / CLIP
    info = media.probe(clip)
    track = tmp_path / "track.npz"
    track_faces(media.iter_frames(clip), info.fps, FaceTrackConfig()).save(track)
    speech, rate = sf.read(testdata / "speech" / "hi_noa_Jaipur_1830-2020724214042_sent_32.wav", dtype="float32")
    dub = tmp_path / "dub.wav"
    sf.write(dub, np.asarray(speech[: int(info.duration * rate)]), rate)
    digests = {line.split()[1] for perturb in PERTURB[:2]
               for line in _run(LIPSYNC, perturb, str(clip), str(track), str(dub), str(tmp_path / f"store_{perturb}"))
               .splitlines() if line.startswith("SHA ")}
    assert len(digests) == 1


def test_x264_never_runs_its_avx512_code(monkeypatch):
    monkeypatch.setattr(media, "_x264_would_use_avx512", lambda: True)
    assert media.x264_options(18, "veryfast") == {"crf": "18", "preset": "veryfast", "x264-params": "asm=AVX2"}
    monkeypatch.setattr(media, "_x264_would_use_avx512", lambda: False)
    assert media.x264_options(18, "veryfast") == {"crf": "18", "preset": "veryfast"}


def test_the_cpu_check_agrees_with_the_kernel():
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        pytest.skip("no /proc/cpuinfo")
    skx = {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}.issubset(flags)
    assert media._x264_would_use_avx512() == skx
