"""Where the pasted lower face replaces the frame, and how its colour is matched.

The mask is the union of the current frame's lower face and the pasted one: with only one of
them, the current lips (or chin) show beside the new ones whenever the two mouths differ. It is
grown by a margin, so both mouths sit well inside, and feathered over about a quarter of the
eye distance, which the feasibility probe found invisible on real clips. Its top edge stays below
the nose, so eyes and nose are never touched.
"""

from __future__ import annotations

import cv2
import numpy as np

from models.face import landmarks as lm

# Lower face outline: under the nose, across the cheeks, round the jaw and chin.
_OUTLINE = (98, 2, 327, 425, 411) + lm.JAW_CONTOUR[17:2:-1] + (187, 205)


def lower_face_polygon(pts: np.ndarray) -> np.ndarray:
    """(P, 2) outline of the region the lip-sync may change, for (478, 2) landmarks. The top runs
    a third of the way from the nose base down to the upper lip, so the feather stays off the nose."""
    poly = pts[list(_OUTLINE)].astype(np.float32).copy()
    lip_top = pts[0]
    for k in range(3):  # 98, 2, 327
        poly[k] = poly[k] + 0.35 * (lip_top - pts[lm.NOSE_BASE])
    return poly


def union_mask(polygons: list[np.ndarray], box: tuple[int, int, int, int], grow: float, feather: float) -> np.ndarray:
    """(h, w) float32 in [0, 1] over ``box``: 1 inside every polygon and ``grow`` px around them,
    falling smoothly to 0 over the next ``feather`` px (distance transform: a large dilation
    kernel costs tens of ms per frame)."""
    x0, y0, x1, y1 = box
    outside = np.full((y1 - y0, x1 - x0), 255, np.uint8)
    for poly in polygons:
        cv2.fillPoly(outside, [np.round((poly - [x0, y0]) * 16).astype(np.int32)], 0, lineType=cv2.LINE_8, shift=4)
    dist = cv2.distanceTransform(outside, cv2.DIST_L2, 3)  # px to the nearest polygon pixel
    x = np.clip((grow + feather - dist) / max(feather, 1e-3), 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def mask_box(polygons: list[np.ndarray], grow: float, feather: float, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Integer box holding the grown, feathered union of ``polygons``, clipped to the frame."""
    pts = np.concatenate(polygons)
    pad = grow + 2.0 * feather + 2
    h, w = shape[:2]
    x0 = int(np.clip(np.floor(pts[:, 0].min() - pad), 0, w))
    x1 = int(np.clip(np.ceil(pts[:, 0].max() + pad) + 1, 0, w))
    y0 = int(np.clip(np.floor(pts[:, 1].min() - pad), 0, h))
    y1 = int(np.clip(np.ceil(pts[:, 1].max() + pad) + 1, 0, h))
    return x0, y0, x1, y1


def colour_offset(pasted: np.ndarray, original: np.ndarray, mask: np.ndarray, limit: float = 25.0) -> np.ndarray:
    """(3,) per-channel shift that matches the pasted skin to the frame's along the mask's soft
    edge (where both are skin and the seam would show). Within one clip lighting is constant and
    this is ~0; it matters for a library from another recording."""
    ring = ((mask > 0.15) & (mask < 0.85)).astype(np.uint8)
    if ring.sum() < 20:
        return np.zeros(3, np.float32)
    diff = np.array(cv2.mean(original, ring)[:3]) - np.array(cv2.mean(pasted, ring)[:3])
    return np.clip(diff, -limit, limit).astype(np.float32)


def below_nose(pts: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """(h, w) float32 over ``box``: 0 above the line through the nose base (along the eye line),
    rising to 1 a third of the way down to the upper lip."""
    x0, y0, x1, y1 = box
    eye = pts[lm.EYE_OUTER_RIGHT] - pts[lm.EYE_OUTER_LEFT]
    u = eye / max(float(np.linalg.norm(eye)), 1e-6)
    v = np.array([-u[1], u[0]], np.float32)
    nose = pts[lm.NOSE_BASE]
    ramp = max(float((pts[0] - nose) @ v) / 3.0, 1.0)
    xs, ys = np.arange(x0, x1, dtype=np.float32)[None, :], np.arange(y0, y1, dtype=np.float32)[:, None]
    b = (xs - nose[0]) * v[0] + (ys - nose[1]) * v[1]
    return np.clip(b / ramp, 0.0, 1.0).astype(np.float32)
