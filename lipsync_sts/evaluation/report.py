"""The evaluation a person reads: a self-contained HTML page (plots embedded as PNG) and a
Prefect artifact (markdown with the same plots, and a table of the numbers) for the UI."""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path

import numpy as np

from .evaluate import Evaluation

# What each number means and which way is good: shown beside it in both reports.
_MEANING = {
    "sync": "correlation of lip opening and speech near lag 0 (±2 frames); higher is better, real videos ~0.2-0.45",
    "offset": "frames by which the sound lags the mouth at the best correlation (>0: audio late)",
    "confidence": "best correlation minus the median over lags; higher = a clearer sync peak",
    "closed_in_silence": "fraction of silent frames with the mouth closed",
    "motion_in_silence": "mean lip-opening change per frame in silences (lower = a mouth at rest)",
    "lse_d": "SyncNet distance at the best offset; lower is better (LRS2 real videos 6.74)",
    "lse_c": "SyncNet confidence, median minus min distance; higher is better (LRS2 real videos 7.84)",
    "syncnet_offset": "SyncNet's best offset, frames at 25 fps (>0: audio late)",
    "psnr_outside_mouth": "dB against the input outside the lower face; higher = untouched",
    "ssim_outside_mouth": "SSIM against the input outside the lower face; 1 = identical",
    "mouth_sharpness_ratio": "mouth-region detail relative to the input's; below ~0.7 looks blurry",
    "lmd": "lip-landmark distance to the real video, in eye-corner distances; lower is better",
    "opening_corr": "correlation over time of lip opening with the real video's; higher is better",
    "width_corr": "correlation over time of mouth width (rounding) with the real video's; higher is better",
    "closed_recall": "share of the real video's closed-lip frames closed in the output too (p/b/m, rests)",
    "closed_precision": "share of the output's closed-lip frames closed in the real video too",
    "pop": "frame-to-frame mouth-region change over the real video's; >1.5 shows texture jumps, <1 a frozen mouth",
}


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def plots(evaluation: Evaluation) -> dict[str, str]:
    """Base64 PNGs: ``timeline`` (lip opening and speech envelope) and ``lags`` (correlation vs lag)."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and workers
    import matplotlib.pyplot as plt

    out = {}
    series = evaluation.series
    if series.get("opening"):
        opening = np.asarray([np.nan if v is None else v for v in series["opening"]], float)
        t = np.arange(len(opening)) / evaluation.fps
        fig, ax = plt.subplots(figsize=(9, 2.6))
        ax.plot(t, opening, color="tab:red", lw=1.2, label="inner-lip opening / eye distance")
        if series.get("reference_opening"):
            real = np.asarray([np.nan if v is None else v for v in series["reference_opening"]], float)
            ax.plot(np.arange(len(real)) / evaluation.fps, real, color="black", lw=1.0, ls="--",
                    label="real video's lip opening")
        ax.set_xlabel("seconds")
        ax.set_ylabel("lip opening", color="tab:red")
        twin = ax.twinx()
        env = np.asarray([0.0 if v is None else v for v in series["envelope"]], float)
        twin.fill_between(t, 0, env / env.max() if env.max() > 0 else env, color="tab:blue", alpha=0.25,
                          label="speech envelope (300-3000 Hz)")
        twin.set_ylabel("speech (relative)", color="tab:blue")
        twin.set_ylim(0, 1.05)
        fig.legend(loc="upper right", fontsize=8)
        out["timeline"] = _png(fig)
        plt.close(fig)
    corr = [np.nan if c is None else c for c in evaluation.sync.correlation]
    if np.any(np.isfinite(corr)):
        fig, ax = plt.subplots(figsize=(5, 2.6))
        lags = evaluation.sync.lags
        ax.axvspan(-2.5, 2.5, color="tab:green", alpha=0.12, label="sync window")
        ax.plot(lags, corr, marker="o", ms=3, color="black")
        ax.axhline(np.nanmedian(corr), color="grey", ls="--", lw=0.8, label="median")
        if evaluation.sync.offset is not None:
            ax.axvline(evaluation.sync.offset, color="tab:red", lw=1, label=f"best lag {evaluation.sync.offset:+d}")
        ax.set_xlabel("lag, frames (>0: audio late)")
        ax.set_ylabel("correlation")
        ax.legend(fontsize=7)
        out["lags"] = _png(fig)
        plt.close(fig)
    return out


def _fmt(value) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def render_html(evaluation: Evaluation, title: str | None = None) -> str:
    """A self-contained page: summary table, both plots, notes."""
    images = plots(evaluation)
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td><b>{_fmt(v)}</b></td><td>{html.escape(_MEANING.get(k, ''))}</td></tr>"
                   for k, v in evaluation.summary().items() if k not in ("video", "audio"))
    notes = (evaluation.notes + evaluation.sync.notes + (evaluation.images.notes if evaluation.images else [])
             + (evaluation.reference.notes if evaluation.reference else []))
    if not evaluation.lse:
        notes.append("no SyncNet weights given: LSE-D/LSE-C not measured (pass --syncnet syncnet_v2.model)")
    title = title or f"Lip-sync evaluation: {evaluation.video}"
    reference = f" · reference: {html.escape(evaluation.reference.reference)}" if evaluation.reference else ""
    figures = "".join(f'<figure><img alt="{k}" src="data:image/png;base64,{v}"/></figure>' for k, v in images.items())
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;color:#222}}
table{{border-collapse:collapse}}td{{border-bottom:1px solid #ddd;padding:.3em .8em;vertical-align:top}}
td:last-child{{color:#666;font-size:.9em}}figure{{margin:1em 0}}img{{max-width:100%}}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>{html.escape(evaluation.video)} · audio: {html.escape(evaluation.audio)}{reference} · {evaluation.frames} frames at
{evaluation.fps:.2f} fps · face in {100 * evaluation.face_coverage:.0f}% of frames</p>
<table>{rows}</table>{figures}
<ul>{''.join(f'<li>{html.escape(n)}</li>' for n in notes)}</ul>
</body></html>"""


def write_html(evaluation: Evaluation, path: str | os.PathLike, title: str | None = None) -> Path:
    """Write the report atomically (never a half-written page)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(render_html(evaluation, title), encoding="utf-8")
    os.replace(tmp, path)
    return path


def markdown(evaluation: Evaluation) -> str:
    """The report as markdown with embedded plots (Prefect's UI renders data-URI images)."""
    lines = [f"### Lip-sync evaluation: {evaluation.video} (audio: {evaluation.audio})", "",
             "| measure | value | meaning |", "|---|---|---|"]
    lines += [f"| {k} | {_fmt(v)} | {_MEANING.get(k, '')} |" for k, v in evaluation.summary().items()
              if k not in ("video", "audio")]
    lines += [f"\n![{k}](data:image/png;base64,{v})" for k, v in plots(evaluation).items()]
    return "\n".join(lines)


def publish(evaluations: list[Evaluation], key: str = "lipsync-evaluation") -> None:
    """Prefect artifacts for the current flow run: a table of all videos, a markdown report each."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    create_table_artifact(key=key, table=[e.summary() for e in evaluations],
                          description="Lip-sync evaluation: landmark sync score, LSE, image checks")
    for e in evaluations:
        create_markdown_artifact(markdown=markdown(e), description=f"Lip-sync evaluation of {e.video}")
