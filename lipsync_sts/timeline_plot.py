"""The timeline picture of a dub: where the source spoke, where the dub speaks, and how it was fitted.

Three lanes over the video's time axis: the original soundtrack with the source segments, the dub
speech with its placed clips (labelled with their speed; orange when moved later than their slot,
red when they overlap the next slot or were cut by the video end), and the final mix. Waveforms are
drawn as per-pixel min/max envelopes, so an hour-long track costs no more than a short one.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # files only: no display on workers
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

_COLUMNS = 2000
_FITTED, _MOVED, _OVERFLOW, _SOURCE = "#2e7d32", "#ef6c00", "#c62828", "#1565c0"


def envelope(audio: np.ndarray | None, rate: int, duration: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(t, lo, hi): the per-pixel-column min/max of ``audio`` that a lane draws; computed ahead by a
    caller that wants to free the audio before drawing (``render_timeline(envelopes=)``)."""
    t = np.linspace(0, duration, _COLUMNS)
    if audio is None or len(audio) == 0:
        return t, np.zeros(_COLUMNS), np.zeros(_COLUMNS)
    x = np.asarray(audio, dtype=np.float32)
    x = x.mean(axis=1) if x.ndim == 2 else x
    edges = np.linspace(0, len(x), _COLUMNS + 1).astype(np.int64)
    edges = np.minimum(edges, len(x))
    lo, hi = np.zeros(_COLUMNS), np.zeros(_COLUMNS)
    for k in range(_COLUMNS):
        chunk = x[edges[k]: max(edges[k + 1], edges[k] + 1)]
        if len(chunk):
            lo[k], hi[k] = chunk.min(), chunk.max()
    return t, lo, hi


def render_timeline(duration: float, report: list[dict], source: np.ndarray | None, source_rate: int,
                    dub: np.ndarray | None, dub_rate: int, mix: np.ndarray | None = None, mix_rate: int = 0,
                    title: str = "", envelopes: dict | None = None) -> bytes:
    """PNG bytes of the timeline; ``report`` is fit_timing's per-segment timing report.
    ``envelopes``: lane label ("original", "dub speech", "final mix") -> :func:`envelope`, used
    instead of that lane's audio."""
    envelopes = envelopes or {}
    lanes = [("original", source, source_rate), ("dub speech", dub, dub_rate)]
    if mix is not None or "final mix" in envelopes:
        lanes.append(("final mix", mix, mix_rate))
    fig, axes = plt.subplots(len(lanes), 1, figsize=(max(10.0, min(40.0, duration * 0.6)), 2.0 * len(lanes) + 0.6),
                             sharex=True, squeeze=False)
    for ax, (label, audio, rate) in zip(axes[:, 0], lanes):
        t, lo, hi = envelopes[label] if label in envelopes else envelope(audio, rate, duration)
        ax.fill_between(t, lo, hi, color="#555555", linewidth=0)
        ax.set_ylim(-1.05, 1.05)
        ax.set_ylabel(label)
        ax.set_yticks([])
        for r in report:
            # Every lane shows the source slots, so a dub's drift from its slot reads at a glance.
            ax.add_patch(Rectangle((r["slot_start"], -1.0), r["slot_end"] - r["slot_start"], 2.0,
                                   fill=False, edgecolor=_SOURCE, linewidth=1.0, linestyle="--"))
    dub_ax = axes[1, 0]
    for r in report:
        overflow = r.get("overlap_s", 0) > 1e-3 or r.get("truncated_s", 0) > 0
        colour = _OVERFLOW if overflow else _MOVED if r.get("moved") else _FITTED
        dub_ax.add_patch(Rectangle((r["dub_start"], -0.95), r["dub_end"] - r["dub_start"], 1.9,
                                   facecolor=colour, alpha=0.25, edgecolor=colour))
        rate_note = f" rate×{r['rate_factor']:.2f}" if r.get("rate_factor", 1.0) > 1.0 else ""
        dub_ax.text(r["dub_start"], 0.98, f"{r['index'] + 1}: ×{r['speed']:.2f}{rate_note}", fontsize=7,
                    va="top", color=colour)
    axes[0, 0].set_title(title or "source slots (dashed) and fitted dub: green fitted, orange moved, red overlap/cut",
                         fontsize=9)
    axes[-1, 0].set_xlim(0, duration)
    axes[-1, 0].set_xlabel("seconds")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()
