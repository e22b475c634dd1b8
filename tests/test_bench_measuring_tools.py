"""bench/bench_encoder.py and bench/bench_cpu_use.py: the pieces their tables rest on measure what
they say (an encode's size and fidelity, a process's CPU time, the stages Prefect's log names)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.conftest import load_bench


def _frames(n: int, width: int = 128, height: int = 96) -> list[np.ndarray]:
    """yuv420p planes ((h * 3 / 2, w) uint8) of a gradient drifting right: easy to code, not flat."""
    x = np.arange(width)[None, :]
    y = np.arange(height)[:, None]
    frames = []
    for k in range(n):
        luma = ((x * 2 + y + 3 * k) % 256).astype(np.uint8)
        chroma = np.full((height // 2, width), 128, np.uint8)
        frames.append(np.concatenate([luma, chroma]))
    return frames


def test_encoder_rows_lose_more_at_a_higher_crf_and_cost_fewer_bytes():
    bench = load_bench("bench_encoder")
    frames = _frames(20)
    fine = bench.encode(frames, 128, 96, "veryfast", 12, "")
    coarse = bench.encode(frames, 128, 96, "veryfast", 35, "")
    assert fine["psnr"] > coarse["psnr"] > 20.0
    assert fine["mb_30s"] > coarse["mb_30s"] > 0.0
    assert fine["cpu_ms"] > 0.0 and fine["wall_ms"] > 0.0


def test_same_psnr_size_interpolates_on_the_rate_curve_and_refuses_to_extrapolate():
    bench = load_bench("bench_encoder")
    curve = [(49.0, 2.6), (50.0, 3.3), (50.5, 3.7)]
    assert bench.same_psnr_size(curve, 49.5) == pytest.approx(2.95)
    assert bench.same_psnr_size(curve, 50.0) == pytest.approx(3.3)
    assert bench.same_psnr_size(curve, 51.6) is None


def test_cpu_seconds_grow_with_work_and_are_none_once_the_process_is_gone():
    bench = load_bench("bench_cpu_use")
    spin_then_sleep = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.5: pass\ntime.sleep(60)"
    busy = subprocess.Popen([sys.executable, "-c", spin_then_sleep])
    try:
        seconds = None
        deadline = time.monotonic() + 30.0  # the spin's 0.5 s of CPU, however busy the machine
        while time.monotonic() < deadline:
            seconds = bench.cpu_seconds(busy.pid)
            if seconds and seconds >= 0.4:
                break
            time.sleep(0.05)
        assert seconds is not None and seconds >= 0.4
    finally:
        busy.kill()
        busy.wait()
    assert bench.cpu_seconds(busy.pid) is None
    assert bench.cpu_seconds(os.getpid()) > 0.0


@pytest.mark.parametrize("line, stage, event", [
    ("12:11:16.806 | INFO    | Task run 'mux-a23' - Finished in state Completed()", "mux", "Finished"),
    ("12:11:22.180 | INFO    | Task run 'track_faces-066' - Finished in state Completed()", "track_faces", "Finished"),
    ("12:12:46.209 | INFO    | Flow run 'polite-toucan' - Beginning flow run 'polite-toucan' for flow 'dub'",
     "polite-toucan", "Beginning"),
])
def test_the_stages_are_read_from_prefects_log_lines(line, stage, event):
    match = load_bench("bench_cpu_use").FINISHED.match(line)
    assert match is not None
    assert (match[5], match[6]) == (stage, event)
