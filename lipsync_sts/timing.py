"""Fit per-segment dubbed speech into the time slots of the original speech.

Translated speech rarely has the length of the original. Each clip starts where its source segment
started; a clip that is too long first takes the silence before the next segment, then is sped up
(pitch kept, at most ``max_speedup``), then is synthesised again at a faster speaking rate where the
TTS has one (:func:`fit_with_resynthesis`, at most ``max_rate_factor``), and only then runs into
the next slot, which pushes the next clip back rather than speaking over it. A clip is never cut
short, except by the end of the video, and both cases are reported. Speed changes are smoothed
across neighbouring segments because a voice that jumps between fast and normal from one sentence
to the next sounds wrong.

Not implemented: slowing the video down (repeating frames) for speech that still does not fit; the
lip-sync and mux stages assume the output has the input's frames. Such speech overlaps instead, and
the report says so.
"""

from __future__ import annotations

from math import gcd
from typing import Callable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.signal import resample_poly

from lipsync_sts.errors import UserInputError
from lipsync_sts.segments import Segment

# Clip edges are faded so that a waveform cut by silence trimming or by the video end cannot click.
_EDGE_FADE_S = 0.005
# WSOLA: 30 ms frames (several pitch periods even for low voices), half overlapped, and a search of
# +-10 ms (more than one pitch period) for the best-aligned continuation.
_WSOLA_FRAME_S = 0.030
_WSOLA_TOLERANCE_S = 0.010


