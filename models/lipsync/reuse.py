"""Render one frame by re-using a library mouth: warp, colour-match, feathered paste.

At a switch between two library runs a landmark-guided morph replaces the cut: both mouths are
warped to the same in-between lip shape and cross-faded there, so the lips do not double (a plain
alpha fade of two different mouths shows both).
"""

from __future__ import annotations

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from models.face import landmarks as lm

from . import blend, warp
from .mouth_library import MouthLibrary


class ReuseConfig(BaseModel):
    """Paste parameters (part of the lipsync cache key)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    grow: float = Field(0.04, ge=0, description="mask margin around both lower faces, in eye distances")
    feather: float = Field(0.12, gt=0, description="soft edge of the mask, in eye distances")
    colour_match: bool = Field(True, description="shift the pasted colours to the frame's along the seam")


def render_entries(frame: np.ndarray, current: np.ndarray, library: MouthLibrary,
                   entries: list[tuple[int, float]], config: ReuseConfig, open_delta: float = 0.0) -> np.ndarray:
    """frame (H, W, 3) uint8 with the lower face replaced by a blend of library entries.

    current: (478, 2) the frame's landmarks; entries: [(library index, weight)], weights summing
    to 1 (one entry normally, two at a switch); open_delta: how much wider (negative: narrower)
    the lips should part than the entries show, in eye distances: the library gives the look and
    the mesh warp the exact opening, so the mouth keeps the dub's rhythm within long runs. Returns a new array; pixels outside the mask's
    box are copied unchanged."""
    targets, sims = [], []
    for k, _ in entries:
        t, m = warp.target_landmarks(current, library.landmarks[k])
        targets.append(t)
        sims.append(m)
    # The common shape the entries are warped to: their weighted mean (a morph, not two mouths).
    shared = sum(w * t for (_, w), t in zip(entries, targets))
    eye = float(np.linalg.norm(current[lm.EYE_OUTER_RIGHT] - current[lm.EYE_OUTER_LEFT]))
    shared = warp.adjust_opening(shared, open_delta * eye)
    grow, feather = config.grow * eye, config.feather * eye
    polys = [blend.lower_face_polygon(current), blend.lower_face_polygon(shared)]
    box = blend.mask_box(polys, grow, feather, frame.shape)
    x0, y0, x1, y1 = box
    if x1 - x0 < 4 or y1 - y0 < 4:
        return frame
    mask = blend.union_mask(polys, box, grow, feather)  # (h, w)
    mask *= blend.below_nose(current, box)  # never up into the nose, however wide the feather
    orig = frame[y0:y1, x0:x1]
    pasted, acc = None, 0.0
    for (k, w), m in zip(entries, sims):
        inv = warp.invert(m)
        dst, src = warp.control_points(current, shared, library.landmarks[k], inv, box)
        map_x, map_y = warp.mesh_map(dst, src, box, inv)
        one = cv2.remap(library.crops[k], map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        # Running cross-fade in uint8: the morph's entries are already warped to one shape.
        pasted = one if pasted is None else cv2.addWeighted(pasted, acc / (acc + w), one, w / (acc + w), 0.0)
        acc += w
    pasted_u8 = pasted
    if config.colour_match:
        off = blend.colour_offset(pasted_u8, orig, mask)
        if np.abs(off).max() >= 0.5:
            pasted_u8 = cv2.add(pasted_u8.astype(np.int16), tuple(float(o) for o in off) + (0.0,)).clip(0, 255).astype(np.uint8)
    # Exactly the input where the mask is 0: o * 1 / (1 + 1e-5) rounds back to o for every uint8
    # (tests/test_embedded_lipsync.py), so no masked copy-back (3 ms a 720p frame) is needed.
    out_crop = cv2.blendLinear(pasted_u8, orig, mask, 1.0 - mask)
    out = frame.copy()
    out[y0:y1, x0:x1] = out_crop
    return out
