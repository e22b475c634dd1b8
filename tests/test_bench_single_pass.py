"""bench/bench_single_pass.py: the one-pass loop it times renders the very frames the flow's
render does, and its table holds both layouts' critical paths.

Needs the real talking-face clip of ../shared/testdata (the bench's input is made from it); a
6-s 320x180 cut keeps the test near a minute.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.conftest import TESTDATA, load_bench

pytestmark = pytest.mark.skipif(not (TESTDATA / "video").is_dir(),
                                reason="needs ../shared/testdata (real talking-face clips); absent here")


@pytest.mark.timeout(900)
def test_one_pass_renders_the_flows_frames_and_the_table_compares_both_layouts(tmp_path):
    from lipsync_sts import media

    bench = load_bench("bench_single_pass")
    video = bench.bench_pipeline.build_input(tmp_path / "work", 6.0, 320, 180, real=True)
    dub = bench.Dub(video, tmp_path / "store")

    flow_render = dub.store.local_path(bench.render(dub))
    one_pass_out = tmp_path / "one_pass.mp4"
    written = bench.one_pass(dub, one_pass_out)

    assert written == dub.video.meta["n_frames"] == 150
    assert bench.decode(dub) == 150  # the decode-only row times a whole pass of the input
    pairs = list(zip(media.iter_frames(flow_render), media.iter_frames(one_pass_out)))
    assert len(pairs) == written
    assert all(np.array_equal(a, b) for a, b in pairs)

    report = bench.main(["--rounds", "1", "--seconds", "6", "--size", "320x180", "--workdir", str(tmp_path / "work")])
    rows = {line.split("|")[1].strip(): line for line in report.splitlines() if line.startswith("| ")}
    for name in ("ASR alone", "ASR beside face tracking", "render alone (1 decode)",
                 "one pass: track and render (1 decode)", "decoding alone (full size, as the render reads)"):
        assert float(rows[name].split("|")[2]) > 0, rows[name]
    two = [n for n in rows if n.startswith("**critical path, two passes")]
    one = [n for n in rows if n.startswith("**critical path, one pass")]
    assert len(two) == len(one) == 1
    assert "what a second whole pass repeats" in rows["decoding alone (full size, as the render reads)"]
    assert "300 frames decoded" in rows[two[0]] and "150 frames decoded" in rows[one[0]]
    assert re.search(r"One pass against two: \*\*\d+\.\d\d×\*\* the first language's critical path, "
                     r"\*\*\d+\.\d\d×\*\* each further language's", report)
