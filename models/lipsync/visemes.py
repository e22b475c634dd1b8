"""Mouth-shape trajectory of a dub: per video frame, what the mouth should look like.

A shape is four numbers (SHAPE_FIELDS), each in [0, 1] except rounding:
- ``open``: jaw/lip opening, 0 closed .. 1 the speaker's wide-open vowel;
- ``round``: -1 spread (i, e) .. 0 neutral .. 1 rounded/protruded (u, o, w);
- ``closure``: 1 where the lips must touch (p, b, m), which an opening of "nearly 0" does not
  guarantee: a dub whose p/b/m never close reads as wrong at once;
- ``teeth``: 1 where the upper teeth show on the lower lip or behind a narrow gap (f, v, s, ʃ).

From phonemes (the TTS knows them, espeak-ng reports IPA with times) each phoneme gets a target
and a dominance (Cohen & Massaro's coarticulation model): a frame's shape is the dominance-
weighted mean of the phonemes around it, so a velar or /h/ takes the shape of its vowels while
p/b/m override their neighbours and close fully. Without phonemes the audio gives opening
(loudness), rounding (spectral centroid: rounded vowels are dark) and closures (short dips).
"""

from __future__ import annotations

import unicodedata

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

SHAPE_FIELDS = ("open", "round", "closure", "teeth")
OPEN, ROUND, CLOSURE, TEETH = range(4)
REST = np.array([0.0, 0.0, 0.3, 0.0], np.float32)  # lips together, relaxed: the shape of silence

# (open, round, closure, teeth, dominance) per IPA base symbol; diacritics (ʰ ː ̃ ̪ …) are stripped
# first. Dominance: how strongly the phoneme imposes its shape on its neighbours and itself.
_TABLE: dict[str, tuple[float, float, float, float, float]] = {}


def _add(symbols: str, open_: float, round_: float, closure: float, teeth: float, dominance: float) -> None:
    for s in symbols.split():
        _TABLE[s] = (open_, round_, closure, teeth, dominance)


_add("a aː ɑ ɐ æ ä", 1.00, 0.0, 0, 0.0, 1.0)
_add("ʌ ə ɜ ɚ", 0.60, 0.0, 0, 0.0, 0.6)
_add("ɛ", 0.65, -0.4, 0, 0.3, 0.8)
_add("e", 0.50, -0.6, 0, 0.4, 0.8)
_add("ɪ", 0.35, -0.7, 0, 0.4, 0.8)
_add("i y", 0.30, -1.0, 0, 0.5, 0.9)
_add("ɔ ɒ", 0.75, 0.6, 0, 0.0, 0.9)
_add("o ɵ", 0.55, 0.8, 0, 0.0, 0.9)
_add("ʊ", 0.35, 0.9, 0, 0.0, 0.9)
_add("u ɯ ʉ", 0.25, 1.0, 0, 0.0, 1.0)
_add("p b m ɓ", 0.00, 0.0, 1, 0.0, 4.0)
_add("f v ʋ ɱ", 0.08, -0.2, 0, 1.0, 2.0)
_add("w ʍ", 0.15, 1.0, 0, 0.0, 2.0)
_add("s z ʃ ʒ ɕ ʑ ʂ ʐ", 0.12, -0.3, 0, 1.0, 1.5)
_add("t d n l ɾ r ɹ ɭ ʈ ɖ ɳ ɽ θ ð ɬ", 0.25, -0.2, 0, 0.6, 0.6)
_add("c ɟ ɲ j ʎ ç", 0.22, -0.6, 0, 0.5, 0.7)
_add("k g ɡ ŋ x ɣ q ɢ χ ʁ", 0.30, 0.0, 0, 0.2, 0.25)
_add("h ɦ ʔ ħ ʕ", 0.35, 0.0, 0, 0.0, 0.15)
_PAUSE = (0.0, 0.0, 0.3, 0.0, 3.0)
_UNKNOWN = (0.35, 0.0, 0.0, 0.2, 0.3)


