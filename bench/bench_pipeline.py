"""Whole-pipeline benchmark (issue 11): stage throughput, real-time factors, peak memory, baselines.

    nice -n 10 .venv/bin/python bench/bench_pipeline.py            # 30-s 720p dub + 1080p scaling + baselines
    .venv/bin/python bench/bench_pipeline.py --quick               # tiny generated input, about a minute
    .venv/bin/python bench/bench_pipeline.py --long                # scaling also at 120 s and 300 s of 1080p
    .venv/bin/python bench/bench_pipeline.py --ten-minutes         # scaling also at 600 s of 1080p (slow)
    .venv/bin/python bench/bench_pipeline.py --output bench/results/bench_pipeline.md

Prints one markdown table under a header (CPU model, thread counts, load, and the machine's speed:
the seconds to decode the input's first 10 s, taken at the start and the end). Rows:
- each stage of a first dub (hi -> ur, embedded backends, evaluation on, fresh store) of a 30-s
  1280x720 talking-head clip: seconds, x real time (video seconds / stage seconds), frames/s for the
  stages that decode frames, and the process's peak RSS while the stage ran;
- the whole dub's real-time factor (time in the flow / video duration) and peak RSS: the first run,
  a rerun from the cache (same store and inputs, a new process), and one more target language
  (same store, a new --to: ta, its translation given as an .srt since the embedded MT only has hi<->ur);
- the first dubs' CPU seconds (every thread of the dub's process), which bound the flow from below
  (CPU seconds / cores), with how the machine's cores were spent meanwhile by any process (busy,
  idle, stolen by the hypervisor: /proc/stat), and one more first dub without the evaluation
  (--no-evaluate): what measuring the output costs;
- the baselines: embedded lip-sync frames/s at 512x512 (bench_embedded_lipsync.py) and the public
  Wav2Lip inference loop against ours on the same generator (bench_wav2lip.py), both run as
  subprocesses here and parsed;
- how many times the first dub decoded the input video and its outputs (media.iter_frames passes);
- memory scaling: the same dub of 1920x1080 clips of increasing length, each in a fresh store; the
  peak RSS per stage and for the whole dub, its slope in MB per minute of video; the two stages that
  hold whole audio tracks (mix, mux) run alone on 10 minutes of 48 kHz stereo audio; from these, the
  peak projected to a 10-minute dub (measured instead with --ten-minutes).

Each dub runs in a child process (this script again, ``--child SPEC``) so its memory is its own.
Peak RSS is the child's VmHWM from /proc/self/status; it is reset (``/proc/self/clear_refs``) at each
stage boundary, which gives every stage its own high-water mark; the run's peak is the largest of
them (the resets also lower the kernel's ru_maxrss, so that is not used). The Prefect API server the
child starts (ephemeral mode) is a separate process, not counted; its RSS is printed in the header.

--profile also runs one more first dub with a cProfile per stage (WORKDIR/profile/*.prof; not used
for the timings); --json keeps the measurements and --render prints the table again from them.

Inputs are made once and cached under --workdir: frames of the real clip
../shared/testdata/video/v14 (1080x1920, a man talking, face ~340 px) cropped to 16:9 around the
head and scaled, looped (a cut every 20 s); audio: the five real Hindi news sentences of
../shared/testdata/speech (hi_noa_*), 0.5 s apart, looped, as 48 kHz stereo AAC. The picture's
mouth does not match that Hindi speech, which does not matter for speed or memory; the dub runs
the real pipeline: whisper-base ASR, Apertium hi->ur, espeak-ng, timing, mix, embedded lip-sync,
mux, evaluation. --quick (and a missing testdata folder) uses a still portrait (scikit-image's
astronaut) speaking espeak-ng Hindi instead.

Timings on a shared machine are noisy: the ratios in one run (rerun / first, ours / public) are the
numbers to compare; rerun the whole script on a quiet machine for absolute figures. The first
dub's RTF is the median of --first-runs dubs (default 3), each in a fresh store and its own
process: one run of the same code on this VM ranges over about ±0.15 RTF.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import itertools
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DATA = REPO.parent / "shared" / "testdata"
REAL_VIDEO = DATA / "video" / "v14_latentsync_demo2_video.mp4"
REAL_CROP = (0, 150, 1080, 758)  # x0, y0, x1, y1 of a 16:9 head-and-shoulders crop of the 1080x1920 clip
HINDI_SPEECH = ["hi_noa_Bhopal_1910-201989195036_sent_7", "hi_noa_Jaipur_1830-2020724214042_sent_32",
                "hi_noa_Shimla_1945-202051421134_sent_18", "hi_noa_Lucknow_1920-2020522205637_sent_18",
                "hi_noa_Raipur_1910-202123204842_sent_83"]
HINDI_TEXT = ["नमस्ते। आज मौसम अच्छा है।", "सरकार ने किसानों के लिए एक नई योजना शुरू की है।",
              "इस योजना से गाँव के लोगों को बहुत फायदा होगा।"]
# The extra target language: no embedded MT from Hindi except Urdu, so its .srt is given (the
# source segments' times, these sentences): translate reads it, every stage after runs for real.
EXTRA_LANGUAGE = "ta"
TAMIL_TEXT = ["வணக்கம், இன்று நாம் ஒரு புதிய திட்டத்தைப் பற்றி பேசுவோம்.",
              "இந்தத் திட்டம் எல்லா விவசாயிகளுக்கும் உதவும்.",
              "அரசு இதற்காக நிதி ஒதுக்கியுள்ளது.",
              "மக்கள் அனைவரும் இதில் பங்கேற்க வேண்டும்."]
FPS = 25
AUDIO_RATE = 48_000
INPUT_VERSION = 2  # bump when the input recipe changes: cached inputs are keyed by it
FRAME_STAGES = {"ingest", "track_faces", "lipsync", "mux"}  # stages that decode or copy every frame
SCALING_STAGES = ("track_faces", "lipsync", "mux", "check_images", "evaluate", "mix", "transcribe")

GOAL_RTF = 1.5
GOAL_RERUN = 0.05
GOAL_EMBEDDED_FPS = 25.0
GOAL_WAV2LIP_RATIO = 1.5
GOAL_PEAK_MB = 2048.0


# ---------------------------------------------------------------------------------------------
# Inputs


def _real_frames(width: int, height: int):
    """Frames of the real clip, cropped around the head and scaled to width x height, forever."""
    import cv2

    from lipsync_sts import media

    x0, y0, x1, y1 = REAL_CROP
    while True:
        for frame in media.iter_frames(REAL_VIDEO):
            crop = frame[y0:y1, x0:x1]
            interp = cv2.INTER_AREA if width < crop.shape[1] else cv2.INTER_LINEAR
            yield cv2.resize(crop, (width, height), interpolation=interp)


def _still_frame(width: int, height: int):
    """scikit-image's astronaut portrait cropped from the top to the frame's aspect (16:9: head and
    shoulders, the face about a third of the width), scaled to width x height."""
    import cv2
    import numpy as np
    from skimage import data

    portrait = data.astronaut()  # (512, 512, 3)
    crop_h = min(512, int(round(512 * height / width)))
    crop_w = min(512, int(round(crop_h * width / height)))
    x0 = (512 - crop_w) // 2
    crop = portrait[:crop_h, x0:x0 + crop_w]
    interp = cv2.INTER_AREA if width < crop_w else cv2.INTER_LINEAR
    return np.ascontiguousarray(cv2.resize(crop, (width, height), interpolation=interp))


def _speech_track(seconds: float, real: bool):
    """(n, 2) float32 at 48 kHz: Hindi speech, 0.5 s of silence before each sentence, looped."""
    import numpy as np

    from lipsync_sts import media

    if real:
        sentences = [media.read_audio(DATA / "speech" / f"{name}.wav", AUDIO_RATE) for name in HINDI_SPEECH]
    else:
        from scipy.signal import resample_poly

        from models.tts import TtsConfig, synthesize

        sentences = []
        for text in HINDI_TEXT:
            s = synthesize(text, "hi", TtsConfig())
            sentences.append(resample_poly(s.audio.astype(np.float32), AUDIO_RATE, s.sample_rate).astype(np.float32))
    gap = np.zeros(AUDIO_RATE // 2, np.float32)
    one_loop = np.concatenate([part for s in sentences for part in (gap, s)])
    n = int(round(seconds * AUDIO_RATE))
    mono = np.tile(one_loop, n // len(one_loop) + 1)[:n]
    mono[-AUDIO_RATE // 4:] = 0.0  # never cut a word at the very end
    peak = float(np.abs(mono).max()) or 1.0
    mono = (mono * (0.5 / peak)).astype(np.float32)
    return np.stack([mono, mono], axis=1)


def input_path(workdir: Path, seconds: float, width: int, height: int, real: bool) -> Path:
    kind = "v14" if real else "still"
    return workdir / "inputs" / f"{kind}_{width}x{height}_{seconds:g}s_v{INPUT_VERSION}.mp4"


def build_input(workdir: Path, seconds: float, width: int, height: int, real: bool) -> Path:
    """The talking-head input (cached): H.264 at 25 fps, 48 kHz stereo AAC."""
    from lipsync_sts import media

    path = input_path(workdir, seconds, width, height, real)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(round(seconds * FPS))
    with media.atomic_output(path) as tmp:
        silent = tmp.with_name(tmp.stem + ".video.mp4")
        try:
            with media.VideoWriter(silent, f"{FPS}/1", width, height, crf=20) as writer:
                if real:
                    for _, frame in zip(range(n), _real_frames(width, height)):
                        writer.write(frame)
                else:
                    still = _still_frame(width, height)
                    for _ in range(n):
                        writer.write(still)
            media.mux(silent, _speech_track(n / FPS, real), AUDIO_RATE, tmp)
        finally:
            silent.unlink(missing_ok=True)
    return path


def write_translation(source_srt: Path, out_srt: Path) -> Path:
    """A target-language .srt with the source segments' times: Tamil sentences, about as long."""
    from lipsync_sts.segments import Segment, read_srt, to_srt

    source = read_srt(source_srt)
    segments, k = [], 0
    for seg in source:
        text = TAMIL_TEXT[k % len(TAMIL_TEXT)]
        k += 1
        while len(text) < 0.8 * len(seg.text):
            text += " " + TAMIL_TEXT[k % len(TAMIL_TEXT)]
            k += 1
        segments.append(Segment(start=seg.start, end=seg.end, text=text))
    out_srt.parent.mkdir(parents=True, exist_ok=True)
    out_srt.write_text(to_srt(segments), encoding="utf-8")
    return out_srt


