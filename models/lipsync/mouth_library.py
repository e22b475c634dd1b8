"""The speaker's mouth appearances, collected from a video: lower-face crops with what they show.

Each entry is one source frame's lower face (a crop around jaw, lips and chin, at full
resolution), its landmarks in crop coordinates, and a description used to choose it:
- shape: inner-lip opening and mouth width over the eye-corner distance, teeth showing;
- pose: yaw and pitch from landmarks the mouth does not move (mouths taken at another yaw come
  out skewed with a ghost jaw line, so pose is matched, not just warped away);
- sharpness of the mouth (motion-blurred mouths look smeared once pasted);
- a small grey thumbnail of the mouth in a face-aligned frame, whose differences measure how
  much a switch between two entries would jump.

Only these crops are kept, never whole frames, and at most ``max_entries`` of them (in runs of
consecutive frames, which the selection prefers to play through), so memory stays bounded. The
library may come from another recording of the same person (``MouthLibrary.from_video``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from models.face import FaceTrack
from models.face import landmarks as lm

# Landmarks that the jaw and lips do not move: what the library is aligned to the current face by.
STABLE = lm.STABLE
# Inner-lip point pairs across the central part of the mouth: a mean gap, not one pair's.
_GAP_PAIRS = ((81, 178), (82, 87), (13, 14), (312, 317), (311, 402))
THUMB = (24, 20)  # (w, h) of the appearance thumbnail


class MouthLibraryConfig(BaseModel):
    """Which frames the library keeps (part of the lipsync cache key)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_entries: int = Field(450, ge=10, description="bound on stored crops (memory)")
    run_length: int = Field(15, ge=1, description="entries are kept in runs of this many consecutive frames")
    min_entries: int = Field(40, ge=1, description="fewer usable frames: too little to choose from")
    min_open_range: float = Field(0.05, ge=0, description="less spread of openings (p95-p5, over eye distance): no variety")
    margin: float = Field(0.35, ge=0, description="crop margin around the lower face, in mouth widths")


