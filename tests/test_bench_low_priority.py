"""bench/bench_low_priority.py: its table times ASR alone and beside the face work at each
priority asked for, and says whether the face work ended before ASR.

Needs the real talking-face clip of ../shared/testdata (the bench's input is made from it); a
6-s 320x180 cut keeps the test near a minute.
"""

from __future__ import annotations

import sys

import pytest

from tests.conftest import TESTDATA, load_bench

pytestmark = [
    pytest.mark.skipif(not (TESTDATA / "video").is_dir(),
                       reason="needs ../shared/testdata (real talking-face clips); absent here"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's"),
]


@pytest.mark.timeout(900)
def test_the_table_times_asr_alone_and_beside_the_face_work_at_each_priority(tmp_path):
    bench = load_bench("bench_low_priority")
    report = bench.main(["--rounds", "1", "--nice", "0", "10", "--seconds", "6", "--size", "320x180",
                         "--workdir", str(tmp_path / "work")])
    rows = {line.split("|")[1].strip(): line.split("|") for line in report.splitlines() if line.startswith("| ")}
    names = ["ASR alone", "face work alone (track, then library)",
             "ASR beside the face work at the same priority", "face work beside ASR at the same priority",
             "ASR beside the face work at 10 nicer", "face work beside ASR at 10 nicer"]
    assert [n for n in rows if n != "piece"] == names
    for name in names:
        assert float(rows[name][2]) > 0, rows[name]
    alone = float(rows["ASR alone"][2])
    beside = float(rows["ASR beside the face work at 10 nicer"][2])
    assert f"{beside / alone:.2f}× ASR alone" in rows["ASR beside the face work at 10 nicer"][4]
    assert "ended before ASR in " in rows["face work beside ASR at 10 nicer"][4]
