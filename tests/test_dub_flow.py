"""End to end: a talking-head clip in, a dubbed and lip-synced clip out, and reruns from cache."""

from __future__ import annotations

import shutil
import re

import numpy as np
import pytest

from lipsync_sts import media
from lipsync_sts.demo import build_sample_video

ARABIC = re.compile(r"[\u0600-\u06FF]")
DEVANAGARI = re.compile(r"[\u0900-\u097F]")


@pytest.fixture(scope="module")
def sample_clip(tmp_path_factory):
    """A still portrait speaking two short Hindi sentences (espeak-ng), 512x512 at 25 fps."""
    path = tmp_path_factory.mktemp("input") / "speaker.mp4"
    return build_sample_video(path, text="नमस्ते। आज मौसम अच्छा है।")


def ran(result) -> set[str]:
    return {s["stage"] + (f"[{s['for']}]" if s["for"] != "-" else "") for s in result.stages if not s["cached"]}


def mouth_motion(path, box) -> float:
    """Mean absolute frame-to-frame change inside the mouth box."""
    x0, y0, x1, y1 = box
    crops = [f[y0:y1, x0:x1].astype(np.float32) for f in media.iter_frames(path)]
    return float(np.mean([np.abs(a - b).mean() for a, b in zip(crops, crops[1:])]))


def test_dub_runs_end_to_end_then_reruns_from_cache(prefect_api, sample_clip, tmp_path):
    from flows.dub import dub

    store = str(tmp_path / "store")
    out = tmp_path / "out" / "speaker.mp4"
    first = dub(video=str(sample_clip), source="hi", targets=["ur"], output=str(out), store_url=store)

    assert out.exists() and (tmp_path / "out" / "speaker.hi.srt").exists()
    target_srt = (tmp_path / "out" / "speaker.ur.srt").read_text(encoding="utf-8")
    assert ARABIC.search(target_srt) and not DEVANAGARI.search(target_srt)
    assert DEVANAGARI.search((tmp_path / "out" / "speaker.hi.srt").read_text(encoding="utf-8"))

    src, dst = media.probe(sample_clip), media.probe(out)
    assert (dst.width, dst.height, dst.fps_fraction, dst.n_frames) == (src.width, src.height, src.fps_fraction,
                                                                         src.n_frames)
    assert dst.has_audio
    # A still photo in: the output's mouth moves, the forehead does not.
    assert mouth_motion(sample_clip, (200, 150, 290, 210)) < 0.5
    assert mouth_motion(out, (200, 150, 290, 210)) > 1.0
    assert mouth_motion(out, (180, 40, 300, 90)) < 0.5
    # 11 + extract_soundtrack, match_voice and mix (issue 8) + mouth_library and check_images (issue 11)
    assert len(first.stages) == 16 and not any(s["cached"] for s in first.stages)
    assert {s["stage"] for s in first.stages} >= {"mouth_library", "track_faces", "lipsync", "check_images", "evaluate"}
    metrics = first.outputs[0].metrics  # the frame checks, made beside the output's tracking, reach the report
    assert metrics["psnr_outside_mouth"] > 30 and metrics["ssim_outside_mouth"] > 0.9

    # The report a person reads in the Prefect UI: outputs, transcript next to translation, timing.
    from flows.dub import DubRequest, summary_markdown

    report = summary_markdown(DubRequest(video=str(sample_clip), source="hi", targets=["ur"], output=str(out)), first)
    segment = first.outputs[0].segments[0]
    assert str(out) in report and segment["target"] in report and segment["source"] in report
    assert segment["speed"] is not None
    # issue 8: the timing report per segment, the timeline picture beside the output, the loudness.
    assert segment["shift_s"] is not None and "moved" in segment and "| shift |" in report
    assert first.outputs[0].timeline == str(tmp_path / "out" / "speaker.ur.timeline.png")
    assert (tmp_path / "out" / "speaker.ur.timeline.png").read_bytes()[:4] == b"\x89PNG"
    assert first.outputs[0].audio["loudness"]["lufs"] == pytest.approx(-16.0, abs=0.5)

    # --preview: input and output lower faces over the mouth opening against the dub.
    from lipsync_sts.preview import write_dub_preview
    from lipsync_sts.store import ArtifactStore

    strip = write_dub_preview(ArtifactStore(store), str(sample_clip), str(out), first.face_track,
                              first.outputs[0].evaluation, tmp_path / "preview.png")
    assert strip.read_bytes()[:4] == b"\x89PNG"

    # Every output comes with its lip-sync evaluation: the mouth now follows the dub.
    measured = first.outputs[0]
    assert measured.report and (tmp_path / "out" / "speaker.ur.report.html").exists()
    assert measured.metrics["sync"] > 0.3, measured.metrics
    assert measured.metrics["psnr_outside_mouth"] > 40

    second = dub(video=str(sample_clip), source="hi", targets=["ur"], output=str(out), store_url=store)
    assert ran(second) == set(), "a rerun of the same dub must execute no stage"
    assert second.outputs[0].artifact.sha256 == first.outputs[0].artifact.sha256

    renamed = tmp_path / "a copy with another name.mp4"
    shutil.copyfile(sample_clip, renamed)
    third = dub(video=str(renamed), source="hi", targets=["ur"], output=str(tmp_path / "copy.mp4"), store_url=store)
    assert ran(third) == {"ingest"}, "a renamed copy only needs hashing; every content stage is cached"

    tamil = tmp_path / "speaker.ta.srt"
    tamil.write_text("1\n00:00:00,500 --> 00:00:02,000\nவணக்கம். இன்று வானிலை நன்றாக இருக்கிறது.\n", encoding="utf-8")
    more = dub(video=str(sample_clip), source="hi", targets=["ur", "ta"], output=str(out), store_url=store,
               translations={"ta": str(tamil)})
    assert ran(more) == {"translate[ta]", "synthesize[ta]", "fit_timing[ta]", "lipsync[ta]", "mux[ta]",
                         "track_faces[ta]", "check_images[ta]", "evaluate[ta]", "match_voice[ta]", "mix[ta]"}
    assert (tmp_path / "out" / "speaker.ta.mp4").exists() and (tmp_path / "out" / "speaker.ur.mp4").exists()
