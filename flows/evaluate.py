"""The evaluation flow: lip-sync measures for many videos, each with its own audio or a given one.

Per video: ingest -> extract_audio -> track_faces (the same cached stages as the dub flow, so a
video already dubbed is not tracked again) -> evaluate. Reports: an HTML page per video (written
to ``html_dir`` when given) and Prefect artifacts (a table of all videos, a markdown report each).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import soundfile as sf
from prefect import flow
from pydantic import BaseModel

from lipsync_sts import media
from lipsync_sts.cache import RunLog
from lipsync_sts.errors import UserInputError
from lipsync_sts.evaluation import EvaluationConfig
from lipsync_sts.evaluation.evaluate import SAMPLE_RATE
from lipsync_sts.evaluation.report import publish
from lipsync_sts.store import ArtifactRef, ArtifactStore, export_file
from tasks.evaluate import EvaluateConfig, evaluate_stage, load_evaluation
from tasks.extract_audio import ExtractAudioConfig, extract_audio
from tasks.ingest import SourceFile, ingest
from tasks.track_faces import TrackFacesConfig, track_faces


class EvaluatedVideo(BaseModel):
    video: str
    evaluation: dict  # Evaluation.model_dump()
    html: str | None  # the exported report, where html_dir was given
    artifact: ArtifactRef


def audio_artifact(store: ArtifactStore, path: str | Path) -> ArtifactRef:
    """Any audio or video file's first audio track as a 16 kHz wav in the store (content-addressed,
    so the same audio given again keys the same evaluation)."""
    audio = media.read_audio(path, SAMPLE_RATE)
    if audio.size == 0:
        raise UserInputError(f"audio {path} is empty; give a file with speech")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "audio.wav"
        sf.write(wav, audio, SAMPLE_RATE, subtype="PCM_16")
        return store.put_file(wav, kind="audio", meta={"sample_rate": SAMPLE_RATE, "source": Path(path).name})


def evaluate_one(store: ArtifactStore, log: RunLog, video: str, audio: str | None, syncnet: ArtifactRef | None,
                 config: EvaluationConfig, html_dir: str | None) -> EvaluatedVideo:
    def call(stage_task, **inputs):
        return log.run(stage_task, store, Path(video).stem[:12], **inputs)

    video_ref = call(ingest, source=SourceFile.of(video))
    own = call(extract_audio, video=video_ref, config=ExtractAudioConfig()) if video_ref.meta["has_audio"] else None
    if audio is None and own is None:
        raise UserInputError(f"{video} has no audio track; pass --audio FILE with the speech to score it against")
    track_ref = call(track_faces, video=video_ref, audio=own, config=TrackFacesConfig())
    audio_ref = audio_artifact(store, audio) if audio else own
    result_ref = call(evaluate_stage, video=video_ref.model_copy(update={"meta": {**video_ref.meta, "source": Path(video).name}}),
                      track=track_ref, audio=audio_ref, syncnet=syncnet,
                      config=EvaluateConfig(evaluation=config, audio_label=Path(audio).name if audio else "own"))
    html_path = None
    if html_dir:
        html_path = str(export_file(store, ArtifactRef.model_validate(result_ref.meta["html"]),
                                    Path(html_dir) / f"{Path(video).stem}.evaluation.html"))
    return EvaluatedVideo(video=video, evaluation=store.read_json(result_ref), html=html_path, artifact=result_ref)


@flow(name="evaluate", log_prints=True)
def evaluate_videos(videos: list[str], audios: list[str | None] | None = None, store_url: str | None = None,
                    syncnet: str | None = None, html_dir: str | None = None,
                    config: EvaluationConfig | None = None) -> list[EvaluatedVideo]:
    """Evaluate each video against its own audio, or ``audios[i]`` where given (None: own)."""
    audios = audios or [None] * len(videos)
    if len(audios) != len(videos):
        raise UserInputError(f"{len(audios)} audio files for {len(videos)} videos; give one per video or none")
    store, log = ArtifactStore(store_url), RunLog()
    weights = store.put_file(syncnet, kind="weights") if syncnet else None
    if syncnet:
        from models.syncnet import load_syncnet

        load_syncnet(store.local_path(weights))  # unreadable weights fail here, before any video
    results = [evaluate_one(store, log, v, a, weights, config or EvaluationConfig(), html_dir)
               for v, a in zip(videos, audios)]
    publish([load_evaluation(store, r.artifact) for r in results])
    print(log.render())
    return results