class TimingConfig(BaseModel):
    """How dubbed speech is fitted to the source timing; part of the fit_timing cache key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_speedup: float = Field(default=1.25, ge=1.0, le=2.0)
    # Speech shorter than its slot is slowed to fill it, but not below this speed.
    min_speed: float = Field(default=0.9, gt=0.5, le=1.0)
    # Output rate of the dub track; None keeps the rate of the clips.
    sample_rate: int | None = Field(default=None, ge=8000, le=192000)
    # Segments closer than this form one stretch of speech whose speeds are smoothed together.
    smoothing_gap_s: float = Field(default=1.0, ge=0.0)
    peak_dbfs: float = Field(default=-1.0, le=0.0)
    # After stretching to max_speedup, speech that still overflows is synthesised again up to this
    # much faster (espeak-ng words per minute); 1 turns that step off.
    max_rate_factor: float = Field(default=1.3, ge=1.0, le=3.0)
    # A dub starting later than its slot by more than this is reported as moved.
    moved_after_s: float = Field(default=0.1, ge=0.0)

    @model_validator(mode="after")
    def _speeds_bracket_one(self) -> "TimingConfig":
        if not self.min_speed <= 1.0 <= self.max_speedup:
            raise ValueError("min_speed must be <= 1 <= max_speedup")
        return self


def fit_to_slots(
    clips: list[np.ndarray],
    sample_rate: int,
    slots: list[Segment],
    total_duration: float,
    config: TimingConfig,
) -> tuple[np.ndarray, list[dict]]:
    """Place ``clips[i]`` (mono, at ``sample_rate``) in ``slots[i]`` of a video ``total_duration`` long.

    Returns the dub track (float32, mono, at ``config.sample_rate`` or ``sample_rate``, exactly
    ``round(total_duration * rate)`` samples, peaks at most ``config.peak_dbfs``) and one report
    per segment, in the order given: ``index, slot_start, slot_end, dub_start, dub_end,
    dub_duration, speed, shift_s, moved, gap_used_s, overlap_s, truncated_s`` (seconds; ``speed``
    > 1 is faster than synthesised; ``shift_s`` how much later than its slot the dub starts
    (negative: earlier, which only the last dub does, rather than be cut by the video end) and
    ``moved`` whether that is more than ``config.moved_after_s`` either way; ``gap_used_s`` how much of the
    silence after the slot it took; ``overlap_s`` how far it runs past the next slot's start;
    ``truncated_s`` how much of it the end of the video cut off).
    """
    _check_inputs(clips, sample_rate, slots, total_duration)
    rate = config.sample_rate or sample_rate
    clips = [_resample(np.asarray(c, dtype=np.float32), sample_rate, rate) for c in clips]
    n_total = int(round(total_duration * rate))

    order = sorted(range(len(slots)), key=lambda i: (slots[i].start, i))
    # Where each slot's room ends: the next slot's start, or the end of the video for the last one.
    room_end = {
        i: (slots[order[k + 1]].start if k + 1 < len(order) else total_duration) for k, i in enumerate(order)
    }
    wanted = {i: _wanted_speed(len(clips[i]) / rate, slots[i], room_end[i], config) for i in order}
    speeds = _smooth_speeds(order, wanted, slots, config)

    track = np.zeros(n_total, dtype=np.float32)
    reports: dict[int, dict] = {}
    cursor = 0  # end of the previous dub, in samples: dubs never speak over each other
    for i in order:
        clip, slot = clips[i], slots[i]
        start = max(int(round(slot.start * rate)), cursor)
        room = int(round(room_end[i] * rate)) - start
        speed = speeds[i]
        if len(clip) / speed > room:
            # Pushed back by the previous dub, or the smoothing chose too gentle a speed.
            speed = min(config.max_speedup, len(clip) / room) if room > 0 else config.max_speedup
        dub = _fade_edges(time_stretch(clip, speed, rate), rate)
        if start + len(dub) > n_total:
            # Speech the video end would cut starts earlier instead, into the pause before its slot
            # (never over the previous dub): losing words is worse than an early start.
            start = max(cursor, min(start, n_total - len(dub)))
        end = start + len(dub)
        _add(track, dub, start, rate)
        cursor = end
        shift = start / rate - slot.start
        reports[i] = {
            "index": i,
            "slot_start": slot.start,
            "slot_end": slot.end,
            "dub_start": start / rate,
            "dub_end": end / rate,
            "dub_duration": len(dub) / rate,
            "speed": len(clip) / len(dub) if len(dub) else 1.0,
            "shift_s": shift,
            "moved": abs(shift) > config.moved_after_s,
            "gap_used_s": max(0.0, min(end / rate, room_end[i]) - max(slot.end, start / rate)),
            # The last slot has no next slot to overlap; running past the video end is truncation.
            "overlap_s": max(0, end - int(round(room_end[i] * rate))) / rate if i != order[-1] else 0.0,
            "truncated_s": max(0, end - n_total) / rate,
        }
    return _limit_peaks(track, config.peak_dbfs), [reports[i] for i in range(len(slots))]


def fit_with_resynthesis(
    clips: list[np.ndarray],
    sample_rate: int,
    slots: list[Segment],
    total_duration: float,
    config: TimingConfig,
    resynthesize: Callable[[int, float], np.ndarray] | None = None,
) -> tuple[np.ndarray, list[dict], list[np.ndarray]]:
    """:func:`fit_to_slots`, with a faster speaking rate for speech the stretch cap cannot fit.

    ``resynthesize(i, factor)`` returns segment ``i`` spoken ``factor`` times faster than the
    original clip was (mono, at ``sample_rate``). It is asked only for clips that do not fit the room
    from their own slot's start to the next slot even at ``max_speedup``; a clip that overflows only
    because an earlier one pushed it is left for the next round, after that earlier one was fixed.
    Returns the track, the reports (each with ``rate_factor``) and the clips finally used.
    """
    clips = [np.asarray(c, dtype=np.float32) for c in clips]
    factors = [1.0] * len(clips)
    _check_inputs(clips, sample_rate, slots, total_duration)
    order = sorted(range(len(slots)), key=lambda i: (slots[i].start, i))
    room_end = {i: (slots[order[k + 1]].start if k + 1 < len(order) else total_duration)
                for k, i in enumerate(order)}
    for attempt in range(3):
        track, reports = fit_to_slots(clips, sample_rate, slots, total_duration, config)
        if resynthesize is None or config.max_rate_factor <= 1.0 or attempt == 2:
            break
        wanted = {}
        for r in reports:
            i = r["index"]
            if r["overlap_s"] <= 1e-3 and r["truncated_s"] <= 0 or factors[i] >= config.max_rate_factor - 1e-9:
                continue
            room = room_end[i] - slots[i].start
            needed = len(clips[i]) / sample_rate / room / config.max_speedup if room > 0 else np.inf
            if needed > 1.0:
                # A little more than the arithmetic asks: pauses do not shrink with the speaking rate.
                wanted[i] = float(min(config.max_rate_factor, factors[i] * needed * 1.05))
        if not wanted:
            break
        for i, factor in wanted.items():
            clips[i] = np.asarray(resynthesize(i, factor), dtype=np.float32)
            factors[i] = factor
    for r in reports:
        r["rate_factor"] = factors[r["index"]]
    return track, reports, clips


def time_stretch(audio: np.ndarray, speed: float, sample_rate: int) -> np.ndarray:
    """``audio`` played ``speed`` times faster with its pitch kept (WSOLA).

    WSOLA copies whole waveform frames, each placed where it best continues the previous one,
    so speech keeps its voice quality; a phase vocoder at these factors sounds phasey. The result
    has ``ceil(len(audio) / speed)`` samples.
    """
    audio = np.asarray(audio, dtype=np.float32)
    # Rounded up, so the speed actually applied never exceeds the one asked for (the cap).
    n_out = int(np.ceil(len(audio) / speed - 1e-9))
    if abs(speed - 1.0) < 1e-6 or len(audio) == 0:
        return audio.copy()
    frame = 2 * max(1, int(round(_WSOLA_FRAME_S * sample_rate / 2)))
    hop_out = frame // 2
    hop_in = hop_out * speed
    tol = int(round(_WSOLA_TOLERANCE_S * sample_rate))
    n_frames = n_out // hop_out + 2
    padded = np.concatenate([
        np.zeros(tol, np.float32), audio, np.zeros(int(n_frames * hop_in) + frame + 2 * tol + hop_out, np.float32),
    ])
    window = np.hanning(frame + 1)[:frame].astype(np.float32)  # periodic Hann: halves sum to 1
    out = np.zeros(n_frames * hop_out + frame, np.float64)
    weight = np.zeros_like(out)
    previous = tol
    for k in range(n_frames):
        nominal = int(round(k * hop_in)) + tol
        if k == 0:
            position = nominal
        else:
            # The frame that would naturally follow the previous one, and the nearby frame most like it.
            natural = padded[previous + hop_out: previous + hop_out + frame]
            region = padded[nominal - tol: nominal + tol + frame]
            position = nominal - tol + int(np.argmax(np.correlate(region, natural, mode="valid")))
        out[k * hop_out: k * hop_out + frame] += window * padded[position: position + frame]
        weight[k * hop_out: k * hop_out + frame] += window
        previous = position
    out, weight = out[:n_out], weight[:n_out]
    return np.where(weight > 1e-3, out / np.maximum(weight, 1e-3), 0.0).astype(np.float32)


def speech_envelope(
    track: np.ndarray, sample_rate: int, fps: float, n_frames: int, dynamic_range_db: float = 40.0
) -> np.ndarray:
    """Loudness of ``track`` per video frame, in [0, 1]: 1 at the loudest frame, 0 in silence.

    Frame ``i`` covers the audio from ``i / fps`` to ``(i + 1) / fps``. The scale is logarithmic
    over ``dynamic_range_db`` below the loudest frame, so quiet consonants still open the mouth a
    little; anything under -60 dBFS counts as silence whatever the track's level.
    """
    track = np.asarray(track, dtype=np.float64)
    bounds = np.clip(np.round(np.arange(n_frames + 1) * sample_rate / fps).astype(np.int64), 0, len(track))
    energy_sum = np.concatenate([[0.0], np.cumsum(track**2)])
    lengths = np.maximum(np.diff(bounds), 1)
    power = (energy_sum[bounds[1:]] - energy_sum[bounds[:-1]]) / lengths
    audible = power > 10 ** (-60 / 10)
    if not audible.any():
        return np.zeros(n_frames, dtype=np.float32)
    level = 10 * np.log10(np.maximum(power, 1e-20))
    top = level[audible].max()
    envelope = np.clip((level - (top - dynamic_range_db)) / dynamic_range_db, 0.0, 1.0)
    return np.where(audible, envelope, 0.0).astype(np.float32)


def _check_inputs(clips: list[np.ndarray], sample_rate: int, slots: list[Segment], total_duration: float) -> None:
    if len(clips) != len(slots):
        raise ValueError(f"{len(clips)} clips for {len(slots)} slots")
    if sample_rate <= 0 or not total_duration > 0:
        raise ValueError(f"need a positive sample rate and duration, got {sample_rate} Hz, {total_duration} s")
    for i, (clip, slot) in enumerate(zip(clips, slots)):
        if np.ndim(clip) != 1:
            raise ValueError(f"clip {i} is not mono (shape {np.shape(clip)})")
        if not np.all(np.isfinite(clip)):
            raise ValueError(f"clip {i} holds NaN or infinite samples")
        if slot.start < 0 or slot.end < slot.start:
            raise UserInputError(
                f"segment {i + 1} runs from {slot.start:.3f} s to {slot.end:.3f} s; "
                "fix its timing so that it starts at or after 0 and ends after it starts"
            )


def _wanted_speed(duration: float, slot: Segment, room_end: float, config: TimingConfig) -> float:
    """The speed this clip asks for on its own, before smoothing."""
    room = room_end - slot.start
    if duration == 0:
        return 1.0
    if duration < slot.duration:
        return max(duration / slot.duration, config.min_speed)
    if duration <= room:
        return 1.0
    return min(duration / room, config.max_speedup) if room > 0 else config.max_speedup


def _smooth_speeds(order: list[int], wanted: dict[int, float], slots: list[Segment],
                   config: TimingConfig) -> dict[int, float]:
    """Pull each speed towards its neighbours' within one stretch of speech.

    Only ever upwards: smoothing must not make a clip slower than it needs to be to fit.
    """
    smoothed = {}
    for k, i in enumerate(order):
        total, weight = 2 * wanted[i], 2.0
        for j in (k - 1, k + 1):
            if 0 <= j < len(order):
                first, second = sorted((order[j], i), key=lambda n: slots[n].start)
                if slots[second].start - slots[first].end < config.smoothing_gap_s:
                    total, weight = total + wanted[order[j]], weight + 1
        smoothed[i] = min(config.max_speedup, max(wanted[i], total / weight))
    return smoothed


def _fade_edges(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    n = min(len(audio) // 2, int(round(_EDGE_FADE_S * sample_rate)))
    if n == 0:
        return audio
    ramp = np.sin(np.linspace(0, np.pi / 2, n, dtype=np.float32)) ** 2
    audio = audio.copy()
    audio[:n] *= ramp
    audio[-n:] *= ramp[::-1]
    return audio


def _add(track: np.ndarray, dub: np.ndarray, start: int, sample_rate: int) -> None:
    """Mix ``dub`` into ``track`` at ``start``, fading out whatever the track's end cuts off."""
    kept = dub[: max(0, len(track) - start)]
    if len(kept) < len(dub) and len(kept):
        kept = kept.copy()
        n = min(len(kept), int(round(_EDGE_FADE_S * 4 * sample_rate)))
        kept[-n:] *= np.cos(np.linspace(0, np.pi / 2, n, dtype=np.float32)) ** 2
    track[start: start + len(kept)] += kept


def _limit_peaks(track: np.ndarray, peak_dbfs: float) -> np.ndarray:
    # One gain for the whole track: TTS level is even, so this never pumps like a fast limiter would.
    ceiling = np.float32(10 ** (peak_dbfs / 20))
    peak = float(np.max(np.abs(track))) if track.size else 0.0
    if peak > ceiling:
        track = track * np.float32(ceiling / peak)
    return np.clip(track, -ceiling, ceiling).astype(np.float32)


def _resample(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target or len(audio) == 0:
        return audio
    g = gcd(rate, target)
    return resample_poly(audio, target // g, rate // g).astype(np.float32)