def phoneme_shape(ipa: str) -> tuple[np.ndarray, float]:
    """(shape (4,), dominance) of one espeak-ng IPA phoneme; '_' or '' is a pause (lips at rest).

    Affricates (tʃ, dʒ) and clusters take their last consonant's lips (ʃ); diphthongs their
    first vowel's (the second is a glide the next frames reach anyway)."""
    base = "".join(c for c in unicodedata.normalize("NFD", ipa) if not unicodedata.combining(c))
    base = base.translate({ord(c): None for c in "ʰʱːˑʲʷˠˤ̃ˈˌ-"})
    if base in ("", "_"):
        entry = _PAUSE
    elif base in _TABLE:
        entry = _TABLE[base]
    else:
        vowels = [c for c in base if c in _TABLE and _TABLE[c][CLOSURE] == 0 and _TABLE[c][OPEN] >= 0.25
                  and c not in "jkgɡŋxhɦ"]
        known = [c for c in base if c in _TABLE]
        entry = _TABLE[vowels[0]] if vowels else (_TABLE[known[-1]] if known else _UNKNOWN)
    return np.array(entry[:4], np.float32), float(entry[4])


class VisemeConfig(BaseModel):
    """How phonemes and audio become a per-frame mouth shape (part of the lipsync cache key)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    spread_s: float = Field(0.06, gt=0, description="how far a phoneme's influence reaches past its edges (decay time)")
    sample_hz: float = Field(400.0, gt=50, description="internal time resolution before averaging into frames")
    silence_db: float = Field(35.0, gt=0, description="dub frames this far below its loudest are silent")
    min_silence_s: float = Field(0.12, ge=0, description="shorter gaps in the dub's sound do not close the mouth")
    lead_s: float = Field(0.02, ge=0, description="the lips move this much before the sound they make")


def shapes_from_phonemes(
    phonemes: list[tuple[float, float, str]], fps: float, n_frames: int, config: VisemeConfig = VisemeConfig()
) -> np.ndarray:
    """(n_frames, 4) float32 shapes from (start_s, end_s, ipa) on the video's clock.

    Frame i shows the mouth over [i/fps, (i+1)/fps): the shape is the mean over that window of the
    dominance-blended trajectory, so a 30 ms /p/ inside one frame still closes that frame (its
    dominance outweighs the vowels around it)."""
    dt = 1.0 / config.sample_hz
    t = (np.arange(int(np.ceil(n_frames / fps / dt)) + 1) + 0.5) * dt  # (T,) sample times
    num = np.zeros((t.size, 4), np.float64)
    den = np.zeros(t.size, np.float64)
    # Rest everywhere with a small dominance: where no phoneme reaches, the mouth is closed.
    num += 0.3 * REST
    den += 0.3
    for start, end, ipa in phonemes:
        start, end = float(start) - config.lead_s, float(end) - config.lead_s
        if end <= start:
            continue
        shape, dom = phoneme_shape(ipa)
        lo, hi = np.searchsorted(t, [start - 5 * config.spread_s, end + 5 * config.spread_s])
        tt = t[lo:hi]
        outside = np.maximum(np.maximum(start - tt, tt - end), 0.0)
        # Sharper for strong phonemes: a /p/ closes briefly, it does not pull a whole syllable shut.
        # Gaussian tails: neighbours blend within tens of ms, but the mouth does not open long
        # before the sound (onsets within about a frame).
        w = dom * np.exp(-((outside / (config.spread_s / np.sqrt(max(dom, 0.25)))) ** 2))
        num[lo:hi] += w[:, None] * shape
        den[lo:hi] += w
    traj = num / den[:, None]
    # Closure is binary for the lips: a frame mostly inside a p/b/m is closed, not 60 % closed.
    frame_of = np.minimum((t * fps).astype(np.int64), n_frames - 1)
    sums = np.zeros((n_frames, 4))
    np.add.at(sums, frame_of, traj)
    counts = np.maximum(np.bincount(frame_of, minlength=n_frames), 1)[:, None]
    shapes = sums / counts
    closed = shapes[:, CLOSURE] > 0.5
    shapes[closed, OPEN] = 0.0
    shapes[closed, CLOSURE] = 1.0
    return _clip(shapes)


def phonemes_on_dub_clock(
    segment_phonemes: list[list[tuple[float, float, str]]],
    clip_durations: list[float],
    timing_report: list[dict],
) -> list[tuple[float, float, str]]:
    """Each segment's clip-relative phonemes placed where fit_timing put that clip in the dub.

    The clip may have been stretched (``speed``) or even synthesised again faster, so times are
    mapped proportionally onto [dub_start, dub_end]: both keep the phonemes' order and relative
    lengths."""
    placed: list[tuple[float, float, str]] = []
    for report in timing_report:
        i = int(report["index"])
        if i >= len(segment_phonemes) or i >= len(clip_durations) or clip_durations[i] <= 0:
            continue
        d0, d1 = float(report["dub_start"]), float(report["dub_end"])
        scale = (d1 - d0) / clip_durations[i]
        for start, end, ipa in segment_phonemes[i]:
            placed.append((d0 + float(start) * scale, d0 + float(end) * scale, str(ipa)))
    return sorted(placed)


def shapes_from_audio(audio: np.ndarray, sample_rate: int, fps: float, n_frames: int,
                      config: VisemeConfig = VisemeConfig()) -> np.ndarray:
    """(n_frames, 4) shapes from speech alone (no phonemes known).

    Opening follows loudness (what a jaw does), rounding the spectral centroid of the voiced band
    relative to this speech's own median (rounded vowels lower the second formant), and a short
    dip of loudness inside speech (stop closure) closes the lips."""
    from .embedded import target_opening_from_envelope
    from lipsync_sts import timing

    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    envelope = timing.speech_envelope(audio, sample_rate, fps, n_frames, dynamic_range_db=config.silence_db)
    opening = target_opening_from_envelope(envelope)
    centroid = _centroid_per_frame(audio, sample_rate, fps, n_frames)
    voiced = opening > 0.15
    shapes = np.zeros((n_frames, 4), np.float32)
    shapes[:, OPEN] = opening
    if voiced.sum() > 5:
        med = float(np.median(centroid[voiced]))
        spread = float(np.percentile(np.abs(centroid[voiced] - med), 75)) + 1e-6
        shapes[:, ROUND] = np.where(voiced, np.clip(-(centroid - med) / (2 * spread), -1, 1), 0.0)
    # A stop: loudness drops well below both neighbours for one or two frames.
    env = envelope.astype(np.float64)
    prev = np.maximum(np.r_[env[:1], env[:-1]], np.r_[env[:2], env[:-2]])
    nxt = np.maximum(np.r_[env[1:], env[-1:]], np.r_[env[2:], env[-2:]])
    dip = (env < 0.55 * np.minimum(prev, nxt)) & (np.minimum(prev, nxt) > 0.3)
    shapes[dip, CLOSURE] = 1.0
    shapes[dip, OPEN] = 0.0
    silent = opening <= 0
    shapes[silent] = REST
    return _clip(shapes)


def close_in_silence(shapes: np.ndarray, audio: np.ndarray, sample_rate: int, fps: float,
                     config: VisemeConfig = VisemeConfig()) -> np.ndarray:
    """Shapes with every dub pause longer than ``min_silence_s`` set to rest: phoneme timings
    are trusted for articulation, the dub's own sound for when anything is said at all (a clip
    cut by the video's end, or a TTS pause espeak did not report)."""
    from lipsync_sts import timing
    from scipy.ndimage import binary_opening

    n = len(shapes)
    level = timing.speech_envelope(np.asarray(audio, np.float32), sample_rate, fps, n, dynamic_range_db=config.silence_db)
    silent = level <= 0
    k = max(1, int(round(config.min_silence_s * fps)))
    if k > 1:
        silent = binary_opening(silent, structure=np.ones(k, bool))
    out = shapes.copy()
    out[silent] = REST
    return out


