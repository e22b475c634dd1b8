"""The install's warm-up leaves numba's machine code on disk, so a first dub loads it rather than
compiling it (~40 s of a fresh machine's first dub: librosa's functions and the pitch tracker's
Viterbi)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import librosa

import models.tts.pitch as pitch

REPO = Path(__file__).resolve().parents[1]


def test_warm_up_compiles_the_pitch_tracker_to_disk():
    cache = Path(pitch.__file__).parent / "__pycache__"
    for old in cache.glob("pitch._banded_viterbi-*.nb[ic]"):
        old.unlink()
    out = subprocess.run([sys.executable, "-m", "lipsync_sts.warmup"], cwd=REPO, check=True, capture_output=True,
                         text=True, timeout=600).stdout
    assert list(cache.glob("pitch._banded_viterbi-*.nbi")), "the pitch tracker's Viterbi was not cached"
    assert list(Path(librosa.__file__).parent.rglob("__pycache__/*.nbi")), "librosa's numba functions were not cached"
    assert [line.split(" ")[1] for line in out.splitlines()] == ["librosa", "pitch", "matplotlib"]
