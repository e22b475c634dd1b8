"""Two versions of the code, interleaved first dubs: what a change did, on a machine that drifts.

    .venv/bin/python bench/bench_revisions.py BEFORE [--after REV] [--rounds 3] [--output FILE]

BEFORE (and AFTER; default: the working tree) are git revisions, each checked out into a worktree
of its own and warmed up (numba's caches live beside the sources). Each round runs one first dub
of each, one after the other and in turns first (a machine that speeds up or slows down over the
run favours neither), with a fresh store (`lipsync-sts dub`, bench_pipeline's environment,
evaluation on). The 2-core Xeon's speed moves by a third between minutes (bench_pipeline's speed
probe), more than most single changes: only runs this close together compare; the stages a change
does not touch show how far the machine moved. Printed: each
dub's stage seconds (the dub's own stage table), its flow time (Prefect's log: the flow's start to
its end), the dub process's CPU seconds and the share of the machine's core time stolen by the
hypervisor while it ran (/proc/stat: a VM given less than its cores is slower at every stage),
then the medians per version.

VIDEO defaults to bench_pipeline's 30-s 1280x720 input (built by `bench/bench_pipeline.py`).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from bench_cpu_use import DEFAULT, log_events, sampled_dub  # noqa: E402
from bench_pipeline import child_env, machine_shares, machine_ticks  # noqa: E402

# A row of the stage table a dub prints at its end: "match_voice   ur   completed   3.76s".
STAGE_ROW = re.compile(r"^(\w+) +(\S+) +(?:completed|cached) +([\d.]+)s$")


def read_log(text: str) -> tuple[dict[str, float], float]:
    """({stage [language]: seconds}, flow seconds) from a dub's output."""
    stages = {}
    for line in text.splitlines():
        m = STAGE_ROW.match(line.strip())
        if m:
            stages[m[1] if m[2] == "-" else f"{m[1]} [{m[2]}]"] = float(m[3])
    # Prefect's times carry no date; a flow that crosses midnight wraps round.
    times = {}
    for at, who, what in log_events(text):
        if who == "flow":
            times.setdefault(what, at)
    if "Beginning" not in times or "Finished" not in times:
        raise ValueError("no flow start and end in the dub's log")
    return stages, (times["Finished"] - times["Beginning"]) % 86400


def checkout(revision: str, work: Path) -> Path:
    """A worktree of ``revision`` under ``work``, warmed up."""
    path = work / f"code-{revision.replace('/', '_')}"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), revision], check=True,
                   capture_output=True)
    subprocess.run([sys.executable, "-m", "lipsync_sts.warmup"], cwd=path, check=True, capture_output=True,
                   env={**child_env(work), "PYTHONPATH": str(path)})
    return path


def working_tree_label() -> str:
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return f"{head} (working tree{', changed' if dirty else ''})"


def one_dub(code: Path, video: Path, run: Path) -> dict:
    run.mkdir(parents=True)
    ticks = machine_ticks()
    status, samples = sampled_dub(video, "hi", "ur", run, {**child_env(run), "PYTHONPATH": str(code)})
    stolen = machine_shares(ticks, machine_ticks()).get("steal")
    if status != 0:
        raise RuntimeError(f"the dub with {code} failed (exit {status}); its log: {run / 'dub.log'}")
    stages, flow = read_log((run / "dub.log").read_text(errors="replace"))
    return {"stages": stages, "flow_s": flow, "cpu_s": max(s[1] for s in samples if s[1] is not None),
            "stolen_pct": None if stolen is None else 100 * stolen}


def report(runs: dict[str, list[dict]]) -> str:
    names = list(runs)
    stages = list(dict.fromkeys(s for name in names for r in runs[name] for s in r["stages"]))
    rows = [(s, [[r["stages"].get(s) for r in runs[name]] for name in names]) for s in stages]
    rows += [("flow", [[r["flow_s"] for r in runs[name]] for name in names]),
             ("dub process CPU", [[r["cpu_s"] for r in runs[name]] for name in names]),
             # Not seconds: the share of the machine's core time the hypervisor gave to other
             # guests while the dub ran, which slows every stage alike.
             ("% of the cores stolen meanwhile", [[r.get("stolen_pct") for r in runs[name]] for name in names])]
    lines = [f"| seconds | {' | '.join(f'{n} (each round)' for n in names)} | median {' → '.join(names)} |",
             "|---|" + "---|" * (len(names) + 1)]
    for what, values in rows:
        each = [", ".join("–" if v is None else f"{v:.2f}" for v in vs) for vs in values]
        medians = [statistics.median([v for v in vs if v is not None]) if any(v is not None for v in vs) else None
                   for vs in values]
        lines.append(f"| {what} | {' | '.join(each)} | "
                     f"{' → '.join('–' if m is None else f'{m:.2f}' for m in medians)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", help="git revision of the code before the change")
    parser.add_argument("--after", help="git revision after it (default: the working tree)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--video", type=Path, default=DEFAULT)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    if not args.video.is_file():
        sys.exit(f"{args.video} does not exist: give --video, or build the 30-s 720p input with "
                 "`bench/bench_pipeline.py --skip-scaling --skip-baselines`")
    work = Path(tempfile.mkdtemp(prefix="bench-revisions-"))
    codes = {args.before: checkout(args.before, work),
             (args.after or working_tree_label()): checkout(args.after, work) if args.after else ROOT}
    runs: dict[str, list[dict]] = {name: [] for name in codes}
    try:
        for k in range(args.rounds):
            for name, code in list(codes.items())[::1 if k % 2 == 0 else -1]:
                print(f"[bench {time.strftime('%H:%M:%S')}] round {k + 1}: {name}", file=sys.stderr, flush=True)
                runs[name].append(one_dub(code, args.video, work / f"round{k + 1}-{code.name}"))
    finally:
        for code in codes.values():
            if code != ROOT:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(code)], capture_output=True)
    text = (f"# bench_revisions: {_dt.datetime.now().isoformat(timespec='seconds')}, {args.video.name}, "
            f"hi -> ur, {args.rounds} interleaved rounds\n\n{report(runs)}\n")
    print(text)
    if args.output:
        args.output.write_text(text)
    return text


if __name__ == "__main__":
    main()
