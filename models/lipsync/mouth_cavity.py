"""Synthesised inner mouth for a mouth that the warp opens wider than the source frame shows.

Where the source already shows its own inner mouth (teeth, tongue), the renderer reuses it; this
layer fills only what no source pixel can: a dark cavity, shaded lighter towards the lips' inner
rims (their wet inner surface catches light) and darker towards the corners, a hint of tongue low
in a wide-open mouth, and a band of upper teeth hanging from the upper lip. Colours derive from the
frame's own lips and skin so the layer sits in the frame's lighting.
"""

from __future__ import annotations

import cv2
import numpy as np

from .mouth_frame import smoothstep

# Multiples of the lip colour, from real open mouths in the shared clips (v08 frames with the
# widest openings: lips (121, 70, 64), darkest tenth of the cavity (35, 0, 0), median (71, 33, 27)):
# the inside of a mouth is a dark, saturated red, not a grey.
_DEEP = np.array([0.32, 0.13, 0.13], np.float32)
_RIM = np.array([0.65, 0.58, 0.58], np.float32)
_TONGUE = np.array([0.8, 0.6, 0.6], np.float32)


def cavity_colours(lips: np.ndarray, chin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lip_rgb, teeth_rgb) float32 (3,) from samples of lip pixels (K, 3) and chin-skin pixels
    (M, 3). Real teeth in these clips are far from white (v08: about (205, 160, 158) next to lips
    of (120, 69, 60)): half an ivory white dimmed with the skin's brightness, half the skin."""
    lip = np.median(lips, axis=0).astype(np.float32) if len(lips) else np.array([150, 80, 80], np.float32)
    skin = np.median(chin, axis=0).astype(np.float32) if len(chin) else np.array([180, 130, 110], np.float32)
    skin_y = float(skin @ np.array([0.299, 0.587, 0.114], np.float32))
    white = np.array([245.0, 240.0, 228.0], np.float32) * min(1.0, 0.55 + skin_y / 255.0)
    return lip, 0.55 * white + 0.45 * skin


def cavity_layer(
    t: np.ndarray,
    depth: np.ndarray,
    height: np.ndarray,
    mouth_width: float,
    lip_rgb: np.ndarray,
    teeth_rgb: np.ndarray,
    teeth: float,
) -> np.ndarray:
    """Colour of the inner mouth at every pixel of a crop, (H, W, 3) float32.

    t: lateral position, -1 and 1 at the inner corners; depth: pixels below the (moved) upper
    lip's inner edge; height: the opening at that column in pixels (all (H, W)).
    teeth: 0..1 strength of the synthetic upper teeth.
    """
    below = height - depth  # distance to the lower lip's inner edge
    edge = np.maximum(np.minimum(depth, below), 0.0)
    rim_px = max(0.08 * mouth_width, 1.0)
    rim = np.exp(-edge / rim_px)
    lateral = 1.0 - 0.45 * np.clip(t * t, 0.0, 1.0)
    colour = (_DEEP * lip_rgb + rim[..., None] * ((_RIM - _DEEP) * lip_rgb)) * lateral[..., None]  # (H, W, 3)

    # Tongue: only in a mouth open by more than ~a tenth of its width, low and central.
    q = np.clip(depth / np.maximum(height, 1e-3), 0.0, 1.0)
    open_frac = smoothstep(0.08, 0.22, height / mouth_width)
    w_tongue = 0.6 * smoothstep(0.5, 0.95, q) * open_frac * np.clip(1.0 - t * t, 0.0, 1.0)
    colour += w_tongue[..., None] * (_TONGUE * lip_rgb * lateral[..., None] - colour)

    if teeth > 0:
        # Upper incisors: a band hanging from the upper lip, at most about a tenth of the mouth's
        # width tall (what shows of them when talking) and never more than half the opening.
        band = np.minimum(0.11 * mouth_width, 0.5 * height)
        soft = max(0.02 * mouth_width, 0.6)
        w_teeth = (1.0 - smoothstep(band - soft, band + soft, depth)) * (1.0 - smoothstep(0.45, 0.85, np.abs(t)))
        # Shadow under the lip, and the side teeth receding into the dark.
        lit = (0.8 + 0.2 * smoothstep(0.0, 2.0 * soft, depth)) * (1.0 - 0.35 * smoothstep(0.15, 0.75, np.abs(t)))
        colour += (teeth * w_teeth)[..., None] * (lit[..., None] * teeth_rgb - colour)

    sigma = max(0.5, 0.012 * mouth_width)  # as soft as the frame's own detail at this scale
    return cv2.GaussianBlur(colour, (0, 0), sigma)