# ---------------------------------------------------------------------------------------------
# Memory


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        m = re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.M)
    return int(m.group(1)) / 1024 if m else float("nan")


def machine_ticks() -> dict[str, int]:
    """The whole machine's CPU time so far, in clock ticks summed over its cores (/proc/stat's
    first line): busy (user, nice, system, irq, softirq), idle (idle, iowait), and steal (time the
    hypervisor gave this VM's cores to other guests); {} where /proc/stat cannot be read."""
    try:
        with open("/proc/stat") as f:
            user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in f.readline().split()[1:9])
    except (OSError, ValueError):
        return {}
    return {"busy": user + nice + system + irq + softirq, "idle": idle + iowait, "steal": steal}


def machine_shares(before: dict[str, int], after: dict[str, int]) -> dict[str, float]:
    """How the machine's cores spent a span: each of busy, idle and steal as a share of their sum."""
    spent = {k: after[k] - before[k] for k in before} if before and after else {}
    total = sum(spent.values())
    return {k: v / total for k, v in spent.items()} if total > 0 else {}


class Peak:
    """The process's RSS high-water mark, resettable: each stage gets its own, the max is kept."""

    def __init__(self) -> None:
        self.resettable = True
        self.overall = _status_mb("VmHWM")

    def take(self) -> float:
        """The high-water mark since the last take, which starts a new interval."""
        hwm = _status_mb("VmHWM")
        self.overall = max(self.overall, hwm)
        if self.resettable:
            try:
                with open("/proc/self/clear_refs", "w") as f:
                    f.write("5")
            except OSError:
                self.resettable = False  # then every stage reports the process's peak so far
        return hwm


# ---------------------------------------------------------------------------------------------
# Child: one or more dubs in this process


