"""The lipsync stage's H.264 encoder (and mux's AAC encoder): what other x264 settings would save
against what they cost in bytes and fidelity, measured in the same run.

    .venv/bin/python bench/bench_encoder.py [VIDEO] [--frames 250] [--rounds 3]

Each row encodes the same decoded frames (the first ``--frames`` of VIDEO, held as yuv420p so
that no colour conversion is timed) with media.VideoWriter's own options plus the row's changes:
CPU milliseconds a frame (process user + system time, all of x264's threads), wall milliseconds a
frame, the size projected to 30 s, and the luma PSNR of the re-encoded frames against the decoded
ones (what the re-encode loses; the input's own compression is not counted). "Same-PSNR size" puts
a row's size at the project's PSNR on the project's rate curve (crf 17/18/20, linear between the
neighbouring points): the bitrate a setting costs once its quality loss is bought back. Rounds are
interleaved and medians printed, since these shared VMs change speed between minutes.

VIDEO defaults to bench_pipeline.py's 30-s 1280x720 input (in its default workdir).
"""

from __future__ import annotations

import argparse
import io
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from bench_pipeline import _cpu_model  # noqa: E402
from lipsync_sts import media  # noqa: E402

DEFAULT = Path(tempfile.gettempdir()) / "lipsync-sts-bench" / "inputs" / "v14_1280x720_30s_v2.mp4"
CRF = 18  # LipSyncConfig.crf
PRESET = "veryfast"  # media.VideoWriter's
# (row, preset, crf, extra x264 params): the project's setting at three crfs (its rate curve), then
# the settings that x264's faster presets change, one at a time and together.
ROWS = [
    ("project (veryfast)", PRESET, 17, ""),
    ("project (veryfast)", PRESET, CRF, ""),
    ("project (veryfast)", PRESET, 20, ""),
    ("no 4x4 intra (analyse=i8x8)", PRESET, CRF, "analyse=i8x8"),
    ("subme=1", PRESET, CRF, "subme=1"),
    ("superfast's search (me=dia, subme=1; mbtree kept)", PRESET, CRF, "me=dia:subme=1"),
    ("superfast (no mbtree)", "superfast", CRF, ""),
]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def luma_psnr(a: np.ndarray, b: np.ndarray, height: int) -> float:
    mse = float(np.mean((a[:height].astype(np.float32) - b[:height].astype(np.float32)) ** 2))
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-12))


def encode(frames: list[np.ndarray], width: int, height: int, preset: str, crf: int, extra: str) -> dict:
    options = media.x264_options(crf, preset)
    if extra:
        options["x264-params"] = ":".join(p for p in (options.get("x264-params"), extra) if p)
    buffer = io.BytesIO()
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = options
        stream.thread_type = "AUTO"
        for index, planes in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - wall0
    data = buffer.getvalue()
    with av.open(io.BytesIO(data)) as container:
        psnr = [luma_psnr(f.to_ndarray(format="yuv420p"), frames[i], height)
                for i, f in enumerate(container.decode(container.streams.video[0]))]
    n = len(frames)
    return {"cpu_ms": cpu / n * 1000, "wall_ms": wall / n * 1000, "mb_30s": len(data) / 1e6 * (750 / n),
            "psnr": float(np.mean(psnr))}


def same_psnr_size(curve: list[tuple[float, float]], psnr: float) -> float | None:
    """The project's size at ``psnr`` on its (psnr, MB) points, linear between neighbours."""
    points = sorted(curve)
    for (p0, s0), (p1, s1) in zip(points, points[1:]):
        if p0 <= psnr <= p1:
            return s0 + (s1 - s0) * (psnr - p0) / (p1 - p0)
    return None


def aac_rows(seconds: float = 30.0, rate: int = 48_000) -> list[tuple[str, float]]:
    """mux's AAC encoding of 30 s of stereo (its own media._audio_packets): FFmpeg's default coder
    (twoloop) against "fast"."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    audio = (0.3 * np.sin(2 * np.pi * 220 * t)[:, None] + 0.05 * rng.standard_normal((len(t), 2))).astype(np.float32)
    rows = []
    for name, options in (("aac, FFmpeg's default coder (twoloop; what mux uses)", {}),
                          ("aac, aac_coder=fast", {"aac_coder": "fast"})):
        with av.open(io.BytesIO(), mode="w", format="mp4") as container:
            stream = container.add_stream("aac", rate=rate, layout="stereo")
            stream.bit_rate = 128_000
            stream.codec_context.options = options
            cpu0 = cpu_seconds()
            media._audio_packets(stream, audio, rate)
            rows.append((name, cpu_seconds() - cpu0))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("video", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--frames", type=int, default=250)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not args.video.is_file():
        sys.exit(f"{args.video} does not exist: give a video, or build the 30-s 720p input with "
                 "`bench/bench_pipeline.py --skip-scaling --skip-baselines`")
    info = media.probe(args.video)
    frames = []
    with av.open(str(args.video)) as container:
        for frame in container.decode(container.streams.video[0]):
            frames.append(frame.to_ndarray(format="yuv420p"))
            if len(frames) >= args.frames:
                break
    results: dict[tuple, list[dict]] = {}
    for _ in range(args.rounds):
        for row in ROWS:
            results.setdefault(row, []).append(encode(frames, info.width, info.height, *row[1:]))
    med = {row: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for row, runs in results.items()}
    base = med[ROWS[1]]
    curve = [(m["psnr"], m["mb_30s"]) for row, m in med.items() if row[0] == ROWS[0][0]]
    print(f"{args.video.name}: {info.width}×{info.height}, first {len(frames)} frames; {args.rounds} rounds, "
          f"medians; CPU: {_cpu_model()}\n")
    print("| x264 setting | crf | CPU ms a frame | × project's CPU | wall ms a frame | MB per 30 s | Y-PSNR dB "
          "| same-PSNR size against the project's |")
    print("|---|---|---|---|---|---|---|---|")
    for row, m in med.items():
        name, _, crf, _ = row
        at = same_psnr_size(curve, m["psnr"])
        versus = "" if name == ROWS[0][0] else f"{m['mb_30s'] / at:.2f}×" if at else "beyond crf 17-20's PSNR"
        print(f"| {name} | {crf} | {m['cpu_ms']:.1f} | {m['cpu_ms'] / base['cpu_ms']:.2f} | {m['wall_ms']:.1f} "
              f"| {m['mb_30s']:.2f} | {m['psnr']:.2f} | {versus} |")
    print("\n| AAC encoder, 30 s of 48 kHz stereo at 128 kbit/s | CPU s |\n|---|---|")
    for name, seconds in aac_rows():
        print(f"| {name} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
