"""track_faces: the speaker's face box and landmarks in every frame, once per video."""

from __future__ import annotations

import tempfile
from pathlib import Path

from pydantic import BaseModel, Field

import models.face
from lipsync_sts import media
from lipsync_sts.cache import stage
from lipsync_sts.progress import Progress
from lipsync_sts.store import ArtifactRef, ArtifactStore
from models.face import FaceTrackConfig


class TrackFacesConfig(BaseModel):
    face: FaceTrackConfig = Field(default_factory=FaceTrackConfig)


def track_video_faces(store: ArtifactStore, video: ArtifactRef, config: TrackFacesConfig) -> ArtifactRef:
    path = store.local_path(video)
    with Progress(int(video.meta["n_frames"]), "track faces") as progress:
        track = models.face.track_faces(media.iter_frames(path), float(video.meta["fps"]), config.face,
                                        on_progress=progress.update)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "track.npz"
        track.save(out)
        coverage = float(track.present.mean()) if len(track.present) else 0.0
        return store.put_file(out, kind="face-track", meta={"frames": int(len(track.present)),
                                                            "face_coverage": round(coverage, 4)})


@stage("track_faces", version="1", code=(models.face,))
def track_faces(store_url: str, video: ArtifactRef, config: TrackFacesConfig) -> ArtifactRef:
    return track_video_faces(ArtifactStore(store_url), video, config)
