"""Track quality measures for the bench and the tests."""

from __future__ import annotations

import numpy as np

from . import landmarks as lm


def mouth_jitter(landmarks: np.ndarray, present: np.ndarray, cuts: np.ndarray | None = None) -> float:
    """Mean absolute second difference of the lip landmarks over the face width.

    landmarks: (N, 478, 2); present: (N,) bool; cuts: (N,) bool, True where a shot starts. Counts
    frames t whose neighbours t-1 and t+1 hold the face in the same shot; |x[t+1] - 2x[t] + x[t-1]|
    is the Euclidean norm per point, averaged over the lip points, divided by the width of the
    landmarks' extent at t. NaN when no frame qualifies.
    """
    n = len(present)
    if n < 3:
        return float("nan")
    ok = present[:-2] & present[1:-1] & present[2:]
    if cuts is not None:
        ok &= ~cuts[1:-1] & ~cuts[2:]
    if not ok.any():
        return float("nan")
    mouth = landmarks[:, list(lm.MOUTH)].astype(np.float64)  # (N, M, 2)
    second = np.linalg.norm(mouth[2:] - 2 * mouth[1:-1] + mouth[:-2], axis=-1).mean(axis=-1)  # (N-2,)
    width = np.ptp(landmarks[1:-1, :, 0], axis=-1)  # (N-2,)
    return float(np.mean(second[ok] / width[ok]))