@dataclass(frozen=True, eq=False)
class MouthLibrary:
    crops: list[np.ndarray]  # K × (h_k, w_k, 3) uint8 RGB lower-face crops
    landmarks: np.ndarray  # (K, 478, 2) float32 in each crop's coordinates
    source_index: np.ndarray  # (K,) int64 frame index in the source video
    run_id: np.ndarray  # (K,) int64: entries with the same id are consecutive source frames
    opening: np.ndarray  # (K,) mean central inner-lip gap / eye distance
    width: np.ndarray  # (K,) mouth-corner distance / eye distance
    teeth: np.ndarray  # (K,) fraction of the inner-mouth area that is bright (teeth)
    pose: np.ndarray  # (K, 2) yaw, pitch (see head_pose)
    sharpness: np.ndarray  # (K,) in [0, 1], 1 = as sharp as the sharpest tenth of the library
    thumbs: np.ndarray  # (K, THUMB h*w) float32 grey mouth thumbnails in [0, 1]

    def __len__(self) -> int:
        return len(self.crops)

    def usable(self, config: MouthLibraryConfig = MouthLibraryConfig()) -> bool:
        """Enough entries with enough spread of openings to re-use appearance (else: fall back)."""
        if len(self) < config.min_entries:
            return False
        spread = float(np.percentile(self.opening, 95) - np.percentile(self.opening, 5))
        return spread >= config.min_open_range

    def nbytes(self) -> int:
        return int(sum(c.nbytes for c in self.crops) + self.landmarks.nbytes + self.thumbs.nbytes)

    @classmethod
    def from_frames(cls, frames: Iterable[np.ndarray], track: FaceTrack,
                    config: MouthLibraryConfig = MouthLibraryConfig()) -> MouthLibrary:
        """Stream ``frames`` ((H, W, 3) uint8 RGB, the frames ``track`` was made from) once,
        keeping crops of the chosen frames only."""
        keep = choose_frames(track, config)
        wanted = set(keep.tolist())
        crops, pts, idx, thumbs, sharp, teeth = [], [], [], [], [], []
        last = int(keep.max()) if keep.size else -1
        for i, frame in enumerate(frames):
            if i > last:
                break
            if i not in wanted:
                continue
            p = track.landmarks[i].astype(np.float32)
            x0, y0, x1, y1 = lower_face_box(p, frame.shape, config.margin)
            crop = np.ascontiguousarray(frame[y0:y1, x0:x1])
            local = p - np.array([x0, y0], np.float32)
            crops.append(crop)
            pts.append(local)
            idx.append(i)
            thumbs.append(mouth_thumbnail(crop, local))
            sharp.append(_sharpness(crop, local))
            teeth.append(_teeth_fraction(crop, local))
        if not crops:
            return cls.empty()
        idx_a = np.array(idx, np.int64)
        full = track.landmarks[idx_a]
        sharp_a = np.array(sharp, np.float32)
        ref = float(np.percentile(sharp_a, 90)) or 1.0
        return cls(
            crops=crops, landmarks=np.stack(pts).astype(np.float32), source_index=idx_a,
            run_id=_runs(idx_a, track), opening=mouth_opening(full), width=mouth_width(full),
            teeth=np.array(teeth, np.float32), pose=head_pose(full),
            sharpness=np.clip(sharp_a / ref, 0, 1).astype(np.float32), thumbs=np.stack(thumbs),
        )

    @classmethod
    def from_video(cls, path: str | Path, track: FaceTrack,
                   config: MouthLibraryConfig = MouthLibraryConfig()) -> MouthLibrary:
        """Library from a video file and its face track (made by the track_faces stage)."""
        from lipsync_sts import media

        # Only the kept frames are converted to RGB (at most max_entries of them); the decoder
        # seeks past the groups of pictures that hold none of them (media.iter_frames).
        wanted = set(choose_frames(track, config).tolist())
        return cls.from_frames(media.iter_frames(path, only=wanted), track, config)

    def save(self, path: str | Path) -> None:
        """One .npz: the crops as one flat uint8 buffer with their shapes (they differ in size),
        the rest as arrays. Uncompressed: deflate halves it (450 crops of 720p: 118 -> 60 MB) but
        costs 2 s to write and 0.5 s to read, on the way of every first dub. The library is capped
        at ``max_entries`` crops, so it does not grow with the video's length."""
        shapes = np.array([c.shape for c in self.crops], np.int64).reshape(-1, 3)
        pixels = np.concatenate([c.reshape(-1) for c in self.crops]) if self.crops else np.zeros(0, np.uint8)
        np.savez(path, pixels=pixels, shapes=shapes, landmarks=self.landmarks, source_index=self.source_index,
                 run_id=self.run_id, opening=self.opening, width=self.width, teeth=self.teeth, pose=self.pose,
                 sharpness=self.sharpness, thumbs=self.thumbs)

    @classmethod
    def load(cls, path: str | Path) -> MouthLibrary:
        with np.load(path, allow_pickle=False) as z:
            sizes = np.prod(z["shapes"], axis=1)
            pixels = z["pixels"]
            offsets = np.concatenate([[0], np.cumsum(sizes)])
            crops = [pixels[a:b].reshape(shape) for a, b, shape in zip(offsets[:-1], offsets[1:], z["shapes"])]
            return cls(crops=crops, **{k: z[k] for k in ("landmarks", "source_index", "run_id", "opening", "width",
                                                         "teeth", "pose", "sharpness", "thumbs")})

    @classmethod
    def empty(cls) -> MouthLibrary:
        z = np.zeros(0, np.float32)
        return cls(crops=[], landmarks=np.zeros((0, lm.N_LANDMARKS, 2), np.float32),
                   source_index=np.zeros(0, np.int64), run_id=np.zeros(0, np.int64), opening=z, width=z,
                   teeth=z, pose=np.zeros((0, 2), np.float32), sharpness=z,
                   thumbs=np.zeros((0, THUMB[0] * THUMB[1]), np.float32))


