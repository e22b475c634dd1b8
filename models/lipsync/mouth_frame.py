"""Mouth-aligned coordinates and the lip/jaw curves of one frame's face mesh.

Every warp of the embedded lip-sync is a vertical displacement in this frame: ``a`` runs along the
mouth (image-left corner to image-right corner), ``b`` runs down the face, perpendicular to it.
Moving pixels only along ``b`` means the warp can fold only if a displacement changes faster than
one pixel per pixel along ``b``, which the renderer keeps below that by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.face import landmarks as lm


@dataclass(frozen=True)
class Curve:
    """A lip contour as b(a), sampled at landmarks sorted by a; held flat beyond its ends."""

    a: np.ndarray  # (K,) increasing
    b: np.ndarray  # (K,)

    def __call__(self, a: np.ndarray) -> np.ndarray:
        return np.interp(a, self.a, self.b).astype(np.float32)


@dataclass(frozen=True)
class MouthGeometry:
    """One frame's mouth, in mouth-aligned coordinates (pixels) about the inner-lip midpoint."""

    origin: np.ndarray  # (2,) x, y of the midpoint of landmarks 13/14
    u: np.ndarray  # (2,) unit vector along the mouth, towards the image-right corner
    v: np.ndarray  # (2,) unit vector down the face (u turned 90° clockwise on screen)
    upper_inner: Curve
    lower_inner: Curve
    upper_outer: Curve
    lower_outer: Curve
    a_mid: float  # a of the middle between the inner corners
    half_inner: float  # half the distance between the inner corners (a units)
    jaw_half: float  # half the jaw's width at mouth level
    mouth_width: float  # distance between the outer corners 61/291 (pixels)
    gap_mid: float  # inner-lip gap at the middle (13 -> 14), >= 0
    b_nose: float  # b of the nose base (negative: above the mouth)
    b_chin: float  # b of the chin's lowest point

    @classmethod
    def from_landmarks(cls, pts: np.ndarray) -> MouthGeometry:
        """pts: (478, 2) full-resolution pixel coordinates of one face."""
        pts = pts.astype(np.float64)
        origin = 0.5 * (pts[lm.UPPER_LIP_INNER_MID] + pts[lm.LOWER_LIP_INNER_MID])
        along = pts[lm.MOUTH_CORNER_RIGHT] - pts[lm.MOUTH_CORNER_LEFT]
        mouth_width = float(np.linalg.norm(along))
        u = along / max(mouth_width, 1e-6)
        v = np.array([-u[1], u[0]])
        ab = (pts - origin) @ np.stack([u, v], axis=1)  # (478, 2) a, b

        def curve(idx: tuple[int, ...]) -> Curve:
            c = ab[list(idx)]
            order = np.argsort(c[:, 0], kind="stable")
            return Curve(c[order, 0].astype(np.float32), c[order, 1].astype(np.float32))

        a_left = ab[lm.MOUTH_INNER_CORNER_LEFT, 0]
        a_right = ab[lm.MOUTH_INNER_CORNER_RIGHT, 0]
        jaw = ab[[lm.JAW_LEFT, lm.JAW_RIGHT], 0]
        return cls(
            origin=origin.astype(np.float32),
            u=u.astype(np.float32),
            v=v.astype(np.float32),
            upper_inner=curve(lm.LIP_UPPER_INNER),
            lower_inner=curve(lm.LIP_LOWER_INNER),
            upper_outer=curve(lm.LIP_UPPER_OUTER),
            lower_outer=curve(lm.LIP_LOWER_OUTER),
            a_mid=float(0.5 * (a_left + a_right)),
            half_inner=float(max(0.5 * (a_right - a_left), 1.0)),
            jaw_half=float(max(0.5 * (jaw[1] - jaw[0]), mouth_width * 0.6)),
            mouth_width=mouth_width,
            gap_mid=float(max(ab[lm.LOWER_LIP_INNER_MID, 1] - ab[lm.UPPER_LIP_INNER_MID, 1], 0.0)),
            b_nose=float(min(ab[lm.NOSE_BASE, 1], -1.0)),
            b_chin=float(max(ab[lm.CHIN, 1], 1.0)),
        )

    def to_ab(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dx = x - self.origin[0]
        dy = y - self.origin[1]
        return dx * self.u[0] + dy * self.u[1], dx * self.v[0] + dy * self.v[1]

    def to_xy(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (
            self.origin[0] + a * self.u[0] + b * self.v[0],
            self.origin[1] + a * self.u[1] + b * self.v[1],
        )


def smoothstep(e0, e1, x: np.ndarray) -> np.ndarray:
    """0 below e0, 1 above e1, C1-smooth in between (e0, e1 may be arrays; needs e1 > e0)."""
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)
