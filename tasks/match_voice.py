"""match_voice: the source speaker's pitch -> espeak-ng variant and pitch for the dub voice."""

from __future__ import annotations

import soundfile as sf
from pydantic import BaseModel, Field

import models.tts
from lipsync_sts.cache import stage
from lipsync_sts.store import ArtifactRef, ArtifactStore
from models.tts import TtsConfig
from models.tts import voice
from models.tts.voice import VoiceChoice, VoiceMatchConfig
from tasks.transcribe import load_segments

# The probe is the start of the dub's own text: long enough for a stable median F0, short to synthesise.
_PROBE_CHARS = 240


class MatchVoiceConfig(BaseModel):
    language: str
    tts: TtsConfig = Field(default_factory=TtsConfig)
    voice: VoiceMatchConfig = Field(default_factory=VoiceMatchConfig)


def match_speaker_voice(store: ArtifactStore, audio: ArtifactRef, segments: ArtifactRef, translated: ArtifactRef,
                        config: MatchVoiceConfig) -> ArtifactRef:
    samples, rate = sf.read(store.local_path(audio), dtype="float32")
    regions = [(s.start, s.end) for s in load_segments(store, segments)]
    source_f0 = voice.speech_f0(samples, rate, regions, config.voice.max_analysis_s) if config.voice.enabled else None
    probe, texts = "", [s.text for s in load_segments(store, translated)]
    for text in texts:
        if len(probe) >= _PROBE_CHARS:
            break
        probe = f"{probe} {text}".strip()
    # Variant and pitch settings are espeak-ng's; other backends get their pitch from the shift in
    # fit_timing alone, which needs only the source F0 recorded here.
    search = config.voice if getattr(config.tts, "backend", "espeak-ng") == "espeak-ng" else \
        config.voice.model_copy(update={"enabled": False})
    choice = voice.choose_voice(source_f0, probe, config.language, config.tts, search, models.tts.synthesize)
    return store.put_json(choice.model_dump(mode="json"), kind="voice", meta=choice.model_dump(mode="json"))


def voice_tts(base: TtsConfig, voice_ref: ArtifactRef | None) -> TtsConfig:
    """``base`` with the variant and pitch chosen by match_voice (unchanged without a choice)."""
    if voice_ref is None:
        return base
    choice = VoiceChoice(**voice_ref.meta)
    return base.model_copy(update={"voice_variant": choice.voice_variant, "pitch": choice.pitch})


@stage("match_voice", version="1", code=(models.tts,))
def match_voice(store_url: str, audio: ArtifactRef, segments: ArtifactRef, translated: ArtifactRef,
                config: MatchVoiceConfig) -> ArtifactRef:
    return match_speaker_voice(ArtifactStore(store_url), audio, segments, translated, config)
