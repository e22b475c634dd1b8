"""prepare_track: any audio the user brings (an audio file, or a video's soundtrack) -> the speech
track the lip-sync follows, exactly as long as the picture it will be laid on.

Keyed by file identity like ingest; the track's sha256 keys everything after it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

import numpy as np
from scipy.io import wavfile
from pydantic import BaseModel

from lipsync_sts import media, remote
from lipsync_sts.cache import stage
from lipsync_sts.errors import UserInputError
from lipsync_sts.store import ArtifactRef, ArtifactStore
from tasks.ingest import SourceFile


class PrepareTrackConfig(BaseModel):
    sample_rate: int = 24_000
    # A track longer than the video: "trim" it to the video, or lengthen the video to the track by
    # playing it again ("loop") or holding its last frame ("hold"). A shorter track is padded
    # with silence, so the lips close for the rest of the video.
    longer: Literal["loop", "hold", "trim"] = "loop"


def frames_needed(video_frames: int, fps: float, audio_seconds: float, config: PrepareTrackConfig) -> int:
    wanted = int(np.ceil(audio_seconds * fps - 1e-6))
    return video_frames if config.longer == "trim" else max(video_frames, wanted)


def prepare_speech_track(store: ArtifactStore, source: SourceFile, video: ArtifactRef,
                         config: PrepareTrackConfig) -> ArtifactRef:
    local = remote.readable(source.path)
    try:
        audio = media.read_audio(local, config.sample_rate)
    except UserInputError as exc:  # it names the local copy of a URL: name the URL
        raise remote.naming(source.path, local, exc) from None
    if audio.size == 0 or float(np.abs(audio).max()) < 1e-4:
        raise UserInputError(f"audio {source.path} is empty or silent; give a file with speech")
    fps = float(video.meta["fps"])
    n_frames = frames_needed(int(video.meta["n_frames"]), fps, len(audio) / config.sample_rate, config)
    n_samples = int(round(n_frames / fps * config.sample_rate))
    track = np.zeros(n_samples, np.float32)
    track[: min(n_samples, len(audio))] = audio[:n_samples]
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        wavfile.write(wav, config.sample_rate, track)  # no time stamp in the file (soundfile writes one)
        return store.put_file(wav, kind="dub-audio", meta={
            "sample_rate": config.sample_rate, "frames": n_frames,
            "source_seconds": round(len(audio) / config.sample_rate, 3),
            "trimmed_s": round(max(0.0, len(audio) / config.sample_rate - n_samples / config.sample_rate), 3)})


@stage("prepare_track", version="1", code=(media,))
def prepare_track(store_url: str, source: SourceFile, video: ArtifactRef, config: PrepareTrackConfig) -> ArtifactRef:
    return prepare_speech_track(ArtifactStore(store_url), source, video, config)