def _child(spec_path: Path) -> None:
    t_start = time.perf_counter()
    spec = json.loads(spec_path.read_text())
    peak = Peak()
    import cv2
    import torch
    from prefect import flow

    from flows.dub import DubOptions, DubRequest, run_dub
    from lipsync_sts import media
    from lipsync_sts.cache import RunLog, hash_stage_code
    from lipsync_sts.store import ArtifactStore

    profiles = Path(spec["profile_dir"]) if spec.get("profile_dir") else None

    # Count the video decoding passes (media.iter_frames is what every stage decodes frames with):
    # the issue asks for one decode of the video per dub.
    # Counted per thread: the flow runs some stages at once (RunLog.together), each in its thread.
    decoding = threading.local()
    iter_frames = media.iter_frames

    def counted_iter_frames(path, *args, **kwargs):
        decoding.passes = getattr(decoding, "passes", []) + [str(path)]
        frames = iter_frames(path, *args, **kwargs)
        try:
            yield from frames
        finally:  # what the decoder produced: fewer than the frames given where it sought past some
            decoding.frames = getattr(decoding, "frames", 0) + frames.decoded

    media.iter_frames = counted_iter_frames

    class MeasuredLog(RunLog):
        """RunLog that also records, per stage, the RSS at its start and its high-water mark, the
        video frames it decoded, and optionally a cProfile. Stages that overlap share one
        high-water mark (VmHWM is per process)."""

        def __init__(self) -> None:
            super().__init__()
            self.rows: list[dict] = []
            self.between = 0.0
            self._lock = threading.Lock()
            self._this = threading.local()

        def _record(self, run) -> None:
            super()._record(run)
            self._this.run = run

        def call(self, stage_task, label="", verify=None, **inputs):
            self.between = max(self.between, peak.take())
            start_mb = _status_mb("VmRSS")
            decoding.passes, decoding.frames = [], 0
            profiler = None
            if profiles is not None and threading.current_thread() is threading.main_thread():
                import cProfile  # one profiler per process: stages in other threads go unprofiled

                profiler = cProfile.Profile()
                profiler.enable()
            try:
                return super().call(stage_task, label, verify, **inputs)
            finally:
                if profiler is not None:
                    profiler.disable()
                    name = f"{current['name']}.{len(self.rows):02d}.{stage_task.name}{'.' + label if label else ''}.prof"
                    profiles.mkdir(parents=True, exist_ok=True)
                    profiler.dump_stats(profiles / name)
                run = getattr(self._this, "run", None)
                with self._lock:
                    self.rows.append({"stage": stage_task.name, "for": label or "-",
                                      "state": run.state if run else "Failed", "cached": bool(run and run.cached),
                                      "seconds": round(run.seconds, 2) if run else None,
                                      "peak_mb": round(peak.take(), 1), "start_mb": round(start_mb, 1),
                                      "decode_paths": decoding.passes, "decoded_frames": decoding.frames})

    # As `lipsync-sts dub` does while its Prefect server comes up (prefect_api.serving): the stages'
    # code hashed before the flow, not at each stage's first key in it.
    hash_stage_code()
    results = {"imports_s": time.perf_counter() - t_start, "torch_threads": torch.get_num_threads(),
               "cv2_threads": cv2.getNumThreads(), "cpu_count": os.cpu_count(),
               "affinity": len(os.sched_getaffinity(0)), "runs": []}
    current: dict = {}
    for run in spec["runs"]:
        current.update(run)
        if run.get("make_translation"):
            make = run["make_translation"]
            write_translation(Path(make["from_srt"]), Path(make["path"]))
        info = media.probe(run["video"])
        request = DubRequest(video=run["video"], source=run["source"], targets=run["targets"],
                             output=run["output"], translations=run.get("translations") or {},
                             options=DubOptions(evaluate=run.get("evaluate", True)))
        log = MeasuredLog()
        timing: dict = {}

        @flow(name="dub", log_prints=True)
        def bench_dub():
            peak.take()
            start, cpu_start, ticks = time.perf_counter(), time.process_time(), machine_ticks()
            try:
                return run_dub(request, ArtifactStore(run["store"]), log)
            finally:
                timing["flow_s"] = time.perf_counter() - start
                # Every thread of this process (stages, decoders, encoders, model runtimes); not
                # Prefect's server, a process of its own.
                timing["cpu_s"] = time.process_time() - cpu_start
                timing["machine"] = machine_shares(ticks, machine_ticks())

        rss_before = _status_mb("VmRSS")
        started = time.perf_counter()
        result = bench_dub()
        wall = time.perf_counter() - started
        after = peak.take()
        stages = log.rows
        results["runs"].append({
            "name": run["name"], "video": run["video"], "duration": info.duration, "frames": info.n_frames,
            "width": info.width, "height": info.height, "targets": run["targets"],
            "flow_s": timing["flow_s"], "cpu_s": timing["cpu_s"], "machine": timing["machine"], "call_s": wall,
            "rss_before_mb": round(rss_before, 1),
            "peak_mb": round(max([after, log.between, *(r["peak_mb"] for r in log.rows)]), 1), "stages": stages,
            "between_mb": round(log.between, 1),
            "outputs": [o.video for o in result.outputs], "source_srt": result.source_subtitles})
    results["process_peak_mb"] = round(max(peak.overall, _status_mb("VmHWM")), 1)
    try:
        import psutil

        results["helper_rss_mb"] = {f"{c.name()}[{c.pid}]": round(c.memory_info().rss / 2**20, 1)
                                    for c in psutil.Process().children(recursive=True)}
    except Exception:  # noqa: BLE001 - informative only
        results["helper_rss_mb"] = {}
    Path(spec["result"]).write_text(json.dumps(results, indent=1, ensure_ascii=False))


def _child_audio(spec_path: Path) -> None:
    """The two stages that hold a whole audio track, mix and mux, on ``seconds`` of synthetic
    48 kHz stereo audio (and a 64x64 video of that length, so no frame work): their own memory
    growth at a length the frame-heavy scaling runs cannot reach on 2 cores."""
    import numpy as np
    import soundfile as sf
    from scipy.io import wavfile
    from scipy.signal import resample_poly

    from lipsync_sts import media
    from lipsync_sts.segments import Segment
    from lipsync_sts.store import ArtifactStore
    from tasks.mix import MixConfig, mix_dub
    from tasks.mux import MuxConfig, mux_video

    spec = json.loads(spec_path.read_text())
    seconds, work = float(spec["seconds"]), Path(spec["workdir"])
    work.mkdir(parents=True, exist_ok=True)
    store = ArtifactStore(str(work / "store"))
    n_frames = int(round(seconds * FPS))
    video_path = work / "frames.mp4"
    with media.VideoWriter(video_path, f"{FPS}/1", 64, 64, crf=30) as writer:
        frame = np.full((64, 64, 3), 128, np.uint8)
        for _ in range(n_frames):
            writer.write(frame)
    info = media.probe(video_path)
    video = store.put_file(video_path, kind="video-frames", meta=info.model_dump())
    rng = np.random.default_rng(0)
    n48 = int(round(info.duration * AUDIO_RATE))
    t = np.arange(n48, dtype=np.float64) / AUDIO_RATE
    music = (0.1 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 0.1 * t))).astype(np.float32)
    original = np.stack([music, music], axis=1) + (0.02 * rng.standard_normal((n48, 2))).astype(np.float32)
    del t, music
    sf.write(work / "soundtrack.flac", np.clip(original, -1, 1), AUDIO_RATE, subtype="PCM_24")
    soundtrack_ref = store.put_file(work / "soundtrack.flac", kind="soundtrack")
    speech = resample_poly(original[:, 0], 1, 3).astype(np.float32)
    del original
    sf.write(work / "speech.wav", speech, 16000, subtype="PCM_16")
    speech_ref = store.put_file(work / "speech.wav", kind="audio")
    del speech
    rate = 22050
    dub = np.zeros(int(round(info.duration * rate)), np.float32)
    segments, report = [], []
    for k, start in enumerate(np.arange(0.5, info.duration - 4.0, 5.0)):
        a, b = int(start * rate), int((start + 3.5) * rate)
        dub[a:b] = 0.3 * np.sin(2 * np.pi * 180 * np.arange(b - a) / rate) * (rng.random() + 0.5)
        segments.append(Segment(start=float(start), end=float(start) + 3.5, text="x").model_dump())
        report.append({"index": k, "slot_start": float(start), "slot_end": float(start) + 3.5,
                       "dub_start": float(start), "dub_end": float(start) + 3.5, "speed": 1.0, "moved": False,
                       "overlap_s": 0.0, "truncated_s": 0.0, "rate_factor": 1.0, "shift_s": 0.0})
    wavfile.write(work / "dub.wav", rate, dub)
    del dub
    dub_ref = store.put_file(work / "dub.wav", kind="dub-audio", meta={"sample_rate": rate, "timing": report})
    segments_ref = store.put_json(segments, kind="segments")

    peak = Peak()
    out = {"seconds": info.duration}
    for name, fn in (("mix", lambda: mix_dub(store, dub_ref, segments_ref, video, MixConfig(), soundtrack_ref,
                                             speech_ref)),
                     ("mux", lambda: mux_video(store, video, mixed, MuxConfig()))):
        peak.take()
        start, began = _status_mb("VmRSS"), time.perf_counter()
        result = fn()
        if name == "mix":
            mixed = result
        out[name] = {"start_mb": round(start, 1), "peak_mb": round(peak.take(), 1),
                     "seconds": round(time.perf_counter() - began, 2)}
    Path(spec["result"]).write_text(json.dumps(out))


