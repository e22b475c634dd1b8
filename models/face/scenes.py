"""Scene-cut detection on the stream of (downscaled) frames, one frame at a time.

A cut changes the whole picture at once; head motion, talking and slow camera moves change a
little of it. The measure is the mean absolute difference of tiny grey thumbnails (a 32×18 grid
is blind to lip motion and noise) together with the difference of their grey histograms, which
a panning camera barely changes; a cut needs both to jump, relative to the recent typical change
as well as in absolute terms. Thresholds from the shared real clips: within a clip the thumbnail
difference stays under 0.05 and the histogram difference under 0.08; joins of two different
clips measured at least 0.12 and 0.13.
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np

_THUMB = (32, 18)  # (W, H); aspect does not matter much for a whole-picture change


class CutDetector:
    """``is_cut(frame)`` → True when ``frame`` starts a new shot (never for the first frame)."""

    def __init__(self, min_diff: float = 0.07, min_hist: float = 0.08, ratio: float = 4.0, history: int = 15):
        self.min_diff, self.min_hist, self.ratio = min_diff, min_hist, ratio
        self._prev: tuple[np.ndarray, np.ndarray] | None = None
        self._recent: deque[float] = deque(maxlen=history)

    def is_cut(self, frame: np.ndarray) -> bool:
        grey = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
        thumb = cv2.resize(grey, _THUMB, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0  # (18, 32)
        hist = np.histogram(thumb, bins=16, range=(0.0, 1.0))[0].astype(np.float32) / thumb.size  # (16,)
        prev, self._prev = self._prev, (thumb, hist)
        if prev is None:
            return False
        diff = float(np.mean(np.abs(thumb - prev[0])))
        hist_diff = 0.5 * float(np.sum(np.abs(hist - prev[1])))  # total variation, in [0, 1]
        typical = float(np.median(self._recent)) if self._recent else 0.0
        cut = diff > self.min_diff and diff > self.ratio * typical and hist_diff > self.min_hist
        # A cut's own difference would make the next one look typical; restart the history instead.
        if cut:
            self._recent.clear()
        else:
            self._recent.append(diff)
        return cut
