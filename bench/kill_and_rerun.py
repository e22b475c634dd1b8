"""Crash safety: kill a dub with SIGKILL at random moments, rerun it, and check that every rerun
ends with the same output as an uninterrupted run and that the store holds only complete objects.

    .venv/bin/python bench/kill_and_rerun.py VIDEO --from hi --to ur [--rounds 20] [--seed 0]

Each round starts a dub on an empty store, SIGKILLs it (with the temporary Prefect server it
started) after a random time, then reruns it on the same store, and once more. A round is
crash-safe when the rerun finishes (within --timeout: a rerun stuck on a lock the killed run left
behind counts as a failure, not as a wait forever), its output is a complete video, every stored
object hashes to its name, and the second rerun computes nothing and gives the same bytes (what the
cache hands out is complete). Separately, each rerun's output is compared byte for byte with an
uninterrupted run; a second uninterrupted run (the control) says whether the pipeline reproduces
its own output at all, without which that comparison cannot pass whatever the crash safety.

Prints one line per round and a summary; exits 1 on any crash-safety failure, or on any mismatch
when the control reproduced the reference.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "lipsync_sts.cli"]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def frame_count(path: Path) -> int:
    """Frames of a video; 0 for a file that does not decode as one (a partial write)."""
    sys.path.insert(0, str(REPO))
    from lipsync_sts import media

    try:
        return sum(1 for _ in media.iter_frames(path))
    except Exception:  # noqa: BLE001 - anything unreadable is not a complete output
        return 0


def computed(log: str) -> list[str]:
    """The stages of the run summary that ran rather than came from the cache."""
    return [line.split()[0] for line in log.splitlines() if line.split()[2:3] == ["completed"]]


def stage_results(store: Path) -> dict[str, str]:
    """cache key -> sha256 of the artifact the stage's cached result points to."""
    results = {}
    for record in (store / "prefect-results").glob("*"):
        result = json.loads(record.read_text())["result"]
        result = json.loads(result) if isinstance(result, str) else result
        results[record.name] = result["data"]["sha256"]
    return results


def stage_report(reference: Path, stores: list[Path]) -> list[str]:
    """Per stage: how often a round's result for a cache key the reference also has holds the same
    bytes. A stage that gives other bytes for the same key is not reproducible, kills or not."""
    expected = stage_results(reference)
    same, other, new = Counter(), Counter(), Counter()
    for store in stores:
        for key, digest in stage_results(store).items():
            stage = key.rsplit("-", 1)[0]
            (new if key not in expected else same if expected[key] == digest else other)[stage] += 1
    return [f"  {s:<20} same bytes {same[s]:>3}, other bytes {other[s]:>3}, key not in the reference {new[s]:>3}"
            for s in sorted(same.keys() | other.keys() | new.keys())]


