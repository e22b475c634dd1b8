"""mux: the lip-synced frames and the final soundtrack -> the final video."""

from __future__ import annotations

import tempfile
from pathlib import Path

import soundfile as sf
from pydantic import BaseModel

from lipsync_sts import media
from lipsync_sts.cache import stage
from lipsync_sts.store import ArtifactRef, ArtifactStore


class MuxConfig(BaseModel):
    audio_bitrate: int = 128_000  # per channel


def mux_video(store: ArtifactStore, frames: ArtifactRef, dub: ArtifactRef, config: MuxConfig) -> ArtifactRef:
    """``dub``: the mix stage's soundtrack (mono or stereo) or fit_timing's speech track (mono)."""
    audio, rate = sf.read(store.local_path(dub), dtype="float32")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "dubbed.mp4"
        media.mux(store.local_path(frames), audio, rate, out, audio_bitrate=config.audio_bitrate)
        return store.put_file(out, kind="video")


@stage("mux", version="2", code=(media,))
def mux(store_url: str, frames: ArtifactRef, dub: ArtifactRef, config: MuxConfig) -> ArtifactRef:
    return mux_video(ArtifactStore(store_url), frames, dub, config)