def choose_frames(track: FaceTrack, config: MouthLibraryConfig) -> np.ndarray:
    """Sorted frame indices to keep: every frame with a face if they fit, else evenly spaced runs
    of ``run_length`` consecutive frames (the selection plays runs through: natural motion)."""
    present = np.flatnonzero(track.present)
    if present.size <= config.max_entries:
        return present
    n_runs = max(1, config.max_entries // config.run_length)
    starts = np.linspace(0, present.size - config.run_length, n_runs).astype(np.int64)
    keep = np.unique(np.concatenate([present[s:s + config.run_length] for s in starts]))
    return keep[: config.max_entries]


def _runs(idx: np.ndarray, track: FaceTrack) -> np.ndarray:
    """Run ids: a new run wherever the source frames are not consecutive or a shot cut falls."""
    cuts = track.cuts if track.cuts is not None else np.zeros(len(track), bool)
    new = np.ones(idx.size, bool)
    new[1:] = (np.diff(idx) != 1) | cuts[idx[1:]]
    return np.cumsum(new) - 1


def eye_distance(pts: np.ndarray) -> np.ndarray:
    """(...,) outer eye-corner distance of (..., 478, 2) landmarks."""
    return np.linalg.norm(pts[..., lm.EYE_OUTER_RIGHT, :] - pts[..., lm.EYE_OUTER_LEFT, :], axis=-1)


def mouth_opening(pts: np.ndarray) -> np.ndarray:
    """(N,) mean inner-lip gap over the central mouth / eye distance, for (N, 478, 2)."""
    up = pts[:, [a for a, _ in _GAP_PAIRS]]
    low = pts[:, [b for _, b in _GAP_PAIRS]]
    gap = np.linalg.norm(low - up, axis=-1).mean(axis=1)
    return (gap / np.maximum(eye_distance(pts), 1e-6)).astype(np.float32)


def mouth_width(pts: np.ndarray) -> np.ndarray:
    """(N,) outer-corner distance / eye distance."""
    w = np.linalg.norm(pts[:, lm.MOUTH_CORNER_RIGHT] - pts[:, lm.MOUTH_CORNER_LEFT], axis=-1)
    return (w / np.maximum(eye_distance(pts), 1e-6)).astype(np.float32)


def head_pose(pts: np.ndarray) -> np.ndarray:
    """(N, 2) (yaw, pitch) proxies from landmarks that the mouth does not move, for (N, 478, 2).

    yaw: where the nose tip sits between the two face edges (0 frontal, ±0.5 profile);
    pitch: how far below the eye line the nose tip is, over the eye distance."""
    pts = pts.astype(np.float64)
    left, right = pts[:, 234], pts[:, 454]
    eye_l, eye_r = pts[:, lm.EYE_OUTER_LEFT], pts[:, lm.EYE_OUTER_RIGHT]
    u = eye_r - eye_l
    d = np.maximum(np.linalg.norm(u, axis=-1, keepdims=True), 1e-6)
    u = u / d
    v = np.stack([-u[:, 1], u[:, 0]], axis=-1)
    nose = pts[:, 1]
    span = np.maximum(np.einsum("ij,ij->i", right - left, u), 1e-6)
    yaw = np.einsum("ij,ij->i", nose - left, u) / span - 0.5
    pitch = np.einsum("ij,ij->i", nose - 0.5 * (eye_l + eye_r), v) / d[:, 0]
    return np.stack([yaw, pitch], axis=-1).astype(np.float32)


def lower_face_box(pts: np.ndarray, shape: tuple[int, ...], margin: float) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) integer box around nose base, jaw and chin plus ``margin`` mouth widths."""
    sel = pts[list(lm.JAW_CONTOUR[2:-2]) + [lm.NOSE_BASE, 98, 327] + list(lm.LIP_LOWER_OUTER)]
    mw = float(np.linalg.norm(pts[lm.MOUTH_CORNER_RIGHT] - pts[lm.MOUTH_CORNER_LEFT]))
    m = margin * mw
    h, w = shape[:2]
    x0 = int(np.clip(np.floor(sel[:, 0].min() - m), 0, w))
    x1 = int(np.clip(np.ceil(sel[:, 0].max() + m) + 1, 0, w))
    y0 = int(np.clip(np.floor(sel[:, 1].min() - 0.5 * m), 0, h))
    y1 = int(np.clip(np.ceil(sel[:, 1].max() + m) + 1, 0, h))
    return x0, y0, x1, y1


def mouth_thumbnail(image: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """(THUMB h*w,) grey mouth patch in a face-aligned frame (scale and roll from the eyes, so an
    open mouth and a closed one differ here as they do on screen)."""
    eye_l, eye_r = pts[lm.EYE_OUTER_LEFT], pts[lm.EYE_OUTER_RIGHT]
    d = float(np.linalg.norm(eye_r - eye_l)) or 1.0
    u = (eye_r - eye_l) / d
    v = np.array([-u[1], u[0]])
    centre = 0.5 * (pts[lm.MOUTH_CORNER_LEFT] + pts[lm.MOUTH_CORNER_RIGHT])
    tw, th = THUMB
    s = d * 0.9 / tw  # source pixels per thumbnail pixel: the patch spans 0.9 eye distances
    # thumbnail (x, y) -> source: centre + s*(x - tw/2) u + s*(y - th/2) v
    m = np.array([[s * u[0], s * v[0], centre[0] - s * (tw / 2) * u[0] - s * (th / 2) * v[0]],
                  [s * u[1], s * v[1], centre[1] - s * (tw / 2) * u[1] - s * (th / 2) * v[1]]], np.float32)
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    patch = cv2.warpAffine(grey, m, (tw, th), flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REPLICATE)
    return (patch.astype(np.float32) / 255.0).reshape(-1)


def _mouth_box(crop: np.ndarray, pts: np.ndarray) -> tuple[slice, slice]:
    lips = pts[list(lm.MOUTH)]
    x0, y0 = np.floor(lips.min(axis=0)).astype(int)
    x1, y1 = np.ceil(lips.max(axis=0)).astype(int) + 1
    h, w = crop.shape[:2]
    return slice(max(y0, 0), min(y1, h)), slice(max(x0, 0), min(x1, w))


def _sharpness(crop: np.ndarray, pts: np.ndarray) -> float:
    """Variance of the Laplacian over the lips' box, per unit of mouth size (scale-free)."""
    ys, xs = _mouth_box(crop, pts)
    grey = cv2.cvtColor(crop[ys, xs], cv2.COLOR_RGB2GRAY)
    if grey.size < 16:
        return 0.0
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def _teeth_fraction(crop: np.ndarray, pts: np.ndarray) -> float:
    """Fraction of the inner-lip polygon that is bright and unsaturated (teeth)."""
    poly = np.concatenate([pts[list(lm.LIP_UPPER_INNER)], pts[list(lm.LIP_LOWER_INNER)][::-1]])
    mask = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1)
    inside = crop[mask > 0].astype(np.float32)
    if inside.shape[0] < 4:
        return 0.0
    lips = crop[_mouth_box(crop, pts)].reshape(-1, 3).astype(np.float32)
    y_lip = float(np.median(lips @ np.array([0.299, 0.587, 0.114], np.float32)))
    y = inside @ np.array([0.299, 0.587, 0.114], np.float32)
    sat = inside.max(axis=1) - inside.min(axis=1)
    return float(np.mean((y > y_lip + 0.3 * (255 - y_lip)) & (sat < 0.45 * np.maximum(y, 1))))
