"""What every TTS backend's output must satisfy before it becomes a segment of the dub."""

from __future__ import annotations

from math import gcd

import numpy as np
from scipy.signal import resample_poly

from lipsync_sts.errors import UserInputError

# Below this peak nothing a listener would hear came out (about -50 dBFS).
AUDIBLE_PEAK = 10 ** (-50 / 20)


def check_text(text: str, language: str) -> str:
    clean = text.replace("\0", " ") if isinstance(text, str) else ""
    if not clean.strip():
        raise UserInputError(f"empty text for a segment to be spoken in {language!r}; remove the segment or give it text")
    if not any(ch.isalnum() for ch in clean):
        raise UserInputError(f"the text {excerpt(clean)} has no letters or digits to speak; remove the segment or give it words")
    return clean


def check_audio(audio: np.ndarray, backend: str, text: str) -> np.ndarray:
    """float32 mono in [-1, 1]; a NaN, empty or silent clip is an error, never a segment."""
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    if audio.size == 0 or not np.isfinite(audio).all():
        raise RuntimeError(f"{backend} returned {'no' if audio.size == 0 else 'non-finite'} audio for {excerpt(text)}")
    if float(np.max(np.abs(audio))) < AUDIBLE_PEAK:
        raise UserInputError(f"{backend} produced no audible speech for the text {excerpt(text)}; give the segment "
                             "words in the target language's script")
    return np.clip(audio, -1.0, 1.0)


def trim(audio: np.ndarray, rate: int, threshold_db: float = -50.0, margin_s: float = 0.01) -> np.ndarray:
    peak = float(np.max(np.abs(audio)))
    loud = np.flatnonzero(np.abs(audio) >= peak * 10 ** (threshold_db / 20))
    margin = int(round(margin_s * rate))
    return audio[max(0, int(loud[0]) - margin):min(len(audio), int(loud[-1]) + 1 + margin)]


def resample(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return audio.astype(np.float32)
    g = gcd(rate, target)
    return resample_poly(audio, target // g, rate // g).astype(np.float32)


def excerpt(text: str, limit: int = 40) -> str:
    one_line = " ".join(text.split())
    return repr(one_line if len(one_line) <= limit else one_line[:limit] + "…")
