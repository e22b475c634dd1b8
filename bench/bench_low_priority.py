"""Face work beside ASR at a lower CPU priority: what it would give the dub's critical path (issue 11).

    .venv/bin/python bench/bench_low_priority.py [--rounds 3] [--nice 0 10 19] [--output FILE]

A first dub runs two branches side by side (flows/dub.py): speech recognition then the first
language's speech stages, and the face work (tracking, then the mouth library). The render needs
both. Side by side at one priority they share the cores whenever both want them. This script
times, in interleaved rounds on bench_pipeline's 30-s 720p input: ASR alone, the face work alone,
and both side by side with the face work's thread made N nicer (0: the same priority). A lower
priority for the face work pays only while ASR is the longer branch: it did with two beams (the
flow ran it 10 nicer then), not since greedy decoding halved ASR's time (bench/results/low_priority.md).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import statistics
import sys
import tempfile
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import bench_pipeline  # noqa: E402
from bench_single_pass import Dub, _seconds, asr, side_by_side, track  # noqa: E402
from lipsync_sts import media  # noqa: E402
from models.lipsync.mouth_library import MouthLibraryConfig  # noqa: E402
from tasks.mouth_library import build_mouth_library  # noqa: E402


def lower_this_thread(by: int) -> None:
    """This thread ``by`` nicer (on Linux a nice value is a thread's own; the threads it starts are
    as nice as it is, and an unprivileged thread cannot take it back: only for threads that end)."""
    me = threading.get_native_id()
    os.setpriority(os.PRIO_PROCESS, me, min(19, os.getpriority(os.PRIO_PROCESS, me) + by))


def start_shared_pools() -> None:
    """OpenCV's worker threads serve the whole process and take the priority of the thread whose
    call starts them: start them here, at the usual priority, before any thread is made nicer."""
    import cv2
    import numpy as np

    cv2.resize(np.zeros((1080, 1920, 3), np.uint8), (960, 540), interpolation=cv2.INTER_AREA)


def face_work(dub: Dub) -> None:
    """The flow's face branch: the face track, then the mouth library."""
    build_mouth_library(dub.store, dub.video, track(dub), MouthLibraryConfig())


def nicer(call, by: int):
    def run():
        lower_this_thread(by)  # side_by_side runs it in a thread of its own, which ends with it
        return call()
    return run


def measure(dub: Dub, rounds: int, nice_steps: list[int]) -> dict[str, list[float]]:
    runs: dict[str, list[float]] = {"asr": [], "face": []}
    for r in range(rounds):
        runs["asr"].append(_seconds(lambda: asr(dub)))
        runs["face"].append(_seconds(lambda: face_work(dub)))
        for by in nice_steps:
            a, f = side_by_side(lambda: asr(dub), nicer(lambda: face_work(dub), by))
            runs.setdefault(f"asr_beside_{by}", []).append(a)
            runs.setdefault(f"face_beside_{by}", []).append(f)
        print(f"round {r + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in runs.items()), flush=True)
    return runs


def table(runs: dict[str, list[float]], nice_steps: list[int]) -> list[str]:
    med = {k: statistics.median(v) for k, v in runs.items()}

    def each(values: list[float]) -> str:
        return ", ".join(f"{v:.2f}" for v in values)

    rows = [("ASR alone", "asr", ""), ("face work alone (track, then library)", "face", "")]
    for by in nice_steps:
        what = "the same priority" if by == 0 else f"{by} nicer"
        rows.append((f"ASR beside the face work at {what}", f"asr_beside_{by}",
                     f"{med[f'asr_beside_{by}'] / med['asr']:.2f}× ASR alone"))
        ended = sum(f <= a for f, a in zip(runs[f"face_beside_{by}"], runs[f"asr_beside_{by}"]))
        rows.append((f"face work beside ASR at {what}", f"face_beside_{by}",
                     f"ended before ASR in {ended} of {len(runs['asr'])} rounds"))
    lines = ["| piece | seconds (median) | each round | note |", "|---|---|---|---|"]
    lines += [f"| {name} | {med[key]:.2f} | {each(runs[key])} | {note} |" for name, key, note in rows]
    return lines


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--nice", type=int, nargs="+", default=[0, 10, 19],
                        help="how much nicer the face work's thread is, one side-by-side run each")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "lipsync-sts-bench")
    parser.add_argument("--output", type=Path, help="also write the report (markdown) here")
    args = parser.parse_args(argv)
    if not sys.platform.startswith("linux"):
        sys.exit("per-thread nice values are Linux's: nothing to measure here")
    if not bench_pipeline.REAL_VIDEO.exists():
        sys.exit(f"needs the real talking-face clip {bench_pipeline.REAL_VIDEO} (../shared/testdata)")
    width, height = (int(v) for v in args.size.split("x"))
    video = bench_pipeline.build_input(args.workdir, args.seconds, width, height, real=True)
    start_shared_pools()  # no pool may start inside a niced thread
    with tempfile.TemporaryDirectory(dir=args.workdir) as store_dir:
        print("making the dub's artifacts (untimed) ...", flush=True)
        dub = Dub(video, Path(store_dir))
        info = media.MediaInfo(**dub.video.meta)
        face_work(dub)  # warm-up: models loaded, caches filled
        runs = measure(dub, args.rounds, args.nice)
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    lines = [f"# bench_low_priority: {_dt.datetime.now().isoformat(timespec='seconds')}", "",
             f"- CPU: {bench_pipeline._cpu_model()}, {len(os.sched_getaffinity(0))} cores; commit "
             f"{bench_pipeline._commit()}; load average at end {load}",
             f"- input: {video.name}, {info.width}×{info.height}, {info.duration:.1f} s, {info.n_frames} frames; "
             f"ASR hi (whisper-base, the flow's settings); {args.rounds} rounds, interleaved", ""]
    lines += table(runs, args.nice)
    return bench_pipeline.publish(lines, args.output)


if __name__ == "__main__":
    main()
