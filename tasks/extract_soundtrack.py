"""extract_soundtrack: the video's original audio, at its own rate and channels, for the final mix.

Kept apart from extract_audio (16 kHz mono for recognition) because the mix must keep music and
ambience at full quality; FLAC is lossless and a third of float WAV. The track is aligned to the
video: silence where the audio starts late or ends early, cut where it runs past the last frame.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import av
import numpy as np
import soundfile as sf
from pydantic import BaseModel

from lipsync_sts.cache import stage
from lipsync_sts.errors import UserInputError
from lipsync_sts.store import ArtifactRef, ArtifactStore


class ExtractSoundtrackConfig(BaseModel):
    pass


def read_soundtrack(path: str | Path, duration: float) -> tuple[np.ndarray, int]:
    """The first audio stream as (round(duration * rate), channels) float32 at its own rate."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise UserInputError(f"input {path} has no audio track to keep under the dub")
        stream = container.streams.audio[0]
        video_start = _start_seconds(container.streams.video[0]) if container.streams.video else 0.0
        rate, channels = stream.rate, stream.channels
        # Planar float keeps every channel apart whatever the codec's own sample format.
        resampler = av.AudioResampler(format="fltp", layout=stream.layout.name, rate=rate)
        chunks, first = [], None
        try:
            for frame in container.decode(stream):
                if first is None and frame.pts is not None and frame.time_base is not None:
                    first = float(frame.pts * frame.time_base)
                chunks.extend(out.to_ndarray() for out in resampler.resample(frame))
            chunks.extend(out.to_ndarray() for out in resampler.resample(None))
        except av.error.FFmpegError as exc:
            raise UserInputError(f"audio of {path} is corrupt ({exc}); re-encode or replace it") from None
    audio = np.concatenate(chunks, axis=1).T if chunks else np.zeros((0, channels), np.float32)
    n = int(round(duration * rate))
    offset = int(round(((first or 0.0) - video_start) * rate))
    out = np.zeros((n, audio.shape[1]), np.float32)
    src = audio[max(0, -offset):]
    dst_start = max(0, offset)
    take = max(0, min(len(src), n - dst_start))
    out[dst_start:dst_start + take] = src[:take]
    return out, rate


def _start_seconds(stream: av.stream.Stream) -> float:
    return float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0


def extract_original_soundtrack(store: ArtifactStore, video: ArtifactRef, config: ExtractSoundtrackConfig) -> ArtifactRef:
    audio, rate = read_soundtrack(store.local_path(video), float(video.meta["duration"]))
    with tempfile.TemporaryDirectory() as tmp:
        flac = Path(tmp) / "soundtrack.flac"
        sf.write(flac, np.clip(audio, -1.0, 1.0), rate, subtype="PCM_24")
        return store.put_file(flac, kind="soundtrack", meta={"sample_rate": rate, "channels": audio.shape[1],
                                                             "duration": len(audio) / rate})


@stage("extract_soundtrack", version="1")
def extract_soundtrack(store_url: str, video: ArtifactRef, config: ExtractSoundtrackConfig) -> ArtifactRef:
    return extract_original_soundtrack(ArtifactStore(store_url), video, config)
