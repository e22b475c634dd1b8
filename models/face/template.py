"""The mean 478-point face, for backends that find less than the full mesh.

``mesh_template.npy`` is (478, 2) float32: the median mediapipe mesh of real talking-head frames,
in the coordinates of OpenCV's frontal Haar box around the same face (box corner 0,0, side 1).
:func:`build_template` made it from the shared real clips (run this module to rebuild it).
Placed in a Haar box it is a coarse but honest guess (pose and mouth shape are the average's);
warped through the 68 points face-alignment finds it is exact at those points.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import landmarks as lm

TEMPLATE_PATH = Path(__file__).with_name("mesh_template.npy")


@lru_cache(maxsize=1)
def mean_face() -> np.ndarray:
    """(478, 2) float32 in Haar-box units."""
    points = np.load(TEMPLATE_PATH)
    if points.shape != (lm.N_LANDMARKS, 2):
        raise ValueError(f"{TEMPLATE_PATH} holds {points.shape}, expected ({lm.N_LANDMARKS}, 2)")
    return points.astype(np.float32)


def in_haar_box(box: np.ndarray) -> np.ndarray:
    """(478, 2) pixels: the mean face in the Haar box ``box`` = x0, y0, x1, y1 (pixels)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    return (mean_face() * np.array([x1 - x0, y1 - y0], np.float32) + np.array([x0, y0], np.float32)).astype(np.float32)


def from_ibug68(points68: np.ndarray, smoothing: float = 1e-3) -> np.ndarray:
    """(68, 2) iBUG points (pixels) → (478, 2) mesh points (pixels) by a thin-plate spline from the
    template's own 68 points, so the mesh bends with the found lips, jaw and eyes."""
    from scipy.interpolate import RBFInterpolator

    src = mean_face()[list(lm.IBUG68_TO_MESH)].astype(np.float64)  # (68, 2) template units
    dst = np.asarray(points68, np.float64)
    if dst.shape != (68, 2) or not np.isfinite(dst).all():
        raise ValueError(f"expected 68 finite x, y points, got {dst.shape}")
    # Some template points coincide (e.g. inner and outer lip corner of a closed mouth); the spline
    # needs distinct sites, and their targets are averaged.
    sites, inverse = np.unique(np.round(src, 6), axis=0, return_inverse=True)
    targets = np.zeros_like(sites)
    np.add.at(targets, inverse.reshape(-1), dst)
    targets /= np.bincount(inverse.reshape(-1))[:, None]
    scale = float(np.ptp(dst[:, 0]) or 1.0)  # smoothing in pixel units of this face
    spline = RBFInterpolator(sites, targets / scale, kernel="thin_plate_spline", smoothing=smoothing, degree=1)
    out = spline(mean_face().astype(np.float64)) * scale
    out[list(lm.IBUG68_TO_MESH)] = dst  # exact where the detector measured
    return out.astype(np.float32)


def build_template(frames: Iterable[np.ndarray], max_frames: int = 2000) -> np.ndarray:
    """Median mediapipe mesh in Haar-box units over ``frames`` (RGB) where both find exactly one face."""
    import cv2

    from .backends import HaarBackend, MediapipeBackend

    haar = HaarBackend()
    mesh = MediapipeBackend(1, 0.5, 0.5, score_with_detector=False)
    samples = []
    try:
        for i, frame in enumerate(frames):
            if i >= max_frames:
                break
            h, w = frame.shape[:2]
            faces = mesh.detect(frame)
            grey = cv2.equalizeHist(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))
            boxes = np.asarray(haar._cascade.detectMultiScale(grey, 1.1, 5, minSize=(32, 32))).reshape(-1, 4)
            if len(faces) != 1 or len(boxes) != 1:
                continue
            x, y, bw, bh = boxes[0].astype(np.float32)
            pts = faces[0].points * np.array([w, h], np.float32) - 0.5
            samples.append((pts - np.array([x, y])) / np.array([bw, bh]))
    finally:
        mesh.close()
    if not samples:
        raise ValueError("no frame with one face found by both detectors")
    return np.median(np.stack(samples), axis=0).astype(np.float32)


if __name__ == "__main__":  # rebuild from the shared clips: python -m models.face.template
    import itertools

    import av

    clips = sorted((Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "video").glob("*.mp4"))

    def frames():
        for clip in clips:
            with av.open(str(clip)) as c:
                for f in itertools.islice(c.decode(video=0), 0, 200, 4):
                    yield f.to_ndarray(format="rgb24")

    result = build_template(frames())
    np.save(TEMPLATE_PATH, result)
    print(f"wrote {TEMPLATE_PATH} from {len(clips)} clips")
