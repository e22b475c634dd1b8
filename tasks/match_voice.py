"""match_voice: the source speaker's pitch -> espeak-ng variant and pitch for the dub voice."""

from __future__ import annotations

import soundfile as sf
from pydantic import BaseModel, Field

import models.tts
from lipsync_sts.cache import stage
from lipsync_sts.store import ArtifactRef, ArtifactStore
from models.tts import TtsConfig
from models.tts import espeak, voice
from models.tts.espeak import Speech
from models.tts.voice import VoiceChoice, VoiceMatchConfig
from tasks.transcribe import load_segments

# The pitch search listens to the voice counting in the target language: long enough for a stable
# median F0, quick to synthesise, and independent of the translation, so editing a subtitle line
# never changes the chosen voice (which would re-voice every segment).
_PROBE_TEXT = " ".join(str(n) for n in range(1, 21))


class MatchVoiceConfig(BaseModel):
    language: str
    tts: TtsConfig = Field(default_factory=TtsConfig)
    voice: VoiceMatchConfig = Field(default_factory=VoiceMatchConfig)


def match_speaker_voice(store: ArtifactStore, audio: ArtifactRef, segments: ArtifactRef,
                        config: MatchVoiceConfig) -> ArtifactRef:
    samples, rate = sf.read(store.local_path(audio), dtype="float32")
    regions = [(s.start, s.end) for s in load_segments(store, segments)]
    source_f0 = voice.speech_f0(samples, rate, regions, config.voice.max_analysis_s) if config.voice.enabled else None
    # Variant and pitch settings are espeak-ng's; other backends get their pitch from the shift in
    # fit_timing alone, which needs only the source F0 recorded here.
    search = config.voice if getattr(config.tts, "backend", "espeak-ng") == "espeak-ng" else \
        config.voice.model_copy(update={"enabled": False})
    choice = voice.choose_voice(source_f0, _PROBE_TEXT, config.language, config.tts, search, _probe_speech)
    return store.put_json(choice.model_dump(mode="json"), kind="voice", meta=choice.model_dump(mode="json"))


def _probe_speech(text: str, language: str, tts: TtsConfig) -> Speech:
    # Only the probes' pitch is measured: their phoneme timings would be thrown away.
    return espeak.synthesize(text, language, tts, with_phonemes=False)


def voice_tts(base: TtsConfig, voice_ref: ArtifactRef | None) -> TtsConfig:
    """``base`` with the variant and pitch chosen by match_voice (unchanged without a choice)."""
    if voice_ref is None:
        return base
    choice = VoiceChoice(**voice_ref.meta)
    return base.model_copy(update={"voice_variant": choice.voice_variant, "pitch": choice.pitch})


@stage("match_voice", version="2", code=(models.tts,))
def match_voice(store_url: str, audio: ArtifactRef, segments: ArtifactRef, config: MatchVoiceConfig) -> ArtifactRef:
    return match_speaker_voice(ArtifactStore(store_url), audio, segments, config)
