"""bench/bench_pipeline.py --quick: one table with every row, and numbers that make sense.

A tiny generated input (a still portrait speaking espeak-ng Hindi, 320x180, 3 s), every dub in one
child process: about a minute on two idle cores, longer on a loaded machine (hence the timeout).
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import load_bench


def _rows(table: str) -> dict[str, list[str]]:
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = {}
    for line in lines[1:]:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        rows[cells[0]] = dict(zip(head, cells))
    return rows


@pytest.mark.timeout(600)
def test_quick_bench_prints_every_row(tmp_path):
    bench = load_bench("bench_pipeline")
    out = tmp_path / "bench.md"
    report = bench.main(["--quick", "--workdir", str(tmp_path / "work"), "--output", str(out)])
    table = out.read_text(encoding="utf-8")
    assert table == report["table"]

    # Header: the machine and the thread counts.
    assert re.search(r"CPU: .+; os\.cpu_count\(\) \d+", table)
    assert re.search(r"torch threads \d+, cv2 threads \d+", table)
    # The same decoding work at both ends, so a slow hour on a shared VM shows as a slow machine.
    assert re.search(r"machine speed: decoding the input's first 75 frames took [\d.]+ ms a frame at the start, "
                     r"[\d.]+ ms a frame at the end", table)
    assert 0 < report["speed_probe"]["start"] < 60 and 0 < report["speed_probe"]["end"] < 60

    rows = _rows(table)
    stages = {name.split(" [")[0].removeprefix("stage ") for name in rows if name.startswith("stage ")}
    assert {"ingest", "extract_audio", "transcribe", "track_faces", "translate", "synthesize", "fit_timing",
            "mix", "lipsync", "mux", "evaluate"} <= stages
    for name, row in rows.items():
        if name.startswith("stage "):
            assert float(row["seconds"]) >= 0 and float(row["peak RSS MB"]) > 50, row
    for name in ("stage track_faces", "stage lipsync [ur]", "stage mux [ur]"):
        assert float(rows[name]["frames/s"]) > 0

    decoding = rows["video decoding passes (first run)"]["note"]
    assert re.search(r"input \d+ \(track_faces 1", decoding) and "frames decoded" in decoding

    first = rows["dub first run (fresh store), RTF"]
    rerun = rows["dub rerun from cache (same store)"]
    extra = rows["dub + 1 target language (ta, same store)"]
    assert 0 < float(rerun["seconds"]) < float(first["seconds"])
    assert 0 < float(extra["seconds"]) < float(first["seconds"]) * 1.5
    assert re.search(r"RTF \d+\.\d+", first["note"])
    assert re.search(r"\d+\.\d% of first", rerun["note"])
    for row in (first, rerun, extra):
        assert 50 < float(row["peak RSS MB"]) < 8000
    # The CPU the first dub burnt, and the bound on its RTF that follows from it.
    cpu = rows["dub first run: CPU seconds in the flow"]
    busy = re.search(r"= (\d+\.\d+) of (\d+) cores busy on average; .* the RTF would be (\d+\.\d+)", cpu["note"])
    assert busy and 0 < float(busy[1]) <= int(busy[2]) + 0.5, cpu
    assert float(busy[3]) == pytest.approx(float(cpu["seconds"]) / int(busy[2]) / report["first"]["duration"], abs=0.01)
    # How the machine's cores were spent meanwhile, by any process: shares that add up to the whole.
    shares = re.search(r"(\d+)% busy, (\d+)% idle, (\d+)% stolen", cpu["note"])
    assert shares and 98 <= sum(int(v) for v in shares.groups()) <= 102, cpu
    # A dub without the output's measurement: fewer stages, so less time than the first (cold) one.
    bare = rows["dub first run without the evaluation (--no-evaluate, fresh store)"]
    assert 0 < float(bare["seconds"]) < float(first["seconds"])
    cpus = re.search(r"CPU ([\d.]+) s against the first dubs' median ([\d.]+) s", bare["note"])
    assert cpus and 0 < float(cpus[1]) < float(cpus[2]), bare
    assert not any(s["stage"] in ("evaluate", "check_images") for s in report["noeval"]["stages"])

    embedded = rows["embedded lip-sync render, 512×512"]
    wav2lip = rows["Wav2Lip generator: ours / public inference"]
    if bench.DATA.is_dir():
        assert float(embedded["frames/s"]) > 0
    else:
        assert "no testdata" in embedded["note"]
    assert float(wav2lip["frames/s"]) > 0 and re.search(r"\d+\.\d\d×; public \d", wav2lip["note"])

    scaling = [name for name in rows if name.startswith("peak RSS, dub of ")]
    assert len(scaling) == 2 and all(float(rows[n]["peak RSS MB"]) > 50 for n in scaling)
    assert "lipsync" in rows[scaling[0]]["note"] and "track_faces" in rows[scaling[0]]["note"]
    assert rows["peak RSS growth with video length"]["peak RSS MB"].endswith("/min")
    assert float(rows["peak RSS, 10-min 320×180 dub"]["peak RSS MB"]) != 0
    # --quick checks the bench, not the goals: no verdicts.
    assert not any(row["pass"] for row in rows.values())
