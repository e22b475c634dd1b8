"""preprocess_lipsync: one talking-face video → 96×96 face crops + mel, for training (cached per video).

Crops come from our face tracker with the same box rule as inference (wav2lip_backend.crop_boxes),
so the generator trains on exactly the framing it will see. Stored as one compressed .npz:
about 27 kB per frame of crops before compression, never full frames.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

import models.face
import models.lipsync.wav2lip_backend
import models.wav2lip.audio
from lipsync_sts import media
from lipsync_sts.cache import stage
from lipsync_sts.errors import UserInputError
from lipsync_sts.store import ArtifactRef, ArtifactStore
from models.face import FaceTrackConfig, detection_size, track_faces
from models.lipsync.wav2lip_backend import IMG, crop_boxes
from models.wav2lip import audio as w2l_audio
from models.wav2lip.train import Clip

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v"}


class PreprocessConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    face: FaceTrackConfig = Field(default_factory=FaceTrackConfig)
    pad: tuple[float, float, float, float] = (0.0, 0.1, 0.0, 0.0)  # as Wav2LipConfig.pad: keep them equal


def find_videos(root: str | Path) -> list[Path]:
    """Every video under ``root``, in a stable order: flat folders and LRS2-style
    ``<speaker or show>/<clip>.mp4`` trees alike."""
    root = Path(root)
    if not root.is_dir():
        raise UserInputError(f"training data folder {root} does not exist or is not a folder")
    videos = sorted(p for p in root.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
    if not videos:
        raise UserInputError(f"no videos ({', '.join(sorted(VIDEO_SUFFIXES))}) under {root}")
    return videos


def preprocess_video(store: ArtifactStore, video: ArtifactRef, config: PreprocessConfig) -> ArtifactRef:
    info = media.MediaInfo(**video.meta)
    if not info.has_audio:
        raise UserInputError(f"training video {video.meta.get('name', video.uri)} has no audio track")
    path = store.local_path(video)
    small = detection_size((info.width, info.height), config.face.detect_width, info.rotation)
    track = track_faces(media.iter_frames(path, size=small), info.fps, config.face, rotation=info.rotation,
                        stored_size=(info.width, info.height))
    boxes = crop_boxes(track, config.pad)
    faces = np.zeros((len(track), IMG, IMG, 3), np.uint8)
    for i, frame in enumerate(media.iter_frames(path)):
        if i < len(boxes) and boxes[i, 0] >= 0:
            x0, y0, x1, y1 = boxes[i]
            faces[i] = cv2.resize(frame[y0:y1, x0:x1, ::-1], (IMG, IMG), interpolation=cv2.INTER_AREA)  # BGR
    mel = w2l_audio.melspectrogram(media.read_audio(path, w2l_audio.SAMPLE_RATE))
    buf = io.BytesIO()
    np.savez_compressed(buf, faces=faces, present=boxes[:, 0] >= 0, mel=mel, fps=np.float64(info.fps))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "clip.npz"
        out.write_bytes(buf.getvalue())
        return store.put_file(out, kind="lipsync-clip",
                              meta={"frames": len(track), "faces": int((boxes[:, 0] >= 0).sum()), "fps": info.fps})


def load_clip(store: ArtifactStore, ref: ArtifactRef) -> Clip:
    with np.load(store.local_path(ref), allow_pickle=False) as z:
        return Clip(faces=z["faces"], mel=z["mel"], fps=float(z["fps"]), present=z["present"])


@stage("preprocess_lipsync", version="1", code=(models.face, models.wav2lip.audio, models.lipsync.wav2lip_backend, media))
def preprocess_lipsync(store_url: str, video: ArtifactRef, config: PreprocessConfig) -> ArtifactRef:
    return preprocess_video(ArtifactStore(store_url), video, config)
