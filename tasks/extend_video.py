"""extend_video: a clip shorter than its new speech, lengthened to the speech's length.

``loop`` plays the clip again from the start (the head keeps moving; one cut per loop), ``hold``
freezes the last frame (no cut; a still head). Either way the lip-sync redraws the mouth on every
frame, so repeated frames do not show repeated lips. Frames stream: memory stays one frame.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterator, Literal

import numpy as np
from pydantic import BaseModel

from lipsync_sts import media
from lipsync_sts.cache import stage
from lipsync_sts.store import ArtifactRef, ArtifactStore


class ExtendVideoConfig(BaseModel):
    frames: int  # the length wanted, in frames
    mode: Literal["loop", "hold"] = "loop"


def extended_frames(path: Path, frames: int, mode: str) -> Iterator[np.ndarray]:
    written, last = 0, None
    while written < frames:
        for frame in media.iter_frames(path):
            yield frame
            written, last = written + 1, frame
            if written == frames:
                return
        if mode == "hold":
            break
    while written < frames:
        yield last
        written += 1


def extend_clip(store: ArtifactStore, video: ArtifactRef, config: ExtendVideoConfig) -> ArtifactRef:
    info = media.MediaInfo(**video.meta)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "extended.mp4"
        with media.VideoWriter(out, info.fps_fraction, info.width, info.height, rotation=info.rotation) as writer:
            for frame in extended_frames(store.local_path(video), config.frames, config.mode):
                writer.write(frame)
        meta = media.probe(out).model_dump()
        return store.put_file(out, kind="video", meta={**meta, "has_audio": False})


@stage("extend_video", version="1", code=(media,))
def extend_video(store_url: str, video: ArtifactRef, config: ExtendVideoConfig) -> ArtifactRef:
    return extend_clip(ArtifactStore(store_url), video, config)
