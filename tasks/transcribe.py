"""transcribe: speech audio -> timed segments in the source language's own script.

A transcript the user supplies (.srt/.vtt) replaces recognition; it is an input artifact like any
other, so editing it reruns this stage and what follows.
"""

from __future__ import annotations

import soundfile as sf
from pydantic import BaseModel, Field

import models.asr
import models.mt
from lipsync_sts.cache import stage
from lipsync_sts.errors import UserInputError
from lipsync_sts.progress import Progress
from lipsync_sts.segments import Segment, parse_srt
from lipsync_sts.store import ArtifactRef, ArtifactStore
from models.asr import AsrConfig


class TranscribeConfig(BaseModel):
    language: str
    asr: AsrConfig = Field(default_factory=AsrConfig)


def transcribe_audio(store: ArtifactStore, config: TranscribeConfig, audio: ArtifactRef | None = None,
                     transcript: ArtifactRef | None = None) -> ArtifactRef:
    meta: dict = {"language": config.language}
    if transcript is not None:
        segments = parse_srt(store.read_bytes(transcript).decode("utf-8-sig"), source="the transcript")
    else:
        path = store.local_path(audio)
        try:
            seconds = round(sf.info(str(path)).duration)
        except RuntimeError:  # unreadable here: the transcriber reports what is wrong with it
            seconds = 1
        # Long audio is decoded piece by piece: progress in seconds of audio done.
        with Progress(seconds, "transcribe", unit="s") as progress:
            segments, regions = models.asr.transcribe_with_regions(
                path, config.language, config.asr, on_piece=lambda piece: progress.update(round(piece[1]) - round(piece[0])))
            progress.update(max(0, progress.total - progress.done))  # the transformers backend reports no pieces
        if config.asr.vad:
            # Where the source speaks by voice activity: the mix ducks under these as well.
            meta["speech_regions"] = [[round(a, 3), round(b, 3)] for a, b in regions]
    segments = [s for s in segments if s.text.strip()]
    if not segments:
        raise UserInputError("no speech was recognised in the video's audio; check that it has speech "
                             f"in language {config.language!r}, or pass --transcript FILE.srt")
    return store.put_json([s.model_dump() for s in segments], kind="segments", meta={**meta, "count": len(segments)})


@stage("transcribe", version="1", code=(models.asr, models.mt))
def transcribe(store_url: str, config: TranscribeConfig, audio: ArtifactRef | None = None,
               transcript: ArtifactRef | None = None) -> ArtifactRef:
    return transcribe_audio(ArtifactStore(store_url), config, audio, transcript)


def load_segments(store: ArtifactStore, ref: ArtifactRef) -> list[Segment]:
    return [Segment(**s) for s in store.read_json(ref)]
