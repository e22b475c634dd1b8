"""Face detectors/landmarkers behind one small interface, each seeing upright downscaled frames.

- ``mediapipe`` (default): the 478-point face mesh in tracking mode (its detector runs only when a
  face is lost, otherwise the mesh follows the previous landmarks), plus, where asked
  (``score_with_detector``), the BlazeFace detector on every frame for a calibrated score.
  Weights ship inside the mediapipe 0.10.21 wheel.
- ``face_alignment``: S3FD boxes + FAN 68 points, mapped onto the 478-point template by a
  thin-plate spline (exact at the 68 points, interpolated between them). Its weights are
  downloaded by the library on first use, so here they are only *looked up*; a clear error says
  where to put them when they are missing. Slow on CPU (well under 30 frames/s).
- ``haar``: OpenCV's frontal-face cascade. A box only: the landmarks are the mean face placed in
  the box, so they follow the head but not the mouth (mouth opening is a constant) and the score
  is a fixed 0.5. A last resort for when mediapipe cannot be installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from . import template


@dataclass(frozen=True)
class Detection:
    points: np.ndarray  # (478, 2) float32, normalised to the image given: x / W, y / H of pixel edges
    score: float  # [0, 1]


class Backend(Protocol):
    name: str

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces in ``image`` ((h, w, 3) uint8 RGB, upright), consecutive frames of one shot."""

    def reset(self) -> None:
        """Forget any state carried between frames (called at a scene cut)."""

    def close(self) -> None: ...


def _normalise(points_px: np.ndarray, image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    return ((points_px + 0.5) / np.array([w, h], np.float32)).astype(np.float32)


def _box_contains(box: np.ndarray, x: float, y: float) -> bool:
    return bool(box[0] <= x <= box[2] and box[1] <= y <= box[3])


class MediapipeBackend:
    name = "mediapipe"

    def __init__(self, max_faces: int, min_detection_confidence: float, min_tracking_confidence: float,
                 score_with_detector: bool):
        import mediapipe as mp  # heavy import (TensorFlow Lite runtime), only where tracking runs

        self._mp = mp
        self._args = dict(static_image_mode=False, max_num_faces=max_faces, refine_landmarks=True,
                          min_detection_confidence=min_detection_confidence,
                          min_tracking_confidence=min_tracking_confidence)
        self._mesh = mp.solutions.face_mesh.FaceMesh(**self._args)
        # Short-range BlazeFace: faces within about 2 m, i.e. any face big enough to lip-sync.
        self._detector = (mp.solutions.face_detection.FaceDetection(model_selection=0, min_detection_confidence=0.1)
                          if score_with_detector else None)

    def detect(self, image: np.ndarray) -> list[Detection]:
        image = np.ascontiguousarray(image)
        result = self._mesh.process(image)
        if not result.multi_face_landmarks:
            return []
        faces = [np.array([(p.x, p.y) for p in f.landmark], dtype=np.float32) for f in result.multi_face_landmarks]
        boxes = self._detector_boxes(image)  # (K, 5) x0, y0, x1, y1, score, normalised; None: not scoring
        out = []
        for pts in faces:
            if boxes is None:
                score = 1.0
            else:
                cx, cy = pts.mean(axis=0)
                # 0 when the detector misses a face the mesh keeps following: a sign of drift.
                score = max((float(b[4]) for b in boxes if _box_contains(b, cx, cy)), default=0.0)
            out.append(Detection(pts, score))
        return out

    def _detector_boxes(self, image: np.ndarray) -> np.ndarray | None:
        if self._detector is None:
            return None
        result = self._detector.process(image)
        rows = []
        for det in result.detections or []:
            b = det.location_data.relative_bounding_box
            rows.append((b.xmin, b.ymin, b.xmin + b.width, b.ymin + b.height, det.score[0]))
        return np.asarray(rows, np.float32).reshape(-1, 5)

    def reset(self) -> None:
        # The legacy solution API has no reset; a new graph drops the tracked regions.
        self._mesh.close()
        self._mesh = self._mp.solutions.face_mesh.FaceMesh(**self._args)

    def close(self) -> None:
        self._mesh.close()
        if self._detector is not None:
            self._detector.close()


class HaarBackend:
    name = "haar"
    SCORE = 0.5  # the cascade gives no calibrated score

    def __init__(self, min_size_fraction: float = 0.08):
        path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise RuntimeError(f"OpenCV's Haar cascade {path} could not be loaded")
        self._min_fraction = min_size_fraction

    def detect(self, image: np.ndarray) -> list[Detection]:
        grey = cv2.equalizeHist(cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY))
        side = max(16, int(self._min_fraction * min(grey.shape)))
        # minNeighbors 8, not OpenCV's usual 3-5: fewer false faces (the astronaut photo at 480 px gets one at 5).
        boxes = self._cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=8, minSize=(side, side))
        out = []
        for x, y, w, h in np.asarray(boxes).reshape(-1, 4):
            pts = template.in_haar_box(np.array([x, y, x + w, y + h], np.float32))  # (478, 2) pixels
            out.append(Detection(_normalise(pts, image), self.SCORE))
        return out

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


