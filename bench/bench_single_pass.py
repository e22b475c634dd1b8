"""Decode the input once per dub? The one-pass layout measured against the flow's (issue 11).

    .venv/bin/python bench/bench_single_pass.py [--rounds 3] [--output bench/results/single_pass.md]

A first dub decodes its input in whole twice: to track faces (once per video, beside speech
recognition) and to render (once per target language). One pass would have to track faces while
rendering, and the render needs the dub's speech, which exists only after ASR, translation and
synthesis. So the two layouts differ on the dub's critical path:

    two passes (the flow):  [ASR ‖ face tracking] -> speech stages -> [render]
    one pass:               [ASR alone]           -> speech stages -> [track and render, one decode]

The speech stages between them are the same in both and are left out. This script times each
piece on the bench's 30-s 720p input (bench_pipeline.py's, real face frames and Hindi speech), in
interleaved rounds, and prints both critical paths from the medians.

The one-pass loop decodes each frame once, converts it twice (full size for the render, detection
size for the tracker, both in PyAV's swscale), tracks it and renders it. It renders from the
finished face track and the video's mouth library, which a real single pass would not have yet:
a mouth library chosen from the whole video, the speaker chosen among several faces from the
whole video's mouth motion, and the zero-lag smoothing all need frames the pass has not reached.
Its time is therefore a lower bound on a single pass, and its quality cost is not in it.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import statistics
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import av  # noqa: E402

import bench_pipeline  # noqa: E402
from lipsync_sts import media  # noqa: E402
from lipsync_sts.store import ArtifactRef, ArtifactStore  # noqa: E402
import models.face  # noqa: E402
from models.face import FaceTrackConfig  # noqa: E402
from models.lipsync.mouth_library import MouthLibraryConfig  # noqa: E402
from tasks.extract_audio import ExtractAudioConfig, extract_audio  # noqa: E402
from tasks.fit_timing import FitTimingConfig, fit_timing  # noqa: E402
from tasks.ingest import SourceFile, ingest  # noqa: E402
from tasks.lipsync import LipSyncConfig, lipsync_frames, lipsync_video  # noqa: E402
from tasks.mouth_library import mouth_library  # noqa: E402
from tasks.synthesize import SynthesizeConfig, synthesize  # noqa: E402
from tasks.track_faces import TrackFacesConfig, speech_per_frame, track_video_faces  # noqa: E402
from tasks.transcribe import TranscribeConfig, transcribe, transcribe_audio  # noqa: E402
from tasks.translate import TranslateConfig, translate  # noqa: E402

SOURCE, TARGET = "hi", "ur"


class Dub:
    """The artifacts both layouts start from, made once (untimed) in the bench's own store."""

    def __init__(self, video_path: Path, store_dir: Path) -> None:
        url = str(store_dir)
        self.store = ArtifactStore(url)
        self.video = ingest.fn(url, source=SourceFile.of(str(video_path)))
        self.audio = extract_audio.fn(url, video=self.video, config=ExtractAudioConfig())
        self.asr = TranscribeConfig(language=SOURCE)
        segments = transcribe.fn(url, config=self.asr, audio=self.audio)
        translated = translate.fn(url, segments=segments, config=TranslateConfig(source=SOURCE, target=TARGET))
        self.clips = synthesize.fn(url, segments=translated, config=SynthesizeConfig(language=TARGET))
        self.dub = fit_timing.fn(url, clips=self.clips, segments=translated, video=self.video,
                                 config=FitTimingConfig(language=TARGET))
        self.track = track_video_faces(self.store, self.video, TrackFacesConfig(), self.audio)
        self.library = mouth_library.fn(url, video=self.video, track=self.track, config=MouthLibraryConfig())
        self.config = LipSyncConfig()


# ---------------------------------------------------------------------------------------------
# The pieces


def asr(dub: Dub) -> ArtifactRef:
    return transcribe_audio(dub.store, dub.asr, dub.audio)


def track(dub: Dub) -> ArtifactRef:
    return track_video_faces(dub.store, dub.video, TrackFacesConfig(), dub.audio)


