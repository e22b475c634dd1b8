"""``--preview STRIP.png``: input | output lower faces at a few moments, and the output's mouth
opening against the dub's envelope over the whole clip, in one picture for a quick look."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from models.face import landmarks as lm


def face_zoom(frame: np.ndarray, pts: np.ndarray, size: int = 192) -> np.ndarray:
    """(size, size, 3) square crop around the lower face (nose to below the chin), scaled."""
    eye = float(np.linalg.norm(pts[lm.EYE_OUTER_RIGHT] - pts[lm.EYE_OUTER_LEFT])) or 50.0
    cx, cy = 0.5 * (pts[lm.MOUTH_CORNER_LEFT] + pts[lm.MOUTH_CORNER_RIGHT])
    half = 0.85 * eye
    h, w = frame.shape[:2]
    x0, y0 = int(max(cx - half, 0)), int(max(cy - 0.8 * half, 0))
    x1, y1 = int(min(cx + half, w)), int(min(cy + 1.2 * half, h))
    crop = frame[y0:y1, x0:x1]
    if crop.size == 0:
        return np.zeros((size, size, 3), np.uint8)
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_CUBIC)


def plot(opening: np.ndarray, envelope: np.ndarray, width: int, height: int = 160,
         marks: list[int] | None = None) -> np.ndarray:
    """(height, width, 3) white plot: output mouth opening (red) and dub envelope (grey fill),
    each scaled to its own 98th percentile; ``marks`` are the frames shown above (blue)."""
    img = np.full((height, width, 3), 255, np.uint8)
    n = len(opening)
    if n < 2:
        return img
    xs = np.linspace(4, width - 5, n)

    def ys(series: np.ndarray) -> np.ndarray:
        s = np.nan_to_num(np.asarray(series, np.float64), nan=0.0)
        top = np.percentile(s, 98) or 1.0
        return (height - 12) - np.clip(s / top, 0, 1.05) * (height - 30)

    env = ys(envelope)
    poly = np.concatenate([[[xs[0], height - 12]], np.stack([xs, env], 1), [[xs[-1], height - 12]]])
    cv2.fillPoly(img, [np.round(poly).astype(np.int32)], (205, 205, 205))
    cv2.polylines(img, [np.round(np.stack([xs, ys(opening)], 1)).astype(np.int32)], False, (200, 30, 30), 2,
                  cv2.LINE_AA)
    for m in marks or []:
        x = int(round(xs[min(max(m, 0), n - 1)]))
        cv2.line(img, (x, 0), (x, height - 12), (40, 80, 220), 1)
    cv2.putText(img, "mouth opening (red) vs dub envelope (grey)", (8, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                (40, 40, 40), 1, cv2.LINE_AA)
    return img


def preview_strip(inputs: list[np.ndarray], outputs: list[np.ndarray], landmarks: list[np.ndarray],
                  opening: np.ndarray, envelope: np.ndarray, frames: list[int], tile: int = 192) -> np.ndarray:
    """(H, W, 3) RGB strip: a row of input lower faces, a row of the same frames in the output,
    and the opening/envelope plot. inputs/outputs/landmarks: the frames listed in ``frames``."""
    top = np.hstack([face_zoom(f, p, tile) for f, p in zip(inputs, landmarks)])
    mid = np.hstack([face_zoom(f, p, tile) for f, p in zip(outputs, landmarks)])
    for row, label in ((top, "input"), (mid, "output")):
        cv2.putText(row, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 2, cv2.LINE_AA)
    return np.vstack([top, mid, plot(opening, envelope, top.shape[1], marks=frames)])


def write_preview(path: str | Path, strip: np.ndarray) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")


def preview_frames(n_frames: int, count: int = 6) -> list[int]:
    """Frames to show: evenly spread over the clip, away from its very ends."""
    if n_frames <= 0:
        return []
    return sorted(set(np.linspace(n_frames * 0.1, n_frames * 0.9, count).astype(int).tolist()))
