"""mouth_library: the speaker's lower-face crops that the embedded lip-sync re-uses, once per video.

Inputs: a video and its face track. The library depends on neither the dub nor the language, so
it is built once and shared by every target language (each lipsync then decodes the video once,
to render), and the dub flow builds it while ASR is still running.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import models.lipsync.mouth_library
from lipsync_sts import media
from lipsync_sts.cache import stage
from lipsync_sts.store import ArtifactRef, ArtifactStore
from models.face import FaceTrack
from models.lipsync.mouth_library import MouthLibrary, MouthLibraryConfig


def build_mouth_library(store: ArtifactStore, video: ArtifactRef, track: ArtifactRef,
                        config: MouthLibraryConfig) -> ArtifactRef:
    library = MouthLibrary.from_video(store.local_path(video), FaceTrack.load(store.local_path(track)), config)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "mouths.npz"
        library.save(out)
        return store.put_file(out, kind="mouth-library", meta={"entries": len(library),
                                                               "usable": bool(library.usable(config))})


@stage("mouth_library", version="1", code=(models.lipsync.mouth_library, media))
def mouth_library(store_url: str, video: ArtifactRef, track: ArtifactRef, config: MouthLibraryConfig) -> ArtifactRef:
    return build_mouth_library(ArtifactStore(store_url), video, track, config)
