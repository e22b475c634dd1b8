"""Crash safety: kill a dub with SIGKILL at random moments, rerun it, and check that every rerun
ends with the same output as an uninterrupted run and that the store holds only complete objects.

    .venv/bin/python bench/kill_and_rerun.py VIDEO --from hi --to ur [--rounds 20] [--seed 0]

Prints one line per round (when it was killed, what the rerun computed) and a summary; exits 1
on any mismatch.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "lipsync_sts.cli"]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="kill-rerun-"))
    env = {**os.environ, "PREFECT_HOME": str(work / "prefect"), "PYTHONUNBUFFERED": "1"}

    start = time.perf_counter()
    reference = work / "reference.mp4"
    proc = dub(args.video, args.source, args.target, work / "reference-store", reference, env)
    log = proc.communicate()[0]
    if proc.returncode != 0:
        print(log)
        return 1
    full_run = time.perf_counter() - start
    expected = sha256(reference)
    print(f"uninterrupted run: {full_run:.1f}s, output sha256 {expected[:16]}")

    failures = 0
    for round_no in range(1, args.rounds + 1):
        kill_after = rng.uniform(0.5, full_run)
        output = work / f"round{round_no}.mp4"
        store = work / f"store{round_no}"  # each round starts empty: the killed run is all that went before
        proc = dub(args.video, args.source, args.target, store, output, env)
        time.sleep(kill_after)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        rerun = dub(args.video, args.source, args.target, store, output, env)
        log = rerun.communicate()[0]
        ran = [line.split()[0] for line in log.splitlines() if line.split()[2:3] == ["completed"]]
        ok = rerun.returncode == 0 and output.exists() and sha256(output) == expected
        bad = incomplete_objects(store)
        failures += (not ok) or bool(bad)
        print(f"round {round_no:2d}: killed after {kill_after:5.1f}s; rerun computed {ran or 'nothing'}; "
              f"{'same output' if ok else 'MISMATCH'}; {len(bad)} incomplete objects")
    print(f"{args.rounds - failures}/{args.rounds} rounds ended with the uninterrupted output and a clean store")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
