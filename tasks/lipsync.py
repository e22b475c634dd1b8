"""lipsync: re-draw the speaker's mouth to follow the dub, streaming frame by frame."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Literal

import numpy as np
import soundfile as sf
from pydantic import BaseModel, Field

import models.lipsync
from lipsync_sts import media, timing
from lipsync_sts.cache import StageCachePolicy, stage
from lipsync_sts.errors import UserInputError
from lipsync_sts.progress import Progress
from lipsync_sts.store import ArtifactRef, ArtifactStore, sha256_file
from models.face import FaceTrack
from models.lipsync.embedded import EmbeddedLipSyncConfig, embedded_renderer
from models.lipsync.mouth_library import MouthLibrary
from models.lipsync.speaker_fit import fit_speaker_from_video
from models.lipsync.visemes import phonemes_on_dub_clock
from tasks.synthesize import SpeechClips
from models.lipsync.wav2lip_config import Wav2LipConfig


class LipSyncConfig(BaseModel):
    backend: Literal["embedded", "wav2lip"] = "embedded"
    embedded: EmbeddedLipSyncConfig = Field(default_factory=EmbeddedLipSyncConfig)
    wav2lip: Wav2LipConfig = Field(default_factory=Wav2LipConfig)
    # Wav2Lip generator weights (wav2lip.pth, wav2lip_gan.pth or our own); the cache key holds the
    # file's sha256 instead of its path, so a renamed copy hits the cache and a retrained file misses.
    checkpoint: str | None = None
    crf: int = 18  # x264 quality of the re-encoded frames; 18 is visually lossless
    # What drives the embedded backend's mouth shapes: the dub's audio, or the TTS phonemes placed on
    # the dub's clock. Phonemes carry rounding and p/b/m closures, but on the shared clips they
    # scored below audio on the landmark sync score (22-78% of the real videos' score, against the
    # audio path's inflated 2-7x), so audio stays the default until the viseme table is tuned.
    # "speaker": the audio through the speaker's own sound-to-lips mapping, fitted on their recording
    # (the library video, else the video itself; models/lipsync/speaker_fit.py), falling back to
    # "audio" where no fit is possible. "envelope": loudness alone (no rounding, no closures), the
    # reconstruction benchmark's baseline.
    shapes_from: Literal["audio", "phonemes", "speaker", "envelope"] = "audio"


def _frames(renderer, frames: Iterator[np.ndarray], n_track: int) -> Iterator[np.ndarray]:
    for index, frame in enumerate(frames):
        yield renderer.render(index, frame) if index < n_track else frame


def dub_phonemes(store: ArtifactStore, speech: ArtifactRef | None, dub: ArtifactRef) -> list | None:
    """The TTS phonemes placed where fit_timing put each clip in the dub track, if both are known."""
    if speech is None or not dub.meta.get("timing"):
        return None
    clips = SpeechClips.load(store.local_path(speech))
    durations = [len(c) / clips.sample_rate for c in clips.clips]
    return phonemes_on_dub_clock(clips.phonemes, durations, dub.meta["timing"]) or None


def lipsync_frames(store: ArtifactStore, video: ArtifactRef, track: ArtifactRef, dub: ArtifactRef,
                   config: LipSyncConfig, source: Iterator[np.ndarray], speech: ArtifactRef | None = None,
                   library_video: ArtifactRef | None = None, library_track: ArtifactRef | None = None,
                   library: ArtifactRef | None = None) -> Iterator[np.ndarray]:
    """The lip-synced frames of ``source`` (the video's decoded frames, in order), one at a time.

    ``speech``: synthesize's clips (their phonemes drive the mouth shapes); ``library_video`` and
    ``library_track``: another recording of the speaker to take mouth appearance from (and to fit
    the speaker's mapping on); ``library``: the mouth_library stage's crops of that recording, or of
    this video, already built (else they are collected here, in an extra decoding pass)."""
    info = media.MediaInfo(**video.meta)
    face_track = FaceTrack.load(store.local_path(track))
    audio, rate = sf.read(store.local_path(dub), dtype="float32")
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    if config.backend == "wav2lip":
        from models.lipsync.wav2lip_backend import Wav2LipRenderer
        from models.wav2lip.checkpoint import load_model

        if not config.checkpoint:
            raise UserInputError("the wav2lip lip-sync needs weights: pass --checkpoint PATH (wav2lip.pth, "
                                 "wav2lip_gan.pth, or a checkpoint from the train-lipsync flow)")
        renderer = Wav2LipRenderer(load_model(config.checkpoint, "wav2lip"), face_track, audio, rate, config.wav2lip)
        return renderer.process(source)
    # Embedded backend: shapes from the dub, mouths re-used from this video (models/lipsync/embedded.py).
    mouths = speaker = None
    recording, recording_track = store.local_path(video), face_track  # the speaker as the video shows them
    if library_video and library_track:
        recording, recording_track = store.local_path(library_video), FaceTrack.load(store.local_path(library_track))
        if library is None:
            mouths = MouthLibrary.from_video(recording, recording_track, config.embedded.library)
    if library is not None:
        mouths = MouthLibrary.load(store.local_path(library))
    if config.shapes_from == "speaker":
        # Fitted on the library's recording only, never on the frames being re-drawn.
        speaker = fit_speaker_from_video(recording, recording_track, config.embedded.speaker)
    renderer = embedded_renderer(store.local_path(video), face_track, audio, rate, info.fps, config.embedded,
                                 phonemes=dub_phonemes(store, speech, dub) if config.shapes_from == "phonemes" else None,
                                 library=mouths, envelope_only=config.shapes_from == "envelope", speaker=speaker)
    return _frames(renderer, source, len(face_track.present))


def lipsync_video(store: ArtifactStore, video: ArtifactRef, track: ArtifactRef, dub: ArtifactRef,
                  config: LipSyncConfig, speech: ArtifactRef | None = None,
                  library_video: ArtifactRef | None = None, library_track: ArtifactRef | None = None,
                  library: ArtifactRef | None = None) -> ArtifactRef:
    """The video re-encoded with its lips following ``dub``: decoded, rendered and encoded one frame
    at a time (see :func:`lipsync_frames` for the other inputs)."""
    info = media.MediaInfo(**video.meta)
    frames = lipsync_frames(store, video, track, dub, config, media.iter_frames(store.local_path(video)), speech,
                            library_video, library_track, library)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "lipsync.mp4"
        with media.VideoWriter(out, info.fps_fraction, info.width, info.height, crf=config.crf,
                               rotation=info.rotation) as writer, \
                Progress(info.n_frames, "lip-sync") as progress:
            for frame in frames:
                writer.write(frame)
                progress.update()
        return store.put_file(out, kind="video-frames", meta={"frames": writer.count})


_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def checkpoint_sha256(path: str) -> str:
    """sha256 of a checkpoint file, remembered per (path, size, mtime): wav2lip.pth is 416 MB."""
    p = Path(path)
    if not p.is_file():
        raise UserInputError(f"checkpoint {path} does not exist; pass --checkpoint with the path of a Wav2Lip .pth file")
    stat = p.stat()
    key = (str(p.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA_CACHE:
        _SHA_CACHE[key] = sha256_file(p)
    return _SHA_CACHE[key]


@dataclass
class LipSyncCachePolicy(StageCachePolicy):
    """The stage's key with the checkpoint's content in place of its path (and without the
    settings of the backend not in use)."""

    def compute_key(self, task_ctx: Any, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs: Any) -> str:
        config = inputs.get("config")
        if isinstance(config, LipSyncConfig):
            if config.backend == "wav2lip":
                update = {"embedded": EmbeddedLipSyncConfig(),
                          "checkpoint": f"sha256:{checkpoint_sha256(config.checkpoint)}" if config.checkpoint else None}
            else:
                update = {"wav2lip": Wav2LipConfig(), "checkpoint": None}
            inputs = {**inputs, "config": config.model_copy(update=update)}
        return super().compute_key(task_ctx, inputs, flow_parameters, **kwargs)


# The Wav2Lip modules by name: they load torch, which a dub with the embedded backend never needs.
@stage("lipsync", version="2", code=(models.lipsync, media, timing, "models.wav2lip.model",
                                     "models.wav2lip.audio", "models.wav2lip.checkpoint"))
def lipsync(store_url: str, video: ArtifactRef, track: ArtifactRef, dub: ArtifactRef, config: LipSyncConfig,
            speech: ArtifactRef | None = None, library_video: ArtifactRef | None = None,
            library_track: ArtifactRef | None = None, library: ArtifactRef | None = None) -> ArtifactRef:
    return lipsync_video(ArtifactStore(store_url), video, track, dub, config, speech, library_video, library_track,
                         library)


lipsync = lipsync.with_options(cache_policy=LipSyncCachePolicy(
    stage=lipsync.cache_policy.stage, version=lipsync.cache_policy.version, code=lipsync.cache_policy.code))