def render(dub: Dub) -> ArtifactRef:
    return lipsync_video(dub.store, dub.video, dub.track, dub.dub, dub.config, speech=dub.clips, library=dub.library)


def decode(dub: Dub) -> int:
    """Only what a second pass repeats: every frame decoded and converted at full size, as the
    render reads them. The most one pass could save per dub."""
    return sum(1 for _ in media.iter_frames(dub.store.local_path(dub.video)))


def _full_and_small(path: Path, small: tuple[int, int]):
    """Each frame decoded once, given at full size (the render's) and at detection size (the
    tracker's): two swscale conversions of one decoded picture."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            yield (frame.to_ndarray(format="rgb24"),
                   frame.to_ndarray(format="rgb24", width=small[0], height=small[1], interpolation="AREA"))


def one_pass(dub: Dub, output: Path | None = None) -> int:
    """Track and render in one decode: each frame goes to the tracker, then to the renderer and the
    encoder, before the next is taken. Writes ``output`` (else a temporary file); returns the
    frames written."""
    meta = dub.video.meta
    info = media.MediaInfo(**meta)
    path = dub.store.local_path(dub.video)
    rotation = int(meta.get("rotation", 0) or 0)
    stored = (info.width, info.height)
    small = models.face.detection_size(stored, FaceTrackConfig().detect_width, rotation)
    pairs = media.prefetched(_full_and_small(path, small), 4)  # decoding overlaps the work, as in the flow
    waiting: deque = deque()  # the full-size frame the tracker has just been given
    handed = (waiting.popleft() for _ in iter(int, 1))  # the renderer's source: whatever is waiting
    rendered = lipsync_frames(dub.store, dub.video, dub.track, dub.dub, dub.config, handed,
                              speech=dub.clips, library=dub.library)
    with tempfile.TemporaryDirectory() as tmp, \
            media.VideoWriter(output or Path(tmp) / "one_pass.mp4", info.fps_fraction, info.width, info.height,
                              crf=dub.config.crf, rotation=rotation) as writer:

        def for_the_tracker():
            for full, small_frame in pairs:
                waiting.append(full)
                yield small_frame
                writer.write(next(rendered))  # the tracker is done with this frame: render it

        models.face.track_faces(for_the_tracker(), info.fps, FaceTrackConfig(),
                                speech=speech_per_frame(dub.store, dub.audio, info.fps, info.n_frames),
                                rotation=rotation, stored_size=stored)
        return writer.count


def side_by_side(*calls) -> list[float]:
    """Each call's own wall time, all started at once (as RunLog.together runs ASR and tracking)."""
    seconds = [0.0] * len(calls)

    def timed(k: int) -> None:
        start = time.perf_counter()
        calls[k]()
        seconds[k] = time.perf_counter() - start

    threads = [threading.Thread(target=timed, args=(k,)) for k in range(1, len(calls))]
    for t in threads:
        t.start()
    timed(0)
    for t in threads:
        t.join()
    return seconds


