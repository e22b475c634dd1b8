"""The finished soundtrack: dub speech over the original audio, ducked, loudness-normalised, limited.

No source-separation weights ship, so the original speech cannot be removed from the music and
ambience under it. Instead the original soundtrack is kept as it is outside speech and turned down
("ducked") wherever the source or the dub speaks, by ``duck_db`` (or dropped entirely). The dub is
set to the loudness of the original speech it replaces, so music keeps its level relative to the
voice, and the whole mix is then brought to an EBU R128 programme loudness with one gain, so what
lies outside speech is the original audio scaled by a constant.

Loudness is ITU-R BS.1770-4 (K-weighting, 400 ms blocks, absolute gate -70 LUFS, relative gate
-10 LU), implemented here in numpy rather than adding pyloudnorm: it is ~50 lines, the test checks
it against the EBU Tech 3341 reference signal and the filter against the standard's 48 kHz
coefficients, and the lock stays as it is.
"""

from __future__ import annotations

from math import gcd, pi, tan
from typing import Iterator, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.signal import lfilter, oaconvolve, resample_poly

_BLOCK_S, _STEP_S = 0.400, 0.100
_ABSOLUTE_GATE_LUFS = -70.0
_RELATIVE_GATE_LU = -10.0
_TRUE_PEAK_OVERSAMPLING = 4
# Long signals are measured in chunks of this many samples (about 5 s at 48 kHz), so the memory of
# the loudness and true-peak measures is that of one chunk, not of the programme (issue 11). The
# 4x resampler's filter reaches 10 input samples either side; chunks are cut with more context.
_CHUNK = 1 << 18
_TRUE_PEAK_CONTEXT = 64
# The limiter looks this far ahead and releases over the same span: long enough not to distort low
# frequencies by modulating within one period, short enough that only the peak itself is turned down.
_LIMITER_SPAN_S = 0.020


class SoundtrackConfig(BaseModel):
    """How the dub and the original soundtrack are mixed; part of the mix stage's cache key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # "duck": the original soundtrack plays, turned down by duck_db under speech; "drop": dub only.
    original: Literal["duck", "drop"] = "duck"
    duck_db: float = Field(default=20.0, ge=0.0, le=90.0)
    # Ducking starts this long before speech and ends this long after, ramped, so it does not pump.
    duck_ramp_s: float = Field(default=0.15, ge=0.0, le=2.0)
    # ASR segment edges are approximate: duck a little beyond them so the original voice cannot leak.
    duck_pad_s: float = Field(default=0.10, ge=0.0, le=2.0)
    target_lufs: float = Field(default=-16.0, ge=-40.0, le=-5.0)
    # R128 allows -1 dBTP; AAC encoding overshoots the PCM peaks by up to ~0.3 dB (measured on the
    # bench clips at 128 kbit/s per channel), so the PCM is limited with that much more headroom.
    true_peak_dbtp: float = Field(default=-1.5, le=0.0)
    sample_rate: int = Field(default=48_000, ge=8000, le=192_000)
    # "source": as many channels as the original (mono or stereo; more are folded to stereo).
    channels: Literal["source", 1, 2] = "source"


def k_weighting(sample_rate: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The two BS.1770 pre-filters (high shelf, then RLB high-pass) as (b, a) for any rate.

    The standard lists coefficients for 48 kHz only; these are the analogue prototypes it was
    derived from, mapped by the bilinear transform, which give the same numbers at 48 kHz.
    """
    k = tan(pi * 1681.974450955533 / sample_rate)
    q = 0.7071752369554196
    vh = 10 ** (3.999843853973347 / 20)
    vb = vh ** 0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf = (np.array([(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0]),
             np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]))
    k = tan(pi * 38.13547087602444 / sample_rate)
    q = 0.5003270373238773
    a0 = 1 + k / q + k * k
    highpass = (np.array([1.0, -2.0, 1.0]), np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]))
    return [shelf, highpass]


