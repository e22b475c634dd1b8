"""A command's start: seconds from launching `lipsync-sts dub` to its flow's first stage.

    .venv/bin/python bench/bench_startup.py [--runs 3] [--output bench/results/startup.md]

What a user waits for before any work: Python imports, then Prefect's temporary API server. Two
ways, interleaved, on the same tiny dub (4 s of 320x180, transcript and translation given, no
evaluation, a fresh store each run): the server spawned as the command starts, beside its imports
(lipsync_sts/prefect_api.py, the default), and the baseline, Prefect starting it when the flow
begins (LIPSYNC_STS_EARLY_API=0). Also the import time of the dub flow alone (python -X importtime).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import bench_pipeline  # noqa: E402

SRT = {"hi": "1\n00:00:00,500 --> 00:00:03,000\nनमस्ते दुनिया\n", "ur": "1\n00:00:00,500 --> 00:00:03,000\nسلام دنیا\n"}


def one_dub(video: Path, work: Path, early: bool) -> tuple[float, float]:
    """(seconds to the flow's first log line, seconds to the command's exit)."""
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        tmp = Path(tmp)
        for lang, text in SRT.items():
            (tmp / f"{lang}.srt").write_text(text, encoding="utf-8")
        env = {**os.environ, "LIPSYNC_STS_EARLY_API": "1" if early else "0"}
        env.pop("PREFECT_API_URL", None)
        start = time.perf_counter()
        first = None
        with subprocess.Popen([sys.executable, "-m", "lipsync_sts.cli", "dub", str(video), "--from", "hi", "--to", "ur",
                               "-o", str(tmp / "out.mp4"), "--store", str(tmp / "store"), "--transcript",
                               str(tmp / "hi.srt"), "--translation", f"ur={tmp / 'ur.srt'}", "--no-evaluate"],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
            for line in proc.stdout:
                if first is None and "Beginning flow run" in line:
                    first = time.perf_counter() - start
        total = time.perf_counter() - start
        if proc.returncode != 0 or first is None:
            raise RuntimeError(f"the dub failed (exit {proc.returncode})")
        return first, total


def import_seconds() -> float:
    run = subprocess.run([sys.executable, "-X", "importtime", "-c", "import flows.dub"], cwd=REPO,
                         capture_output=True, text=True, check=True)
    last = [line for line in run.stderr.splitlines() if line.rstrip().endswith("| flows.dub")][-1]
    return int(re.split(r"\s*\|\s*", last)[1]) / 1e6


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "lipsync-sts-bench")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    real = bench_pipeline.REAL_VIDEO.exists()
    video = bench_pipeline.build_input(args.workdir, 4.0, 320, 180, real=real)
    runs: dict[str, list[tuple[float, float]]] = {"early": [], "prefect": []}
    imports = []
    for r in range(args.runs):
        for way in ("early", "prefect"):
            runs[way].append(one_dub(video, args.workdir, early=way == "early"))
        imports.append(import_seconds())
        print(f"run {r + 1}/{args.runs}: " + ", ".join(f"{k} {v[-1][0]:.1f} s to the first stage" for k, v in runs.items()),
              flush=True)

    def med(way: str, k: int) -> float:
        return statistics.median(v[k] for v in runs[way])

    def each(way: str, k: int) -> str:
        return ", ".join(f"{v[k]:.1f}" for v in runs[way])

    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    lines = [f"# bench_startup: {_dt.datetime.now().isoformat(timespec='seconds')}", "",
             f"- CPU: {bench_pipeline._cpu_model()}, {os.cpu_count()} cores; commit {bench_pipeline._commit()}; "
             f"load average at end {load}",
             f"- a dub of {video.name} (transcript and translation given, --no-evaluate, fresh store), "
             f"{args.runs} runs of each way, interleaved", "",
             "| what | seconds (median) | each run |", "|---|---|---|",
             f"| import flows.dub (python -X importtime) | {statistics.median(imports):.2f} | "
             f"{', '.join(f'{v:.2f}' for v in imports)} |",
             f"| to the first stage, server spawned as the command starts | {med('early', 0):.1f} | {each('early', 0)} |",
             f"| to the first stage, Prefect starting it (baseline) | {med('prefect', 0):.1f} | {each('prefect', 0)} |",
             f"| whole command, server spawned as the command starts | {med('early', 1):.1f} | {each('early', 1)} |",
             f"| whole command, Prefect starting it (baseline) | {med('prefect', 1):.1f} | {each('prefect', 1)} |",
             "", f"Early start against Prefect's: **{med('prefect', 0) - med('early', 0):.1f} s** sooner to the "
             f"first stage ({med('early', 0) / med('prefect', 0):.2f}×)."]
    return bench_pipeline.publish(lines, args.output)


if __name__ == "__main__":
    main()
