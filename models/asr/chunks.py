"""Long-form audio -> windows a fixed-context model can take, cut in the pauses.

Whisper sees at most 30 s at a time and a CTC model's memory grows with its input, so long audio
is cut into windows. Cutting inside a word loses that word in both windows; the speech regions
from VAD tell where the pauses are, so windows are runs of whole regions. Only a region longer than
a window (a speaker who never pauses) is cut blind, into equal parts.
"""

from __future__ import annotations


def plan_windows(regions: list[tuple[float, float]], duration: float, max_s: float,
                 pad_s: float = 0.2) -> list[tuple[float, float]]:
    """(start, end) windows of at most ``max_s`` covering every region, in order.

    ``regions`` are sorted speech regions in seconds; without any (VAD off), fixed windows tile the
    whole audio. ``pad_s`` of context is kept each side of the speech where the window allows.
    """
    if max_s <= 0:
        raise ValueError("max_s must be positive")
    if not regions:
        n = max(1, int(-(-duration // max_s)))
        step = duration / n
        return [(round(i * step, 3), round(min(duration, (i + 1) * step), 3)) for i in range(n)] if duration > 0 else []
    pieces: list[tuple[float, float]] = []
    for start, end in regions:  # regions longer than a window, cut into equal parts
        n = max(1, int(-(-(end - start) // max_s)))
        step = (end - start) / n
        pieces += [(start + i * step, start + (i + 1) * step) for i in range(n)]
    windows: list[list[float]] = []
    for start, end in pieces:
        if windows and end - windows[-1][0] <= max_s:
            windows[-1][1] = end
        else:
            windows.append([start, end])
    out = []
    for i, (start, end) in enumerate(windows):
        room = max_s - (end - start)
        lo = max(0.0, start - min(pad_s, room / 2), out[-1][1] if out else 0.0)
        hi = min(duration, end + min(pad_s, room / 2), windows[i + 1][0] if i + 1 < len(windows) else duration)
        out.append((round(lo, 3), round(hi, 3)))
    return out


def plan_pieces(regions: list[tuple[float, float]], duration: float, max_s: float) -> list[tuple[float, float]]:
    """Contiguous (start, end) pieces tiling ``[0, duration]``, cut halfway through the pauses
    between :func:`plan_windows`' windows of at most ``max_s``: long audio split where nobody
    speaks, nothing left out between the pieces (each piece is searched for speech again)."""
    if duration <= 0:
        return []
    windows = plan_windows(regions, duration, max_s, pad_s=0.0)
    cuts = [round((left[1] + right[0]) / 2, 3) for left, right in zip(windows, windows[1:])]
    edges = [0.0, *cuts, duration]
    return list(zip(edges, edges[1:]))
