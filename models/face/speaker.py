"""Which face of a shot is the speaker.

1. An override (``FaceTrackConfig.face``): an index counted left to right among the shot's faces,
   or a point "x,y" in fractions of the displayed picture (the face containing it, else the
   nearest).
2. With the source speech envelope: the face whose inner-lip opening correlates best with it
   (best of small lags, as audio and picture are often a frame or two apart), if it is clearly
   better than the others (a silent face or one speaking other words scores about 0).
3. Otherwise the most prominent face: present most, largest, nearest the centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d

from . import landmarks as lm
from .identities import Candidate


ONLY_FACE = "the only face"
NO_FACE = "no face"


def one_face_only(notes: list[str] | tuple[str, ...]) -> bool:
    """Whether a track's per-shot notes (FaceTrack.notes: "frames a-b: reason") say no shot had
    more than one face to choose from: then a tracker looking for one face finds the same one."""
    return bool(notes) and all(n.endswith(": " + ONLY_FACE) or n.endswith(": " + NO_FACE) for n in notes)


@dataclass(frozen=True)
class Choice:
    candidate: Candidate | None
    reason: str


def parse_face(face: str) -> int | tuple[float, float] | None:
    """'auto' → None; '1' → 1; '0.3,0.5' → (0.3, 0.5); anything else raises ValueError."""
    face = face.strip().lower()
    if face == "auto":
        return None
    if "," in face:
        x, y = (float(v) for v in face.split(","))
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(f"face point {face!r} must be fractions of the picture, each in [0, 1]")
        return (x, y)
    index = int(face)
    if index < 0:
        raise ValueError(f"face index {face!r} must be 0 or more (0 is the leftmost face)")
    return index


def opening(points: np.ndarray) -> np.ndarray:
    """(F,) inner-lip gap over the eye-corner distance for (F, 478, 2) points."""
    gap = np.linalg.norm(points[:, lm.LOWER_LIP_INNER_MID] - points[:, lm.UPPER_LIP_INNER_MID], axis=-1)
    eyes = np.linalg.norm(points[:, lm.EYE_OUTER_RIGHT] - points[:, lm.EYE_OUTER_LEFT], axis=-1)
    return gap / np.maximum(eyes, 1e-6)


def speech_correlation(cand: Candidate, shot: range, speech: np.ndarray, max_lag: int = 3,
                       min_frames: int = 25) -> float:
    """Best Pearson correlation of the face's mouth opening with the speech envelope over lags of
    ±``max_lag`` frames; NaN when there are too few frames or no variation to correlate."""
    series = np.full(len(shot), np.nan)
    series[np.asarray(cand.frames) - shot.start] = opening(cand.stacked())
    # A 3-frame mean: lips move over about 100 ms, the envelope's frame-to-frame flicker is noise.
    env = uniform_filter1d(np.asarray(speech[shot.start:shot.stop], np.float64), 3, mode="nearest")
    best = np.nan
    for lag in range(-max_lag, max_lag + 1):
        a = series[max(0, -lag): len(series) - max(0, lag)]
        b = env[max(0, lag): len(env) - max(0, -lag)]
        ok = np.isfinite(a)
        if ok.sum() < min_frames or np.std(a[ok]) < 1e-6 or np.std(b[ok]) < 1e-6:
            continue
        r = float(np.corrcoef(a[ok], b[ok])[0, 1])
        best = r if not np.isfinite(best) else max(best, r)
    return best


def prominence(cand: Candidate, shot: range, size: tuple[int, int]) -> float:
    w, h = size
    pts = cand.stacked()
    width = float(np.mean(np.ptp(pts[..., 0], axis=1))) / w
    centre = pts.mean(axis=(0, 1)) / np.array([w, h])
    off_centre = float(np.linalg.norm(centre - 0.5)) / np.sqrt(0.5)
    coverage = len(cand.frames) / len(shot)
    return coverage * width * (1.0 - 0.5 * off_centre)


def choose(cands: list[Candidate], shot: range, size: tuple[int, int], speech: np.ndarray | None,
           face: int | tuple[float, float] | None, min_r: float = 0.1, margin: float = 0.05) -> Choice:
    """The speaker among the candidates of one shot (``size``: (W, H) of the displayed picture)."""
    # Faces seen in under a tenth of the shot are passers-by or false detections.
    cands = [c for c in cands if len(c.frames) >= max(1, 0.1 * len(shot))]
    if not cands:
        return Choice(None, NO_FACE)
    if isinstance(face, int):
        ordered = sorted(cands, key=lambda c: float(c.stacked()[..., 0].mean()))
        if face >= len(ordered):
            return Choice(None, f"face {face} asked for, only {len(ordered)} found: left unchanged")
        return Choice(ordered[face], f"face {face} of {len(ordered)} (left to right), as asked")
    if isinstance(face, tuple):
        point = np.array(face) * np.array(size)

        def distance(c: Candidate) -> float:
            pts = c.stacked()
            lo, hi = pts.min(axis=1).mean(axis=0), pts.max(axis=1).mean(axis=0)  # mean box
            inside = bool(np.all(point >= lo) and np.all(point <= hi))
            return -1.0 if inside else float(np.linalg.norm((lo + hi) / 2 - point))

        return Choice(min(cands, key=distance), f"face at {face[0]:.2f},{face[1]:.2f}, as asked")
    if len(cands) == 1:
        return Choice(cands[0], ONLY_FACE)
    if speech is not None:
        scores = [speech_correlation(c, shot, speech) for c in cands]
        order = np.argsort([-s if np.isfinite(s) else np.inf for s in scores])
        best, second = scores[order[0]], scores[order[1]]
        if np.isfinite(best) and best >= min_r and (not np.isfinite(second) or best - second >= margin):
            others = ", ".join(f"{s:.2f}" for k, s in enumerate(scores) if k != order[0])
            return Choice(cands[order[0]], f"face whose lips follow the speech (r={best:.2f}; others {others})")
    chosen = max(cands, key=lambda c: prominence(c, shot, size))
    why = "no speech given" if speech is None else "speech did not single one out"
    return Choice(chosen, f"most prominent of {len(cands)} faces ({why})")
