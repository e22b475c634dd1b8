"""One entry point for every TTS backend: text -> trimmed, checked speech at the configured rate.

espeak-ng keeps its own path (it also reports phoneme timings); gTTS, VITS and Festival give audio
only, so the lip-sync stage falls back to the audio for them.
"""

from __future__ import annotations

import os

from lipsync_sts.errors import UserInputError
from models.tts import checks, espeak
from models.tts.espeak import Speech, TtsConfig


def parallel_calls(config: TtsConfig) -> int:
    """How many :func:`synthesize` calls may run at once. espeak-ng and Festival work in child
    processes (espeak-ng two per segment: the program and the phoneme process, ~160 ms together of
    which ~80 ms is the phoneme process's Python start), so threads keep every core busy with
    them; VITS already spreads one call over every core through torch, and gTTS is an online
    service that answers a burst of requests by refusing them."""
    if config.backend in ("espeak-ng", "festival"):
        return max(1, len(os.sched_getaffinity(0)))
    return 1


def synthesize(text: str, language: str, config: TtsConfig) -> Speech:
    if config.backend == "espeak-ng":
        return espeak.synthesize(text, language, config)
    clean = checks.check_text(text, language)
    if config.backend == "gtts":
        from models.tts import gtts_backend

        audio, rate = gtts_backend.synthesize(clean, language, config.rate)
    elif config.backend == "festival":
        from models.tts import festival

        audio, rate = festival.synthesize(clean, language, config.rate, config.festival_voice)
    else:
        if not config.model:
            raise UserInputError("the vits TTS backend needs a voice: pass --tts-model with a local VITS/MMS-TTS model "
                                 "folder (e.g. facebook/mms-tts-hin saved with save_pretrained) or a hub id")
        from models.tts import vits

        audio, rate = vits.synthesize(clean, config.model, config.rate, config.seed)
    audio = checks.check_audio(audio, config.backend, clean)
    audio = checks.trim(audio, rate)
    audio = checks.resample(audio, rate, config.sample_rate)
    return Speech(audio=checks.check_audio(audio, config.backend, clean), sample_rate=config.sample_rate)
