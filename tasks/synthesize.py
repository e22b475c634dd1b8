"""synthesize: target segments -> one speech clip per segment, with phoneme timings if known."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

import models.tts
from lipsync_sts.cache import stage
from lipsync_sts.progress import Progress
from lipsync_sts.store import ArtifactRef, ArtifactStore
from models.tts import TtsConfig
from tasks.transcribe import load_segments


class SynthesizeConfig(BaseModel):
    language: str
    tts: TtsConfig = Field(default_factory=TtsConfig)


@dataclass
class SpeechClips:
    """Per-segment speech: clips[i] is float32 mono at sample_rate; phonemes[i] lists
    (start_s, end_s, phoneme) relative to the clip's start."""

    clips: list[np.ndarray]
    sample_rate: int
    phonemes: list[list[tuple[float, float, str]]]

    def save(self, path: Path) -> None:
        bounds = np.cumsum([0] + [len(c) for c in self.clips])
        np.savez(path, audio=np.concatenate(self.clips) if self.clips else np.zeros(0, np.float32),
                 bounds=bounds, sample_rate=np.array(self.sample_rate),
                 phonemes=np.array(json.dumps(self.phonemes, ensure_ascii=False)))

    @classmethod
    def load(cls, path: Path) -> "SpeechClips":
        with np.load(path, allow_pickle=False) as z:
            b = z["bounds"]
            clips = [z["audio"][b[i]:b[i + 1]] for i in range(len(b) - 1)]
            phonemes = [[tuple(p) for p in seg] for seg in json.loads(str(z["phonemes"]))]
            return cls(clips=clips, sample_rate=int(z["sample_rate"]), phonemes=phonemes)


def synthesize_segments(store: ArtifactStore, segments: ArtifactRef, config: SynthesizeConfig) -> ArtifactRef:
    texts = [s.text for s in load_segments(store, segments)]
    clips, phonemes, rate = [], [], config.tts.sample_rate
    with Progress(len(texts), f"synthesize {config.language}") as progress:
        for text in texts:
            speech = models.tts.synthesize(text, config.language, config.tts)
            clips.append(speech.audio.astype(np.float32))
            phonemes.append([(float(a), float(b), str(p)) for a, b, p in speech.phonemes])
            rate = speech.sample_rate
            progress.update()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.npz"
        SpeechClips(clips, rate, phonemes).save(path)
        return store.put_file(path, kind="speech-clips", meta={"language": config.language,
                                                                "sample_rate": rate, "count": len(clips)})


@stage("synthesize", version="1", code=(models.tts,))
def synthesize(store_url: str, segments: ArtifactRef, config: SynthesizeConfig) -> ArtifactRef:
    return synthesize_segments(ArtifactStore(store_url), segments, config)
