"""Zero-lag One-Euro smoothing of landmark trajectories.

The One-Euro filter (Casiez et al., CHI 2012) is a low-pass whose cutoff rises with speed: still
landmarks lose their frame-to-frame jitter while fast lip motion passes almost untouched. Run
once it lags by about 1/(2π·cutoff) (80 ms at 2 Hz, more than two frames at 30 fps): far too much
for lip-sync, so it runs forward and then backward, which cancels the lag. The whole track is in
memory by then anyway (it is small), so this costs nothing in streaming.
"""

from __future__ import annotations

import numpy as np

from . import landmarks as lm


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * np.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


def one_euro(
    x: np.ndarray, fps: float, scale: np.ndarray, min_cutoff: float, beta: float, d_cutoff: float
) -> np.ndarray:
    """Causal One-Euro over time for points.

    x: (T, P, 2) positions in pixels. scale: (T,) a face size in pixels per frame; speed is
    measured in face sizes per second so that ``beta`` means the same for a small and a large face.
    Each point gets its own cutoff from its own speed. Returns (T, P, 2) float32.
    """
    dt = 1.0 / fps
    a_d = _alpha(d_cutoff, dt)
    out = np.empty_like(x, dtype=np.float64)
    out[0] = x[0]
    dx = np.zeros(x.shape[1:], dtype=np.float64)  # (P, 2) filtered velocity, pixels per second
    for t in range(1, x.shape[0]):
        raw_dx = (x[t] - out[t - 1]) / dt
        dx = dx + a_d * (raw_dx - dx)
        speed = np.linalg.norm(dx, axis=-1, keepdims=True) / scale[t]  # (P, 1) face sizes per second
        a = _alpha(min_cutoff + beta * speed, dt)
        out[t] = out[t - 1] + a * (x[t] - out[t - 1])
    return out.astype(np.float32)


def smooth_runs(
    landmarks: np.ndarray,
    present: np.ndarray,
    fps: float,
    min_cutoff: float,
    beta: float,
    d_cutoff: float,
    cuts: np.ndarray | None = None,
) -> np.ndarray:
    """Forward-backward One-Euro over each run of consecutive present frames; a gap or a scene
    cut restarts the filter so a face that reappears elsewhere is not dragged from its old place.

    landmarks: (N, P, 2) with NaN where absent; present: (N,) bool; cuts: (N,) bool, True where a
    new shot starts. Returns a new (N, P, 2).
    """
    out = landmarks.astype(np.float32, copy=True)
    idx = np.flatnonzero(present)
    if idx.size == 0:
        return out
    new_run = np.diff(idx) > 1
    if cuts is not None:
        new_run |= cuts[idx[1:]]
    breaks = np.flatnonzero(new_run) + 1
    for run in np.split(idx, breaks):
        if run.size < 3:
            continue
        seq = landmarks[run[0] : run[-1] + 1].astype(np.float64)  # (T, P, 2)
        scale = np.linalg.norm(seq[:, lm.EYE_OUTER_RIGHT] - seq[:, lm.EYE_OUTER_LEFT], axis=-1)
        scale = np.maximum(scale, 1.0)
        fwd = one_euro(seq, fps, scale, min_cutoff, beta, d_cutoff)
        back = one_euro(fwd[::-1].astype(np.float64), fps, scale[::-1], min_cutoff, beta, d_cutoff)[::-1]
        out[run[0] : run[-1] + 1] = back
    return out
