"""Lip shape against a real reference video: how lip-sync papers measure it, made leak-proof.

The protocol (bench/bench_reconstruction.py): split a real clip in two halves, re-sync the second
half to its own audio with only the first half as the mouth library, and compare the output with
the second half's real frames. Re-syncing a clip with itself as the library could simply pick the
real frames back, and an envelope-driven mouth can beat real videos on a correlation-style sync
score while getting rounding and p/b/m closures wrong, so this compares shapes with the truth.

Measures, per video, on frames where both tracks found the face (``output`` and ``reference`` are
frame-aligned: same length and timing, e.g. a lip-sync output and the input it was made from):
- ``lmd``: lip-landmark distance (the 40 lip-contour points of the face mesh), mean over points
  and frames, after aligning the output's face to the reference's on points the mouth does not
  move, in units of the eye-corner distance (face-normalised; 0.01 = 1 % of it);
- ``opening_correlation`` / ``width_correlation``: Pearson correlation over time of inner-lip
  opening and of mouth width (corner to corner), output against real;
- ``closed_recall``: of the real frames with closed lips, the share closed in the output too
  (p/b/m and rests); ``closed_precision``: of the output's closed frames, the share closed in the
  real video (so "always closed" does not score);
- ``pop``: mean frame-to-frame change of the mouth region in the output over the same in the real
  video (the region from the real frame's lips, grown, in grey at a fixed size): texture jumps and
  flicker show as > 1, a frozen mouth as < 1; ``pop_p95`` the same for the 95th percentiles.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from models.face import FaceTrack
from models.face import landmarks as lm

STABLE = lm.STABLE
LIPS = lm.MOUTH  # 40 points: outer and inner contours of both lips


class ReconstructionConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    closed_opening: float = Field(0.05, ge=0, description="inner-lip gap / eye distance below which lips are closed "
                                  "(the sync score's threshold)")
    pop_margin: float = Field(0.3, ge=0, description="mouth region for `pop`: lips' box grown by this share of its size")
    pop_size: tuple[int, int] = Field((64, 40), description="(w, h) the mouth region is resized to: resolution-free")
    min_frames: int = Field(10, ge=2, description="fewer frames with a face in both: no score")


class ReconstructionScore(BaseModel):
    reference: str  # file name of the real video
    frames: int  # frames compared (the shorter of the two videos)
    frames_used: int  # ... with a face found in both
    lmd: float | None
    opening_correlation: float | None
    width_correlation: float | None
    closed_frames: int  # real frames with closed lips
    closed_recall: float | None
    closed_precision: float | None
    pop: float | None
    pop_p95: float | None
    notes: list[str] = Field(default_factory=list)

    def summary(self) -> dict:
        return {"lmd": self.lmd, "opening_corr": self.opening_correlation, "width_corr": self.width_correlation,
                "closed_recall": self.closed_recall, "closed_precision": self.closed_precision, "pop": self.pop}


def similarity_to(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(2, 3) least-squares similarity transform (rotation, uniform scale, shift) taking the
    (P, 2) points ``source`` onto ``target`` (Umeyama)."""
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    s, t = source - mu_s, target - mu_t
    u, sigma, vt = np.linalg.svd(t.T @ s)
    d = np.sign(np.linalg.det(u @ vt)) or 1.0
    rotation = u @ np.diag([1.0, d]) @ vt
    scale = (sigma * np.array([1.0, d])).sum() / max((s ** 2).sum(), 1e-12)
    matrix = np.empty((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = mu_t - scale * rotation @ mu_s
    return matrix


def lip_distances(output: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(N, 478, 2) output and reference landmarks (both present) → (N,) mean lip-point distance
    over the reference's eye-corner distance, after aligning each output face to its reference
    on STABLE points (tracker jitter and head motion are not lip error)."""
    out = np.empty(len(output))
    stable, lips = list(STABLE), list(LIPS)
    for i, (o, r) in enumerate(zip(output.astype(np.float64), reference.astype(np.float64))):
        m = similarity_to(o[stable], r[stable])
        moved = o[lips] @ m[:, :2].T + m[:, 2]
        eyes = np.linalg.norm(r[lm.EYE_OUTER_RIGHT] - r[lm.EYE_OUTER_LEFT])
        out[i] = np.linalg.norm(moved - r[lips], axis=-1).mean() / max(eyes, 1e-6)
    return out


def _corr(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 3 or np.std(a) < 1e-9 or np.std(b) < 1e-9:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def mouth_changes(frames: Iterable[np.ndarray], boxes: np.ndarray, present: np.ndarray,
                  size: tuple[int, int]) -> np.ndarray:
    """(N,) mean absolute grey change of the mouth region from the previous frame, in [0, 255];
    NaN at frame 0 and where a face is missing in this or the previous frame. ``boxes``: (N, 4)
    x0, y0, x1, y1 per frame: the same regions are cut from every video compared."""
    n = len(boxes)
    change = np.full(n, np.nan)
    previous: np.ndarray | None = None
    for t, frame in enumerate(frames):
        if t >= n:
            break
        x0, y0, x1, y1 = boxes[t]
        if not present[t] or x1 <= x0 or y1 <= y0:
            previous = None
            continue
        grey = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
        # The previous frame is cut at *this* frame's box: head motion moves both videos alike.
        current = cv2.resize(grey[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA).astype(np.float32)
        if previous is not None:
            before = cv2.resize(previous[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA).astype(np.float32)
            change[t] = float(np.abs(current - before).mean())
        previous = grey
    return change


def pop_boxes(track: FaceTrack, margin: float) -> np.ndarray:
    """(N, 4) int lips' box per frame, grown by ``margin`` of its size and clipped to the frame."""
    w, h = track.size
    lips = track.landmarks[:, list(LIPS)]  # (N, 40, 2)
    lo, hi = np.nanmin(lips, axis=1), np.nanmax(lips, axis=1)
    grow = margin * (hi - lo)
    lo, hi = np.nan_to_num(lo - grow), np.nan_to_num(hi + grow)
    boxes = np.stack([np.clip(np.floor(lo[:, 0]), 0, w), np.clip(np.floor(lo[:, 1]), 0, h),
                      np.clip(np.ceil(hi[:, 0]), 0, w), np.clip(np.ceil(hi[:, 1]), 0, h)], axis=-1)
    return boxes.astype(np.int64)


def compare_to_reference(output_track: FaceTrack, reference_track: FaceTrack,
                         output_frames: Iterator[np.ndarray], reference_frames: Iterator[np.ndarray],
                         reference_name: str = "reference",
                         config: ReconstructionConfig = ReconstructionConfig()) -> ReconstructionScore:
    """Score the output's mouth against the real video's, frame by frame (module docstring).

    Tracks and frames must be of the same-sized videos; frames are streamed, never held."""
    if output_track.size != reference_track.size:
        raise ValueError(f"output is {output_track.size} but the reference is {reference_track.size}: "
                         "compare a lip-sync output with the video it was made from")
    n = min(len(output_track), len(reference_track))
    both = output_track.present[:n] & reference_track.present[:n]
    notes = []
    if abs(len(output_track) - len(reference_track)) > 1:
        notes.append(f"output has {len(output_track)} frames, reference {len(reference_track)}: compared the first {n}")
    empty = ReconstructionScore(reference=reference_name, frames=n, frames_used=int(both.sum()), lmd=None,
                                opening_correlation=None, width_correlation=None, closed_frames=0,
                                closed_recall=None, closed_precision=None, pop=None, pop_p95=None, notes=notes)
    if both.sum() < config.min_frames:
        empty.notes.append(f"a face was found in both videos in only {int(both.sum())} frames; no score")
        return empty

    lmd = lip_distances(output_track.landmarks[:n][both], reference_track.landmarks[:n][both])
    open_out, open_ref = output_track.mouth_opening()[:n][both], reference_track.mouth_opening()[:n][both]
    width_out, width_ref = output_track.mouth_width()[:n][both], reference_track.mouth_width()[:n][both]
    closed_ref, closed_out = open_ref < config.closed_opening, open_out < config.closed_opening
    recall = float((closed_out & closed_ref).sum() / closed_ref.sum()) if closed_ref.any() else None
    precision = float((closed_out & closed_ref).sum() / closed_out.sum()) if closed_out.any() else None
    if not closed_ref.any():
        notes.append("the real video never closes its lips in these frames: no closed-lip recall")

    # The same regions (from the real video's lips) are cut from both videos.
    boxes = pop_boxes(reference_track, config.pop_margin)[:n]
    present = reference_track.present[:n]
    change_out = mouth_changes(output_frames, boxes, present, config.pop_size)
    change_ref = mouth_changes(reference_frames, boxes, present, config.pop_size)
    valid = np.isfinite(change_out) & np.isfinite(change_ref)
    pop = pop95 = None
    if valid.sum() >= config.min_frames and change_ref[valid].mean() > 0:
        pop = float(change_out[valid].mean() / change_ref[valid].mean())
        pop95 = float(np.percentile(change_out[valid], 95) / max(np.percentile(change_ref[valid], 95), 1e-6))

    return ReconstructionScore(
        reference=reference_name, frames=n, frames_used=int(both.sum()), lmd=round(float(lmd.mean()), 5),
        opening_correlation=_round(_corr(open_out, open_ref)), width_correlation=_round(_corr(width_out, width_ref)),
        closed_frames=int(closed_ref.sum()), closed_recall=_round(recall), closed_precision=_round(precision),
        pop=_round(pop), pop_p95=_round(pop95), notes=notes)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
