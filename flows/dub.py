"""The dub flow: one video -> one dubbed, lip-synced video per target language.

Work that depends only on the video (ingest, audio, transcript, face track) runs once and is shared
by every target language; each language then runs translate -> synthesize -> fit_timing ->
lipsync -> mux. Every stage is content-cached, so a rerun computes only what changed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from pydantic import BaseModel, Field

from lipsync_sts.cache import RunLog, bind
from lipsync_sts.errors import UserInputError
from lipsync_sts.validation import validate_request
from lipsync_sts.segments import to_srt
from lipsync_sts.store import ArtifactRef, ArtifactStore, export_file
from models.asr import AsrConfig
from models.face import FaceTrackConfig
from models.mt import MtConfig
from models.tts import TtsConfig
from tasks.extract_audio import ExtractAudioConfig, extract_audio
from tasks.fit_timing import FitTimingConfig, fit_timing
from tasks.ingest import SourceFile, ingest
from tasks.lipsync import LipSyncConfig, lipsync
from tasks.mux import MuxConfig, mux
from tasks.synthesize import SynthesizeConfig, synthesize
from tasks.track_faces import TrackFacesConfig, track_faces
from tasks.transcribe import TranscribeConfig, load_segments, transcribe
from tasks.translate import TranslateConfig, translate


class DubOptions(BaseModel):
    """Every stage's settings in one place; each stage sees only its own part."""

    audio: ExtractAudioConfig = Field(default_factory=ExtractAudioConfig)
    asr: AsrConfig = Field(default_factory=AsrConfig)
    mt: MtConfig = Field(default_factory=MtConfig)
    tts: TtsConfig = Field(default_factory=TtsConfig)
    timing: FitTimingConfig = Field(default_factory=FitTimingConfig)
    face: FaceTrackConfig = Field(default_factory=FaceTrackConfig)
    lipsync: LipSyncConfig = Field(default_factory=LipSyncConfig)
    mux: MuxConfig = Field(default_factory=MuxConfig)


class DubOutput(BaseModel):
    language: str
    video: str
    subtitles: str
    artifact: ArtifactRef


class DubResult(BaseModel):
    source_subtitles: str
    outputs: list[DubOutput]
    stages: list[dict]
    summary: str


def output_paths(output: str | os.PathLike, targets: list[str]) -> dict[str, Path]:
    """``OUT.mp4`` for one target; ``OUT.<lang>.mp4`` for each of several."""
    output = Path(output)
    if len(targets) == 1:
        return {targets[0]: output}
    return {t: output.with_name(f"{output.stem}.{t}{output.suffix or '.mp4'}") for t in targets}


def subtitle_path(output: str | os.PathLike, language: str) -> Path:
    """``OUT.<lang>.srt`` beside the requested output, for the source and each target."""
    output = Path(output)
    return output.with_name(f"{output.stem}.{language}.srt")


@flow(name="dub", log_prints=True)
def dub(video: str, source: str, targets: list[str], output: str, store_url: str | None = None,
        transcript: str | None = None, translations: dict[str, str] | None = None,
        options: DubOptions | None = None, refresh: bool = False) -> DubResult:
    """``transcript``: a source-language .srt/.vtt replacing recognition; ``translations``: target
    language -> .srt replacing machine translation for that language."""
    validate_request(video, source, targets, output)
    translations = translations or {}
    for language, path in translations.items():
        if language not in targets:
            raise UserInputError(f"a translation is given for {language!r}, which is not a target; add --to {language}")
        if not Path(path).is_file():
            raise UserInputError(f"translation file {path} for {language!r} does not exist")
    options = options or DubOptions()
    store = ArtifactStore(store_url)
    log = RunLog()
    call = lambda stage_task, label="", **inputs: log.call(bind(stage_task, store, refresh), label,  # noqa: E731
                                                          store_url=store.url, **inputs)

    video_ref = call(ingest, source=SourceFile.of(video))
    transcript_ref = store.put_file(transcript, kind="subtitles") if transcript else None
    if transcript_ref is None and not video_ref.meta["has_audio"]:
        raise UserInputError(f"input {video} has no audio track; give a video with speech, or pass --transcript FILE.srt")

    audio_ref = call(extract_audio, video=video_ref, config=options.audio) if transcript_ref is None else None
    segments_ref = call(transcribe, source, audio=audio_ref, transcript=transcript_ref,
                        config=TranscribeConfig(language=source, asr=options.asr))
    track_ref = call(track_faces, video=video_ref, config=TrackFacesConfig(face=options.face))
    if track_ref.meta["face_coverage"] == 0:
        get_run_logger().warning("no face was found in %s: the output keeps the original picture, only "
                                 "the audio is dubbed", video)

    paths = output_paths(output, targets)
    source_srt = subtitle_path(output, source)
    _write_text(source_srt, to_srt(load_segments(store, segments_ref)))

    outputs = []
    for target in targets:
        given = store.put_file(translations[target], kind="subtitles") if target in translations else None
        translated = call(translate, target, segments=segments_ref, translation=given,
                          config=TranslateConfig(source=source, target=target, mt=options.mt))
        clips = call(synthesize, target, segments=translated,
                     config=SynthesizeConfig(language=target, tts=options.tts))
        dub_audio = call(fit_timing, target, clips=clips, segments=translated, video=video_ref,
                         config=options.timing)
        frames = (call(lipsync, target, video=video_ref, track=track_ref, dub=dub_audio, config=options.lipsync)
                  if track_ref.meta["face_coverage"] > 0 else video_ref)
        final = call(mux, target, frames=frames, dub=dub_audio, config=options.mux)
        video_out = export_file(store, final, paths[target])
        srt_out = subtitle_path(output, target)
        _write_text(srt_out, to_srt(load_segments(store, translated)))
        outputs.append(DubOutput(language=target, video=str(video_out), subtitles=str(srt_out), artifact=final))

    summary = log.render()
    create_markdown_artifact(
        key="dub-summary",
        markdown="| stage | for | result | seconds |\n|---|---|---|---|\n" + "\n".join(
            f"| {r['stage']} | {r['for']} | {'cached' if r['cached'] else r['state']} | {r['seconds']} |"
            for r in log.table()),
        description=f"Dub of {Path(video).name} {source} -> {', '.join(targets)}",
    )
    return DubResult(source_subtitles=str(source_srt), outputs=outputs, stages=log.table(), summary=summary)


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def dump_result(result: DubResult) -> str:
    return json.dumps(result.model_dump(mode="json"), indent=1, ensure_ascii=False)