def run_audio_child(workdir: Path, seconds: float, env: dict) -> dict:
    spec = workdir / "specs" / f"audio{seconds:g}.json"
    result = spec.with_suffix(".result.json")
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(json.dumps({"seconds": seconds, "workdir": str(workdir / f"audio{seconds:g}"),
                                "result": str(result)}))
    log_path = workdir / "logs" / f"audio{seconds:g}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child-audio", str(spec)],
                              stdout=log, stderr=subprocess.STDOUT, cwd=str(REPO), env=env)
    if proc.returncode != 0 or not result.exists():
        raise RuntimeError(f"audio child failed (exit {proc.returncode}); log {log_path}:\n"
                           + log_path.read_text(errors="replace")[-3000:])
    shutil.rmtree(workdir / f"audio{seconds:g}", ignore_errors=True)
    return json.loads(result.read_text())


def child_env(workdir: Path) -> dict[str, str]:
    """The environment of a benchmark's dub processes."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
           # A Prefect home of its own: its ephemeral server's database does not mix with anyone's.
           "PREFECT_HOME": str(workdir / "prefect-home"), "PREFECT_PROFILE": "ephemeral",
           "PREFECT_SERVER_EPHEMERAL_ENABLED": "true", "LIPSYNC_STS_MAX_DURATION": str(4 * 3600),
           # As lipsync_sts sets it, which the child imports only after Prefect: 20 s is too short
           # for that server's new database on a loaded 2-core machine.
           "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120"}
    env.pop("PREFECT_API_URL", None)  # ephemeral: the child starts its own API server
    return env


def run_child(workdir: Path, name: str, runs: list[dict], env: dict, profile_dir: Path | None = None) -> dict:
    """Run dubs in a child process; returns its results plus the process's wall time."""
    spec = workdir / "specs" / f"{name}.json"
    result = workdir / "specs" / f"{name}.result.json"
    spec.parent.mkdir(parents=True, exist_ok=True)
    result.unlink(missing_ok=True)
    spec.write_text(json.dumps({"runs": runs, "result": str(result),
                                "profile_dir": str(profile_dir) if profile_dir else None}, ensure_ascii=False))
    log_path = workdir / "logs" / f"{name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child", str(spec)],
                                stdout=log, stderr=subprocess.STDOUT, cwd=str(REPO), env=env)
        proc.wait()
    wall = time.perf_counter() - start
    if proc.returncode != 0 or not result.exists():
        tail = log_path.read_text(errors="replace")[-4000:]
        raise RuntimeError(f"benchmark child {name} failed (exit {proc.returncode}); log {log_path}:\n{tail}")
    out = json.loads(result.read_text())
    out["process_s"] = wall
    return out


# ---------------------------------------------------------------------------------------------
# Baselines (the other bench scripts, run and parsed)


def _run_script(args: list[str], env: dict, log_path: Path) -> str:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, *args], cwd=str(REPO), env=env, capture_output=True, text=True)
    log_path.write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed (exit {proc.returncode}); log {log_path}:\n{proc.stderr[-3000:]}")
    return proc.stdout


