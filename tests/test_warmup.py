"""The install's warm-up leaves numba's machine code on disk, so a first dub loads it rather than
compiling it (~40 s of a fresh machine's first dub: librosa's functions and the pitch tracker's
Viterbi and observation model)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import librosa

import models.tts.pitch as pitch

REPO = Path(__file__).resolve().parents[1]


def test_warm_up_compiles_the_pitch_tracker_to_disk():
    cache = Path(pitch.__file__).parent / "__pycache__"
    compiled = ("_banded_viterbi", "_trough_probs")
    for name in compiled:
        for old in cache.glob(f"pitch.{name}-*.nb[ic]"):
            old.unlink()
    out = subprocess.run([sys.executable, "-m", "lipsync_sts.warmup"], cwd=REPO, check=True, capture_output=True,
                         text=True, timeout=600).stdout
    for name in compiled:
        assert list(cache.glob(f"pitch.{name}-*.nbi")), f"the pitch tracker's {name} was not cached"
    assert list(Path(librosa.__file__).parent.rglob("__pycache__/*.nbi")), "librosa's numba functions were not cached"
    assert [line.split(" ")[1] for line in out.splitlines()] == ["librosa", "pitch", "matplotlib"]
