"""Reconstruction benchmark: re-sync the second half of a real clip to its own audio, with only the
first half as the mouth library, and compare the output's mouth with the real second half.

    .venv/bin/python bench/bench_reconstruction.py [--clips v01 v03 ...] [--methods audio envelope]
        [--store DIR] [--markdown OUT.md]

Leak-proof by construction: the lip-sync flow is given the second half as the video to edit and
``--mouth-library`` the first half, so every mouth drawn comes from the first half, and anything
fitted per speaker (the library's range of openings and widths) is fitted there. Methods are the
embedded backend's mouth-shape drivers (tasks/lipsync.py ``shapes_from``):
- ``speaker``: the speaker's own sound-to-lips mapping, fitted on the first half only
  (models/lipsync/speaker_fit.py);
- ``audio``: heuristics (loudness, spectral rounding, stop closures);
- ``envelope``: loudness alone, the baseline the issue compares against.
Measures (lipsync_sts/evaluation/reconstruction.py): LMD, opening and width correlation with the
real frames, closed-lip recall (and precision), pop (mouth-region change over the real video's);
and the landmark sync score of output and of the real half against the audio.

Clips flagged in ../shared/testdata/MANIFEST.md as out of sync (v04, v06) are marked ``*``:
their own audio does not match their lips, so no method can follow it there.
Stages are cached in --store, so a rerun only recomputes what changed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
TESTDATA = REPO.parent / "shared" / "testdata" / "video"
OUT_OF_SYNC = ("v04", "v06")
MEASURES = ("lmd", "opening_correlation", "width_correlation", "closed_recall", "closed_precision", "pop", "pop_p95")


def halves(clip: Path, workdir: Path) -> tuple[Path, Path]:
    """The clip's first and second halves (cut at the middle frame), made once per clip."""
    from lipsync_sts import media

    first, second = workdir / f"{clip.stem}.first.mp4", workdir / f"{clip.stem}.second.mp4"
    if not (first.exists() and second.exists()):
        n = media.probe(clip).n_frames
        media.cut(clip, 0, n // 2, first)
        media.cut(clip, n // 2, n, second)
    return first, second


def run_method(first: Path, second: Path, method: str, workdir: Path, store: str) -> tuple[dict, dict, float]:
    """Lip-sync the second half with ``method``, evaluate it against the real second half.
    Returns (reconstruction measures, sync score of the output, seconds the lip-sync took)."""
    from flows.evaluate import evaluate_videos
    from flows.lipsync_only import LipSyncOptions, lipsync_flow
    from tasks.lipsync import LipSyncConfig

    out = workdir / f"{second.stem}.{method}.mp4"
    started = time.perf_counter()
    lipsync_flow(video=str(second), audio=str(second), output=str(out), store_url=store, mouth_library=str(first),
                 options=LipSyncOptions(lipsync=LipSyncConfig(shapes_from=method)))
    seconds = time.perf_counter() - started
    [result] = evaluate_videos(videos=[str(out)], references=[str(second)], audios=[str(second)], store_url=store)
    return result.evaluation["reference"], result.evaluation["sync"], seconds


def real_sync(second: Path, store: str) -> dict:
    from flows.evaluate import evaluate_videos

    [result] = evaluate_videos(videos=[str(second)], store_url=store)
    return result.evaluation["sync"]


def fmt(value, digits: int = 3) -> str:
    return "–" if value is None or (isinstance(value, float) and not np.isfinite(value)) else f"{value:.{digits}f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", nargs="*", help="clip name prefixes (default: every clip in the testdata)")
    parser.add_argument("--methods", nargs="*", default=["speaker", "audio", "envelope"])
    parser.add_argument("--store", default="/tmp/lipsync-sts-bench-reconstruction", help="artifact store (cache)")
    parser.add_argument("--markdown", help="also write the table to this file")
    args = parser.parse_args()
    if not TESTDATA.is_dir():
        print(f"no test data at {TESTDATA}: this benchmark needs ../shared/testdata")
        return 2
    clips = sorted(p for p in TESTDATA.glob("*.mp4") if not args.clips or any(p.name.startswith(c) for c in args.clips))
    workdir = Path(args.store) / "halves"
    workdir.mkdir(parents=True, exist_ok=True)

    rows: list[dict] = []
    for clip in clips:
        first, second = halves(clip, workdir)
        real = real_sync(second, args.store)
        for method in args.methods:
            measures, sync, seconds = run_method(first, second, method, workdir, args.store)
            rows.append({"clip": clip.stem.split("_")[0] + ("*" if clip.name.startswith(OUT_OF_SYNC) else ""),
                         "method": method, **{k: measures[k] for k in MEASURES},
                         "closed_frames": measures["closed_frames"], "frames": measures["frames_used"],
                         "sync": sync["sync"], "real_sync": real["sync"], "seconds": seconds})
            print(f"{clip.stem} {method}: " + ", ".join(f"{k} {fmt(rows[-1][k])}" for k in MEASURES), flush=True)

    lines = ["| clip | method | frames | LMD ↓ | opening r ↑ | width r ↑ | closed recall ↑ (n) | closed precision ↑ "
             "| pop (≈1) | pop p95 | sync (real) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['clip']} | {r['method']} | {r['frames']} | {fmt(r['lmd'], 4)} | {fmt(r['opening_correlation'])} "
                     f"| {fmt(r['width_correlation'])} | {fmt(r['closed_recall'])} ({r['closed_frames']}) "
                     f"| {fmt(r['closed_precision'])} | {fmt(r['pop'], 2)} | {fmt(r['pop_p95'], 2)} "
                     f"| {fmt(r['sync'])} ({fmt(r['real_sync'])}) |")
    for subset, keep in (("all clips", lambda r: True), ("in-sync clips", lambda r: not r["clip"].endswith("*"))):
        for method in args.methods:
            chosen = [r for r in rows if r["method"] == method and keep(r)]
            if not chosen:
                continue

            def mean(key: str) -> float:
                values = [r[key] for r in chosen if r[key] is not None]
                return float(np.mean(values)) if values else float("nan")

            lines.append(f"| **mean, {subset}** | **{method}** | {sum(r['frames'] for r in chosen)} | {fmt(mean('lmd'), 4)} "
                         f"| {fmt(mean('opening_correlation'))} | {fmt(mean('width_correlation'))} "
                         f"| {fmt(mean('closed_recall'))} | {fmt(mean('closed_precision'))} | {fmt(mean('pop'), 2)} "
                         f"| {fmt(mean('pop_p95'), 2)} | {fmt(mean('sync'))} ({fmt(mean('real_sync'))}) |")
    table = "\n".join(lines)
    print()
    print(table)
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(table + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
