"""One-time compilation after install, so that a user's first dub does not pay for it.

librosa compiles its numba functions when first imported and caches the machine code beside its
sources (speaker fitting, Wav2Lip's mels and fit_timing's resampling use it; the pitch tracker no
longer does); the pitch tracker's Viterbi and observation model (models/tts/pitch.py) are
compiled on their first call; and matplotlib builds its font list on first use. On a fresh 2-core
machine these took ~41 s of the first dub's match_voice stage (numba: import 34 s, first call
7 s) and a few seconds of its mix.
``scripts/setup.sh`` runs this once; afterwards each of them loads from its cache.
"""

from __future__ import annotations

import time

import numpy as np


def warm_up() -> dict[str, float]:
    """Compile and cache; returns the seconds each step took (near 0 once cached)."""
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    # The modules the pipeline calls (resampling, mel filters, MFCCs): their numba functions with
    # signatures compile as they are imported.
    import librosa.core.audio
    import librosa.feature
    import librosa.filters  # noqa: F401

    seconds["librosa import"] = time.perf_counter() - start
    start = time.perf_counter()
    from models.tts import pitch

    rate = 16_000
    tone = np.sin(2 * np.pi * 140 * np.arange(rate) / rate).astype(np.float32)
    pitch.pyin(tone, fmin=60.0, fmax=500.0, sr=rate, frame_length=1024, hop_length=320)
    seconds["pitch tracker"] = time.perf_counter() - start
    start = time.perf_counter()
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager

    font_manager.findfont("DejaVu Sans")
    seconds["matplotlib fonts"] = time.perf_counter() - start
    return seconds


def main() -> None:
    for step, took in warm_up().items():
        print(f"warm-up: {step} {took:.1f} s")


if __name__ == "__main__":
    main()
