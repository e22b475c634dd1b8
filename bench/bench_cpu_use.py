"""How busy one first dub keeps the machine: the CPU time of the `lipsync-sts dub` process and of
Prefect's API server, sampled from /proc while the dub runs, per 2-s step of the flow with the
stages that finished in it. Shows where cores sit idle (a step well under the core count) and
what the server costs.

    .venv/bin/python bench/bench_cpu_use.py [VIDEO] [--from hi] [--to ur] [-- DUB OPTIONS...]

VIDEO defaults to bench_pipeline.py's 30-s 1280x720 input (in its default workdir). The dub
runs with a fresh store in a temporary folder and bench_pipeline's environment (its own Prefect
home, an ephemeral server). Linux only (/proc).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from bench_pipeline import child_env  # noqa: E402

DEFAULT = Path(tempfile.gettempdir()) / "lipsync-sts-bench" / "inputs" / "v14_1280x720_30s_v2.mp4"
TICK = os.sysconf("SC_CLK_TCK")
STEP_S = 2.0
FINISHED = re.compile(r"(\d\d):(\d\d):(\d\d\.\d+) \| INFO +\| (Task|Flow) run '([^']+?)(?:-[0-9a-f]{3})?' - "
                      r"(Finished|Beginning)")


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of ``pid`` (its threads included), or None once it has gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK  # fields 14 and 15 of stat(5)


def server_pid(parent: int) -> int | None:
    """The Prefect API server the dub spawned (a uvicorn child), found as bench_pipeline finds it."""
    import psutil

    try:
        children = psutil.Process(parent).children()
        return next((c.pid for c in children if "prefect.server" in " ".join(c.cmdline())), None)
    except psutil.Error:  # the dub, or the child, has just exited
        return None


def sampled_dub(video: Path, source: str, target: str, run: Path, env: dict[str, str],
                options: list[str] = ()) -> tuple[int, list[tuple[float, float | None, float | None]]]:
    """Run `lipsync-sts dub` in ``run`` (its store, output and log, dub.log, there), sampling every
    0.25 s the CPU seconds of the dub and of Prefect's server: (exit status, [(epoch s, dub cpu-s,
    server cpu-s)])."""
    command = [str(Path(sys.executable).with_name("lipsync-sts")), "dub", str(video), "--from", source,
               "--to", target, "--store", str(run / "store"), "-o", str(run / "out.mp4"), *options]
    samples = []
    with open(run / "dub.log", "w") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(run))
        server = None
        while proc.poll() is None:
            server = server or server_pid(proc.pid)
            samples.append((time.time(), cpu_seconds(proc.pid), cpu_seconds(server) if server else None))
            time.sleep(0.25)
    return proc.returncode, samples


def log_events(text: str) -> list[tuple[float, str, str]]:
    """(seconds after midnight, the stage or "flow", "Beginning" or "Finished") of each line of
    Prefect's log that starts or ends a run. Prefect stamps its lines with the local wall clock, to
    the millisecond and without a date."""
    events = []
    for line in text.splitlines():
        m = FINISHED.match(line)
        if m:
            events.append((int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]), m[5] if m[4] == "Task" else "flow", m[6]))
    return events


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    """This script's arguments; what follows "--" goes to the dub as it is (args.dub_options).
    Split off before argparse sees it: a catch-all positional would take a first dub option for
    VIDEO when no video is given (`-- --no-evaluate`), and this script's own options after VIDEO
    for the dub's."""
    ours, dub = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("video", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--from", dest="source", default="hi")
    parser.add_argument("--to", dest="target", default="ur")
    args = parser.parse_args(ours)
    args.dub_options = dub
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    if not args.video.is_file():
        sys.exit(f"{args.video} does not exist: give a video, or build the 30-s 720p input with "
                 "`bench/bench_pipeline.py --skip-scaling --skip-baselines`")
    work = Path(tempfile.mkdtemp(prefix="cpu-use-"))
    status, samples = sampled_dub(args.video, args.source, args.target, work, child_env(work),
                                  args.dub_options)
    log_path = work / "dub.log"
    if status != 0:
        sys.exit(f"the dub failed (exit {status}); its log: {log_path}")

    midnight = _dt.datetime.combine(_dt.date.fromtimestamp(samples[0][0]), _dt.time()).timestamp()  # local
    events = [(midnight + s, who, what) for s, who, what in log_events(log_path.read_text(errors="replace"))]
    start = next(t for t, who, what in events if who == "flow" and what == "Beginning")
    end = next(t for t, who, what in events if who == "flow" and what == "Finished")

    def at(t: float, column: int) -> float:
        known = [s for s in samples if s[column] is not None and s[0] <= t]
        return known[-1][column] if known else 0.0

    cores = len(os.sched_getaffinity(0))
    dub_total = max(s[1] for s in samples if s[1] is not None)
    server_total = max((s[2] for s in samples if s[2] is not None), default=0.0)
    print(f"{args.video.name}, {args.source} -> {args.target}: flow {end - start:.1f} s on {cores} cores; "
          f"the dub process {at(end, 1) - at(start, 1):.1f} s of CPU in the flow "
          f"({(at(end, 1) - at(start, 1)) / (end - start):.2f} cores on average), {dub_total:.1f} s in all "
          f"(imports and start included); Prefect's server {at(end, 2) - at(start, 2):.1f} s in the flow, "
          f"{server_total:.1f} s in all\n")
    print("| flow s | dub process, cores busy | Prefect server, cores busy | stages finished |")
    print("|---|---|---|---|")
    t = start
    while t < end:
        step = min(STEP_S, end - t)
        done = ", ".join(who for when, who, what in events
                         if t <= when < t + step and what == "Finished" and who != "flow")
        dub, server = ((at(t + step, column) - at(t, column)) / step for column in (1, 2))
        print(f"| {t - start:.0f} | {dub:.2f} | {server:.2f} | {done} |")
        t += step


if __name__ == "__main__":
    main()
