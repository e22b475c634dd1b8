"""Partial reads of a video (media.iter_frames with ``only``): decoding every frame against seeking
past the groups of pictures that hold no wanted frame, in the same run. One row per read the dub
makes: the mouth library's 450 frames (30 runs of 15, as where every frame shows a face) and the
measurement's 40 evenly spaced samples. Each read is checked to give the same frames both ways.

    .venv/bin/python bench/bench_sparse_reads.py [VIDEO]

VIDEO defaults to the 10-minute 1080p input bench_pipeline.py --ten-minutes builds (in its
default workdir); seeking only pays where the video has many groups of pictures.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lipsync_sts import media  # noqa: E402
from lipsync_sts.evaluation.image_checks import sampled_frames  # noqa: E402

DEFAULT = Path(tempfile.gettempdir()) / "lipsync-sts-bench" / "inputs" / "v14_1920x1080_600s_v2.mp4"


def read(path: Path, only: set[int], seek: bool) -> tuple[float, int, dict[int, str]]:
    """(seconds, frames decoded, a digest of each wanted frame) of one partial read."""
    timeline = media._frame_timeline
    if not seek:
        media._frame_timeline = lambda container, stream: None  # what every read did before seeking
    try:
        start = time.perf_counter()
        frames = media.iter_frames(path, only=only)
        got = {i: hashlib.blake2b(f.tobytes()).hexdigest() for i, f in enumerate(frames) if f is not None}
        return time.perf_counter() - start, frames.decoded, got
    finally:
        media._frame_timeline = timeline


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    if not path.is_file():
        sys.exit(f"{path} does not exist: give a video, or build it with "
                 "`bench/bench_pipeline.py --ten-minutes --durations 600`")
    info = media.probe(path)
    starts = np.linspace(0, info.n_frames - 15, 30).astype(int)
    reads = {"mouth library, 450 frames": set(np.concatenate([np.arange(s, s + 15) for s in starts]).tolist()),
             "measurement, 40 frames": sampled_frames(info.n_frames)}
    print(f"{path.name}: {info.width}×{info.height}, {info.n_frames} frames, {info.duration:.0f} s\n")
    print("| read | decode every frame (s) | seek (s) | × faster | frames decoded: every / seek | same frames |")
    print("|---|---|---|---|---|---|")
    for name, only in reads.items():
        t_all, n_all, all_frames = read(path, only, seek=False)
        t_seek, n_seek, seek_frames = read(path, only, seek=True)
        same = all_frames == seek_frames
        print(f"| {name} | {t_all:.2f} | {t_seek:.2f} | {t_all / t_seek:.2f} | {n_all} / {n_seek} | "
              f"{'yes' if same else 'NO'} |")


if __name__ == "__main__":
    main()