# File names face-alignment 1.5.0 downloads into <torch hub dir>/checkpoints (see its api.py and
# detection/sfd/sfd_detector.py); the hash suffixes are part of the names.
FAN_WEIGHTS = "2DFAN4-11f355bf06.pth.tar"
S3FD_WEIGHTS = "s3fd-619a316812.pth"


def face_alignment_checkpoints(hub_dir: str | None) -> Path:
    """The folder face-alignment reads its weights from, refusing when they are not there."""
    import torch

    root = Path(hub_dir).expanduser() if hub_dir else Path(torch.hub.get_dir())
    folder = root / "checkpoints"
    missing = [n for n in (S3FD_WEIGHTS, FAN_WEIGHTS) if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"face-alignment weights {', '.join(missing)} are not in {folder}. Download them on a connected machine "
            f"(https://www.adrianbulat.com/downloads/python-fan/<name>) into that folder, or point "
            f"FaceTrackConfig.face_alignment_dir at a torch hub folder holding checkpoints/; "
            f"or use the default backend 'mediapipe'"
        )
    return root


class FaceAlignmentBackend:
    name = "face_alignment"

    def __init__(self, hub_dir: str | None = None, min_score: float = 0.5, predictor=None):
        """``predictor``: an object with face-alignment's ``get_landmarks_from_image`` (tests pass a
        stand-in; normally it is built from the weights found in ``hub_dir``)."""
        if predictor is None:
            predictor = _load_face_alignment(face_alignment_checkpoints(hub_dir))
        self._fa = predictor
        self._min_score = min_score

    def detect(self, image: np.ndarray) -> list[Detection]:
        result = self._fa.get_landmarks_from_image(np.ascontiguousarray(image), return_bboxes=True)
        points, _, boxes = result if isinstance(result, tuple) else (result, None, None)
        out = []
        for k, pts68 in enumerate(points or []):
            score = float(boxes[k][4]) if boxes is not None and len(boxes[k]) > 4 else 1.0
            if score < self._min_score:
                continue
            pts = template.from_ibug68(np.asarray(pts68, np.float32)[:, :2])  # (478, 2) pixels
            out.append(Detection(_normalise(pts, image), min(score, 1.0)))
        return out

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


def _load_face_alignment(hub_root: Path):
    import face_alignment
    import torch

    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(hub_root))  # face-alignment finds FAN through torch's hub folder only
    try:
        return face_alignment.FaceAlignment(
            face_alignment.LandmarksType.TWO_D, device="cpu", face_detector="sfd", compile=False,
            face_detector_kwargs={"path_to_detector": str(hub_root / "checkpoints" / S3FD_WEIGHTS)},
        )
    finally:
        torch.hub.set_dir(previous)


def make_backend(config) -> Backend:
    """The backend named by ``config.backend`` (a FaceTrackConfig)."""
    if config.backend == "mediapipe":
        return MediapipeBackend(config.max_num_faces, config.min_detection_confidence, config.min_tracking_confidence,
                                config.score_with_detector)
    if config.backend == "haar":
        return HaarBackend()
    if config.backend == "face_alignment":
        return FaceAlignmentBackend(config.face_alignment_dir)
    raise ValueError(f"unknown face backend {config.backend!r}")

