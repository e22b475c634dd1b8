"""lipsync: re-draw the speaker's mouth to follow the dub, streaming frame by frame."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

import soundfile as sf
from pydantic import BaseModel, Field

import models.lipsync
from lipsync_sts import media, timing
from lipsync_sts.cache import stage
from lipsync_sts.progress import Progress
from lipsync_sts.store import ArtifactRef, ArtifactStore
from models.face import FaceTrack
from models.lipsync.embedded import EmbeddedLipSync, EmbeddedLipSyncConfig, target_opening_from_envelope


class LipSyncConfig(BaseModel):
    backend: Literal["embedded"] = "embedded"
    embedded: EmbeddedLipSyncConfig = Field(default_factory=EmbeddedLipSyncConfig)
    crf: int = 18  # x264 quality of the re-encoded frames; 18 is visually lossless


def lipsync_video(store: ArtifactStore, video: ArtifactRef, track: ArtifactRef, dub: ArtifactRef,
                  config: LipSyncConfig) -> ArtifactRef:
    info = media.MediaInfo(**video.meta)
    face_track = FaceTrack.load(store.local_path(track))
    audio, rate = sf.read(store.local_path(dub), dtype="float32")
    envelope = timing.speech_envelope(audio, rate, info.fps, info.n_frames)
    renderer = EmbeddedLipSync(face_track, target_opening_from_envelope(envelope), config.embedded)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "lipsync.mp4"
        with media.VideoWriter(out, info.fps_fraction, info.width, info.height, crf=config.crf,
                               rotation=info.rotation) as writer, \
                Progress(info.n_frames, "lip-sync") as progress:
            for index, frame in enumerate(media.iter_frames(store.local_path(video))):
                writer.write(renderer.render(index, frame) if index < len(face_track.present) else frame)
                progress.update()
        return store.put_file(out, kind="video-frames", meta={"frames": writer.count})


@stage("lipsync", version="1", code=(models.lipsync, media, timing))
def lipsync(store_url: str, video: ArtifactRef, track: ArtifactRef, dub: ArtifactRef,
            config: LipSyncConfig) -> ArtifactRef:
    return lipsync_video(ArtifactStore(store_url), video, track, dub, config)
