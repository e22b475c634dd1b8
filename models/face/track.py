"""The speaker's face through a stream of frames: detect, link, pick the speaker, smooth.

Per frame (streamed; frames are never stored): downscale to ``detect_width`` (the landmark model
sees a 192×192 face crop anyway, so full resolution buys nothing but resize time), turn upright
for a rotated phone video, look for a scene cut (a cut resets the backend's tracking), run the
backend and link its faces to the candidates of the current shot (identities.py). After the last
frame: per shot, pick the speaker (speaker.py), smooth its landmarks with a zero-lag One-Euro
filter restarted at gaps and cuts, and map them to the stored frame's pixels.

Memory: the landmarks of every candidate face (3.8 kB per face per frame), never a frame.
Speed: the default backend tracks between detections; about 10 ms a frame at 480 px on one core.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from . import landmarks as lm
from . import rotation as rot
from .backends import make_backend
from .face_track import FaceTrack
from .identities import FaceLinker, merge_fragments
from .scenes import CutDetector
from .smoothing import smooth_runs
from .speaker import choose, parse_face


class FaceTrackConfig(BaseModel):
    """Parameters of the face-tracking stage (part of its cache key)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: Literal["mediapipe", "face_alignment", "haar"] = Field(
        "mediapipe", description="mediapipe: 478-point mesh (default); face_alignment: S3FD+FAN 68 points where its "
        "weights are present; haar: OpenCV box with a mean face in it (last resort)")
    face: str = Field("auto", description="whose face: 'auto' (the speaker), an index counted left to right from 0, "
                      "or a point 'x,y' in fractions of the displayed picture")
    detect_width: int = Field(480, ge=64, description="frames wider than this (as displayed) are downscaled to it for detection")
    min_detection_confidence: float = Field(0.5, ge=0.0, le=1.0, description="face detector score to start a track")
    min_tracking_confidence: float = Field(0.5, ge=0.0, le=1.0, description="mesh face-presence score to keep it")
    max_num_faces: int = Field(4, ge=1, le=16, description="faces looked for per frame; the track follows the speaker")
    # Off by default: the score is a diagnostic (a face the detector misses while the mesh keeps
    # following it is drifting), drawn by --debug-faces and read by nothing else, and it cost a
    # quarter of tracking (7.4 -> 5.5 s on 30 s of 720p).
    score_with_detector: bool = Field(
        False,
        description="mediapipe: run the face detector on every frame to fill FaceTrack.confidence (about 2 ms a frame); "
        "when off, confidence is 1 wherever the mesh tracks a face",
    )
    detect_cuts: bool = Field(True, description="find scene cuts: they reset tracking, smoothing and the speaker choice")
    max_gap_s: float = Field(1.0, ge=0.0, description="a face unseen this long is a new candidate")
    face_alignment_dir: str | None = Field(None, description="torch hub folder whose checkpoints/ holds the "
                                           "face-alignment weights (default: torch's own, ~/.cache/torch/hub)")
    smooth: bool = Field(True, description="zero-lag One-Euro smoothing of the landmarks")
    min_cutoff_hz: float = Field(2.0, gt=0.0, description="One-Euro cutoff for a still face")
    beta: float = Field(4.0, ge=0.0, description="cutoff rise per face size per second of landmark speed")
    d_cutoff_hz: float = Field(1.0, gt=0.0, description="cutoff of the speed estimate")

    @field_validator("face")
    @classmethod
    def _face_is_parseable(cls, value: str) -> str:
        try:
            parse_face(value)
        except ValueError as exc:
            raise ValueError(f"face must be 'auto', an index like '1' or a point like '0.3,0.5': {exc}") from None
        return value