def integrated_loudness(audio: np.ndarray, sample_rate: int, scale: float = 1.0,
                        gain: np.ndarray | None = None, regions: list[tuple[float, float]] | None = None) -> float:
    """Programme loudness in LUFS of (n,) or (n, channels) audio; -inf when all of it is gated out.

    Channel weights are 1 (mono, stereo); clips shorter than one 400 ms block count as one block.
    Computed in chunks of ``_CHUNK`` samples (filter state and running energy carried across), so
    memory does not grow with the length of the programme; the result equals the whole-signal one.
    ``scale`` and ``gain`` ((n,) per sample): the loudness of ``audio * scale * gain``, measured
    without making that signal. ``regions`` (seconds, in order, not overlapping): the loudness of
    those stretches joined end to end, measured without joining them (a copy of most of the track).
    """
    x = np.asarray(audio)
    x = x[:, None] if x.ndim == 1 else x
    if regions is not None and gain is not None:
        raise ValueError("integrated_loudness: give gain or regions, not both")
    pieces = ([x] if regions is None else
              [p for p in (x[max(0, int(a * sample_rate)): max(0, int(b * sample_rate))] for a, b in regions)
               if len(p)])
    n, channels = sum(len(p) for p in pieces), x.shape[1]
    block, step = int(round(_BLOCK_S * sample_rate)), int(round(_STEP_S * sample_rate))
    if n == 0:
        return float("-inf")
    if n < block:
        starts, block = np.array([0]), n
    else:
        starts = np.arange(0, n - block + 1, step)
    # Energy sums up to each sample index that a block starts or ends at: power[k] = sum(y[:k] ** 2).
    wanted = np.unique(np.concatenate([starts, starts + block]))
    power = np.zeros((len(wanted), channels))
    filters = k_weighting(sample_rate)
    states = [np.zeros((max(len(a), len(b)) - 1, channels)) for b, a in filters]
    total = np.zeros(channels)
    for a, piece in _chunks(pieces):
        y = np.asarray(piece, dtype=np.float64)
        if scale != 1.0:
            y = y * scale
        if gain is not None:
            y = y * gain[a:a + _CHUNK, None]
        for k, (b_coef, a_coef) in enumerate(filters):
            y, states[k] = lfilter(b_coef, a_coef, y, axis=0, zi=states[k])
        running = np.cumsum(np.concatenate([total[None], y * y]), axis=0)  # running[i] = power[a + i]
        total = running[-1]
        lo, hi = np.searchsorted(wanted, a, "left"), np.searchsorted(wanted, a + len(y), "right")
        power[lo:hi] = running[wanted[lo:hi] - a]
    begin, end = power[np.searchsorted(wanted, starts)], power[np.searchsorted(wanted, starts + block)]
    z = ((end - begin) / block).sum(axis=1)  # weighted channel sum per block
    with np.errstate(divide="ignore"):
        levels = -0.691 + 10 * np.log10(z)
    kept = z[levels > _ABSOLUTE_GATE_LUFS]
    if kept.size == 0:
        return float("-inf")
    relative = -0.691 + 10 * np.log10(kept.mean()) + _RELATIVE_GATE_LU
    gated = kept[-0.691 + 10 * np.log10(kept) > relative]
    return float(-0.691 + 10 * np.log10(gated.mean()))


def _chunks(pieces: list[np.ndarray]) -> Iterator[tuple[int, np.ndarray]]:
    """(offset in the joined signal, up to ``_CHUNK`` samples) over ``pieces`` as if joined."""
    offset = 0
    for piece in pieces:
        for a in range(0, len(piece), _CHUNK):
            yield offset + a, piece[a:a + _CHUNK]
        offset += len(piece)