def _centroid_per_frame(audio: np.ndarray, sample_rate: int, fps: float, n_frames: int) -> np.ndarray:
    """(n_frames,) spectral centroid (Hz) of 200-4000 Hz per video frame."""
    hop = sample_rate / fps
    win = int(2 ** np.ceil(np.log2(max(hop, 64))))
    freqs = np.fft.rfftfreq(win, 1.0 / sample_rate)
    band = (freqs >= 200) & (freqs <= 4000)
    out = np.zeros(n_frames, np.float32)
    window = np.hanning(win).astype(np.float32)
    padded = np.pad(audio, (0, win))
    for i in range(n_frames):
        s = int(round(i * hop))
        seg = padded[s:s + win]
        if seg.size < win:
            break
        spec = np.abs(np.fft.rfft(seg * window))[band] ** 2
        total = spec.sum()
        out[i] = float((spec * freqs[band]).sum() / total) if total > 0 else 0.0
    return out


def _clip(shapes: np.ndarray) -> np.ndarray:
    out = np.asarray(shapes, np.float32).copy()
    out[:, OPEN] = np.clip(out[:, OPEN], 0, 1)
    out[:, ROUND] = np.clip(out[:, ROUND], -1, 1)
    out[:, CLOSURE] = np.clip(out[:, CLOSURE], 0, 1)
    out[:, TEETH] = np.clip(out[:, TEETH], 0, 1)
    return out


