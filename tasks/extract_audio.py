"""extract_audio: the video's soundtrack as 16 kHz mono speech audio for recognition."""

from __future__ import annotations

import tempfile
from pathlib import Path

import soundfile as sf
from pydantic import BaseModel

from lipsync_sts import media
from lipsync_sts.cache import stage
from lipsync_sts.errors import UserInputError
from lipsync_sts.store import ArtifactRef, ArtifactStore


class ExtractAudioConfig(BaseModel):
    sample_rate: int = 16_000


def extract_speech_audio(store: ArtifactStore, video: ArtifactRef, config: ExtractAudioConfig) -> ArtifactRef:
    audio = media.read_audio(store.local_path(video), config.sample_rate)
    if audio.size == 0:
        raise UserInputError(f"the audio track of {video.meta.get('source', video.uri)} is empty; "
                             "give a video with speech, or pass --transcript")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        sf.write(wav, audio, config.sample_rate, subtype="PCM_16")
        return store.put_file(wav, kind="audio", meta={"sample_rate": config.sample_rate,
                                                       "duration": len(audio) / config.sample_rate})


@stage("extract_audio", version="1", code=(media,))
def extract_audio(store_url: str, video: ArtifactRef, config: ExtractAudioConfig) -> ArtifactRef:
    return extract_speech_audio(ArtifactStore(store_url), video, config)
