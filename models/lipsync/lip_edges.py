"""Refine the mesh's inner-lip edges with the frame's colours.

The face mesh places the inner lip contour well on many frames but misses in both directions:
on open mouths it often lands on the teeth (v08: lower teeth below its lower inner lip), and on
nearly closed ones it can open a gap inside a dark lip (v06: lipstick, 9 px "gap" around a 3 px
dark line). Pulling the mesh edges together then leaves teeth showing, or eats half a lip.

So across the central columns of the mouth the edges are re-measured on inside-of-mouth pixels
(much darker than the lip next to them, or brighter and less red: teeth): grown outwards over
such pixels (never past most of the lip's thickness), and shrunk towards a thin dark line when
the mesh's gap holds nothing but lip and that line. One amount per lip, shaped like the opening:
per-column edges come out ragged (codec blocks, highlights), and a notched lip looks far worse
than one a pixel off. Only towards the corners, where the mesh's curves meet while a dark pocket
often runs on, is the per-column growth used (smoothed along the mouth).
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
from scipy.ndimage import median_filter

from .mouth_frame import Curve, MouthGeometry

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def refine_inner_lips(frame: np.ndarray, geom: MouthGeometry, max_into_lip: float = 0.6) -> MouthGeometry:
    """geom with inner-lip curves re-measured on ``frame`` ((H, W, 3) uint8 RGB).

    max_into_lip: how far an edge may move into its lip, as a fraction of the lip's thickness.
    """
    half = 0.6 * geom.mouth_width  # a little past the outer corners, where dark pockets hide
    a = np.arange(geom.a_mid - half, geom.a_mid + half + 1.0, 1.0, dtype=np.float32)  # (Wa,)
    top = float(min(geom.upper_outer.b.min(), geom.upper_inner.b.min())) - 1.0
    bottom = float(max(geom.lower_outer.b.max(), geom.lower_inner.b.max())) + 1.0
    b = np.arange(np.floor(top), np.ceil(bottom) + 1.0, 1.0, dtype=np.float32)  # (Hb,)
    if a.size < 3 or b.size < 3:
        return geom
    aa, bb = np.meshgrid(a, b)  # (Hb, Wa)
    mx, my = geom.to_xy(aa, bb)
    patch = cv2.remap(frame, mx.astype(np.float32), my.astype(np.float32), cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE).astype(np.float32)  # (Hb, Wa, 3), mouth-aligned

    ui, li = geom.upper_inner(a), geom.lower_inner(a)  # (Wa,)
    uo, lo = geom.upper_outer(a), geom.lower_outer(a)
    t = (a - geom.a_mid) / geom.half_inner
    central = np.abs(t) < 0.7
    upper_lip = central & (bb > uo) & (bb < ui)
    lower_lip = central & (bb > li) & (bb < lo)
    if upper_lip.sum() < 3 or lower_lip.sum() < 3:
        return geom
    # Each lip is its own reference: an upper lip in shadow (or dark lipstick) is much darker than
    # the lower lip and would pass for mouth cavity against a common one.
    dark_up, teeth_up = _inner_mouth(patch, np.median(patch[upper_lip], axis=0))
    dark_low, teeth_low = _inner_mouth(patch, np.median(patch[lower_lip], axis=0))
    teeth = teeth_up & teeth_low  # against both lips: a lower-lip highlight is not teeth
    inner_up = dark_up | teeth
    inner_low = dark_low | teeth

    lim_up = ui - max_into_lip * np.maximum(ui - uo, 0.0)
    lim_low = li + max_into_lip * np.maximum(lo - li, 0.0)
    b0 = float(b[0])
    grow_up, grow_low = np.zeros_like(ui), np.zeros_like(li)  # (Wa,) px outwards, >= 0
    shrink_up, shrink_low = np.zeros_like(ui), np.zeros_like(li)  # (Wa,) px inwards, >= 0
    for j in range(a.size):
        r_up = int(np.floor(ui[j] - b0))
        r_low = int(np.ceil(li[j] - b0))
        up = _grow(inner_up[:, j], r_up, int(np.ceil(lim_up[j] - b0)), -1)
        if up is not None:
            grow_up[j] = max(ui[j] - (b0 + up - 0.5), 0.0)
        down = _grow(inner_low[:, j], r_low, int(np.floor(lim_low[j] - b0)), 1)
        if down is not None:
            grow_low[j] = max(b0 + down + 0.5 - li[j], 0.0)
        inside = slice(max(r_up + 1, 0), max(r_low, 0))  # rows strictly between the mesh edges
        if central[j] and r_low - r_up >= 3 and not teeth[inside, j].any():
            dark_rows = np.flatnonzero(dark_up[inside, j] & dark_low[inside, j]) + inside.start
            if dark_rows.size:  # lip, a dark line, lip: the real gap is that line
                shrink_up[j] = max(b0 + dark_rows[0] - 0.5 - ui[j], 0.0)
                shrink_low[j] = max(li[j] - (b0 + dark_rows[-1] + 0.5), 0.0)

    shape = np.clip(1.0 - t * t, 0.0, 1.0) ** 0.5
    thick_up = max_into_lip * float(np.median((ui - uo)[central]))
    thick_low = max_into_lip * float(np.median((lo - li)[central]))
    gap_mid = float(np.median((li - ui)[central]))
    # Growing needs most columns to agree (upper quartile); shrinking needs the median column,
    # and never closes more than the gap.
    move_up = _amount(grow_up[central], 75, thick_up) - _amount(shrink_up[central], 50, 0.5 * gap_mid)
    move_low = _amount(grow_low[central], 75, thick_low) - _amount(shrink_low[central], 50, 0.5 * gap_mid)
    new_ui = ui - move_up * shape
    new_li = li + move_low * shape
    # Towards and past the corners the mesh's curves meet while the real opening often runs on
    # as a dark pocket; a closing mouth that left it would keep two dark spots. There the
    # per-column growth is used directly, smoothed along the mouth.
    outer = ~central
    corner_up = _smooth_along(np.where(outer, grow_up, 0.0))
    corner_low = _smooth_along(np.where(outer, grow_low, 0.0))
    new_ui = np.where(outer, np.minimum(new_ui, ui - corner_up), new_ui)
    new_li = np.where(outer, np.maximum(new_li, li + corner_low), new_li)
    if np.allclose(new_ui, ui) and np.allclose(new_li, li):
        return geom

    upper, lower = Curve(a, new_ui.astype(np.float32)), Curve(a, new_li.astype(np.float32))
    mid = np.array([geom.a_mid], np.float32)
    gap = float(max(lower(mid)[0] - upper(mid)[0], 0.0))
    return dataclasses.replace(geom, upper_inner=upper, lower_inner=lower, gap_mid=gap)


def _smooth_along(offsets: np.ndarray) -> np.ndarray:
    """Median of 3 (drops single odd columns), then a 5-column box (no steps in the lip line)."""
    med = median_filter(offsets, size=3, mode="nearest")
    return np.convolve(np.pad(med, 2, mode="edge"), np.ones(5) / 5.0, mode="valid").astype(np.float32)


def _amount(offsets: np.ndarray, percentile: float, limit: float) -> float:
    """One edge shift from per-column offsets; a shift under a pixel is noise. Growth gets most of
    a pixel more, for the blended pixel at the far edge of teeth or cavity."""
    if offsets.size == 0:
        return 0.0
    k = float(np.percentile(offsets, percentile))
    return 0.0 if k < 1.0 else min(k + 0.5, max(limit, 0.0))


def _grow(col: np.ndarray, start: int, stop: int, step: int) -> int | None:
    """Furthest row from ``start`` towards ``stop`` (inclusive) over inner-mouth pixels, stepping
    over single non-inner pixels (a mesh edge often sits on the one blended pixel between lip and
    teeth); None if there is none."""
    last, misses, r = None, 0, start
    while 0 <= r < col.size and (r - stop) * step <= 0:
        if col[r]:
            last, misses = r, 0
        else:
            misses += 1
            if misses > 1:
                break
        r += step
    return last


def _inner_mouth(patch: np.ndarray, lip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(dark, teeth) (Hb, Wa) bool masks of pixels that are not this lip: cavity (about half the
    lip's brightness or less) or teeth (much brighter and less red)."""
    y = patch @ _LUMA
    y_lip = float(lip @ _LUMA)
    redness = (patch[..., 0] - patch[..., 2]) / np.maximum(y, 1.0)
    red_lip = float(lip[0] - lip[2]) / max(y_lip, 1.0)
    dark = y < 0.55 * y_lip
    teeth = (y > y_lip + 0.35 * (255.0 - y_lip)) & (redness < 0.6 * red_lip)
    return dark, teeth
