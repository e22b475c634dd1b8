"""fit_timing: place each synthesized clip in its source segment's slot -> one dub speech track.

The track is the dub's speech alone (the lip-sync stage drives the mouth from it); the mix stage
lays it over the original soundtrack. Two things happen to the clips before they are placed: their
pitch is moved to the source speaker's where the chosen voice settings fell short, and clips that
do not fit even at the stretch cap are synthesised again at a faster speaking rate.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from scipy.io import wavfile
from pydantic import BaseModel, Field

import models.tts
from lipsync_sts import timing
from lipsync_sts.cache import stage
from lipsync_sts.store import ArtifactRef, ArtifactStore
from lipsync_sts.timing import TimingConfig
from models.tts import TtsConfig, voice
from tasks.synthesize import SpeechClips
from tasks.transcribe import load_segments

# espeak-ng's fastest speaking rate (words per minute); TtsConfig refuses more.
_MAX_WPM = 450


class FitTimingConfig(BaseModel):
    timing: TimingConfig = Field(default_factory=TimingConfig)
    # Set by the flow so that speech that does not fit can be synthesised again, faster, with the
    # very voice that made it; None (e.g. clips made elsewhere) skips that step.
    language: str | None = None
    tts: TtsConfig | None = None
    # The dub's median F0 may differ from the source speaker's by this much before it is shifted.
    pitch_tolerance: float = Field(default=0.10, ge=0.0, lt=0.5)


def fit_dub_timing(store: ArtifactStore, clips: ArtifactRef, segments: ArtifactRef, video: ArtifactRef,
                   config: FitTimingConfig, voice_ref: ArtifactRef | None = None) -> ArtifactRef:
    speech = SpeechClips.load(store.local_path(clips))
    rate = config.timing.sample_rate or speech.sample_rate
    audio = [_resample(c, speech.sample_rate, rate) for c in speech.clips]
    slots = load_segments(store, segments)

    source_f0 = voice_ref.meta.get("source_f0_hz") if voice_ref is not None else None
    dub_f0 = voice.median_f0(np.concatenate(audio), rate, max_seconds=30.0) if source_f0 and audio else None
    ratio = voice.shift_ratio(source_f0, dub_f0, config.pitch_tolerance)
    audio = [voice.pitch_shift(c, ratio, rate) for c in audio]

    resynthesize = None
    if config.language and config.tts is not None:
        language, tts = config.language, config.tts

        def resynthesize(i: int, factor: float) -> np.ndarray:
            faster = tts.model_copy(update={"rate": min(_MAX_WPM, int(round(tts.rate * factor)))})
            spoken = models.tts.synthesize(slots[i].text, language, faster)
            return voice.pitch_shift(_resample(spoken.audio, spoken.sample_rate, rate), ratio, rate)

    fit_config = config.timing.model_copy(update={"sample_rate": rate})
    track, report, used = timing.fit_with_resynthesis(audio, rate, slots, float(video.meta["duration"]),
                                                      fit_config, resynthesize)
    # The pitch of the speech used, measured again only where a shift or a re-synthesis changed it
    # (pYIN over up to 30 s of speech: ~0.3 s).
    unchanged = ratio == 1.0 and all(r.get("rate_factor", 1.0) == 1.0 for r in report)
    final_f0 = dub_f0 if unchanged else (voice.median_f0(np.concatenate(used), rate, max_seconds=30.0)
                                         if source_f0 and used else None)
    voice_report = {"source_f0_hz": source_f0, "synthesised_f0_hz": dub_f0, "pitch_shift": ratio,
                    "dub_f0_hz": final_f0, "voice_variant": voice_ref.meta.get("voice_variant") if voice_ref else None,
                    "pitch": voice_ref.meta.get("pitch") if voice_ref else None}
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "dub.wav"
        # scipy, not soundfile: libsndfile stamps float WAVs with the time of writing (PEAK chunk),
        # and this output's sha256 keys the stages after it, so the same track must be the same bytes.
        wavfile.write(wav, rate, np.asarray(track, dtype=np.float32))
        return store.put_file(wav, kind="dub-audio", meta={
            "sample_rate": rate, "timing": report, "voice": voice_report,
            "max_speed": max((r["speed"] for r in report), default=1.0),
            "moved": sum(r["moved"] for r in report), "truncated_s": sum(r["truncated_s"] for r in report)})


def _resample(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    if rate == target:
        return audio
    import librosa  # ~1 s to import; most dubs never resample here

    return librosa.resample(audio, orig_sr=rate, target_sr=target).astype(np.float32)


@stage("fit_timing", version="2", code=(timing, voice, models.tts))
def fit_timing(store_url: str, clips: ArtifactRef, segments: ArtifactRef, video: ArtifactRef,
               config: FitTimingConfig, voice: ArtifactRef | None = None) -> ArtifactRef:
    return fit_dub_timing(ArtifactStore(store_url), clips, segments, video, config, voice)
