"""Linking per-frame face detections into candidates: one face followed through one shot.

Duplicates first: a multi-face mesh sometimes returns the same face twice in one frame (seen on a
1080×1920 clip), so overlapping detections are reduced to the best-scored one. Detections are matched to the candidates of the current shot greedily, nearest first, by the
distance of their centres in face widths; a face unseen for longer than ``max_gap`` frames or
further than ``max_jump`` face widths from every candidate starts a new candidate. A scene cut
closes every candidate: faces are never linked across shots.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Candidate:
    shot: int
    frames: list[int] = field(default_factory=list)
    points: list[np.ndarray] = field(default_factory=list)  # each (478, 2) float32, displayed-picture pixels
    scores: list[float] = field(default_factory=list)

    def add(self, frame: int, points: np.ndarray, score: float) -> None:
        self.frames.append(frame)
        self.points.append(points)
        self.scores.append(score)

    @property
    def last_centre(self) -> np.ndarray:
        return self.points[-1].mean(axis=0)

    @property
    def last_width(self) -> float:
        return max(float(np.ptp(self.points[-1][:, 0])), 1.0)

    def stacked(self) -> np.ndarray:
        """(F, 478, 2) points of the frames in ``self.frames``."""
        return np.stack(self.points)


def _box(points: np.ndarray) -> np.ndarray:
    return np.concatenate([points.min(axis=0), points.max(axis=0)])


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two x0, y0, x1, y1 boxes."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def drop_duplicates(faces: list[tuple[np.ndarray, float]], max_iou: float = 0.4) -> list[tuple[np.ndarray, float]]:
    """Non-maximum suppression: of faces overlapping by more than ``max_iou``, the best-scored."""
    kept: list[tuple[np.ndarray, float]] = []
    for pts, score in sorted(faces, key=lambda f: -f[1]):
        if all(iou(_box(pts), _box(k[0])) <= max_iou for k in kept):
            kept.append((pts, score))
    return kept


def merge_fragments(cands: list[Candidate], max_jump: float = 0.6) -> list[Candidate]:
    """Join candidates of one shot where one ends before the next starts, near where it ended: the
    same face lost for a while (longer than the linker's gap) and found again."""
    merged: list[Candidate] = []
    for cand in sorted(cands, key=lambda c: c.frames[0]):
        for prev in merged:
            if prev.frames[-1] < cand.frames[0] and (
                float(np.linalg.norm(cand.points[0].mean(axis=0) - prev.last_centre)) / prev.last_width <= max_jump
            ):
                prev.frames += cand.frames
                prev.points += cand.points
                prev.scores += cand.scores
                break
        else:
            merged.append(cand)
    return merged


class FaceLinker:
    def __init__(self, max_gap: int, max_jump: float = 0.6):
        self.max_gap, self.max_jump = max_gap, max_jump
        self.candidates: list[Candidate] = []
        self.shot_starts: list[int] = []
        self._open: list[Candidate] = []

    def new_shot(self, frame: int) -> None:
        self.shot_starts.append(frame)
        self._open = []

    def add(self, frame: int, faces: list[tuple[np.ndarray, float]]) -> None:
        """``faces``: (points (478, 2) pixels, score) found in ``frame``."""
        if not self.shot_starts:
            self.new_shot(frame)
        faces = drop_duplicates(faces)
        live = [c for c in self._open if frame - c.frames[-1] <= self.max_gap]
        pairs = sorted(
            (float(np.linalg.norm(pts.mean(axis=0) - c.last_centre)) / c.last_width, k, j)
            for k, (pts, _) in enumerate(faces) for j, c in enumerate(live)
        )
        taken_faces: set[int] = set()
        taken_cands: set[int] = set()
        for dist, k, j in pairs:
            if dist > self.max_jump or k in taken_faces or j in taken_cands:
                continue
            live[j].add(frame, *faces[k])
            taken_faces.add(k)
            taken_cands.add(j)
        for k, (pts, score) in enumerate(faces):
            if k not in taken_faces:
                cand = Candidate(shot=len(self.shot_starts) - 1)
                cand.add(frame, pts, score)
                self.candidates.append(cand)
                live.append(cand)
        self._open = live

    def shots(self, n_frames: int) -> list[range]:
        """Frame ranges of the shots, covering 0..n_frames."""
        starts = self.shot_starts or [0]
        ends = starts[1:] + [n_frames]
        return [range(s, e) for s, e in zip(starts, ends)]