def _oversampled_peaks(audio: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(a, peaks) per chunk of (n,) or (n, channels) audio starting at sample a: the largest
    |sample| of the 4x oversampled signal (BS.1770-4 annex 2) within each input sample's four
    output samples, over all channels, shape (chunk,). Each chunk is resampled with enough
    context on both sides that the values equal those of resampling the whole signal at once,
    while memory stays that of one chunk."""
    x = np.asarray(audio)
    x = x[:, None] if x.ndim == 1 else x
    n, up = len(x), _TRUE_PEAK_OVERSAMPLING
    for a in range(0, n, _CHUNK):
        b = min(n, a + _CHUNK)
        lo, hi = max(0, a - _TRUE_PEAK_CONTEXT), min(n, b + _TRUE_PEAK_CONTEXT)
        y = resample_poly(np.asarray(x[lo:hi], dtype=np.float64), up, 1, axis=0)[(a - lo) * up:(b - lo) * up]
        yield a, np.abs(y).max(axis=1).reshape(b - a, up).max(axis=1)


def true_peak(audio: np.ndarray) -> float:
    """Linear true peak (4x oversampled, BS.1770-4 annex 2) over all channels."""
    if np.asarray(audio).size == 0:
        return 0.0
    return float(max(float(peaks.max()) for _, peaks in _oversampled_peaks(audio)))


def limit(audio: np.ndarray, sample_rate: int, ceiling_dbtp: float, in_place: bool = False) -> np.ndarray:
    """``audio`` with its true peaks brought to at most ``ceiling_dbtp``; untouched where below.

    A look-ahead limiter: the gain each sample needs is spread over +-20 ms by a running minimum,
    then smoothed with a moving average no wider than that minimum, so the smoothed gain is never
    above what any sample needs and the peak itself is never clipped. ``in_place``: ``audio``
    (float32) is limited and returned itself, which saves a programme-long copy.
    """
    x = np.asarray(audio, dtype=np.float32)
    ceiling = 10 ** (ceiling_dbtp / 20)
    if x.size == 0 or true_peak(x) <= ceiling:
        return x if in_place else x.copy()
    two_d = x if x.ndim == 2 else x[:, None]
    out = two_d if in_place else two_d.copy()
    _apply_limiter(out, limiter_gain(sample_peaks(two_d), 1.0, sample_rate, ceiling_dbtp), ceiling_dbtp)
    return out if x.ndim == 2 else out[:, 0]


def sample_peaks(audio: np.ndarray) -> np.ndarray:
    """(n,) float32: each input sample's true peak (over its four oversampled values, all channels)."""
    x = np.asarray(audio)
    over = np.empty(len(x), np.float32)
    for a, peaks in _oversampled_peaks(x):
        over[a:a + len(peaks)] = peaks
    return over


def limiter_gain(peaks: np.ndarray, scale: float, sample_rate: int, ceiling_dbtp: float) -> np.ndarray | None:
    """(n,) float32: the gain :func:`limit` applies to a signal of :func:`sample_peaks` ``peaks``
    scaled by ``scale`` (oversampling is linear, so a scaled signal's peaks are scaled too); None
    where no sample needs it. The per-sample arrays, computed in place, are the limiter's memory."""
    ceiling = np.float32(10 ** (ceiling_dbtp / 20))
    if peaks.size == 0 or float(peaks.max()) * scale <= ceiling:
        return None
    needed = peaks * np.float32(scale)
    np.minimum(np.divide(ceiling, np.maximum(needed, 1e-12, out=needed), out=needed), 1.0, out=needed)
    span = max(1, int(round(_LIMITER_SPAN_S * sample_rate)))
    # scipy's 1-D filters go through a line buffer, so each may write over its own input.
    minimum_filter1d(needed, 2 * span + 1, mode="nearest", output=needed)
    return uniform_filter1d(needed, span | 1, mode="nearest", output=needed)


def _apply_limiter(out: np.ndarray, gain: np.ndarray | None, ceiling_dbtp: float) -> None:
    """``out`` (n, channels) float32 times ``gain``, in place."""
    if gain is None:
        return
    for a in range(0, len(out), _CHUNK):
        out[a:a + _CHUNK] *= gain[a:a + _CHUNK, None]
    # Interpolation between samples whose gain changed can still poke over by a hair.
    ceiling = 10 ** (ceiling_dbtp / 20)
    peak = true_peak(out)
    if peak > ceiling:
        out *= np.float32(ceiling / peak)


def duck_gain(n_samples: int, sample_rate: int, regions: list[tuple[float, float]], depth_db: float,
              ramp_s: float, pad_s: float) -> np.ndarray:
    """Per-sample gain (n_samples,) float32 for the original: 1 away from ``regions``, ``-depth_db``
    inside them.

    The full depth is reached ``pad_s`` before a region starts and held until ``pad_s`` after it
    ends; the ramps (raised cosine, ``ramp_s`` long) lie outside that, so speech never overlaps a ramp.
    Made ``_CHUNK`` samples at a time, each chunk's region mask drawn with the ramp's reach of context
    either side and smoothed: the gain is the only programme-long array (115 MB for 10 min at 48 kHz).
    """
    spans = [(max(0, int(round((start - pad_s - ramp_s / 2) * sample_rate))),
              min(n_samples, int(round((end + pad_s + ramp_s / 2) * sample_rate)))) for start, end in regions]
    spans = [(a, b) for a, b in spans if b > a]
    width = int(round(ramp_s * sample_rate))
    window = np.hanning(width + 2)[1:-1] if width > 1 and spans else np.ones(1)
    kernel = window / window.sum()
    reach, shift = len(kernel), (len(kernel) - 1) // 2  # "same" is "full" from ``shift`` on
    gain = np.empty(n_samples, np.float32)
    for a in range(0, n_samples, _CHUNK):
        b = min(n_samples, a + _CHUNK)
        lo, hi = max(0, a - reach), min(n_samples, b + reach)
        mask = np.zeros(hi - lo)
        for start, end in spans:
            if start < hi and end > lo:
                mask[max(start, lo) - lo:min(end, hi) - lo] = 1.0
        # Convolved in float64 (the ramps stay monotonic), kept as float32.
        smooth = oaconvolve(mask, kernel, mode="full")[shift:] if reach > 1 else mask
        gain[a:b] = smooth[a - lo:b - lo]
    floor = 10 ** (-depth_db / 20)
    # 1 - (1 - floor) * clip(mask, 0, 1), in place.
    np.clip(gain, 0.0, 1.0, out=gain)
    gain *= np.float32(1.0 - floor)
    return np.subtract(np.float32(1.0), gain, out=gain)


def to_layout(audio: np.ndarray, rate: int, target_rate: int, n_samples: int, channels: int) -> np.ndarray:
    """(n_samples, channels) float32 at ``target_rate``: resampled, channels folded or copied,
    zero-padded or cut at the end to exactly ``n_samples``."""
    x = np.asarray(audio, dtype=np.float32)
    x = x[:, None] if x.ndim == 1 else x
    if rate != target_rate and len(x):
        g = gcd(rate, target_rate)
        x = resample_poly(x, target_rate // g, rate // g, axis=0).astype(np.float32)
    if x.shape[1] != channels:
        # Mono to stereo copies (centre); anything to mono averages; 5.1 and such fold to L/R pairs.
        x = (np.repeat(x, channels, axis=1) if x.shape[1] == 1
             else x.mean(axis=1, keepdims=True) if channels == 1
             else np.stack([x[:, 0::2].mean(axis=1), x[:, 1::2].mean(axis=1)], axis=1))
    out = np.zeros((n_samples, channels), np.float32)
    out[: min(n_samples, len(x))] = x[:n_samples]
    return out


def output_channels(config: SoundtrackConfig, source_channels: int | None) -> int:
    if config.channels != "source":
        return int(config.channels)
    return 2 if (source_channels or 1) >= 2 else 1


def mix(dub: np.ndarray, original: np.ndarray | None, sample_rate: int, speech: list[tuple[float, float]],
        config: SoundtrackConfig) -> tuple[np.ndarray, dict]:
    """The final soundtrack from the dub speech (n,) and the original (n, channels) or None.

    Both are at ``sample_rate`` and ``n`` samples long already (see :func:`to_layout`); ``speech``
    is where the source or the dub speaks, in seconds. Returns (n, channels) float32 and the
    numbers a report needs: loudness before and after, gains, the limiter's work.
    """
    original = None if original is None else np.array(original, dtype=np.float32)  # the caller's stays as it is
    return mix_tracks([dub, original], sample_rate, speech, config)


def mix_tracks(tracks: list, sample_rate: int, speech: list[tuple[float, float]],
               config: SoundtrackConfig) -> tuple[np.ndarray, dict]:
    """:func:`mix` of ``tracks = [dub, original]``, taking them over: the list is emptied and the
    original's float32 buffer becomes the mix. A caller that keeps no other reference so holds one
    programme-long stereo buffer and a few mono ones; 10 minutes of 48 kHz stereo peak at ~+0.5 GB
    instead of ~+1 GB (issue 11)."""
    dub = np.asarray(tracks[0], dtype=np.float32)
    original = tracks[1]
    tracks.clear()
    channels = original.shape[1] if original is not None else 1
    had_original = original is not None
    keep_original = had_original and config.original == "duck"
    speech = merged_regions(speech)
    # The dub plays in every channel, and BS.1770 sums channels: measure it as it will be heard.
    dub_lufs = integrated_loudness(dub, sample_rate) + 10 * np.log10(channels)
    source_speech_lufs = (integrated_loudness(original, sample_rate, regions=speech)
                          if keep_original else float("-inf"))
    # The dub speaks at the level of the voice it replaces; without one, at the target directly.
    voice_lufs = source_speech_lufs if np.isfinite(source_speech_lufs) else config.target_lufs
    dub_gain = np.float32(10 ** ((voice_lufs - dub_lufs) / 20) if np.isfinite(dub_lufs) else 1.0)
    n = len(dub)
    # Mixed in place into the original's buffer, in chunks: no programme-long temporary.
    out = np.asarray(original, dtype=np.float32) if keep_original else np.zeros((n, channels), np.float32)
    ducking = (duck_gain(n, sample_rate, speech, config.duck_db, config.duck_ramp_s, config.duck_pad_s)
               if keep_original else None)
    del original
    for a in range(0, n, _CHUNK):
        if ducking is not None:
            out[a:a + _CHUNK] *= ducking[a:a + _CHUNK, None]
        out[a:a + _CHUNK] += (dub[a:a + _CHUNK] * dub_gain)[:, None]
    del ducking, dub
    mixed_lufs = integrated_loudness(out, sample_rate)
    programme_gain = 10 ** ((config.target_lufs - mixed_lufs) / 20) if np.isfinite(mixed_lufs) else 1.0
    # The limiter's gain is found for the mix at the programme gain, and the loudness it would give
    # is measured chunk by chunk: only the mix itself is held at programme length (issue 11).
    peaks = sample_peaks(out)
    gain = limiter_gain(peaks, programme_gain, sample_rate, config.true_peak_dbtp)
    # Limiting peaky speech lowers its loudness; a few rounds of make-up gain and limiting again
    # reach the target (each round changes less, as only the peaks are held).
    for _ in range(3):
        reached = integrated_loudness(out, sample_rate, scale=programme_gain, gain=gain)
        if not np.isfinite(reached) or abs(reached - config.target_lufs) < 0.1:
            break
        programme_gain *= 10 ** ((config.target_lufs - reached) / 20)
        del gain
        gain = limiter_gain(peaks, programme_gain, sample_rate, config.true_peak_dbtp)
    del peaks
    out *= np.float32(programme_gain)
    # Where the limiter turned the mix down (its gain below 1 on a sample that is not silent).
    limited_samples = 0 if gain is None else sum(
        int(((gain[a:a + _CHUNK] < 1 - 1e-6) & (np.abs(out[a:a + _CHUNK]).max(axis=1) > 1e-6)).sum())
        for a in range(0, len(out), _CHUNK))
    _apply_limiter(out, gain, config.true_peak_dbtp)
    del gain
    limited = out
    stats = {
        "lufs": _rounded(integrated_loudness(limited, sample_rate)),
        "true_peak_dbtp": _rounded(20 * np.log10(max(true_peak(limited), 1e-12))),
        "dub_gain_db": _rounded(20 * np.log10(dub_gain)),
        "programme_gain_db": _rounded(20 * np.log10(programme_gain)),
        "source_speech_lufs": _rounded(source_speech_lufs),
        "original": "ducked" if keep_original else ("dropped" if had_original else "none"),
        "duck_db": config.duck_db if keep_original else None,
        "limited_s": round(float(limited_samples) / sample_rate, 3),
    }
    return limited, stats


def merged_regions(regions: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """``regions`` (seconds) in order with overlapping or touching ones joined: each instant once."""
    merged: list[tuple[float, float]] = []
    for a, b in sorted((float(a), float(b)) for a, b in regions if b > a):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _rounded(value: float) -> float | None:
    return round(float(value), 2) if np.isfinite(value) else None
