"""Voice matching: a dub voice whose pitch suits the speaker it replaces.

The speaker's pitch is the median F0 of the source speech (librosa's pYIN, voiced frames only;
models/tts/pitch.py decodes it faster).
espeak-ng has male voices (about 65-165 Hz over its pitch setting 0-99) and female variants (about
110-340 Hz); the variant is picked by the source's register, then the pitch setting is searched on
the text actually to be spoken, because the F0 a setting gives depends on the voice and the
language's intonation. What the settings cannot reach is left to :func:`pitch_shift`, applied to
the synthesised clips by the fit_timing stage.
"""

from __future__ import annotations

from math import gcd
from typing import Callable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.signal import resample_poly

from lipsync_sts.timing import time_stretch
from models.tts.espeak import Speech, TtsConfig

# pYIN runs at 16 kHz over 64 ms frames (two periods of a 30 Hz voice) every 20 ms; its search
# range covers deep male to high female and child voices.
_RATE = 16_000
_FRAME = 1024
_HOP = 320
_FMIN, _FMAX = 60.0, 500.0


class VoiceMatchConfig(BaseModel):
    """How the dub voice is matched to the source speaker; part of the match_voice cache key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    # espeak-ng variants for a low (male) and a high (female) register; None = the language's voice.
    low_variant: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]+$")
    high_variant: str | None = Field(default="f2", pattern=r"^[A-Za-z0-9_-]+$")
    register_split_hz: float = Field(default=160.0, gt=50.0, lt=400.0)
    # The search stops once the dub's median F0 is within this of the source's; the acceptance
    # criterion is 15 %, the margin absorbs the faster-rate re-synthesis of some clips.
    tolerance: float = Field(default=0.05, gt=0.0, lt=0.5)
    # Seconds of speech analysed, from the start: enough for a stable median, bounded in cost.
    max_analysis_s: float = Field(default=30.0, gt=1.0)


class VoiceChoice(BaseModel):
    source_f0_hz: float | None
    voice_variant: str | None
    pitch: int
    predicted_f0_hz: float | None  # the dub's median F0 with these settings, measured on the probe text


def median_f0(audio: np.ndarray, sample_rate: int, max_seconds: float | None = None) -> float | None:
    """Median F0 in Hz over the voiced frames of ``audio``; None if fewer than 10 are voiced."""
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if sample_rate != _RATE and len(x):
        g = gcd(sample_rate, _RATE)
        x = resample_poly(x, _RATE // g, sample_rate // g).astype(np.float32)
    if max_seconds is not None:
        x = x[: int(max_seconds * _RATE)]
    if len(x) < _FRAME:
        return None
    from models.tts import pitch  # librosa and numba: ~2 s to import, so only where pitch is tracked

    f0, voiced = pitch.pyin(x, fmin=_FMIN, fmax=_FMAX, sr=_RATE, frame_length=_FRAME, hop_length=_HOP)
    values = f0[voiced & np.isfinite(f0)]
    return float(np.median(values)) if len(values) >= 10 else None


def speech_f0(audio: np.ndarray, sample_rate: int, regions: list[tuple[float, float]],
              max_seconds: float = 30.0) -> float | None:
    """Median F0 of ``audio`` within ``regions`` (seconds): the speaker, not the music between."""
    parts = [audio[int(a * sample_rate): int(b * sample_rate)] for a, b in regions]
    parts = [p for p in parts if len(p)]
    return median_f0(np.concatenate(parts), sample_rate, max_seconds) if parts else None


def choose_voice(source_f0: float | None, probe_text: str, language: str, base: TtsConfig,
                 config: VoiceMatchConfig, synthesize: Callable[[str, str, TtsConfig], Speech]) -> VoiceChoice:
    """The espeak-ng variant and pitch setting whose median F0 on ``probe_text`` is nearest ``source_f0``.

    F0 rises monotonically (roughly exponentially) with the pitch setting, so a secant search in
    log F0 over 0-99 converges in a few syntheses; each probe costs one synthesis and one pYIN.
    """
    if source_f0 is None or not config.enabled:
        return VoiceChoice(source_f0_hz=source_f0, voice_variant=base.voice_variant, pitch=base.pitch,
                           predicted_f0_hz=None)
    variant = config.low_variant if source_f0 < config.register_split_hz else config.high_variant
    measured: dict[int, float] = {}

    def f0_at(pitch: int) -> float | None:
        if pitch not in measured:
            speech = synthesize(probe_text, language, base.model_copy(update={"voice_variant": variant, "pitch": pitch}))
            value = median_f0(speech.audio, speech.sample_rate)
            if value is None:
                return None
            measured[pitch] = value
        return measured[pitch]

    low, high = f0_at(20), f0_at(80)
    if low is None or high is None or high <= low:
        return VoiceChoice(source_f0_hz=source_f0, voice_variant=variant, pitch=base.pitch, predicted_f0_hz=None)
    points = [(20, np.log(low)), (80, np.log(high))]
    target = np.log(source_f0)
    for _ in range(4):
        (p0, y0), (p1, y1) = sorted(points, key=lambda p: abs(p[1] - target))[:2]
        slope = (y1 - y0) / (p1 - p0) if p1 != p0 and y1 != y0 else (np.log(high) - np.log(low)) / 60
        guess = int(np.clip(round(p0 + (target - y0) / slope), 0, 99))
        value = f0_at(guess)
        if value is None:
            break
        points.append((guess, np.log(value)))
        if abs(value / source_f0 - 1) <= config.tolerance or guess in (p0, p1):
            break
    best = min(measured, key=lambda p: abs(np.log(measured[p]) - target))
    return VoiceChoice(source_f0_hz=source_f0, voice_variant=variant, pitch=best, predicted_f0_hz=measured[best])


def shift_ratio(source_f0: float | None, dub_f0: float | None, tolerance: float) -> float:
    """The pitch-shift ratio that brings ``dub_f0`` to ``source_f0``, or 1 if already within tolerance."""
    if not source_f0 or not dub_f0 or abs(dub_f0 / source_f0 - 1) <= tolerance:
        return 1.0
    return float(source_f0 / dub_f0)


def pitch_shift(audio: np.ndarray, ratio: float, sample_rate: int) -> np.ndarray:
    """``audio`` with its pitch multiplied by ``ratio`` and its length kept (to within a sample).

    Resampling moves the pitch (and shortens or lengthens the sound); WSOLA then restores the
    length without touching the pitch again. Formants move with the pitch, which is inaudible for
    the few-percent-to-a-third shifts this is used for.
    """
    x = np.asarray(audio, dtype=np.float32)
    if abs(ratio - 1.0) < 1e-3 or len(x) == 0:
        return x.copy()
    # len(x) / ratio samples played at the same rate: ratio times faster, ratio times higher.
    up = 1000
    down = int(round(up * ratio))
    g = gcd(up, down)
    faster = resample_poly(x, up // g, down // g).astype(np.float32)
    stretched = time_stretch(faster, len(faster) / len(x), sample_rate)
    out = np.zeros(len(x), np.float32)
    out[: min(len(x), len(stretched))] = stretched[: len(x)]
    return out
