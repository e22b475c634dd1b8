"""Speech from text with espeak-ng, the TTS that ships for every Indian language it knows.

The ``espeak-ng`` program writes the audio; libespeak-ng (see :mod:`models.tts.espeak_phonemes`)
reports the phonemes of the same utterance with their times, which the lip-sync stage turns into
mouth shapes. The text reaches the program through stdin and every option is a separate argument,
so no character in the text can act as an option or a shell command.
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf
from pydantic import BaseModel, ConfigDict, Field
from scipy.signal import resample_poly

from lipsync_sts.errors import UserInputError
from lipsync_sts.languages import LANGUAGES, get_language
from models.tts.espeak_phonemes import EspeakLibraryError, Phoneme, phoneme_timings

log = logging.getLogger(__name__)

# Below this peak the program produced nothing a listener would hear (about -50 dBFS).
_AUDIBLE_PEAK = 10 ** (-50 / 20)
# Trimming keeps a little room around the speech so that soft onsets and releases survive.
_TRIM_THRESHOLD_DB = -50.0
_TRIM_MARGIN_S = 0.01
_PROGRAM_TIMEOUT_S = 120


class TtsConfig(BaseModel):
    """How speech is synthesised; part of the synthesize stage's cache key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["espeak-ng", "gtts", "vits", "festival"] = "espeak-ng"
    # An espeak-ng variant (espeak-ng --voices=variant), e.g. "f2" or "m3"; None = the voice itself.
    # The flow sets it (with pitch) from the source speaker's F0: models.tts.voice / tasks.match_voice.
    voice_variant: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]+$")
    rate: int = Field(default=160, ge=80, le=450, description="words per minute (espeak-ng -s); other "
                                                              "backends scale their speed by rate/160")
    pitch: int = Field(default=50, ge=0, le=99, description="espeak-ng -p")
    sample_rate: int = Field(default=22050, ge=8000, le=192000)
    # vits: a model folder (VitsModel, e.g. facebook/mms-tts-hin saved locally) or a hub id / known name.
    model: str | None = None
    # festival: a voice name (e.g. "nsk_hi"); None = the first installed voice for the language.
    festival_voice: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_]+$")
    seed: int = 0  # VITS samples noise: a fixed seed keeps one text -> one clip


@dataclass(frozen=True)
class Speech:
    """Synthesised speech, trimmed of leading and trailing silence.

    ``phonemes`` are IPA symbols (``_`` = pause) with times in seconds within ``audio``; empty when
    the timings could not be obtained (a warning is logged then).
    """

    audio: np.ndarray  # float32, mono, in [-1, 1]
    sample_rate: int
    phonemes: list[Phoneme] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate


def synthesize(text: str, language: str, config: TtsConfig, with_phonemes: bool = True) -> Speech:
    """Speak ``text`` in ``language`` (an ISO code from :mod:`lipsync_sts.languages`).
    ``with_phonemes=False``: the audio only, without the phoneme process (~0.1 s a call), for
    speech that is measured rather than lip-synced (voice matching's pitch probes)."""
    voice = _voice_name(language, config)
    # A NUL would end the text early in the library but not in the program; nobody means one.
    clean = text.replace("\0", " ") if isinstance(text, str) else ""
    if not clean.strip():
        raise UserInputError(
            f"empty text for a segment to be spoken in {language!r}; remove the segment or give it text"
        )
    if not any(ch.isalnum() for ch in clean):
        # espeak-ng would read a lone mark by its name ("।" comes out as "purnaviram").
        raise UserInputError(
            f"the text {_excerpt(clean)} has no letters or digits to speak; remove the segment or give it words"
        )

    native, native_rate = _run_program(clean, voice, config)
    peak = float(np.max(np.abs(native))) if native.size else 0.0
    if peak < _AUDIBLE_PEAK:
        raise UserInputError(
            f"espeak-ng produced no audible speech for the text {_excerpt(clean)}; "
            "give the segment words in the target language's script"
        )
    first, last = _speech_bounds(native, native_rate, peak)
    phonemes = _phonemes(clean, voice, config, len(native), native_rate) if with_phonemes else []
    audio = native[first:last]
    phonemes = _shift_and_clip(phonemes, first / native_rate, len(audio) / native_rate)

    audio = _resample(audio, native_rate, config.sample_rate)
    return Speech(audio=np.clip(audio, -1.0, 1.0).astype(np.float32), sample_rate=config.sample_rate,
                  phonemes=phonemes)


def espeak_languages() -> list[str]:
    """Codes of the pipeline's languages that the installed espeak-ng can speak."""
    installed = _installed_voices()
    return sorted(code for code, lang in LANGUAGES.items() if lang.espeak and lang.espeak in installed)


