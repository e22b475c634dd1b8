"""Warp a library mouth onto the current face through the landmark mesh (piecewise affine).

The library face is first aligned to the current one by a similarity fitted on landmarks that
the mouth does not move (eyes, nose, face edges). Its mouth and jaw points, so aligned, are where
the output's mouth and jaw go (that is the new mouth shape); the nose base and cheeks stay where
the current frame has them, so the warp meets the untouched upper face without a step. Pixels
outside the mesh follow the similarity alone.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import Delaunay

from models.face import landmarks as lm

from .mouth_library import STABLE

# Points that move with lips and jaw (taken from the library face).
MOVING = tuple(sorted(set(lm.MOUTH) | set(lm.JAW_CONTOUR[3:-3]) | {164, 167, 393, 18, 200, 199, 175, 57, 287,
                                                                     43, 273, 106, 335, 182, 406}))
# Points that stay with the current face: its nose base and cheeks frame the warped region.
FIXED = (2, 98, 327, 97, 326, 205, 425, 50, 280, 187, 411, 147, 376, 234, 454, 93, 323, 132, 361)


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(2, 3) least-squares rotation+scale+translation taking src (P, 2) onto dst (P, 2) (Umeyama)."""
    src = src.astype(np.float64)
    dst = dst.astype(np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    var = (s**2).sum()
    if var <= 0:
        return np.array([[1, 0, mu_d[0] - mu_s[0]], [0, 1, mu_d[1] - mu_s[1]]], np.float64)
    a = (s * d).sum() / var  # s·d
    b = (s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum() / var  # s×d
    rot = np.array([[a, -b], [b, a]])
    t = mu_d - rot @ mu_s
    return np.hstack([rot, t[:, None]])


def apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return (pts @ m[:, :2].T + m[:, 2]).astype(np.float32)


def target_landmarks(current: np.ndarray, library_pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(478, 2) output landmarks: the current face with the library's mouth and jaw (aligned), and
    the (2, 3) similarity library→current."""
    m = similarity(library_pts[list(STABLE)], current[list(STABLE)])
    out = current.astype(np.float32).copy()
    out[list(MOVING)] = apply(m, library_pts[list(MOVING)])
    return out, m


def mesh_map(dst: np.ndarray, src: np.ndarray, box: tuple[int, int, int, int],
             fallback: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Backward map for cv2.remap over the output ``box`` (x0, y0, x1, y1): (h, w) map_x, map_y.

    dst, src: (P, 2) matching control points (output frame coords, library crop coords);
    fallback: (2, 3) output→library affine for pixels outside the mesh.

    The map is affine inside each triangle, so it is evaluated on a half-resolution grid and
    upsampled linearly: exact inside triangles, a fraction of a pixel off along their edges."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    local = (dst - np.array([x0, y0], np.float32)).astype(np.float64)
    tri = Delaunay(local).simplices  # (T, 3)
    d = local[tri]  # (T, 3, 2)
    s_ = src[tri].astype(np.float64)
    area = (d[:, 1, 0] - d[:, 0, 0]) * (d[:, 2, 1] - d[:, 0, 1]) - (d[:, 1, 1] - d[:, 0, 1]) * (d[:, 2, 0] - d[:, 0, 0])
    ok = np.abs(area) > 1e-3  # degenerate ones (the two inner lips of a closed mouth): neighbours cover them
    # Per triangle, output→library affine src = A·p + t with A = S·B⁻¹ (B, S: edge vectors
    # from vertex 0 in output and library), closed-form 2×2 inverses for all triangles at once.
    b = np.stack([d[:, 1] - d[:, 0], d[:, 2] - d[:, 0]], axis=-1)  # (T, 2, 2) columns = edges
    sm = np.stack([s_[:, 1] - s_[:, 0], s_[:, 2] - s_[:, 0]], axis=-1)
    det = np.where(ok, area, 1.0)
    b_inv = np.stack([np.stack([b[:, 1, 1], -b[:, 0, 1]], -1), np.stack([-b[:, 1, 0], b[:, 0, 0]], -1)], 1) / det[:, None, None]
    a_m = sm @ b_inv  # (T, 2, 2)
    t_v = s_[:, 0] - np.einsum("tij,tj->ti", a_m, d[:, 0])
    coef = np.zeros((len(tri) + 1, 6), np.float32)
    f = fallback.astype(np.float64)
    coef[0] = [f[0, 0], f[0, 1], f[0, 2] + f[0, 0] * x0 + f[0, 1] * y0,
               f[1, 0], f[1, 1], f[1, 2] + f[1, 0] * x0 + f[1, 1] * y0]
    coef[1:, 0], coef[1:, 1], coef[1:, 2] = a_m[:, 0, 0], a_m[:, 0, 1], t_v[:, 0]
    coef[1:, 3], coef[1:, 4], coef[1:, 5] = a_m[:, 1, 0], a_m[:, 1, 1], t_v[:, 1]
    hh, wh = (h + 1) // 2, (w + 1) // 2
    ids = np.zeros((hh, wh), np.int32)  # 0 = outside, t+1 = triangle t, on the half grid
    # Half-grid sample j sits at full-res x = 2j + 0.5 (where cv2.resize puts it below).
    half = np.round((d - 0.5) / 2.0 * 16).astype(np.int32)
    for t in np.flatnonzero(ok):
        cv2.fillConvexPoly(ids, half[t], int(t) + 1, lineType=cv2.LINE_8, shift=4)
    xs = np.arange(wh, dtype=np.float32)[None, :] * 2.0 + 0.5  # (1, wh): broadcast, not a grid a frame
    ys = np.arange(hh, dtype=np.float32)[:, None] * 2.0 + 0.5  # (hh, 1)
    c = [np.take(coef[:, j], ids) for j in range(6)]
    half_x = c[0] * xs + c[1] * ys + c[2]
    half_y = c[3] * xs + c[4] * ys + c[5]
    map_x = cv2.resize(half_x, (2 * wh, 2 * hh), interpolation=cv2.INTER_LINEAR)[:h, :w]
    map_y = cv2.resize(half_y, (2 * wh, 2 * hh), interpolation=cv2.INTER_LINEAR)[:h, :w]
    return map_x, map_y


def control_points(current: np.ndarray, target: np.ndarray, library_pts: np.ndarray, to_library: np.ndarray,
                   box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Matching (P, 2) output and library points: moving points at their target, fixed ones at the
    current face, and a ring on the box's border that follows the similarity (to_library: (2, 3)
    output→library)."""
    idx = list(MOVING) + list(FIXED)
    dst = np.concatenate([target[list(MOVING)], current[list(FIXED)]]).astype(np.float32)
    src = library_pts[idx].astype(np.float32)
    x0, y0, x1, y1 = box
    gx = np.linspace(x0, x1 - 1, 5)
    gy = np.linspace(y0, y1 - 1, 5)
    ring = np.array([(x, y) for x in gx for y in gy if x in (gx[0], gx[-1]) or y in (gy[0], gy[-1])], np.float32)
    dst = np.concatenate([dst, ring])
    src = np.concatenate([src, apply(to_library, ring)])
    # Points outside the box would make triangles the rasteriser clips anyway; keep them (they
    # still shape the triangles that reach into the box).
    return dst, src


def invert(m: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(m.astype(np.float64))


_UPPER_LIP = frozenset(lm.LIP_UPPER_INNER + lm.LIP_UPPER_OUTER) - {61, 291, 78, 308}
_LOWER_LIP = frozenset(lm.LIP_LOWER_INNER + lm.LIP_LOWER_OUTER) - {61, 291, 78, 308}
_UPPER_SKIN = frozenset({164, 167, 393})
_IS_UPPER = np.array([i in _UPPER_LIP for i in MOVING])
_IS_SKIN = np.array([i in _UPPER_SKIN for i in MOVING])
_IS_LOWER = np.array([i in _LOWER_LIP for i in MOVING])


def adjust_opening(pts: np.ndarray, delta_px: float, lower_share: float = 0.75) -> np.ndarray:
    """(478, 2) landmarks with the lips parted by ``delta_px`` more at the middle (negative:
    pressed together): the lower lip and jaw take ``lower_share`` of it, the upper lip the rest.
    The change is lens-shaped across the mouth (none at the corners) and fades towards the jaw's
    angles, as a jaw rotation does. Only MOVING points change."""
    out = pts.astype(np.float32).copy()
    if abs(delta_px) < 0.05:
        return out
    eye = pts[lm.EYE_OUTER_RIGHT] - pts[lm.EYE_OUTER_LEFT]
    u = eye / max(float(np.linalg.norm(eye)), 1e-6)
    v = np.array([-u[1], u[0]], np.float32)  # down the face
    left, right = pts[lm.MOUTH_CORNER_LEFT], pts[lm.MOUTH_CORNER_RIGHT]
    mid = 0.5 * (left + right)
    half_mouth = max(0.5 * float(np.linalg.norm(right - left)), 1.0)
    half_jaw = max(0.5 * float(abs((pts[lm.JAW_RIGHT] - pts[lm.JAW_LEFT]) @ u)), half_mouth)
    e_low, e_up = lower_share * delta_px, (1.0 - lower_share) * delta_px
    idx = np.array(MOVING)
    a = (pts[idx] - mid) @ u  # (M,) along the mouth
    lens = np.maximum(1.0 - (a / half_mouth) ** 2, 0.0) ** 0.6
    x = np.clip((np.minimum(np.abs(a) / half_jaw, 1.0) - 0.35) / 0.6, 0.0, 1.0)
    hinge = 1.0 - x * x * (3 - 2 * x)  # chin and jaw: a rotation about the jaw's hinges
    shift = np.where(_IS_UPPER, -e_up * lens, np.where(_IS_SKIN, -0.4 * e_up * lens,
                     np.where(_IS_LOWER, e_low * lens, e_low * hinge)))
    out[idx] = pts[idx] + shift[:, None].astype(np.float32) * v
    return out
