"""The GIL's switch interval: Python's 5 ms against the 0.5 ms the pipeline sets (lipsync_sts/__init__.py).

    .venv/bin/python bench/bench_gil_switch.py [--dubs 2] [--output bench/results/gil_switch.md]

The pipeline's threads spend most of their time in C without the GIL (PyAV decoding ahead and
encoding AAC, mediapipe, ONNX Runtime) and need it back briefly for every frame. While another
thread runs Python or numpy, such a thread waits for the holder to be asked to drop the GIL: the
switch interval, each time. Two measurements, each at several intervals in one process:

- work that takes the GIL back often (mux's AAC encoding of 10 s of stereo, 469 frames; decoding
  10 s of 720p ahead in a thread, as every stage reads video), alone and beside a thread that runs
  Python (a loop) or numpy on small arrays, as the stages beside it do;
- with ``--dubs N``: N rounds of whole first dubs (30 s of 720p, hi -> ur, embedded backends,
  evaluation on, a fresh store each), interleaved: Python's 5 ms (LIPSYNC_STS_SWITCH_INTERVAL=0.005)
  and the pipeline's default.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))

import bench_pipeline  # noqa: E402

INTERVALS = (0.005, 0.001, 0.0005, 0.0002)
DEFAULT = 0.0005  # lipsync_sts/__init__.py


def encode_aac(seconds: float = 10.0) -> float:
    """Seconds to encode ``seconds`` of 48 kHz stereo noise to AAC, as mux does."""
    import av

    from lipsync_sts import media

    rate = 48_000
    audio = (np.random.default_rng(0).standard_normal((int(rate * seconds), 2)) * 0.1).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp, av.open(str(Path(tmp) / "a.mp4"), "w") as out:
        stream = out.add_stream("aac", rate=rate, layout="stereo")
        stream.bit_rate = 256_000
        start = time.perf_counter()
        media._audio_packets(stream, audio, rate)
        return time.perf_counter() - start


def decode_ahead(video: Path) -> float:
    """Seconds to read every frame of ``video`` through the pipeline's decode-ahead reader."""
    from lipsync_sts import media

    start = time.perf_counter()
    for _ in media.iter_frames(video):
        pass
    return time.perf_counter() - start


def _python_loop(stop: threading.Event) -> None:
    while not stop.is_set():
        sum(i * i for i in range(1000))


def _small_numpy(stop: threading.Event) -> None:
    # A render loop's kind of work: many numpy calls on a mouth-sized crop.
    crop = np.random.default_rng(1).random((96, 96, 3), dtype=np.float32)
    while not stop.is_set():
        for _ in range(50):
            crop = np.clip(crop * 1.0001 + 0.0001, 0.0, 1.0)


def beside(work, busy) -> float:
    stop = threading.Event()
    thread = threading.Thread(target=busy, args=(stop,), daemon=True)
    thread.start()
    try:
        return work()
    finally:
        stop.set()
        thread.join()


def micro(video: Path) -> list[list[str]]:
    rows = []
    works = {"AAC encode, 10 s stereo": encode_aac, "decode ahead, 10 s 1280×720": lambda: decode_ahead(video)}
    busies = {"alone": None, "beside Python": _python_loop, "beside numpy": _small_numpy}
    old = sys.getswitchinterval()
    try:
        for name, work in works.items():
            for busy_name, busy in busies.items():
                cells = []
                for interval in INTERVALS:
                    sys.setswitchinterval(interval)
                    cells.append(work() if busy is None else beside(work, busy))
                base, ours = cells[0], cells[INTERVALS.index(DEFAULT)]
                rows.append([name, busy_name, *(f"{c:.2f}" for c in cells), f"{base / ours:.2f}×"])
    finally:
        sys.setswitchinterval(old)
    return rows


def dubs(rounds: int, workdir: Path) -> dict[str, list[float]]:
    """Flow seconds of first dubs (fresh stores), interleaved: Python's default, then the pipeline's."""
    video = bench_pipeline.build_input(workdir, 30.0, 1280, 720, bench_pipeline.DATA.is_dir())
    run_dir = Path(tempfile.mkdtemp(prefix="gil-", dir=workdir))
    base_env = bench_pipeline.child_env(workdir)
    times: dict[str, list[float]] = {"0.005": [], "default": []}
    for k in range(rounds):
        for label in times:
            env = {**base_env, "LIPSYNC_STS_SWITCH_INTERVAL": label if label != "default" else ""}
            name = f"{label}-{k}"
            spec = {"name": name, "video": str(video), "source": "hi", "targets": ["ur"],
                    "output": str(run_dir / "out" / f"{name}.mp4"), "store": str(run_dir / f"store-{name}")}
            child = bench_pipeline.run_child(run_dir, name, [spec], env)
            times[label].append(child["runs"][0]["flow_s"])
            print(f"[gil] dub {name}: {times[label][-1]:.1f} s", file=sys.stderr, flush=True)
    return times


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dubs", type=int, default=0, help="rounds of interleaved whole first dubs (each ~1 min)")
    p.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "lipsync-sts-bench")
    p.add_argument("--output", type=Path)
    args = p.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    video = bench_pipeline.build_input(args.workdir, 10.0, 1280, 720, bench_pipeline.DATA.is_dir())
    lines = [f"# bench_gil_switch: {_dt.datetime.now().isoformat(timespec='seconds')}", "",
             f"- CPU: {bench_pipeline._cpu_model()}; {os.cpu_count()} cores; commit {bench_pipeline._commit()}",
             f"- load average at start {' '.join(f'{x:.2f}' for x in os.getloadavg())}", "",
             "Seconds at each switch interval (ms); the ratio: Python's 5 ms against the pipeline's 0.5 ms.", "",
             "| work | next to it | " + " | ".join(f"{i * 1000:g} ms" for i in INTERVALS) + " | 5 ms / 0.5 ms |",
             "|---|---|" + "---|" * (len(INTERVALS) + 1)]
    lines += ["| " + " | ".join(row) + " |" for row in micro(video)]
    if args.dubs:
        times = dubs(args.dubs, args.workdir)
        base, ours = statistics.median(times["0.005"]), statistics.median(times["default"])
        lines += ["", f"Whole first dubs, 30 s of 1280×720, hi -> ur, evaluation on, {args.dubs} interleaved rounds:", "",
                  "| switch interval | flow seconds, each | median | RTF |", "|---|---|---|---|",
                  f"| 5 ms (Python's) | {', '.join(f'{t:.1f}' for t in times['0.005'])} | {base:.1f} | {base / 30:.2f} |",
                  f"| 0.5 ms (the pipeline's) | {', '.join(f'{t:.1f}' for t in times['default'])} | {ours:.1f} | "
                  f"{ours / 30:.2f} |", "", f"ratio {base / ours:.2f}×"]
    lines.append(f"\n- load average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    text = "\n".join(lines)
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n", encoding="utf-8")
    return text


if __name__ == "__main__":
    main()