def embedded_baseline(workdir: Path, env: dict, quick: bool) -> dict:
    """Frames/s of the embedded lip-sync render at 512x512 (bench_embedded_lipsync.py)."""
    if not DATA.is_dir():
        return {"skipped": f"no testdata at {DATA}"}
    clips, seconds = (["v07"], "2") if quick else (["v07", "v01"], "8")
    out = _run_script(["bench/bench_embedded_lipsync.py", "--clips", *clips, "--dubs", "rec-ta", "--seconds", seconds],
                      env, workdir / "logs" / "bench_embedded_lipsync.log")
    lines = [line for line in out.splitlines() if line.startswith("|")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    col = head.index("fps@512")
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    fps = [float(r[col]) for r in rows]
    return {"fps": min(fps), "per_clip": {f"{r[0]}/{r[1]}": float(r[col]) for r in rows},
            "frames": sum(int(r[head.index("frames")]) for r in rows)}


def wav2lip_baseline(workdir: Path, env: dict, quick: bool) -> dict:
    """Public Wav2Lip inference loop against ours, same generator (bench_wav2lip.py)."""
    frames, repeats = ("16", "1") if quick else ("128", "3")
    out = _run_script(["bench/bench_wav2lip.py", "--frames", frames, "--repeats", repeats], env,
                      workdir / "logs" / "bench_wav2lip.log")
    public = re.search(r"public inference\.py loop.*?\s([\d.]+)\s+([\d.]+)\s*$", out, re.M)
    ours = re.search(r"^ours .*?\s([\d.]+)\s+([\d.]+)\s*$", out, re.M)
    ratio = re.search(r"ratio ours/public:\s*([\d.]+)", out)
    return {"public_fps": float(public.group(1)), "ours_fps": float(ours.group(1)),
            "ratio": float(ratio.group(1)), "frames": int(frames), "repeats": int(repeats)}


# ---------------------------------------------------------------------------------------------
# The table


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return f"{value:.{digits}f}"


def _slope(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares slope and intercept (y = a + b x)."""
    n = len(xs)
    if n < 2:
        return 0.0, ys[0] if ys else 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    return b, my - b * mx


def stage_rows(run: dict) -> list[list[str]]:
    rows = []
    dur, frames = run["duration"], run["frames"]
    for s in run["stages"]:
        name = s["stage"] + (f" [{s['for']}]" if s["for"] != "-" else "")
        sec = s["seconds"]
        xrt = dur / sec if sec > 0 else None
        fps = frames / sec if s["stage"] in FRAME_STAGES and sec > 0 else None
        note = ["cached"] if s["cached"] else []
        if "start_mb" in s:
            note.append(f"+{max(0.0, s['peak_mb'] - s['start_mb']):.0f} MB over its start")
        if s.get("decode_paths"):
            note.append(f"decoded {len(s['decode_paths'])} pass{'es' if len(s['decode_paths']) > 1 else ''}, "
                        f"{s['decoded_frames']} frames")
        rows.append([f"stage {name}", _fmt(sec), _fmt(xrt, 1), _fmt(fps, 1), _fmt(s["peak_mb"], 0), "", "",
                     "; ".join(note)])
    return rows


def decode_row(run: dict, verdict) -> list[str]:
    """How many times the dub decoded the input video, and the output (the issue: once per dub)."""
    passes = [(s["stage"] + (f" [{s['for']}]" if s["for"] != "-" else ""), p)
              for s in run["stages"] for p in s.get("decode_paths") or []]
    if not passes:
        return ["video decoding passes (first run)", "", "", "", "", "1 pass of the input", "", "no frame decoded"]
    source = passes[0][1]  # track_faces of the input decodes first
    inp = [stage for stage, p in passes if p == source]
    out = [stage for stage, p in passes if p != source]

    def listed(stages: list[str]) -> str:
        counts: dict[str, int] = {}
        for stage in stages:
            counts[stage] = counts.get(stage, 0) + 1
        return ", ".join(f"{k} {v}" for k, v in counts.items())

    total = sum(s.get("decoded_frames", 0) for s in run["stages"])
    return ["video decoding passes (first run)", "", "", "", "", "1 pass of the input", verdict(len(inp) <= 1),
            f"input {len(inp)} ({listed(inp)}); outputs {len(out)} ({listed(out) or '-'}); "
            f"{total} frames decoded = {total / max(run['frames'], 1):.1f}× the input's; "
            "one pass against these two whole ones: bench_single_pass.py"]


def _machine_note(shares: list[dict[str, float]], during: str = "each of these dubs") -> str:
    """Where the machine's cores went during dubs: cores this VM was not given (steal) slow every
    stage without any change of ours, and idle ones are overlap the flow left unused."""
    shares = [s for s in shares if s]
    if not shares:
        return ""
    each = "; ".join(f"{s['busy']:.0%} busy, {s['idle']:.0%} idle, {s['steal']:.0%} stolen" for s in shares)
    return f"; the machine's cores during {during} (any process, /proc/stat): {each}"


def build_table(report: dict) -> list[list[str]]:
    rows: list[list[str]] = []
    first, rerun, extra = report["first"], report["rerun"], report["extra"]
    quick = report["quick"]

    def _verdict(ok: bool) -> str:  # --quick measures the bench, not the goals
        return "" if quick else ("PASS" if ok else "FAIL")

    rows += stage_rows(first)
    rows.append(decode_row(first, _verdict))
    dur = first["duration"]
    # The goal is judged on the median first dub (fresh store each); the rows above are the first one's.
    firsts = report.get("first_flow_s") or [first["flow_s"]]
    median_s = statistics.median(firsts)
    rtf = median_s / dur
    runs = (f"median of {len(firsts)} fresh-store dubs, RTF each: "
            + ", ".join(f"{t / dur:.2f}" for t in firsts) + "; ") if len(firsts) > 1 else ""
    rows.append(["dub first run (fresh store), RTF", _fmt(median_s), _fmt(dur / median_s, 2), "",
                 _fmt(first["peak_mb"], 0), f"RTF ≤ {GOAL_RTF} (30-s 720p, 1 language)",
                 _verdict(rtf <= GOAL_RTF),
                 f"RTF {rtf:.2f}; {runs}" + (f"one process for all dubs: {first['process_s']:.1f} s" if quick else
                                             f"process {first['process_s']:.1f} s incl. imports and Prefect start")])
    cpus = report.get("first_cpu_s")  # runs recorded before the CPU time was kept lack it
    cpu_s = statistics.median(cpus) if cpus else None
    if cpus:
        cores = (report.get("child_info") or {}).get("affinity") or os.cpu_count() or 1
        # CPU seconds bound the flow from below: with every core busy all the time it would last
        # cpu_s / cores. Flow time above that bound is cores left idle.
        rows.append(["dub first run: CPU seconds in the flow", _fmt(cpu_s), "", "", "", "", "",
                     f"median of {len(cpus)} ({', '.join(f'{c:.1f}' for c in cpus)}), all threads of the dub's "
                     f"process = {cpu_s / median_s:.2f} of {cores} cores busy on average; even with all {cores} "
                     f"busy throughout, the RTF would be {cpu_s / cores / dur:.2f}"
                     + _machine_note(report.get("first_machine") or [])])
    noeval = report.get("noeval")
    if noeval:
        # One dub, minutes from the others: how much of the machine each was given (the shares)
        # moves both its time and its CPU seconds, so the two are printed side by side.
        against = f" against the first dubs' median {cpu_s:.1f} s" if cpus else ""
        rows.append(["dub first run without the evaluation (--no-evaluate, fresh store)", _fmt(noeval["flow_s"]),
                     _fmt(dur / noeval["flow_s"], 2), "", _fmt(noeval["peak_mb"], 0), "", "",
                     f"RTF {noeval['flow_s'] / dur:.2f}, one dub, without measuring the output (its face "
                     f"tracking, frame checks and report); CPU {noeval['cpu_s']:.1f} s{against}"
                     + _machine_note([noeval.get("machine") or {}], "this dub")])
    ratio = rerun["flow_s"] / first["flow_s"]
    rows.append(["dub rerun from cache (same store)", _fmt(rerun["flow_s"]), _fmt(dur / rerun["flow_s"], 1), "",
                 _fmt(rerun["peak_mb"], 0), f"≤ {GOAL_RERUN:.0%} of first", _verdict(ratio <= GOAL_RERUN),
                 f"{ratio:.1%} of first; RTF {rerun['flow_s'] / dur:.3f}"
                 + ("" if quick else f"; process {rerun['process_s']:.1f} s")])
    rows.append([f"dub + 1 target language ({EXTRA_LANGUAGE}, same store)", _fmt(extra["flow_s"]),
                 _fmt(dur / extra["flow_s"], 2), "", _fmt(extra["peak_mb"], 0), "", "",
                 f"RTF {extra['flow_s'] / dur:.2f}; {extra['flow_s'] / first['flow_s']:.0%} of first; "
                 f"{sum(not s['cached'] for s in extra['stages'])} of {len(extra['stages'])} stages ran"])

    emb = report.get("embedded") or {}
    if "fps" in emb:
        rows.append(["embedded lip-sync render, 512×512", "", "", _fmt(emb["fps"], 1), "",
                     f"≥ {GOAL_EMBEDDED_FPS:.0f} fps", _verdict(emb["fps"] >= GOAL_EMBEDDED_FPS),
                     "slowest clip of " + ", ".join(f"{k} {v:.1f}" for k, v in emb["per_clip"].items())
                     + " (bench_embedded_lipsync.py)"])
    else:
        rows.append(["embedded lip-sync render, 512×512", "", "", "", "", f"≥ {GOAL_EMBEDDED_FPS:.0f} fps", "",
                     emb.get("skipped", "not run")])
    w2l = report.get("wav2lip") or {}
    if "ratio" in w2l:
        rows.append(["Wav2Lip generator: ours / public inference", "", "", _fmt(w2l["ours_fps"], 1), "",
                     f"≥ {GOAL_WAV2LIP_RATIO}×", _verdict(w2l["ratio"] >= GOAL_WAV2LIP_RATIO),
                     f"{w2l['ratio']:.2f}×; public {w2l['public_fps']:.1f} fps, {w2l['frames']} frames 512×512, "
                     f"median of {w2l['repeats']} (bench_wav2lip.py)"])
    else:
        rows.append(["Wav2Lip generator: ours / public inference", "", "", "", "", f"≥ {GOAL_WAV2LIP_RATIO}×", "",
                     w2l.get("skipped", "not run")])

    scaling = report.get("scaling") or []
    if scaling:
        for s in scaling:
            per = ", ".join(f"{k} {v['peak']:.0f} (+{v['own']:.0f})" for k, v in s["stages"].items())
            rows.append([f"peak RSS, dub of {s['duration']:g} s {s['width']}×{s['height']}", _fmt(s["flow_s"]),
                         _fmt(s["duration"] / s["flow_s"], 2), "", _fmt(s["peak_mb"], 0), "", "",
                         f"per stage, peak (+ over its start) MB: {per}; between stages "
                         f"{s.get('between_mb') or 0:.0f} MB; process before the dub {s['rss_before_mb']:.0f} MB"])
            if s.get("frames"):  # runs recorded before stage times and decoded frames were kept lack them
                timed = ", ".join(f"{k} {v['seconds']:.0f}" for k, v in s["stages"].items() if v["seconds"] >= 1)
                decoded = sum(v["decoded"] for v in s["stages"].values())
                rows.append([f"time and decoding, dub of {s['duration']:g} s {s['width']}×{s['height']}",
                             _fmt(s["flow_s"]), _fmt(s["duration"] / s["flow_s"], 2), "", "", "", "",
                             f"seconds per stage (side by side as in the flow): {timed}; {decoded} frames decoded "
                             f"= {decoded / s['frames']:.1f}× the input's ("
                             + ", ".join(f"{k} {v['decoded']}" for k, v in s["stages"].items() if v["decoded"])
                             + ")"])
        minutes = [s["duration"] / 60 for s in scaling]
        slope, base = _slope(minutes, [s["peak_mb"] for s in scaling])
        projections = {"whole dub": base + slope * 10}
        per_stage = []
        for stage in SCALING_STAGES:
            peaks = [s["stages"].get(stage, {}).get("peak") for s in scaling]
            owns = [s["stages"].get(stage, {}).get("own") for s in scaling]
            if all(y is not None for y in peaks):
                b_peak, a_peak = _slope(minutes, peaks)
                per_stage.append(f"{stage} {b_peak:+.0f} (own {_slope(minutes, owns)[0]:+.0f})")
                projections[stage] = a_peak + b_peak * 10
        if len(scaling) > 1:  # one length gives no slope
            rows.append(["peak RSS growth with video length", "", "", "", _fmt(slope, 1) + "/min", "flat", "",
                         "MB per minute of video (least squares over the lengths above), whole dub; per stage, "
                         "peak (own: growth over the stage's start): " + ", ".join(per_stage)])
        audio = report.get("audio") or {}
        longest = scaling[-1]
        if audio.get("seconds"):
            # mix and mux hold whole audio tracks: their growth over their start, measured on
            # audio["seconds"] of audio, on top of where they started in the longest dub.
            for stage in ("mix", "mux"):
                if stage in longest["stages"] and stage in audio:
                    at = longest["stages"][stage]
                    grown = max(0.0, audio[stage]["peak_mb"] - audio[stage]["start_mb"])
                    projections[stage] = at["peak"] - at["own"] + grown * 600 / audio["seconds"]
            rows.append([f"mix + mux on {audio['seconds']:g} s of 48 kHz stereo audio (no frames)",
                         _fmt(audio["mix"]["seconds"] + audio["mux"]["seconds"]), "", "",
                         _fmt(max(audio["mix"]["peak_mb"], audio["mux"]["peak_mb"]), 0), "", "",
                         f"growth over the stage's start: mix +{audio['mix']['peak_mb'] - audio['mix']['start_mb']:.0f} MB "
                         f"({audio['mix']['seconds']:.1f} s), mux +{audio['mux']['peak_mb'] - audio['mux']['start_mb']:.0f} MB "
                         f"({audio['mux']['seconds']:.1f} s); the stages that hold whole audio tracks, at a length "
                         "the dubs above do not reach"])
        ten = [s for s in scaling if s["duration"] >= 600]
        if ten:
            value, how = ten[-1]["peak_mb"], "measured"
        else:
            worst = max(projections, key=projections.get)
            value = projections[worst]
            how = (f"projected to 600 s, the largest of: whole dub (linear fit of {len(scaling)} lengths up to "
                   f"{max(minutes) * 60:g} s) and per stage (linear fit of its peak"
                   + ("; mix and mux: their start in the longest dub + their growth measured on "
                      f"{audio['seconds']:g} s of audio" if audio.get("seconds") else "")
                   + "): " + ", ".join(f"{k} {v:.0f}" for k, v in projections.items()))
        w, h = scaling[-1]["width"], scaling[-1]["height"]
        # A projection is no verdict: on the Xeon, dubs of 15-60 s projected 3351 MB where the
        # 10-minute dub measured 1695 MB (some stages' growth levels off). Only a measurement passes or fails.
        verdict = _verdict(value <= GOAL_PEAK_MB) if ten else ("" if quick else "projected only")
        if not ten:
            how += "; measure it: --ten-minutes --durations 600"
        rows.append([f"peak RSS, 10-min {w}×{h} dub", "", "", "", _fmt(value, 0), f"≤ {GOAL_PEAK_MB:.0f} MB",
                     verdict, how])
    return rows


HEAD = ["what", "seconds", "× real time", "frames/s", "peak RSS MB", "goal", "pass", "note"]


def render(report: dict) -> str:
    rows = build_table(report)
    first = report["first"]
    child = report["child_info"]
    load_a, load_b = report["load_start"], report["load_end"]
    helper = ", ".join(f"{k} {v:.0f} MB" for k, v in (child.get("helper_rss_mb") or {}).items()) or "none seen"
    lines = [
        f"# bench_pipeline{' --quick' if report['quick'] else ''}: {report['date']}",
        "",
        f"- CPU: {report['cpu']}; os.cpu_count() {report['cpu_count']}, usable {report['affinity']}; "
        f"torch threads {child['torch_threads']}, cv2 threads {child['cv2_threads']} (in the dub process)",
        f"- torch {report['versions']['torch']}, OpenCV {report['versions']['cv2']}, PyAV {report['versions']['av']}, "
        f"Python {platform.python_version()}; commit {report['commit']}",
        f"- load average at start {load_a}, at end {load_b} (other jobs make every absolute number slower; "
        "compare the ratios)",
        f"- input: {first['width']}×{first['height']}, {first['duration']:.1f} s, {first['frames']} frames "
        f"({report['input_kind']}); dub hi -> {', '.join(first['targets'])} with the embedded backends "
        f"(whisper-base, Apertium, espeak-ng, embedded lip-sync), evaluation on; extra language "
        f"{EXTRA_LANGUAGE} from a given .srt",
        "- seconds: the stage's wall time in the flow (RunLog); × real time: video seconds / seconds; "
        "frames/s for stages that decode or copy every frame; RTF: flow time / video duration; each dub "
        "in its own process, peak RSS = its VmHWM (per stage: reset at each stage boundary); "
        f"Prefect's ephemeral API server, a separate process, not counted ({helper})",
        "- the flow overlaps transcribe and the first language's speech stages with track_faces then "
        "mouth_library, mix with lipsync, mux with the output's measurement (RunLog.together): those stages' "
        "seconds are each one's own wall time and add up to more than the flow's; overlapping stages share "
        "one peak RSS",
    ]
    probe = _probe_line(report)
    if probe:
        lines.append(probe)
    if report.get("notes"):
        lines += [f"- {n}" for n in report["notes"]]
    lines += ["", "| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def speed_probe(video: Path, frames: int = 250) -> float:
    """Seconds to decode the first ``frames`` frames of ``video`` to RGB (PyAV's frame threads, no
    prefetch): the same work at the start and the end of a run, so that a slower machine shows as a
    slower probe and is not read as slower code. Shared 2-core VMs moved 2-3x between hours
    (bench/results/gil_switch.md); best of two, to leave out a single stall."""
    from lipsync_sts import media

    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        decoded = media.iter_frames(video, prefetch=0)
        try:
            for _frame in itertools.islice(decoded, frames):
                pass
        finally:
            decoded.close()
        best = min(best, time.perf_counter() - start)
    return best


def _probe_line(report: dict) -> str | None:
    probe = report.get("speed_probe")
    if not probe:
        return None
    ends = ", ".join(f"{probe[k] * 1000 / probe['frames']:.1f} ms a frame at the {k}" for k in ("start", "end") if k in probe)
    return (f"- machine speed: decoding the input's first {probe['frames']} frames took {ends} (the same work "
            "each time: compare runs by it before comparing their seconds)")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True).stdout.strip()
        return sha + (" (uncommitted changes)" if dirty else "")
    except OSError:
        return "unknown"


def publish(lines: list[str], output: Path | None) -> str:
    """A bench script's report: printed, and written to ``output`` when given."""
    report = "\n".join(lines) + "\n"
    print(report)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(report, encoding="utf-8")
    return report


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny generated input, small baselines: about a minute")
    p.add_argument("--long", action="store_true", help="memory scaling also at 120 s and 300 s")
    p.add_argument("--ten-minutes", action="store_true", help="memory scaling also at 600 s of 1080p (slow)")
    p.add_argument("--durations", type=float, nargs="+", help="memory-scaling lengths in seconds (default 15 30 60)")
    p.add_argument("--seconds", type=float, help="length of the main dub's input (default 30; --quick 3)")
    p.add_argument("--size", default=None, help="WxH of the main input (default 1280x720; --quick 320x180)")
    p.add_argument("--scaling-size", default=None, help="WxH of the scaling inputs (default 1920x1080; --quick 320x180)")
    p.add_argument("--synthetic", action="store_true", help="still portrait + espeak-ng Hindi even with testdata")
    p.add_argument("--skip-baselines", action="store_true")
    p.add_argument("--skip-scaling", action="store_true")
    p.add_argument("--first-runs", type=int, default=None,
                   help="first dubs, each in a fresh store, whose median RTF is judged (default 3; --quick 1)")
    p.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "lipsync-sts-bench",
                   help="cached inputs, logs and the run's stores (default: $TMPDIR/lipsync-sts-bench)")
    p.add_argument("--keep", action="store_true", help="keep the stores and outputs of this run")
    p.add_argument("--profile", action="store_true", help="cProfile each stage of the first dub into WORKDIR/profile")
    p.add_argument("--output", type=Path, help="also write the report (markdown) here")
    p.add_argument("--json", type=Path, help="also write the raw measurements (JSON) here")
    p.add_argument("--note", action="append", default=[], help="a line to add to the header")
    p.add_argument("--render", type=Path, metavar="JSON", help="only print the table of a report saved with --json")
    p.add_argument("--audio-seconds", type=float, default=None,
                   help="length of the mix/mux audio-only memory run (default 600; --quick 20; 0: skip)")
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--child-audio", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        _child(args.child)
        return {}
    if args.child_audio:
        _child_audio(args.child_audio)
        return {}
    if args.render:
        report = json.loads(args.render.read_text(encoding="utf-8"))
        report["notes"] = report.get("notes", []) + list(args.note)
        text = render(report)
        print(text)
        if args.output:
            args.output.write_text(text, encoding="utf-8")
        return report

    quick = args.quick
    real = DATA.is_dir() and not args.synthetic and not quick
    seconds = args.seconds or (3.0 if quick else 30.0)
    width, height = map(int, (args.size or ("320x180" if quick else "1280x720")).split("x"))
    sw, sh = map(int, (args.scaling_size or ("320x180" if quick else "1920x1080")).split("x"))
    durations = args.durations or ([3.0, 6.0] if quick else [15.0, 30.0, 60.0])
    if args.long:
        durations += [120.0, 300.0]
    if args.ten_minutes:
        durations += [600.0]
    durations = sorted(set(durations))
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=workdir))
    env = child_env(workdir)

    import av
    import cv2
    import torch

    report: dict = {"quick": quick, "date": _dt.datetime.now().isoformat(timespec="seconds"), "cpu": _cpu_model(),
                    "cpu_count": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)), "commit": _commit(),
                    "versions": {"torch": torch.__version__, "cv2": cv2.__version__, "av": av.__version__},
                    "load_start": " ".join(f"{x:.2f}" for x in os.getloadavg()), "notes": list(args.note),
                    "input_kind": ("real face frames (testdata v14, cropped and scaled, looped) + real Hindi speech "
                                   "(testdata hi_noa_*)") if real else
                                  "still portrait (scikit-image astronaut) + espeak-ng Hindi speech"}

    def progress(msg: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    try:
        progress(f"input {width}x{height} {seconds:g}s ({'real' if real else 'synthetic'})")
        video = build_input(workdir, seconds, width, height, real)
        probe_frames = min(250, int(round(seconds * FPS)))
        report["speed_probe"] = {"frames": probe_frames, "start": speed_probe(video, probe_frames)}
        store = run_dir / "store"
        out = run_dir / "out" / "main.mp4"
        first_run = {"name": "first", "video": str(video), "source": "hi", "targets": ["ur"], "output": str(out),
                     "store": str(store)}
        extra_srt = run_dir / "out" / f"main.{EXTRA_LANGUAGE}.given.srt"
        extra_run = {"name": "extra", "video": str(video), "source": "hi", "targets": [EXTRA_LANGUAGE],
                     "output": str(run_dir / "out" / f"main_{EXTRA_LANGUAGE}.mp4"), "store": str(store),
                     "translations": {EXTRA_LANGUAGE: str(extra_srt)},
                     "make_translation": {"from_srt": str(run_dir / "out" / "main.hi.srt"), "path": str(extra_srt)}}
        profile_dir = workdir / "profile" if args.profile else None
        first_runs = args.first_runs if args.first_runs is not None else (1 if quick else 3)
        again = [{**first_run, "name": f"first{k}", "store": str(run_dir / f"store-first{k}"),
                  "output": str(run_dir / "out" / f"first{k}.mp4")} for k in range(2, first_runs + 1)]
        # What the output's measurement costs (--no-evaluate): one more first dub, in a fresh store.
        no_evaluation = {**first_run, "name": "noeval", "store": str(run_dir / "store-noeval"),
                         "output": str(run_dir / "out" / "noeval.mp4"), "evaluate": False}
        main_specs = [first_run, {**first_run, "name": "rerun"}, extra_run, *again, no_evaluation]
        scale_specs = []
        if not args.skip_scaling:
            scaling_real = DATA.is_dir() and not args.synthetic and not quick
            for d in durations:
                progress(f"scaling input {sw}x{sh} {d:g}s")
                v = build_input(workdir, d, sw, sh, scaling_real)
                if v == video:  # the first dub is this one already (fresh store, same input): reuse it
                    scale_specs.append({"name": "first"})
                    continue
                scale_specs.append({"name": f"scale{d:g}", "video": str(v), "source": "hi", "targets": ["ur"],
                                    "output": str(run_dir / "out" / f"scale{d:g}.mp4"),
                                    "store": str(run_dir / f"store-scale{d:g}")})
        if quick:
            # One process for every dub: seconds, not minutes (imports and the Prefect start once).
            progress("dubs: first, rerun, extra language, scaling (one process)")
            child = run_child(run_dir, "all", main_specs + [x for x in scale_specs if x["name"] != "first"], env)
            by_name = {r["name"]: {**r, "process_s": child["process_s"]} for r in child["runs"]}
            report["child_info"] = child
            report["notes"].append("--quick: every dub ran in one warm process (models already loaded for the "
                                   "rerun and the scaling runs), on a tiny input: checks the bench, not the goals")
        else:
            by_name = {}
            for spec in main_specs + [x for x in scale_specs if x["name"] != "first"]:
                progress(f"dub {spec['name']}")
                child = run_child(run_dir, spec["name"], [spec], env)
                by_name[spec["name"]] = {**child["runs"][0], "process_s": child["process_s"]}
                report.setdefault("child_info", child)
        firsts = [by_name[spec["name"]] for spec in [first_run, *again]]
        report.update(first=by_name["first"], rerun=by_name["rerun"], extra=by_name["extra"],
                      noeval=by_name["noeval"], first_flow_s=[r["flow_s"] for r in firsts],
                      first_cpu_s=[r["cpu_s"] for r in firsts], first_machine=[r["machine"] for r in firsts])
        report["scaling"] = []
        for spec in scale_specs:
            r = by_name[spec["name"]]
            stages: dict[str, dict] = {}
            for s in r["stages"]:
                own = max(0.0, s["peak_mb"] - s["start_mb"])
                old = stages.get(s["stage"], {"peak": 0.0, "own": 0.0, "seconds": 0.0, "decoded": 0})
                stages[s["stage"]] = {"peak": max(old["peak"], s["peak_mb"]), "own": max(old["own"], own),
                                      "seconds": old["seconds"] + s["seconds"],
                                      "decoded": old["decoded"] + s.get("decoded_frames", 0)}
            report["scaling"].append({"duration": r["duration"], "width": r["width"], "height": r["height"],
                                      "frames": r["frames"],
                                      "flow_s": r["flow_s"], "peak_mb": r["peak_mb"],
                                      "rss_before_mb": r["rss_before_mb"],
                                      "between_mb": r.get("between_mb"),
                                      # every stage: a long dub's peak may come from any of them
                                      "stages": stages})

        if profile_dir is not None:
            # Profiled apart (cProfile slows Python-heavy stages): the first dub again, in a fresh store.
            progress(f"profiled dub -> {profile_dir}")
            shutil.rmtree(profile_dir, ignore_errors=True)
            run_child(run_dir, "profile", [{**first_run, "name": "profile", "store": str(run_dir / "store-profile"),
                                            "output": str(run_dir / "out" / "profile.mp4")}], env, profile_dir)
            report["notes"].append(f"cProfile of each stage of a separate first dub: {profile_dir}/*.prof")

        audio_seconds = args.audio_seconds if args.audio_seconds is not None else (20.0 if quick else 600.0)
        if audio_seconds > 0 and not args.skip_scaling:
            progress(f"mix + mux on {audio_seconds:g} s of audio")
            report["audio"] = run_audio_child(run_dir, audio_seconds, env)

        if not args.skip_baselines:
            for key, fn in (("embedded", embedded_baseline), ("wav2lip", wav2lip_baseline)):
                progress(f"baseline {key}")
                try:
                    report[key] = fn(run_dir, env, quick)
                except Exception as exc:  # noqa: BLE001 - the table says why
                    report[key] = {"skipped": f"failed: {str(exc).splitlines()[0][:120]}"}
        else:
            report["embedded"] = report["wav2lip"] = {"skipped": "--skip-baselines"}
        report["speed_probe"]["end"] = speed_probe(video, report["speed_probe"]["frames"])
    finally:
        report["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)

    text = render(report)
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    report["table"] = text
    return report


if __name__ == "__main__":
    main()
