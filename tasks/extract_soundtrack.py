"""extract_soundtrack: the video's original audio, at its own rate and channels, for the final mix.

Kept apart from extract_audio (16 kHz mono for recognition) because the mix must keep music and
ambience at full quality; FLAC is lossless and a third of float WAV. The track is aligned to the
video: silence where the audio starts late or ends early, cut where it runs past the last frame.
"""

from __future__ import annotations

import itertools
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

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
    with _audio_stream(path) as (container, stream):
        blocks = list(_aligned_blocks(path, container, stream, duration))
        audio = np.concatenate(blocks) if blocks else np.zeros((0, stream.channels), np.float32)
        return audio, stream.rate


def write_soundtrack(path: str | Path, duration: float, flac: Path) -> tuple[int, int, int]:
    """:func:`read_soundtrack` written to 24-bit FLAC a decoded block at a time, so memory does not
    grow with the length (10 minutes of 48 kHz stereo were ~0.7 GB of copies); returns (rate,
    channels, samples)."""
    with _audio_stream(path) as (container, stream):
        with sf.SoundFile(str(flac), "w", samplerate=stream.rate, channels=stream.channels, subtype="PCM_24") as out:
            written = 0
            for block in _aligned_blocks(path, container, stream, duration):
                out.write(np.clip(block, -1.0, 1.0))
                written += len(block)
        return stream.rate, stream.channels, written


@contextmanager
def _audio_stream(path: str | Path) -> Iterator[tuple[av.container.InputContainer, av.audio.stream.AudioStream]]:
    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise UserInputError(f"input {path} has no audio track to keep under the dub")
        yield container, container.streams.audio[0]


def _aligned_blocks(path: str | Path, container: av.container.InputContainer, stream: av.audio.stream.AudioStream,
                    duration: float) -> Iterator[np.ndarray]:
    """(k, channels) float32 blocks that join to exactly round(duration * rate) samples aligned to
    the video: silence where the audio starts late or ends early, cut where it runs past the end."""
    video_start = _start_seconds(container.streams.video[0]) if container.streams.video else 0.0
    rate, channels = stream.rate, stream.channels
    n = int(round(duration * rate))
    # Planar float keeps every channel apart whatever the codec's own sample format.
    resampler = av.AudioResampler(format="fltp", layout=stream.layout.name, rate=rate)
    written, skip, started = 0, 0, False

    def frames() -> Iterator[av.AudioFrame]:
        try:
            for frame in container.decode(stream):
                yield frame
        except av.error.FFmpegError as exc:
            raise UserInputError(f"audio of {path} is corrupt ({exc}); re-encode or replace it") from None

    for frame in itertools.chain(frames(), [None]):
        if not started and frame is not None and frame.pts is not None and frame.time_base is not None:
            started = True
            offset = int(round((float(frame.pts * frame.time_base) - video_start) * rate))
            skip = max(0, -offset)
            if offset > 0:  # the audio starts late: silence first
                lead = min(offset, n)
                yield np.zeros((lead, channels), np.float32)
                written += lead
        for out in resampler.resample(frame):
            block = out.to_ndarray().T  # (k, channels)
            drop = min(skip, len(block))
            block, skip = block[drop:], skip - drop
            block = block[:max(0, n - written)]
            if len(block):
                yield np.ascontiguousarray(block, dtype=np.float32)
                written += len(block)
    if written < n:  # the audio ends early
        yield np.zeros((n - written, channels), np.float32)


def _start_seconds(stream: av.stream.Stream) -> float:
    return float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0


def extract_original_soundtrack(store: ArtifactStore, video: ArtifactRef, config: ExtractSoundtrackConfig) -> ArtifactRef:
    with tempfile.TemporaryDirectory() as tmp:
        flac = Path(tmp) / "soundtrack.flac"
        rate, channels, samples = write_soundtrack(store.local_path(video), float(video.meta["duration"]), flac)
        return store.put_file(flac, kind="soundtrack", meta={"sample_rate": rate, "channels": channels,
                                                             "duration": samples / rate})


@stage("extract_soundtrack", version="1")
def extract_soundtrack(store_url: str, video: ArtifactRef, config: ExtractSoundtrackConfig) -> ArtifactRef:
    return extract_original_soundtrack(ArtifactStore(store_url), video, config)
