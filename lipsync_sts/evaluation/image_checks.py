"""Image checks of a lip-synced output against its input: only the lower face may change.

- PSNR / SSIM outside the lower face (everything a lip-sync must leave alone; codec loss shows
  as a finite PSNR, a misplaced paste or a colour shift as a drop);
- sharpness of the mouth region relative to the input's (variance of the Laplacian in the lips'
  box): a blurry pasted mouth, the public Wav2Lip's complaint, scores well below 1.

Geometry comes from the input's face track, so input and output are measured on the same pixels.
Frames are sampled evenly (``max_frames``): each check costs about 30 ms on a 720p frame.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from models.face import landmarks as lm


class ImageCheckConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_frames: int = Field(40, ge=1, description="frames sampled evenly for the checks")
    mask_margin: float = Field(0.25, ge=0, description="lower-face region grown by this fraction of the eye distance")
    mouth_margin: float = Field(0.2, ge=0, description="lips' box grown by this fraction of its size")


class ImageChecks(BaseModel):
    frames_checked: int
    psnr_outside_mouth: float | None  # dB, mean over frames; None: identical everywhere (infinite)
    ssim_outside_mouth: float | None  # mean over frames, 1 = identical
    mouth_sharpness_ratio: float | None  # output / input, median over frames
    notes: list[str] = Field(default_factory=list)


def lower_face_region(points: np.ndarray, shape: tuple[int, int],
                      margin_px: float) -> tuple[tuple[int, int, int, int], np.ndarray]:
    """Where a lip-sync may change pixels: the hull of the jaw contour, the nose base and the lips
    (478 points (x, y)), grown by ``margin_px``. Returned as its box (x0, y0, x1, y1) and the
    (y1 - y0, x1 - x0) bool mask inside that box: the region is a small part of the frame, and
    whole-frame masks cost more than the checks themselves."""
    idx = list(lm.JAW_CONTOUR) + [lm.NOSE_BASE] + list(lm.MOUTH)
    hull = np.round(points[idx]).astype(np.int32)
    reach = int(round(margin_px)) + 1
    h, w = shape
    x0, y0 = (int(v) for v in np.maximum(hull.min(axis=0) - reach, 0))
    x1, y1 = (int(v) for v in np.minimum(hull.max(axis=0) + reach + 1, [w, h]))
    if x1 <= x0 or y1 <= y0:
        return (0, 0, 0, 0), np.zeros((0, 0), bool)
    local = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(local, cv2.convexHull(hull - [x0, y0]), 1)
    if margin_px >= 1:
        # Grown by a disc: every pixel within margin_px of the hull (an exact distance transform,
        # 20x cheaper than dilating with a disc-shaped kernel of that size).
        # The threshold sits half a pixel beyond the radius, where no pixel's exact distance lies:
        # OpenCV's threaded transform can round a distance equal to the radius either way.
        grown = cv2.distanceTransform(1 - local, cv2.DIST_L2, cv2.DIST_MASK_PRECISE) < round(margin_px) + 0.5
        return (x0, y0, x1, y1), grown
    return (x0, y0, x1, y1), local.astype(bool)


def ssim_map(a: np.ndarray, b: np.ndarray, data_range: float = 255.0, win_size: int = 7) -> np.ndarray:
    """(H, W) SSIM of two grey images: skimage.metrics.structural_similarity(a, b, full=True)'s
    map (7x7 uniform window, sample covariance, K1 0.01, K2 0.03, reflected borders), computed
    with OpenCV box filters in float32: 12 ms on a 720p frame, against 30 ms in float64 and 90 ms
    with skimage. float32 moves a pixel's SSIM by at most ~3e-4 and a frame's mean by ~1e-6
    (c2 = 58.5 outweighs the rounding of E[x²] - E[x]²); the checks report 4 decimals."""
    x, y = a.astype(np.float32), b.astype(np.float32)

    def mean(img: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(img, cv2.CV_32F, (win_size, win_size), borderType=cv2.BORDER_REFLECT)

    ux, uy = mean(x), mean(y)
    cov_norm = win_size**2 / (win_size**2 - 1)
    vx = cov_norm * (mean(x * x) - ux * ux)
    vy = cov_norm * (mean(y * y) - uy * uy)
    vxy = cov_norm * (mean(x * y) - ux * uy)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    return ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))


def mouth_box(points: np.ndarray, shape: tuple[int, int], margin: float) -> tuple[int, int, int, int]:
    """x0, y0, x1, y1 of the lips grown by ``margin`` of their size, clipped to the frame."""
    lips = points[list(lm.MOUTH)]
    (x0, y0), (x1, y1) = lips.min(axis=0), lips.max(axis=0)
    mx, my = margin * (x1 - x0), margin * (y1 - y0)
    h, w = shape
    return (int(max(0, x0 - mx)), int(max(0, y0 - my)), int(min(w, np.ceil(x1 + mx))), int(min(h, np.ceil(y1 + my))))


def sharpness(gray: np.ndarray) -> float:
    """Variance of the Laplacian: high-frequency detail (teeth, lip edges)."""
    return float(cv2.Laplacian(gray.astype(np.float64), cv2.CV_64F).var()) if gray.size else 0.0


def frame_checks(before: np.ndarray, after: np.ndarray, points: np.ndarray | None,
                 config: ImageCheckConfig = ImageCheckConfig()) -> tuple[float, float, float | None]:
    """(mse outside, ssim outside, sharpness ratio) of one RGB frame pair; without a face the
    whole frame counts as outside."""
    g0 = cv2.cvtColor(before, cv2.COLOR_RGB2GRAY)
    g1 = cv2.cvtColor(after, cv2.COLOR_RGB2GRAY)
    (x0, y0, x1, y1), inside = (0, 0, 0, 0), np.zeros((0, 0), bool)
    ratio = None
    if points is not None and np.all(np.isfinite(points)):
        eye = float(np.linalg.norm(points[lm.EYE_OUTER_RIGHT] - points[lm.EYE_OUTER_LEFT]))
        (x0, y0, x1, y1), inside = lower_face_region(points, g0.shape, config.mask_margin * eye)
        mx0, my0, mx1, my1 = mouth_box(points, g0.shape, config.mouth_margin)
        s0 = sharpness(g0[my0:my1, mx0:mx1])
        ratio = sharpness(g1[my0:my1, mx0:mx1]) / s0 if s0 > 0 else None
    # Sums over the whole frame minus the sums over the lower face: the region is a small box.
    n_outside = g0.size - int(inside.sum())
    if n_outside == 0:
        return 0.0, 1.0, ratio
    box = (slice(y0, y1), slice(x0, x1))
    mask = inside.astype(np.uint8)
    squared = cv2.norm(before, after, cv2.NORM_L2SQR)
    if inside.any():
        squared -= cv2.norm(before[box], after[box], cv2.NORM_L2SQR, mask=mask)
    ssim = ssim_map(g0, g1)
    ssim_outside = float(ssim.sum(dtype=np.float64) - ssim[box][inside].sum(dtype=np.float64)) / n_outside
    return squared / (3 * n_outside), ssim_outside, ratio


def sampled_frames(n: int, config: ImageCheckConfig = ImageCheckConfig()) -> set[int]:
    """The frame indices the checks look at: ``max_frames`` spread evenly over ``n``."""
    return set(np.unique(np.linspace(0, max(n - 1, 0), min(config.max_frames, n)).round().astype(int)).tolist())


def check_images(before: Iterable[np.ndarray | None], after: Iterable[np.ndarray | None], landmarks: np.ndarray,
                 present: np.ndarray, config: ImageCheckConfig = ImageCheckConfig()) -> ImageChecks:
    """Compare two streams of RGB frames (input, output) with the input's ``landmarks`` (N, 478, 2).
    Only the frames of ``sampled_frames`` are read; the streams may hold None for the others."""
    n = len(landmarks)
    sample = sampled_frames(n, config)
    mses, ssims, ratios, notes = [], [], [], []
    for i, (a, b) in enumerate(zip(before, after)):
        if i >= n:
            break
        if i not in sample:
            continue
        if a.shape != b.shape:
            return ImageChecks(frames_checked=0, psnr_outside_mouth=None, ssim_outside_mouth=None,
                               mouth_sharpness_ratio=None, notes=[f"frame size differs: input {a.shape}, output {b.shape}"])
        mse, ssim, ratio = frame_checks(a, b, landmarks[i] if present[i] else None, config)
        mses.append(mse)
        ssims.append(ssim)
        if ratio is not None:
            ratios.append(ratio)
    if not mses:
        return ImageChecks(frames_checked=0, psnr_outside_mouth=None, ssim_outside_mouth=None,
                           mouth_sharpness_ratio=None, notes=["no frames to compare"])
    mse = float(np.mean(mses))
    return ImageChecks(
        frames_checked=len(mses),
        psnr_outside_mouth=round(10 * np.log10(255.0**2 / mse), 2) if mse > 0 else None,
        ssim_outside_mouth=round(float(np.mean(ssims)), 4),
        mouth_sharpness_ratio=round(float(np.median(ratios)), 3) if ratios else None,
        notes=notes + (["identical outside the mouth (PSNR infinite)"] if mse == 0 else []),
    )
