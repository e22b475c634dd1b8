"""The lip-sync flow: a video and a speech track the user already has -> the video speaking it.

For dubs made elsewhere or studio-recorded tracks. It shares the dub flow's cache: the video's
ingest, speech audio and face track are the same stages with the same keys.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from pydantic import BaseModel, Field

from lipsync_sts import media, remote
from lipsync_sts.cache import RunLog
from lipsync_sts.errors import UserInputError
from lipsync_sts.store import ArtifactRef, ArtifactStore, export_file
from models.face import FaceTrackConfig
from tasks.extend_video import ExtendVideoConfig, extend_video
from tasks.extract_audio import ExtractAudioConfig, extract_audio
from tasks.ingest import SourceFile, ingest
from tasks.lipsync import LipSyncConfig, lipsync
from tasks.mouth_library import mouth_library as mouth_library_stage
from tasks.mux import MuxConfig, mux
from tasks.prepare_track import PrepareTrackConfig, prepare_track
from tasks.track_faces import TrackFacesConfig, track_faces


class LipSyncOptions(BaseModel):
    face: FaceTrackConfig = Field(default_factory=FaceTrackConfig)
    # Mouth shapes from the speaker's own fitted sound-to-lips mapping: a track given to this flow is
    # usually the same person (a studio recording, a dub they voiced), where the fit beats the
    # loudness heuristics on held-out reconstruction (bench/bench_reconstruction.py).
    lipsync: LipSyncConfig = Field(default_factory=lambda: LipSyncConfig(shapes_from="speaker"))
    track: PrepareTrackConfig = Field(default_factory=PrepareTrackConfig)
    mux: MuxConfig = Field(default_factory=MuxConfig)


class LipSyncResult(BaseModel):
    video: str
    artifact: ArtifactRef
    frames: int
    extended_frames: int  # frames added to the input to fit a longer track (0: none)
    trimmed_s: float  # seconds of track cut because it ran past the video (with longer="trim")
    stages: list[dict]
    summary: str


@flow(name="lipsync", log_prints=True)
def lipsync_flow(video: str, audio: str, output: str, store_url: str | None = None,
                 options: LipSyncOptions | None = None, refresh: bool = False,
                 mouth_library: str | None = None) -> LipSyncResult:
    """Re-sync ``video``'s lips to ``audio`` (any audio file, or a video whose soundtrack is used).
    ``mouth_library``: another recording of the same person to take mouth appearance from (a short
    input gains a richer library)."""
    for path, what in ((video, "video"), (audio, "audio"), (mouth_library, "mouth library")):
        # A URL (s3://...) is checked where it is fetched, with a message that names it.
        if path is not None and not remote.is_remote(path) and not Path(path).is_file():
            raise UserInputError(f"{what} {path} does not exist or is not a file; check the path")
    options = options or LipSyncOptions()
    store, log = ArtifactStore(store_url), RunLog()

    def call(stage_task, label: str = "", **inputs):
        return log.run(stage_task, store, label, refresh, **inputs)

    video_ref = call(ingest, source=SourceFile.of(video))
    speech_ref = call(prepare_track, source=SourceFile.of(audio), video=video_ref, config=options.track)
    # The video's own speech picks the speaker among several faces, exactly as in a dub (same key).
    own_audio = call(extract_audio, video=video_ref, config=ExtractAudioConfig()) if video_ref.meta["has_audio"] else None

    picture = video_ref
    extended = int(speech_ref.meta["frames"]) - int(video_ref.meta["n_frames"])
    if extended > 0:
        picture = call(extend_video, video=video_ref, config=ExtendVideoConfig(frames=int(speech_ref.meta["frames"]),
                                                                      mode=options.track.longer))
    track_ref = call(track_faces, video=picture, audio=own_audio if extended <= 0 else None,
                     config=TrackFacesConfig(face=options.face))
    library = {}
    if mouth_library:
        library_video = call(ingest, "library", source=SourceFile.of(mouth_library))
        library_audio = (call(extract_audio, "library", video=library_video, config=ExtractAudioConfig())
                         if library_video.meta["has_audio"] else None)
        library = {"library_video": library_video,
                   "library_track": call(track_faces, "library", video=library_video, audio=library_audio,
                                         config=TrackFacesConfig(face=options.face))}
    if (options.lipsync.backend == "embedded" and options.lipsync.embedded.mode != "warp"
            and track_ref.meta["face_coverage"] > 0):
        # The mouths re-used: the library recording's if given, else this video's (a cached stage).
        library["library"] = call(mouth_library_stage, "library" if mouth_library else "",
                                  video=library.get("library_video", picture),
                                  track=library.get("library_track", track_ref), config=options.lipsync.embedded.library)
    frames = (call(lipsync, video=picture, track=track_ref, dub=speech_ref, config=options.lipsync, **library)
              if track_ref.meta["face_coverage"] > 0 else picture)
    final = call(mux, frames=frames, dub=speech_ref, config=options.mux)
    out = export_file(store, final, output)
    if track_ref.meta["face_coverage"] == 0:
        print(f"no face was found in {video}: the output keeps the original picture with the new track")
    print(log.render())
    return LipSyncResult(video=str(out), artifact=final, frames=media.probe(out).n_frames,
                         extended_frames=max(extended, 0), trimmed_s=float(speech_ref.meta["trimmed_s"]),
                         stages=log.table(), summary=log.render())
