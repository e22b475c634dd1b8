"""Which library mouth each output frame shows: a Viterbi path over candidates.

Per frame (unary cost): how far the entry's shape is from the target shape (in the speaker's own
range of openings and widths), how far its head pose is from the current frame's, and blur.
Between frames (transition cost): playing a run of source frames on is free (that is natural
motion); holding one entry costs a little (a frozen mouth looks dead); any other switch costs a
constant plus the actual appearance difference of the two mouths and their pose difference, both
relative to what the source video itself changes from one frame to the next. Switches thus land
where two mouths look alike, and short runs (the "pop every 3-5 frames" of a per-frame choice)
are not worth their two switches.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .mouth_library import MouthLibrary
from .visemes import CLOSURE, OPEN, ROUND, TEETH


class SelectConfig(BaseModel):
    """Weights of the selection (part of the lipsync cache key)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    candidates: int = Field(30, ge=1, description="best entries per frame kept for the path search")
    w_open: float = Field(4.0, ge=0)
    w_width: float = Field(1.5, ge=0)
    w_closure: float = Field(2.0, ge=0, description="extra pull towards the library's closed mouths on p/b/m and rest")
    w_teeth: float = Field(0.1, ge=0)
    w_pose: float = Field(1.0, ge=0, description="per unit of the video's typical pose variation")
    w_blur: float = Field(0.3, ge=0)
    jump: float = Field(0.35, ge=0, description="cost of any switch to a non-consecutive entry")
    w_appearance: float = Field(0.08, ge=0, description="per unit of typical frame-to-frame appearance change")
    hold: float = Field(0.3, ge=0, description="cost of showing the same entry again")


def desired_descriptors(shapes: np.ndarray, library: MouthLibrary) -> tuple[np.ndarray, np.ndarray]:
    """Target shapes (N, 4) → (opening, width) (N, 2) in the library's units, and their scales (2,).

    Opening 0 is the speaker's closed mouth (5th percentile), 1 their wide-open vowel (97th);
    rounding moves the width from the median towards the narrowest (10th) or widest (90th)."""
    o_lo, o_hi = np.percentile(library.opening, [5, 97])
    w_lo, w_med, w_hi = np.percentile(library.width, [10, 50, 90])
    opening = o_lo + shapes[:, OPEN] * (o_hi - o_lo)
    r = shapes[:, ROUND]
    width = np.where(r > 0, w_med + r * (w_lo - w_med), w_med - r * (w_hi - w_med))
    scale = np.array([max(o_hi - o_lo, 1e-3), max(w_hi - w_lo, 1e-3)], np.float32)
    return np.stack([opening, width], axis=-1).astype(np.float32), scale


def unary_costs(shapes: np.ndarray, current_pose: np.ndarray, library: MouthLibrary,
                config: SelectConfig) -> np.ndarray:
    """(N, K) cost of showing entry k at frame n."""
    want, scale = desired_descriptors(shapes, library)
    d_open = (library.opening[None, :] - want[:, :1]) / scale[0]
    d_width = (library.width[None, :] - want[:, 1:]) / scale[1]
    closed_level = np.percentile(library.opening, 5)
    above_closed = np.maximum(library.opening - closed_level, 0.0)[None, :] / scale[0]
    cost = config.w_open * d_open**2 + config.w_width * d_width**2
    cost += config.w_closure * shapes[:, CLOSURE:CLOSURE + 1] * above_closed
    cost += config.w_teeth * np.abs(library.teeth[None, :] - 0.3 * shapes[:, TEETH:TEETH + 1])
    pose_scale = _pose_scale(library)
    d_pose = (library.pose[None, :, :] - current_pose[:, None, :]) / pose_scale
    cost += config.w_pose * (d_pose**2).sum(-1)
    cost += config.w_blur * (1.0 - library.sharpness)[None, :]
    return cost.astype(np.float32)


def _pose_scale(library: MouthLibrary) -> np.ndarray:
    """(2,) typical spread of yaw and pitch in the library, with a floor (a still head has none)."""
    spread = np.percentile(library.pose, 90, axis=0) - np.percentile(library.pose, 10, axis=0)
    return np.maximum(spread, np.array([0.03, 0.03], np.float32))


def transition_costs(library: MouthLibrary, config: SelectConfig) -> np.ndarray:
    """(K, K) cost of showing entry j at frame n-1 and entry k at frame n."""
    k = len(library)
    thumbs = library.thumbs.astype(np.float32)
    sq = (thumbs**2).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * thumbs @ thumbs.T, 0.0) / thumbs.shape[1]
    app = np.sqrt(d2)  # RMS grey difference
    nxt = np.flatnonzero(library.run_id[1:] == library.run_id[:-1])
    natural = float(np.median(app[nxt, nxt + 1])) if nxt.size else float(np.median(app)) or 1.0
    natural = max(natural, 1e-3)
    pose_scale = _pose_scale(library)
    d_pose = (((library.pose[:, None, :] - library.pose[None, :, :]) / pose_scale) ** 2).sum(-1)
    cost = config.jump + config.w_appearance * (app / natural) ** 2 + config.w_pose * d_pose
    cost[np.arange(k), np.arange(k)] = config.hold
    cost[nxt, nxt + 1] = 0.0  # the next frame of the same run
    return cost.astype(np.float32)


def select_path(shapes: np.ndarray, current_pose: np.ndarray, present: np.ndarray, library: MouthLibrary,
                config: SelectConfig = SelectConfig()) -> np.ndarray:
    """(N,) library entry per output frame (-1 where the frame has no face).

    shapes: (N, 4) targets; current_pose: (N, 2) the output frames' own head pose; present: (N,)."""
    n, k = len(shapes), len(library)
    path = np.full(n, -1, np.int64)
    if n == 0 or k == 0:
        return path
    pose = np.where(np.isfinite(current_pose), current_pose, 0.0)
    unary = unary_costs(shapes, pose, library, config)
    unary[~present] = 0.0  # no face: only continuity matters (the frame passes through anyway)
    trans = transition_costs(library, config)
    m = min(config.candidates, k)
    cand = np.argpartition(unary, m - 1, axis=1)[:, :m] if m < k else np.tile(np.arange(k), (n, 1))  # (N, M)
    score = unary[0, cand[0]]
    back = np.zeros((n, m), np.int64)
    for t in range(1, n):
        step = score[:, None] + trans[np.ix_(cand[t - 1], cand[t])]  # (M prev, M cur)
        back[t] = np.argmin(step, axis=0)
        score = step[back[t], np.arange(m)] + unary[t, cand[t]]
    best = int(np.argmin(score))
    for t in range(n - 1, -1, -1):
        path[t] = cand[t, best]
        best = back[t, best]
    path[~present] = -1
    return path


def switch_frames(path: np.ndarray, library: MouthLibrary) -> np.ndarray:
    """(N,) bool: frame n shows an entry that does not naturally follow frame n-1's."""
    out = np.zeros(len(path), bool)
    for t in range(1, len(path)):
        a, b = path[t - 1], path[t]
        if a < 0 or b < 0 or a == b:
            continue
        out[t] = not (b == a + 1 and library.run_id[a] == library.run_id[b])
    return out
