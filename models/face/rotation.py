"""Phone videos: frames are stored sideways and a display matrix tells the player to turn them.

PyAV decodes frames as stored (``MediaInfo.rotation`` / ``VideoFrame.rotation`` give the
counter-clockwise angle the player applies). Face models want upright faces, so detection runs on
the frame turned as the player shows it; the landmarks are then mapped back to the stored frame,
because every later stage reads and writes stored frames and keeps the display matrix.
"""

from __future__ import annotations

import numpy as np


def quarter_turns(rotation: float) -> int:
    """Counter-clockwise quarter turns (0-3) for a display rotation in degrees; refuses angles
    that are not a multiple of 90 (no phone writes those)."""
    turns = round(rotation / 90.0)
    if abs(turns * 90.0 - rotation) > 1.0:
        raise ValueError(f"display rotation {rotation} degrees is not a multiple of 90")
    return turns % 4


def upright(frame: np.ndarray, turns: int) -> np.ndarray:
    """(H, W, C) stored frame → the frame as displayed (a view, no copy)."""
    return np.rot90(frame, turns) if turns else frame


def displayed_size(size: tuple[int, int], turns: int) -> tuple[int, int]:
    """(W, H) of the displayed picture for a stored (W, H)."""
    w, h = size
    return (h, w) if turns % 2 else (w, h)


def to_stored(points: np.ndarray, turns: int, stored_size: tuple[int, int]) -> np.ndarray:
    """(..., 2) x, y pixel-centre coordinates in the displayed picture → the stored frame's.

    One counter-clockwise quarter turn sends stored (x, y) of a W-wide frame to displayed
    (y, W - 1 - x); undo it ``turns`` times.
    """
    out = np.asarray(points, dtype=np.float32).copy()
    w, h = stored_size
    # Walk back through the intermediate pictures: after j turns the picture is (w, h) or (h, w).
    for j in range(turns, 0, -1):
        prev_w = w if (j - 1) % 2 == 0 else h  # width of the picture before the j-th turn
        x, y = out[..., 0].copy(), out[..., 1].copy()
        out[..., 0] = prev_w - 1 - y
        out[..., 1] = x
    return out