def dub(video: str, source: str, target: str, store: Path, output: Path, env: dict) -> subprocess.Popen:
    # A new session, so the kill takes the temporary Prefect server with it, as a crash would.
    return subprocess.Popen([*CLI, "dub", video, "--from", source, "--to", target, "--store", str(store),
                             "-o", str(output)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def incomplete_objects(store: Path) -> list[Path]:
    """Objects whose bytes do not hash to their name: what a non-atomic write would leave."""
    bad = []
    for obj in (store / "objects").rglob("*"):
        if obj.is_file() and not sha256(obj).startswith(obj.name.split(".")[0]):
            bad.append(obj)
    return bad


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video")
    parser.add_argument("--from", dest="source", default="hi")
    parser.add_argument("--to", dest="target", default="ur")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds a rerun may take before it counts as hung (default: 5x the uninterrupted run, "
                             "at least 300)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="kill-rerun-"))
    env = {**os.environ, "PREFECT_HOME": str(work / "prefect"), "PYTHONUNBUFFERED": "1"}
    print(f"work folder {work}; video {args.video} ({args.source} -> {args.target}), {args.rounds} rounds, "
          f"seed {args.seed}; code from {REPO}", flush=True)

    start = time.perf_counter()
    outputs, durations = {}, []
    for name in ("reference", "control"):  # two uninterrupted runs, each on its own empty store
        began = time.perf_counter()
        proc = dub(args.video, args.source, args.target, work / f"{name}-store", work / f"{name}.mp4", env)
        log = proc.communicate()[0]
        if proc.returncode != 0:
            print(log)
            return 1
        outputs[name] = sha256(work / f"{name}.mp4")
        durations.append(time.perf_counter() - began)
    # The faster of the two runs (the first also warms caches and may meet a busier machine).
    full_run = min(durations)
    expected, frames = outputs["reference"], frame_count(work / "reference.mp4")
    reproducible = outputs["control"] == expected
    timeout = args.timeout or max(300.0, 5 * full_run)
    control = "gave the same bytes" if reproducible else f"gave OTHER bytes ({outputs['control'][:16]})"
    print(f"uninterrupted run: {full_run:.1f}s, {frames} frames, output sha256 {expected[:16]}; control run {control}",
          flush=True)

    unsafe, mismatches, kills = 0, 0, 0
    for round_no in range(1, args.rounds + 1):
        kill_after = rng.uniform(0.5, 0.9 * full_run)  # so that nearly every round is killed mid-run
        output = work / f"round{round_no}.mp4"
        store = work / f"store{round_no}"  # each round starts empty: the killed run is all that went before
        proc = dub(args.video, args.source, args.target, store, output, env)
        try:
            proc.wait(timeout=kill_after)
            killed = False  # it finished first: this round tests a rerun on a complete store
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            killed = True
        kills += killed
        when = f"killed after {kill_after:5.1f}s" if killed else f"finished before {kill_after:5.1f}s"
        problems = []
        if output.exists() and frame_count(output) != frames:
            problems.append("the killed run left an incomplete output")
        logs = []
        for attempt in ("rerun", "second rerun"):
            rerun = dub(args.video, args.source, args.target, store, output, env)
            try:
                logs.append(rerun.communicate(timeout=timeout)[0])
            except subprocess.TimeoutExpired:
                os.killpg(rerun.pid, signal.SIGKILL)
                logs.append(rerun.communicate()[0])
                problems.append(f"{attempt} HUNG (no result in {timeout:.0f}s)")
                break
            if rerun.returncode != 0:
                problems.append(f"{attempt} FAILED (exit {rerun.returncode})")
                break
            if not output.exists() or frame_count(output) != frames:
                problems.append(f"{attempt} output incomplete")
                break
            if attempt == "rerun":
                first = sha256(output)
            else:
                if computed(logs[-1]):
                    problems.append(f"second rerun computed {computed(logs[-1])} again")
                if sha256(output) != first:
                    problems.append("second rerun gave other bytes")
        bad = incomplete_objects(store)
        if bad:
            problems.append(f"{len(bad)} incomplete objects")
        same = not problems and first == expected
        unsafe += bool(problems)
        mismatches += not same
        print(f"round {round_no:2d}: {when}; rerun computed {computed(logs[0]) or 'nothing'}; "
              f"{'; '.join(problems) if problems else 'crash-safe'}; "
              f"{'same output' if same else 'MISMATCH with the uninterrupted output'}", flush=True)
        if problems:
            print(logs[-1][-3000:], flush=True)
    print("stage results against the reference store, for the same cache key (rounds and control):")
    print("\n".join(stage_report(work / "reference-store",
                                 [work / "control-store", *(work / f"store{n}" for n in range(1, args.rounds + 1))])))
    print(f"{args.rounds} rounds ({kills} killed mid-run): {args.rounds - unsafe} crash-safe, {unsafe} not; "
          f"{args.rounds - mismatches} with the uninterrupted output byte for byte, {mismatches} mismatches "
          f"(control run {'reproduced' if reproducible else 'did NOT reproduce'} the reference); "
          f"wall time {time.perf_counter() - start:.0f}s", flush=True)
    return 1 if unsafe or (reproducible and mismatches) else 0


if __name__ == "__main__":
    sys.exit(main())
