"""One video's evaluation: the landmark sync score, SyncNet's LSE where weights are given, and the
image checks where the input it was made from is given. Plain functions: the CLI, the cached
evaluate stage and the benches call these.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from lipsync_sts import media
from models.face import FaceTrack

from .image_checks import ImageCheckConfig, ImageChecks, check_images, sampled_frames
from .reconstruction import ReconstructionConfig, ReconstructionScore, compare_to_reference
from .sync_score import SyncScore, SyncScoreConfig, score_sync, voice_envelope

SAMPLE_RATE = 16_000


class EvaluationConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sync: SyncScoreConfig = Field(default_factory=SyncScoreConfig)
    images: ImageCheckConfig = Field(default_factory=ImageCheckConfig)
    syncnet_vshift: int = Field(15, ge=1, description="SyncNet offsets searched each way (frames at 25 fps)")
    reconstruction: ReconstructionConfig = Field(default_factory=ReconstructionConfig)


class Evaluation(BaseModel):
    """Everything measured on one video; ``model_dump()`` is the JSON the CLI prints."""

    video: str
    audio: str  # where the audio came from: "own" or a file name
    fps: float
    frames: int
    face_coverage: float
    sync: SyncScore
    lse: dict | None = None  # models.syncnet.LseResult as a dict; None without weights
    images: ImageChecks | None = None  # None without the input video
    reference: ReconstructionScore | None = None  # lip shape against a real video of the same frames
    # Per frame, for the report's plots: "opening" (lip opening, None without a face), "envelope",
    # and "reference_opening" (the real video's) where a reference was given.
    series: dict[str, list[float | None]] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)

    def summary(self) -> dict:
        """The headline numbers, flat: one row of a table."""
        row = {"video": self.video, "audio": self.audio, "sync": self.sync.sync, "offset": self.sync.offset,
               "confidence": self.sync.confidence, "closed_in_silence": self.sync.closed_in_silence,
               "motion_in_silence": self.sync.motion_in_silence}
        if self.lse:
            row |= {"lse_d": self.lse["lse_d"], "lse_c": self.lse["lse_c"], "syncnet_offset": self.lse["offset"]}
        if self.images:
            row |= {"psnr_outside_mouth": self.images.psnr_outside_mouth, "ssim_outside_mouth": self.images.ssim_outside_mouth,
                    "mouth_sharpness_ratio": self.images.mouth_sharpness_ratio}
        if self.reference:
            row |= self.reference.summary()
        return row


def evaluate(video: str | os.PathLike, track: FaceTrack, audio: np.ndarray, *, audio_label: str = "own",
             input_video: str | os.PathLike | None = None, input_track: FaceTrack | None = None,
             syncnet: str | os.PathLike | None = None, reference_video: str | os.PathLike | None = None,
             reference_track: FaceTrack | None = None, images: ImageChecks | None = None,
             config: EvaluationConfig = EvaluationConfig()) -> Evaluation:
    """Evaluate ``video`` (its face ``track``) against ``audio`` (mono, 16 kHz, from frame 0).

    ``input_video``: the video the output was made from (same frame count and size), for the
    image checks, measured on ``input_track``'s geometry (default: ``track``); ``images``: those
    checks already made (:func:`compare_to_input`), in place of ``input_video``.
    ``syncnet``: path of ``syncnet_v2.model`` for LSE-D/LSE-C.
    ``reference_video`` (with its ``reference_track``): the real video of the same frames, for
    the lip-shape measures of reconstruction.py (LMD, opening/width correlation, closures, pop).
    """
    opening = track.mouth_opening()  # (N,) NaN where no face
    sync = score_sync(opening, audio, SAMPLE_RATE, track.fps, config.sync, motion=track.lip_height())
    envelope = voice_envelope(audio, SAMPLE_RATE, track.fps, len(track), config.sync)
    result = Evaluation(
        video=Path(video).name, audio=audio_label, fps=track.fps, frames=len(track),
        face_coverage=round(float(track.present.mean()) if len(track) else 0.0, 4), sync=sync,
        series={"opening": _listed(opening), "envelope": _listed(envelope)})
    if syncnet is not None:
        result.lse = _lse(video, track, audio, syncnet, config)
    if images is not None:
        result.images = images
    elif input_video is not None:
        result.images = compare_to_input(video, input_video, input_track or track, config.images)
    if reference_video is not None:
        if reference_track is None:
            raise ValueError("reference_video needs its reference_track")
        result.reference = compare_to_reference(track, reference_track, media.iter_frames(video),
                                                media.iter_frames(reference_video), Path(reference_video).name,
                                                config.reconstruction)
        result.series["reference_opening"] = _listed(reference_track.mouth_opening())
    return result


def compare_to_input(video: str | os.PathLike, input_video: str | os.PathLike, input_track: FaceTrack,
                     config: ImageCheckConfig = ImageCheckConfig()) -> ImageChecks:
    """The image checks of ``video`` against the ``input_video`` it was made from, on the input's
    geometry. Needs no track of ``video``, so a flow runs it beside the tracking of the output."""
    # Only the sampled frames are converted to RGB (the checks look at 40), and the decoder
    # seeks past the groups of pictures that hold none of them and skips the frames between them
    # that nothing refers to (about half of x264's: 9.4-10.0 -> 7.0-7.3 CPU s on 30 s of 720p).
    sample = sampled_frames(len(input_track.landmarks), config)
    return check_images(media.iter_frames(input_video, only=sample), media.iter_frames(video, only=sample),
                        input_track.landmarks, input_track.present, config)


def _lse(video, track: FaceTrack, audio: np.ndarray, weights, config: EvaluationConfig) -> dict:
    # Imported here: torch is only needed where the user has SyncNet weights.
    from models.syncnet import load_syncnet, score_lse, video_crops

    model = load_syncnet(weights)
    crops = video_crops(media.iter_frames(video), track.boxes, track.present, track.fps)
    return score_lse(model, crops, audio, SAMPLE_RATE, config.syncnet_vshift).model_dump()


def _listed(values: np.ndarray) -> list[float | None]:
    return [None if not np.isfinite(v) else round(float(v), 5) for v in values]
