"""fit_timing: place each synthesized clip in its source segment's slot -> one dub track."""

from __future__ import annotations

import tempfile
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
from pydantic import Field, BaseModel

from lipsync_sts import timing
from lipsync_sts.cache import stage
from lipsync_sts.store import ArtifactRef, ArtifactStore
from lipsync_sts.timing import TimingConfig
from tasks.synthesize import SpeechClips
from tasks.transcribe import load_segments


class FitTimingConfig(BaseModel):
    timing: TimingConfig = Field(default_factory=TimingConfig)


def fit_dub_timing(store: ArtifactStore, clips: ArtifactRef, segments: ArtifactRef, video: ArtifactRef,
                   config: FitTimingConfig) -> ArtifactRef:
    speech = SpeechClips.load(store.local_path(clips))
    rate = config.timing.sample_rate or speech.sample_rate
    audio = [c if speech.sample_rate == rate else
             librosa.resample(c, orig_sr=speech.sample_rate, target_sr=rate) for c in speech.clips]
    track, report = timing.fit_to_slots(audio, rate, load_segments(store, segments),
                                        float(video.meta["duration"]), config.timing.model_copy(update={"sample_rate": rate}))
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "dub.wav"
        sf.write(wav, track, rate, subtype="FLOAT")
        return store.put_file(wav, kind="dub-audio", meta={"sample_rate": rate, "timing": report})


@stage("fit_timing", version="1", code=(timing,))
def fit_timing(store_url: str, clips: ArtifactRef, segments: ArtifactRef, video: ArtifactRef,
               config: FitTimingConfig) -> ArtifactRef:
    return fit_dub_timing(ArtifactStore(store_url), clips, segments, video, config)