def _seconds(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


# ---------------------------------------------------------------------------------------------
# The run


def measure(dub: Dub, rounds: int) -> dict[str, list[float]]:
    pieces = ("asr", "track", "asr_beside", "track_beside", "render", "one_pass", "decode")
    runs: dict[str, list[float]] = {k: [] for k in pieces}
    for r in range(rounds):
        runs["asr"].append(_seconds(lambda: asr(dub)))
        runs["track"].append(_seconds(lambda: track(dub)))
        a, t = side_by_side(lambda: asr(dub), lambda: track(dub))
        runs["asr_beside"].append(a)
        runs["track_beside"].append(t)
        runs["render"].append(_seconds(lambda: render(dub)))
        runs["one_pass"].append(_seconds(lambda: one_pass(dub)))
        runs["decode"].append(_seconds(lambda: decode(dub)))
        print(f"round {r + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in runs.items()), flush=True)
    return runs


def table(runs: dict[str, list[float]], seconds_of_video: float, frames: int) -> list[str]:
    med = {k: statistics.median(v) for k, v in runs.items()}
    # Per round, as the flow would see it: the slower of ASR and tracking side by side, then the render.
    two = [max(a, t) + r for a, t, r in zip(runs["asr_beside"], runs["track_beside"], runs["render"])]
    one = [a + p for a, p in zip(runs["asr"], runs["one_pass"])]

    def each(values: list[float]) -> str:
        return ", ".join(f"{v:.2f}" for v in values)

    rows = [
        ("ASR alone", med["asr"], runs["asr"], ""),
        ("face tracking alone (1 decode)", med["track"], runs["track"], f"{frames / med['track']:.0f} frames/s"),
        ("ASR beside face tracking", med["asr_beside"], runs["asr_beside"], "the flow's first step"),
        ("face tracking beside ASR", med["track_beside"], runs["track_beside"], ""),
        ("render alone (1 decode)", med["render"], runs["render"], f"{frames / med['render']:.0f} frames/s"),
        ("one pass: track and render (1 decode)", med["one_pass"], runs["one_pass"],
         f"{frames / med['one_pass']:.0f} frames/s; renders from the finished track and library (a lower bound)"),
        ("decoding alone (full size, as the render reads)", med["decode"], runs["decode"],
         f"{frames / med['decode']:.0f} frames/s; what a second whole pass repeats, at most"),
        ("**critical path, two passes**: ASR ‖ tracking, then render", statistics.median(two), two,
         f"RTF share {statistics.median(two) / seconds_of_video:.2f}; {2 * frames} frames decoded"),
        ("**critical path, one pass**: ASR, then track and render", statistics.median(one), one,
         f"RTF share {statistics.median(one) / seconds_of_video:.2f}; {frames} frames decoded"),
    ]
    # A further target language (or a rerun of the lip-sync alone): the flow's face track is cached
    # and shared, so it only renders; a single pass has no track to share and tracks again.
    rows += [
        ("**each further language, two passes**: render (track cached)", med["render"], runs["render"],
         f"{frames} frames decoded"),
        ("**each further language, one pass**: track and render", med["one_pass"], runs["one_pass"],
         f"{frames} frames decoded; the tracking done again"),
    ]
    lines = ["| piece | seconds (median) | each round | note |", "|---|---|---|---|"]
    lines += [f"| {name} | {value:.2f} | {each(values)} | {note} |" for name, value, values, note in rows]
    first = statistics.median(one) / statistics.median(two)
    further = med["one_pass"] / med["render"]
    lines += ["", f"One pass against two: **{first:.2f}×** the first language's critical path, "
              f"**{further:.2f}×** each further language's, before its quality cost."]
    return lines


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "lipsync-sts-bench")
    parser.add_argument("--output", type=Path, help="also write the report (markdown) here")
    args = parser.parse_args(argv)
    if not bench_pipeline.REAL_VIDEO.exists():
        sys.exit(f"needs the real talking-face clip {bench_pipeline.REAL_VIDEO} (../shared/testdata)")
    width, height = (int(v) for v in args.size.split("x"))
    video = bench_pipeline.build_input(args.workdir, args.seconds, width, height, real=True)
    with tempfile.TemporaryDirectory(dir=args.workdir) as store_dir:
        print("making the dub's artifacts (untimed) ...", flush=True)
        dub = Dub(video, Path(store_dir))
        info = media.MediaInfo(**dub.video.meta)
        render(dub)  # warm-up: models loaded, caches filled, for both layouts alike
        runs = measure(dub, args.rounds)
    load = " ".join(f"{v:.2f}" for v in __import__("os").getloadavg())
    lines = [f"# bench_single_pass: {_dt.datetime.now().isoformat(timespec='seconds')}", "",
             f"- CPU: {bench_pipeline._cpu_model()}; commit {bench_pipeline._commit()}; load average at end {load}",
             f"- input: {video.name}, {info.width}×{info.height}, {info.duration:.1f} s, {info.n_frames} frames; "
             f"dub {SOURCE} -> {TARGET}, embedded backends; {args.rounds} rounds, interleaved", ""]
    lines += table(runs, info.duration, info.n_frames)
    return bench_pipeline.publish(lines, args.output)


if __name__ == "__main__":
    main()
