"""The evaluation flow: lip-sync measures for many videos, each with its own audio or a given one.

Per video: ingest -> extract_audio -> track_faces (the same cached stages as the dub flow, so a
video already dubbed is not tracked again) -> evaluate; with a reference (the real video the
output was made from), the reference is ingested and tracked the same way. Reports: an HTML page per video (written
to ``html_dir`` when given) and Prefect artifacts (a table of all videos, a markdown report each).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import soundfile as sf
from prefect import flow
from pydantic import BaseModel

from lipsync_sts import media, remote
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
    local = remote.readable(path)
    try:
        audio = media.read_audio(local, SAMPLE_RATE)
    except UserInputError as exc:  # it names the local copy of a URL: name the URL
        raise remote.naming(path, local, exc) from None
    if audio.size == 0:
        raise UserInputError(f"audio {path} is empty; give a file with speech")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "audio.wav"
        sf.write(wav, audio, SAMPLE_RATE, subtype="PCM_16")
        return store.put_file(wav, kind="audio", meta={"sample_rate": SAMPLE_RATE, "source": Path(path).name})


def evaluate_one(store: ArtifactStore, log: RunLog, video: str, audio: str | None, syncnet: ArtifactRef | None,
                 config: EvaluationConfig, html_dir: str | None, reference: str | None = None) -> EvaluatedVideo:
    def call(stage_task, label: str = Path(video).stem[:12], **inputs):
        return log.run(stage_task, store, label, **inputs)

    video_ref = call(ingest, source=SourceFile.of(video))
    own = call(extract_audio, video=video_ref, config=ExtractAudioConfig()) if video_ref.meta["has_audio"] else None
    if audio is None and own is None:
        raise UserInputError(f"{video} has no audio track; pass --audio FILE with the speech to score it against")
    track_ref = call(track_faces, video=video_ref, audio=own, config=TrackFacesConfig())
    audio_ref = audio_artifact(store, audio) if audio else own
    real = {}
    if reference:
        # The real video's face track is the same cached stage as anywhere else it is tracked.
        label = Path(reference).stem[:12]
        reference_ref = call(ingest, label, source=SourceFile.of(reference))
        check_reference(video_ref, reference_ref, video, reference)
        reference_audio = (call(extract_audio, label, video=reference_ref, config=ExtractAudioConfig())
                           if reference_ref.meta["has_audio"] else None)
        real = {"reference_video": reference_ref.model_copy(update={"meta": {**reference_ref.meta,
                                                                             "source": Path(reference).name}}),
                "reference_track": call(track_faces, label, video=reference_ref, audio=reference_audio,
                                        config=TrackFacesConfig())}
    result_ref = call(evaluate_stage, video=video_ref.model_copy(update={"meta": {**video_ref.meta, "source": Path(video).name}}),
                      track=track_ref, audio=audio_ref, syncnet=syncnet, **real,
                      config=EvaluateConfig(evaluation=config, audio_label=Path(audio).name if audio else "own"))
    html_path = None
    if html_dir:
        html_path = str(export_file(store, ArtifactRef.model_validate(result_ref.meta["html"]),
                                    Path(html_dir) / f"{Path(video).stem}.evaluation.html"))
    return EvaluatedVideo(video=video, evaluation=store.read_json(result_ref), html=html_path, artifact=result_ref)


def check_reference(video_ref: ArtifactRef, reference_ref: ArtifactRef, video: str, reference: str) -> None:
    """A reference must show the same frames: same size, and a frame count within a frame."""
    size = (video_ref.meta["width"], video_ref.meta["height"])
    real_size = (reference_ref.meta["width"], reference_ref.meta["height"])
    if size != real_size:
        raise UserInputError(f"reference {reference} is {real_size[0]}x{real_size[1]} but {video} is {size[0]}x{size[1]}; "
                             "give the real video the output was made from (same frames)")
    frames, real_frames = int(video_ref.meta["n_frames"]), int(reference_ref.meta["n_frames"])
    if abs(frames - real_frames) > max(1, 0.02 * real_frames):
        raise UserInputError(f"reference {reference} has {real_frames} frames but {video} has {frames}; "
                             "give the real video the output was made from (same frames)")


@flow(name="evaluate", log_prints=True)
def evaluate_videos(videos: list[str], audios: list[str | None] | None = None, store_url: str | None = None,
                    syncnet: str | None = None, html_dir: str | None = None,
                    config: EvaluationConfig | None = None,
                    references: list[str | None] | None = None) -> list[EvaluatedVideo]:
    """Evaluate each video against its own audio, or ``audios[i]`` where given (None: own);
    ``references[i]``: the real video of the same frames, to measure lip shape against."""
    audios = audios or [None] * len(videos)
    references = references or [None] * len(videos)
    if len(audios) != len(videos):
        raise UserInputError(f"{len(audios)} audio files for {len(videos)} videos; give one per video or none")
    if len(references) != len(videos):
        raise UserInputError(f"{len(references)} reference videos for {len(videos)} videos; give one per video or none")
    store, log = ArtifactStore(store_url), RunLog()
    if syncnet:
        from models.syncnet import load_syncnet

        load_syncnet(syncnet)  # missing, unreadable or unsafe weights fail here, named as given, before any video
    weights = store.put_file(syncnet, kind="weights") if syncnet else None
    results = [evaluate_one(store, log, v, a, weights, config or EvaluationConfig(), html_dir, r)
               for v, a, r in zip(videos, audios, references)]
    publish([load_evaluation(store, r.artifact) for r in results])
    print(log.render())
    return results