def shapes_from_envelope(audio: np.ndarray, sample_rate: int, fps: float, n_frames: int,
                         config: VisemeConfig = VisemeConfig()) -> np.ndarray:
    """(n_frames, 4) shapes whose only information is loudness: opening follows the envelope,
    no rounding, no closures. The baseline the reconstruction benchmark compares against (what
    the first lip-sync of this project did)."""
    from .embedded import target_opening_from_envelope
    from lipsync_sts import timing

    envelope = timing.speech_envelope(np.asarray(audio, np.float32).reshape(-1), sample_rate, fps, n_frames,
                                      dynamic_range_db=config.silence_db)
    shapes = np.zeros((n_frames, 4), np.float32)
    shapes[:, OPEN] = target_opening_from_envelope(envelope)
    shapes[shapes[:, OPEN] <= 0] = REST
    return _clip(shapes)


def dub_mouth_shapes(audio: np.ndarray, sample_rate: int, fps: float, n_frames: int,
                     phonemes: list[tuple[float, float, str]] | None = None,
                     config: VisemeConfig = VisemeConfig(), envelope_only: bool = False,
                     speaker=None) -> np.ndarray:
    """(n_frames, 4) mouth shapes for a dub track: from its phonemes (on the dub's clock, see
    phonemes_on_dub_clock) where known, closed wherever the dub is silent; else from the audio,
    through the speaker's own fitted mapping where given (``speaker``: a useful
    speaker_fit.SpeakerFit) or the heuristics (``envelope_only``: from loudness alone, the
    baseline)."""
    if envelope_only:
        return shapes_from_envelope(audio, sample_rate, fps, n_frames, config)
    if phonemes:
        shapes = shapes_from_phonemes(phonemes, fps, n_frames, config)
        return close_in_silence(shapes, audio, sample_rate, fps, config)
    if speaker is not None:
        shapes = speaker.shapes(audio, sample_rate, fps, n_frames)
        return close_in_silence(shapes, audio, sample_rate, fps, config)
    # The loudness follower releases over a couple of frames; a pause must close from its start.
    return close_in_silence(shapes_from_audio(audio, sample_rate, fps, n_frames, config), audio, sample_rate, fps, config)