def track_faces(
    frames: Iterable[np.ndarray],
    fps: float,
    config: FaceTrackConfig,
    on_progress: Callable[[int], None] | None = None,
    *,
    speech: np.ndarray | None = None,
    rotation: int = 0,
    stored_size: tuple[int, int] | None = None,
) -> FaceTrack:
    """Track the speaker's face through ``frames`` ((H, W, 3) uint8 RGB as decoded, all one size).

    speech: (N,) per-frame loudness of the source speech in [0, 1] (lipsync_sts.timing.speech_envelope
    at the video's fps), used to tell the speaker among several faces; None: the most prominent
    face is taken. rotation: the video's display rotation (media.MediaInfo.rotation); detection
    runs upright, the track is in stored-frame pixels. stored_size: (width, height) of the stored
    frames when ``frames`` were already scaled down by the decoder (see :func:`detection_size`);
    the track is then in those pixels. Frames without the face get present=False and NaN
    landmarks; nothing raises for them. ``on_progress`` gets the count of frames done.
    """
    turns = rot.quarter_turns(rotation)
    override = parse_face(config.face)
    backend = make_backend(config)
    cutter = CutDetector() if config.detect_cuts else None
    linker = FaceLinker(max_gap=max(1, round(config.max_gap_s * fps)))
    size: tuple[int, int] | None = None
    n = 0
    try:
        for i, frame in enumerate(frames):
            size = _check_frame(frame, size, i)
            shown = rot.displayed_size(stored_size or size, turns)
            small = rot.upright(_downscale(frame, config.detect_width, turns), turns)
            if cutter is not None and cutter.is_cut(small):  # never on the first frame
                backend.reset()
                linker.new_shot(i)
            scale = np.array(shown, np.float32)
            linker.add(i, [(d.points * scale - 0.5, d.score) for d in backend.detect(small)])
            n = i + 1
            if on_progress is not None:
                on_progress(n)
    finally:
        backend.close()

    size = stored_size or size or (0, 0)
    shown = rot.displayed_size(size, turns)
    present = np.zeros(n, bool)
    points = np.full((n, lm.N_LANDMARKS, 2), np.nan, np.float32)
    confidence = np.zeros(n, np.float32)
    cuts = np.zeros(n, bool)
    cuts[[s for s in linker.shot_starts if s > 0]] = True
    speech_n = _fit_length(speech, n) if speech is not None else None
    notes = []
    for k, shot in enumerate(linker.shots(n) if n else []):
        cands = merge_fragments([c for c in linker.candidates if c.shot == k])
        choice = choose(cands, shot, shown, speech_n, override)
        notes.append(f"frames {shot.start}-{shot.stop - 1}: {choice.reason}")
        if choice.candidate is not None:
            idx = np.asarray(choice.candidate.frames)
            present[idx] = True
            points[idx] = choice.candidate.stacked()
            confidence[idx] = choice.candidate.scores
    if config.smooth and n:
        points = smooth_runs(points, present, fps, config.min_cutoff_hz, config.beta, config.d_cutoff_hz, cuts=cuts)
    points = rot.to_stored(points, turns, size)
    return FaceTrack(present=present, boxes=_boxes(points), landmarks=points, confidence=confidence, fps=float(fps),
                     size=size, rotation=int(rotation), backend=config.backend, cuts=cuts, notes=tuple(notes))


def _fit_length(speech: np.ndarray, n: int) -> np.ndarray:
    """The envelope cut or zero-padded to ``n`` frames (audio and video lengths differ slightly)."""
    speech = np.asarray(speech, np.float32).reshape(-1)[:n]
    return np.pad(speech, (0, n - len(speech)))


def _check_frame(frame: np.ndarray, size: tuple[int, int] | None, index: int) -> tuple[int, int]:
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame {index}: expected (H, W, 3) uint8 RGB, got {frame.shape} {frame.dtype}")
    this = (int(frame.shape[1]), int(frame.shape[0]))
    if size is not None and this != size:
        raise ValueError(f"frame {index}: size {this} differs from the first frame's {size}")
    return this


def detection_size(size: tuple[int, int], max_width: int, rotation: int = 0) -> tuple[int, int]:
    """(width, height) of a stored ``size`` frame as detection sees it: scaled so that its displayed
    width is at most ``max_width``. A decoder that scales to this in its colour conversion saves
    the full-size RGB frame and the resize (track_faces then gets ``stored_size=size``)."""
    w, h = size
    turns = rot.quarter_turns(rotation)
    shown_w = h if turns % 2 else w
    if shown_w <= max_width:
        return (w, h)
    scale = max_width / shown_w
    return (max(1, round(w * scale)), max(1, round(h * scale)))


def _downscale(frame: np.ndarray, max_width: int, turns: int) -> np.ndarray:
    """Downscale so that the *displayed* width is at most ``max_width``; tiny frames are kept."""
    h, w = frame.shape[:2]
    shown_w = h if turns % 2 else w
    if shown_w <= max_width:
        return np.ascontiguousarray(frame)
    scale = max_width / shown_w
    return cv2.resize(frame, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def _boxes(landmarks: np.ndarray) -> np.ndarray:
    """(N, 4) x0, y0, x1, y1 of each frame's landmarks; NaN rows where absent."""
    if landmarks.shape[0] == 0:
        return np.zeros((0, 4), dtype=np.float32)
    with np.errstate(invalid="ignore"):
        lo = np.min(landmarks, axis=1)  # (N, 2), NaN propagates for absent frames
        hi = np.max(landmarks, axis=1)
    return np.concatenate([lo, hi], axis=1).astype(np.float32)
