"""evaluate: the lip-sync evaluation of one video against one audio track, as a cached stage.

Output: a JSON artifact (the full :class:`Evaluation`) whose meta holds the headline numbers and
the reference of the HTML report. Inputs are content-hashed like every stage, SyncNet weights
included, so a rerun with the same video, audio, track and weights is a cache hit.
"""

from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from pydantic import BaseModel, Field
from scipy.signal import resample_poly

import lipsync_sts.evaluation
from lipsync_sts import media
from lipsync_sts.cache import stage
from lipsync_sts.evaluation import Evaluation, EvaluationConfig, ImageChecks, compare_to_input, evaluate
from lipsync_sts.evaluation.evaluate import SAMPLE_RATE
from lipsync_sts.evaluation.report import render_html
from lipsync_sts.store import ArtifactRef, ArtifactStore
from models.face import FaceTrack


class EvaluateConfig(BaseModel):
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    audio_label: str = "own"  # shown in the report: "own", or the name of the audio given


def load_audio(store: ArtifactStore, audio: ArtifactRef) -> np.ndarray:
    """(n,) mono float32 at 16 kHz from an audio artifact (wav/flac from extract_audio or fit_timing)."""
    samples, rate = sf.read(store.local_path(audio), dtype="float32", always_2d=True)
    mono = samples.mean(axis=1)
    if rate != SAMPLE_RATE:
        g = gcd(rate, SAMPLE_RATE)
        mono = resample_poly(mono, SAMPLE_RATE // g, rate // g).astype(np.float32)
    return mono


def evaluate_artifacts(store: ArtifactStore, video: ArtifactRef, track: ArtifactRef, audio: ArtifactRef,
                       config: EvaluateConfig, input_video: ArtifactRef | None = None,
                       input_track: ArtifactRef | None = None, syncnet: ArtifactRef | None = None,
                       reference_video: ArtifactRef | None = None, reference_track: ArtifactRef | None = None,
                       images: ArtifactRef | None = None) -> ArtifactRef:
    result = evaluate(store.local_path(video), FaceTrack.load(store.local_path(track)), load_audio(store, audio),
                      audio_label=config.audio_label,
                      input_video=store.local_path(input_video) if input_video else None,
                      input_track=FaceTrack.load(store.local_path(input_track)) if input_track else None,
                      syncnet=store.local_path(syncnet) if syncnet else None,
                      reference_video=store.local_path(reference_video) if reference_video else None,
                      reference_track=FaceTrack.load(store.local_path(reference_track)) if reference_track else None,
                      images=ImageChecks.model_validate(store.read_json(images)) if images else None,
                      config=config.evaluation)
    if result.reference and reference_video is not None:
        result.reference.reference = str(reference_video.meta.get("source") or result.reference.reference)
    result.video = str(video.meta.get("source") or result.video)
    html = store.put_bytes(render_html(result).encode("utf-8"), kind="evaluation-report", suffix=".html")
    return store.put_json(result.model_dump(mode="json"), kind="evaluation",
                          meta={"summary": result.summary(), "html": html.model_dump(mode="json")})


# SyncNet by name: it loads torch, and runs only where the user gives its weights.
@stage("evaluate", version="2", code=(lipsync_sts.evaluation, "models.syncnet", media))
def evaluate_stage(store_url: str, video: ArtifactRef, track: ArtifactRef, audio: ArtifactRef, config: EvaluateConfig,
                   input_video: ArtifactRef | None = None, input_track: ArtifactRef | None = None,
                   syncnet: ArtifactRef | None = None, reference_video: ArtifactRef | None = None,
                   reference_track: ArtifactRef | None = None, images: ArtifactRef | None = None) -> ArtifactRef:
    """``reference_video``/``reference_track``: a real video of the same frames (reconstruction);
    ``images``: the check_images stage's result, in place of ``input_video``."""
    return evaluate_artifacts(ArtifactStore(store_url), video, track, audio, config, input_video, input_track, syncnet,
                              reference_video, reference_track, images)


@stage("check_images", version="1", code=(lipsync_sts.evaluation, media))
def check_images_stage(store_url: str, video: ArtifactRef, input_video: ArtifactRef, input_track: ArtifactRef,
                       config: EvaluateConfig) -> ArtifactRef:
    """The evaluation's image checks of ``video`` against the ``input_video`` it was made from
    (PSNR and SSIM outside the lower face, mouth sharpness), as their own stage: they need no
    track of ``video``, so the dub runs them beside the output's face tracking."""
    store = ArtifactStore(store_url)
    checks = compare_to_input(store.local_path(video), store.local_path(input_video),
                              FaceTrack.load(store.local_path(input_track)), config.evaluation.images)
    return store.put_json(checks.model_dump(mode="json"), kind="image-checks")


def load_evaluation(store: ArtifactStore, ref: ArtifactRef) -> Evaluation:
    return Evaluation.model_validate(store.read_json(ref))


def evaluate_dub(store: ArtifactStore, video_ref: ArtifactRef, track_ref: ArtifactRef, dub_audio_ref: ArtifactRef,
                 output_ref: ArtifactRef, syncnet: str | Path | None = None,
                 config: EvaluateConfig | None = None) -> tuple[dict, Path]:
    """Evaluate a dub: the output's lips (tracked on the output itself) against the dub audio, and
    the output's frames against the input's. Returns the evaluation as a dict and a local path of
    its HTML report (in the store). Plain function: call it inside the dub flow after mux."""
    from tasks.track_faces import TrackFacesConfig, track_video_faces

    out_path = store.local_path(output_ref)
    info = media.probe(out_path)
    output_video = output_ref.model_copy(update={"meta": {**output_ref.meta, **info.model_dump()}})
    out_track = track_video_faces(store, output_video, TrackFacesConfig(), audio=dub_audio_ref)
    weights = store.put_file(syncnet, kind="weights") if syncnet else None
    ref = evaluate_artifacts(store, output_video, out_track, dub_audio_ref,
                             config or EvaluateConfig(audio_label="dub"), input_video=video_ref,
                             input_track=track_ref, syncnet=weights)
    html = ArtifactRef.model_validate(ref.meta["html"])
    return store.read_json(ref), store.local_path(html)
