"""mux: the lip-synced frames and the final soundtrack -> the final video."""

from __future__ import annotations

import tempfile
from pathlib import Path

import av
import numpy as np
import soundfile as sf
from pydantic import BaseModel, Field

from lipsync_sts import media
from lipsync_sts.cache import stage
from lipsync_sts.store import ArtifactRef, ArtifactStore


class MuxConfig(BaseModel):
    audio_bitrate: int = 128_000  # per channel
    # Sample peak of the AAC as decoded. The mix already holds its true peak below this, but AAC
    # overshoots by up to ~0.6 dB (seen on the bench clips), so the encoded result is checked.
    peak_dbfs: float = Field(default=-1.0, le=0.0)


def decoded_peak(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return max((float(np.max(np.abs(f.to_ndarray()))) for f in container.decode(stream)), default=0.0)


def mux_video(store: ArtifactStore, frames: ArtifactRef, dub: ArtifactRef, config: MuxConfig) -> ArtifactRef:
    """``dub``: the mix stage's soundtrack (mono or stereo) or fit_timing's speech track (mono)."""
    audio, rate = sf.read(store.local_path(dub), dtype="float32")
    ceiling = 10 ** (config.peak_dbfs / 20)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "dubbed.mp4"
        media.mux(store.local_path(frames), audio, rate, out, audio_bitrate=config.audio_bitrate)
        for _ in range(3):
            peak = decoded_peak(out)
            if peak <= ceiling:
                break
            # One gain for the whole track, a little under what the overshoot asks: re-encoding moves it.
            audio *= np.float32(0.97 * ceiling / peak)  # in place: no second programme-long track
            media.mux(store.local_path(frames), audio, rate, out, audio_bitrate=config.audio_bitrate)
        return store.put_file(out, kind="video")


@stage("mux", version="2", code=(media,))
def mux(store_url: str, frames: ArtifactRef, dub: ArtifactRef, config: MuxConfig) -> ArtifactRef:
    return mux_video(ArtifactStore(store_url), frames, dub, config)
