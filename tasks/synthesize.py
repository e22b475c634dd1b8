"""synthesize: target segments -> one speech clip per segment, with phoneme timings if known.

Each segment's clip is also kept in the store under a key made of what decides it (text, language,
TTS settings, TTS code), so a rerun after the user edited one line of the target .srt synthesises
that line only: the other clips are read back. The stage's output is still one artifact of all
clips, so everything after it reruns exactly when some clip changed.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

import models.tts
from lipsync_sts.cache import code_snapshot, stage
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
            # Read once: each z["audio"] decodes the whole array again, and a clip sliced from it
            # keeps that copy alive (N clips held N copies: 8 GB for a 10-minute dub's 65 segments).
            audio = z["audio"]
            clips = [audio[b[i]:b[i + 1]] for i in range(len(b) - 1)]
            phonemes = [[tuple(p) for p in seg] for seg in json.loads(str(z["phonemes"]))]
            return cls(clips=clips, sample_rate=int(z["sample_rate"]), phonemes=phonemes)


_TTS_CODE = code_snapshot([models.tts])


def clip_key(text: str, language: str, tts: TtsConfig) -> str:
    """What decides one segment's clip: its text, language, TTS settings and the TTS code."""
    payload = json.dumps({"text": text, "language": language, "tts": tts.model_dump(mode="json"),
                          "code": _TTS_CODE()}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:40]


def _clip_path(store: ArtifactStore, key: str) -> str:
    return store._path("tts-clips", key[:2], f"{key}.npz")


def _read_clip(store: ArtifactStore, key: str) -> SpeechClips | None:
    path = _clip_path(store, key)
    try:
        data = store.fs.cat_file(path)
        with io.BytesIO(data) as buf, np.load(buf, allow_pickle=False) as z:
            audio = z["audio"]
            clip = SpeechClips([audio], int(z["sample_rate"]),
                               [[tuple(p) for p in json.loads(str(z["phonemes"]))[0]]])
    except (FileNotFoundError, OSError, KeyError, ValueError):
        return None  # absent or unreadable: synthesise again
    return clip if audio.size and np.isfinite(audio).all() else None


def _write_clip(store: ArtifactStore, key: str, clip: SpeechClips) -> None:
    # Temporary name then move: a killed run never leaves a half-written clip under its key.
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "clip.npz"
        clip.save(local)
        target = _clip_path(store, key)
        part = store._path("tmp", f"{uuid.uuid4().hex}.npz")
        store.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        store.fs.put_file(str(local), part)
        store.fs.mv(part, target)


def synthesize_segments(store: ArtifactStore, segments: ArtifactRef, config: SynthesizeConfig) -> ArtifactRef:
    texts = [s.text for s in load_segments(store, segments)]
    keys = [clip_key(text, config.language, config.tts) for text in texts]
    found: list[SpeechClips | None] = [_read_clip(store, key) for key in keys]
    missing = [i for i, clip in enumerate(found) if clip is None]

    def make(i: int) -> SpeechClips:
        speech = models.tts.synthesize(texts[i], config.language, config.tts)
        clip = SpeechClips([speech.audio.astype(np.float32)], speech.sample_rate,
                           [[(float(a), float(b), str(p)) for a, b, p in speech.phonemes]])
        _write_clip(store, keys[i], clip)
        return clip

    # Segments are spoken side by side where the backend allows (child processes: the cores, not the
    # GIL, bound them); the results are taken in segment order, so the first failing segment is the
    # one reported, as when they ran one by one.
    with Progress(len(texts), f"synthesize {config.language}") as progress, \
            ThreadPoolExecutor(max_workers=min(models.tts.parallel_calls(config.tts), max(len(missing), 1))) as pool:
        progress.update(len(texts) - len(missing))
        futures = {i: pool.submit(make, i) for i in missing}
        try:
            for i in missing:
                found[i] = futures[i].result()
                progress.update()
        except BaseException:
            for future in futures.values():
                future.cancel()
            raise
    clips = [clip.clips[0] for clip in found]
    phonemes = [clip.phonemes[0] for clip in found]
    rate = found[0].sample_rate if found else config.tts.sample_rate
    made = len(missing)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.npz"
        SpeechClips(clips, rate, phonemes).save(path)
        return store.put_file(path, kind="speech-clips", meta={"language": config.language, "sample_rate": rate,
                                                                "count": len(clips), "synthesized": made,
                                                                "reused": len(clips) - made})


@stage("synthesize", version="2", code=(models.tts,))
def synthesize(store_url: str, segments: ArtifactRef, config: SynthesizeConfig) -> ArtifactRef:
    return synthesize_segments(ArtifactStore(store_url), segments, config)