def _voice_name(language: str, config: TtsConfig) -> str:
    lang = get_language(language)
    if lang.espeak is None or lang.espeak not in _installed_voices():
        available = ", ".join(f"{c} ({LANGUAGES[c].name})" for c in espeak_languages())
        raise UserInputError(
            f"espeak-ng has no voice for {lang.name} ({lang.code}); choose a target language it can "
            f"speak: {available}"
        )
    if config.voice_variant is None:
        return lang.espeak
    if config.voice_variant not in _installed_variants():
        raise UserInputError(
            f"espeak-ng has no voice variant {config.voice_variant!r}; choose one of "
            f"{', '.join(sorted(_installed_variants()))}"
        )
    return f"{lang.espeak}+{config.voice_variant}"


def _program() -> str:
    path = shutil.which("espeak-ng")
    if path is None:
        raise UserInputError("the espeak-ng program is not installed; install it (apt-get install espeak-ng)")
    return path


@functools.lru_cache(maxsize=1)
def _installed_voices() -> frozenset[str]:
    # Columns: Pty Language Age/Gender VoiceName File Other-languages; the voice is selected by Language.
    out = subprocess.run([_program(), "--voices"], capture_output=True, text=True, check=True).stdout
    return frozenset(line.split()[1] for line in out.splitlines()[1:] if len(line.split()) > 1)


@functools.lru_cache(maxsize=1)
def _installed_variants() -> frozenset[str]:
    # espeak-ng silently ignores an unknown "+variant", so it has to be checked against this list.
    out = subprocess.run([_program(), "--voices=variant"], capture_output=True, text=True, check=True).stdout
    files = (line.split()[4] for line in out.splitlines()[1:] if len(line.split()) > 4)
    return frozenset(f.split("/", 1)[1] for f in files if f.startswith("!v/"))


def _run_program(text: str, voice: str, config: TtsConfig) -> tuple[np.ndarray, int]:
    with tempfile.TemporaryDirectory(prefix="espeak-") as tmp:
        wav = Path(tmp) / "speech.wav"
        args = [_program(), "-b", "1", "-v", voice, "-s", str(config.rate), "-p", str(config.pitch),
                "-w", str(wav), "--stdin"]
        try:
            proc = subprocess.run(args, input=text.encode("utf-8"), capture_output=True,
                                  timeout=_PROGRAM_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"espeak-ng took longer than {_PROGRAM_TIMEOUT_S} s on {_excerpt(text)}") from None
        if proc.returncode != 0 or not wav.exists():
            stderr = proc.stderr.decode("utf-8", "replace").strip()
            raise RuntimeError(f"espeak-ng failed (exit {proc.returncode}) for voice {voice}: {stderr}")
        audio, rate = sf.read(str(wav), dtype="float32", always_2d=True)
    return audio.mean(axis=1), int(rate)


def _speech_bounds(audio: np.ndarray, sample_rate: int, peak: float) -> tuple[int, int]:
    """First and one-past-last sample worth keeping."""
    loud = np.flatnonzero(np.abs(audio) >= peak * 10 ** (_TRIM_THRESHOLD_DB / 20))
    margin = int(round(_TRIM_MARGIN_S * sample_rate))
    return max(0, int(loud[0]) - margin), min(len(audio), int(loud[-1]) + 1 + margin)


def _phonemes(text: str, voice: str, config: TtsConfig, n_samples: int, sample_rate: int) -> list[Phoneme]:
    try:
        timing = phoneme_timings(text, voice, config.rate, config.pitch)
    except EspeakLibraryError as exc:
        log.warning("no phoneme timings (%s); the lip-sync stage will fall back to the audio", exc)
        return []
    # The times are only valid for the program's audio if the library made the very same audio.
    if timing.sample_rate != sample_rate or timing.n_samples != n_samples:
        log.warning(
            "libespeak-ng produced %d samples at %d Hz where espeak-ng wrote %d at %d Hz; "
            "dropping its phoneme timings",
            timing.n_samples, timing.sample_rate, n_samples, sample_rate,
        )
        return []
    return timing.phonemes


def _shift_and_clip(phonemes: list[Phoneme], offset: float, duration: float) -> list[Phoneme]:
    shifted = []
    for p in phonemes:
        start, end = max(0.0, p.start - offset), min(duration, p.end - offset)
        if end > start:  # the trailing pause mostly falls in the trimmed silence
            shifted.append(Phoneme(start, end, p.phoneme))
    return shifted


def _resample(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return audio
    g = gcd(rate, target)
    return resample_poly(audio, target // g, rate // g).astype(np.float32)


def _excerpt(text: str, limit: int = 40) -> str:
    one_line = " ".join(text.split())
    return repr(one_line if len(one_line) <= limit else one_line[:limit] + "…")
