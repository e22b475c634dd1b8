"""bench/bench_encoder.py, bench/bench_cpu_use.py and bench/bench_revisions.py: the pieces their
tables rest on measure what they say (an encode's size and fidelity, a process's CPU time, the
stages and flow time a dub's output names)."""

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


def test_a_dubs_stage_seconds_and_flow_time_are_read_from_its_output():
    log = """23:59:50.100 | INFO    | Flow run 'calm-owl' - Beginning flow run 'calm-owl' for flow 'dub'
23:59:50.300 | INFO    | Task run 'ingest-488' - Finished in state Completed()
00:01:02.600 | INFO    | Flow run 'calm-owl' - Finished in state Completed()
stage              for     result         time
ingest             -       completed     0.15s
match_voice        ur      completed     3.76s
lipsync            ur      cached        0.02s
3 stages, 1 cached, 3.9s
"""
    stages, flow = load_bench("bench_revisions").read_log(log)
    assert stages == {"ingest": 0.15, "match_voice [ur]": 3.76, "lipsync [ur]": 0.02}
    assert flow == pytest.approx(72.5)  # across midnight


def test_a_log_without_the_flows_end_is_refused():
    with pytest.raises(ValueError, match="flow start and end"):
        load_bench("bench_revisions").read_log("12:00:00.000 | INFO    | Flow run 'x' - Beginning flow run 'x'\n")


def test_dub_options_after_a_double_dash_go_to_the_dub_with_or_without_a_video():
    parse = load_bench("bench_cpu_use").parse_arguments
    bare = parse(["--", "--no-evaluate"])
    assert bare.video == load_bench("bench_cpu_use").DEFAULT and bare.dub_options == ["--no-evaluate"]
    given = parse(["clip.mp4", "--to", "ta", "--", "--no-evaluate", "--crf", "20"])
    assert (str(given.video), given.target, given.dub_options) == ("clip.mp4", "ta", ["--no-evaluate", "--crf", "20"])
    with pytest.raises(SystemExit):  # a dub option without "--" is refused, not given to the dub silently
        parse(["clip.mp4", "--no-evaluate"])


def test_the_revision_table_gives_each_round_and_the_medians():
    runs = {"old": [{"stages": {"a": 2.0}, "flow_s": 10.0, "cpu_s": 15.0, "stolen_pct": 38.0},
                    {"stages": {"a": 4.0}, "flow_s": 12.0, "cpu_s": 17.0, "stolen_pct": 2.0}],
            "new": [{"stages": {"a": 1.0, "b": 0.5}, "flow_s": 9.0, "cpu_s": 14.0, "stolen_pct": 1.0},
                    {"stages": {"a": 1.5}, "flow_s": 8.0, "cpu_s": 13.0}]}  # no /proc/stat
    table = load_bench("bench_revisions").report(runs)
    assert "| a | 2.00, 4.00 | 1.00, 1.50 | 3.00 → 1.25 |" in table
    assert "| b | –, – | 0.50, – | – → 0.50 |" in table
    assert "| flow | 10.00, 12.00 | 9.00, 8.00 | 11.00 → 8.50 |" in table
    assert "| % of the cores stolen meanwhile | 38.00, 2.00 | 1.00, – | 20.00 → 1.00 |" in table


def test_the_machines_shares_add_up_and_steal_is_what_the_hypervisor_took():
    bench = load_bench("bench_pipeline")
    shares = bench.machine_shares({"busy": 100, "idle": 50, "steal": 10}, {"busy": 160, "idle": 70, "steal": 30})
    assert shares == pytest.approx({"busy": 0.6, "idle": 0.2, "steal": 0.2})
    assert bench.machine_shares({}, {"busy": 1, "idle": 1, "steal": 1}) == {}  # /proc/stat unreadable
    now = bench.machine_ticks()
    assert set(now) == {"busy", "idle", "steal"} and all(v >= 0 for v in now.values())
