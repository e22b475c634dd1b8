"""Face tracking over a stream of frames with mediapipe's 478-point face mesh.

The mesh runs on a downscaled copy of each frame (its landmark model sees a 192×192 crop of the
face anyway, so full resolution buys nothing but resize time) in tracking mode: mediapipe runs its
face detector only when it has lost the face and otherwise follows the previous frame's
landmarks. Landmarks come back normalised to the image, so scaling by the full frame size maps
them to full-resolution pixels exactly.

Memory: only the per-frame landmarks are kept (about 3.8 kB a frame); frames are consumed one by
one and never stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from . import landmarks as lm
from .face_track import FaceTrack
from .smoothing import smooth_runs


class FaceTrackConfig(BaseModel):
    """Parameters of the face-tracking stage (part of its cache key)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    detect_width: int = Field(480, ge=64, description="frames wider than this are downscaled to it for the mesh pass")
    min_detection_confidence: float = Field(0.5, ge=0.0, le=1.0, description="face detector score to start a track")
    min_tracking_confidence: float = Field(0.5, ge=0.0, le=1.0, description="mesh face-presence score to keep it")
    max_num_faces: int = Field(1, ge=1, description="faces the mesh looks for; the track follows one of them")
    score_with_detector: bool = Field(
        True,
        description="run the face detector on every frame to fill FaceTrack.confidence (about 3 ms a frame); "
        "when off, confidence is 1 wherever the mesh tracks a face",
    )
    smooth: bool = Field(True, description="zero-lag One-Euro smoothing of the landmarks")
    min_cutoff_hz: float = Field(2.0, gt=0.0, description="One-Euro cutoff for a still face")
    beta: float = Field(4.0, ge=0.0, description="cutoff rise per face size per second of landmark speed")
    d_cutoff_hz: float = Field(1.0, gt=0.0, description="cutoff of the speed estimate")


def track_faces(
    frames: Iterable[np.ndarray],
    fps: float,
    config: FaceTrackConfig,
    on_progress: Callable[[int], None] | None = None,
) -> FaceTrack:
    """Track one face through ``frames`` ((H, W, 3) uint8 RGB, all the same size).

    Frames without a face get present=False and NaN landmarks; nothing raises for them.
    ``on_progress`` is called with the number of frames done after each frame.
    """
    import mediapipe as mp  # heavy import (TensorFlow Lite runtime), only where tracking runs

    present: list[bool] = []
    points: list[np.ndarray] = []  # each (478, 2) float32
    scores: list[float] = []
    size: tuple[int, int] | None = None
    nan_face = np.full((lm.N_LANDMARKS, 2), np.nan, dtype=np.float32)
    prev_centre: np.ndarray | None = None

    mesh = mp.solutions.face_mesh.FaceMesh(
        static_image_mode=False,
        max_num_faces=config.max_num_faces,
        refine_landmarks=True,
        min_detection_confidence=config.min_detection_confidence,
        min_tracking_confidence=config.min_tracking_confidence,
    )
    detector = (
        mp.solutions.face_detection.FaceDetection(model_selection=0, min_detection_confidence=0.1)
        if config.score_with_detector
        else None
    )
    try:
        for i, frame in enumerate(frames):
            size = _check_frame(frame, size, i)
            small = _downscale(frame, config.detect_width)
            faces = _mesh_faces(mesh, small, size)  # list of (478, 2) full-res pixels
            face = _pick(faces, prev_centre)
            if face is None:
                present.append(False)
                points.append(nan_face)
                scores.append(0.0)
            else:
                prev_centre = np.nanmean(face, axis=0)
                present.append(True)
                points.append(face)
                scores.append(_detector_score(detector, small, face, size) if detector else 1.0)
            if on_progress is not None:
                on_progress(i + 1)
    finally:
        mesh.close()
        if detector is not None:
            detector.close()

    if size is None:
        size = (0, 0)
    n = len(present)
    present_arr = np.asarray(present, dtype=bool).reshape(n)
    landmarks = np.stack(points).astype(np.float32) if n else np.zeros((0, lm.N_LANDMARKS, 2), np.float32)
    if config.smooth and n:
        landmarks = smooth_runs(
            landmarks, present_arr, fps, config.min_cutoff_hz, config.beta, config.d_cutoff_hz
        )
    return FaceTrack(
        present=present_arr,
        boxes=_boxes(landmarks),
        landmarks=landmarks,
        confidence=np.asarray(scores, dtype=np.float32).reshape(n),
        fps=float(fps),
        size=size,
    )


def _check_frame(frame: np.ndarray, size: tuple[int, int] | None, index: int) -> tuple[int, int]:
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame {index}: expected (H, W, 3) uint8 RGB, got {frame.shape} {frame.dtype}")
    this = (int(frame.shape[1]), int(frame.shape[0]))
    if size is not None and this != size:
        raise ValueError(f"frame {index}: size {this} differs from the first frame's {size}")
    return this


def _downscale(frame: np.ndarray, max_width: int) -> np.ndarray:
    h, w = frame.shape[:2]
    if w <= max_width:
        return np.ascontiguousarray(frame)
    scale = max_width / w
    return cv2.resize(frame, (max_width, max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def _mesh_faces(mesh, small: np.ndarray, size: tuple[int, int]) -> list[np.ndarray]:
    result = mesh.process(small)
    if not result.multi_face_landmarks:
        return []
    w, h = size
    faces = []
    for face in result.multi_face_landmarks:
        xy = np.array([(p.x, p.y) for p in face.landmark], dtype=np.float32)  # (478, 2) normalised
        # Normalised coordinates measure from the image's outer edge; -0.5 moves to pixel centres.
        faces.append(xy * np.array([w, h], dtype=np.float32) - 0.5)
    return faces


def _pick(faces: list[np.ndarray], prev_centre: np.ndarray | None) -> np.ndarray | None:
    """The face to follow: the one nearest the last tracked face, else the largest."""
    if not faces:
        return None
    if len(faces) == 1:
        return faces[0]
    if prev_centre is not None:
        return min(faces, key=lambda f: float(np.linalg.norm(f.mean(axis=0) - prev_centre)))
    return max(faces, key=lambda f: float(np.prod(f.max(axis=0) - f.min(axis=0))))


def _detector_score(detector, small: np.ndarray, face: np.ndarray, size: tuple[int, int]) -> float:
    """Score of the face detector's box that contains the tracked face's centre; 0 when the
    detector misses a face the mesh keeps tracking (turned away, small, occluded): a sign that the
    track may be drifting, which the later robustness work can act on."""
    result = detector.process(small)
    if not result.detections:
        return 0.0
    w, h = size
    cx, cy = (face.mean(axis=0) + 0.5) / np.array([w, h], dtype=np.float32)
    best = 0.0
    for det in result.detections:
        box = det.location_data.relative_bounding_box
        if box.xmin <= cx <= box.xmin + box.width and box.ymin <= cy <= box.ymin + box.height:
            best = max(best, float(det.score[0]))
    return best


def _boxes(landmarks: np.ndarray) -> np.ndarray:
    """(N, 4) x0, y0, x1, y1 of each frame's landmarks; NaN rows where absent."""
    if landmarks.shape[0] == 0:
        return np.zeros((0, 4), dtype=np.float32)
    with np.errstate(invalid="ignore"):
        lo = np.min(landmarks, axis=1)  # (N, 2), NaN propagates for absent frames
        hi = np.max(landmarks, axis=1)
    return np.concatenate([lo, hi], axis=1).astype(np.float32)
