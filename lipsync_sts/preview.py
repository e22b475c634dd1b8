"""`dub --preview STRIP.png`: input | output lower faces at a few moments, and the output's mouth
opening against the dub's envelope, from artifacts the dub already made (no extra tracking)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lipsync_sts import media
from lipsync_sts.store import ArtifactRef, ArtifactStore
from models.face import FaceTrack
from models.lipsync.preview import preview_frames, preview_strip, write_preview


def _series(values: list) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], np.float32)


def write_dub_preview(store: ArtifactStore, input_video: str, output_video: str, track_ref: ArtifactRef,
                      evaluation_ref: ArtifactRef, out_png: str | Path) -> Path:
    track = FaceTrack.load(store.local_path(track_ref))
    series = store.read_json(evaluation_ref)["series"]
    frames = [i for i in preview_frames(len(track)) if track.present[i]]
    wanted = set(frames)
    # A handful of frames: only they are converted, and the decoder seeks past the groups between.
    inputs = [f for f in media.iter_frames(input_video, only=wanted) if f is not None]
    outputs = [f for f in media.iter_frames(output_video, only=wanted) if f is not None]
    strip = preview_strip(inputs, outputs, [track.landmarks[i] for i in frames],
                          _series(series["opening"]), _series(series["envelope"]), frames)
    write_preview(out_png, strip)
    return Path(out_png)
