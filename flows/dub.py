"""The dub flow: one video -> one dubbed, lip-synced video per target language.

Work that depends only on the video (ingest, audio, transcript, face track, mouth library) runs
once and is shared by every target language; each language then runs translate -> synthesize ->
fit_timing -> lipsync -> mux. Every stage is content-cached, so a rerun computes only what changed.
Stages that do not depend on each other run side by side (RunLog.together) where one of them
leaves a core idle.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from pydantic import BaseModel, Field

from lipsync_sts.cache import RunLog
from lipsync_sts.errors import UserInputError
from lipsync_sts.languages import LANGUAGES
from lipsync_sts.validation import validate_request
from lipsync_sts.segments import to_srt
from lipsync_sts.store import ArtifactRef, ArtifactStore, export_file
from models.asr import AsrConfig
from models.face import FaceTrackConfig
from models.mt import MtConfig
from models.tts import TtsConfig
from lipsync_sts import media
from tasks.evaluate import EvaluateConfig, check_images_stage, evaluate_stage
from tasks.extract_audio import ExtractAudioConfig, extract_audio
from tasks.fit_timing import FitTimingConfig, fit_timing
from tasks.ingest import SourceFile, ingest
from tasks.lipsync import LipSyncConfig, lipsync
from tasks.mouth_library import mouth_library
from tasks.mux import MuxConfig, mux
from tasks.synthesize import SynthesizeConfig, synthesize
from tasks.track_faces import TrackFacesConfig, track_faces
from tasks.transcribe import TranscribeConfig, load_segments, transcribe
from tasks.translate import TranslateConfig, translate
# --- dub timing and sound (issue 8) ---
from models.tts.voice import VoiceMatchConfig
from tasks.extract_soundtrack import ExtractSoundtrackConfig, extract_soundtrack
from tasks.match_voice import MatchVoiceConfig, match_voice, voice_tts
from tasks.mix import MixConfig, mix


# Videos up to this long mix their soundtrack beside the lip-sync render (see run_dub).
OVERLAP_MIX_UP_TO_S = 300.0


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
    # --- dub timing and sound (issue 8) ---
    voice: VoiceMatchConfig = Field(default_factory=VoiceMatchConfig)
    mix: MixConfig = Field(default_factory=MixConfig)
    evaluate: bool = True  # measure each output's lip sync and attach the report


class DubOutput(BaseModel):
    language: str
    video: str
    subtitles: str
    artifact: ArtifactRef
    report: str | None = None  # HTML: mouth opening against the dub, sync score, image checks
    evaluation: ArtifactRef | None = None  # the full evaluation (per-frame series included)
    metrics: dict = Field(default_factory=dict)  # the evaluation's headline numbers
    # Per segment: start, end, source text, target text and how the dub was fitted (timing report).
    segments: list[dict] = Field(default_factory=list)
    # issue 8: the timeline picture beside the output; the mix's loudness and the voice matching.
    timeline: str | None = None
    audio: dict = Field(default_factory=dict)


class DubResult(BaseModel):
    source_subtitles: str
    face_track: ArtifactRef
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
    """``OUT.<lang>.srt`` beside the requested output, for the source and each target; an output
    already named by language (``talk.ur.mp4``) gives ``talk.hi.srt`` and ``talk.ur.srt``."""
    output = Path(output)
    stem, _, last = output.stem.rpartition(".")
    base = stem if stem and last in LANGUAGES else output.stem
    return output.with_name(f"{base}.{language}.srt")


# Each stage and the stages after it on the way to the output video: what a rerun of a stage
# recomputes as well, even where its inputs come out byte-identical. The evaluation of an output
# is left to the cache: it reruns exactly when the output's bytes change.
DOWNSTREAM: dict[str, tuple[str, ...]] = {
    "ingest": ("extract_audio", "extract_soundtrack", "transcribe", "track_faces", "mouth_library", "translate",
               "match_voice", "synthesize", "fit_timing", "mix", "lipsync", "mux"),
    "extract_audio": ("transcribe", "track_faces", "mouth_library", "translate", "match_voice", "synthesize",
                      "fit_timing", "mix", "lipsync", "mux"),
    "extract_soundtrack": ("mix", "mux"),
    "transcribe": ("translate", "match_voice", "synthesize", "fit_timing", "mix", "lipsync", "mux"),
    "track_faces": ("mouth_library", "lipsync", "mux"),
    "mouth_library": ("lipsync", "mux"),
    "translate": ("synthesize", "fit_timing", "mix", "lipsync", "mux"),
    "match_voice": ("synthesize", "fit_timing", "mix", "lipsync", "mux"),
    "synthesize": ("fit_timing", "mix", "lipsync", "mux"),
    "fit_timing": ("mix", "lipsync", "mux"),
    "mix": ("mux",),
    "lipsync": ("mux",),
    "mux": (),
    "evaluate": (),
    "check_images": (),
}


def with_downstream(stages: list[str] | set[str]) -> set[str]:
    unknown = set(stages) - set(DOWNSTREAM)
    if unknown:
        raise UserInputError(f"unknown stage(s) {sorted(unknown)}; stages are: {', '.join(DOWNSTREAM)}")
    return set(stages).union(*(DOWNSTREAM[s] for s in stages)) if stages else set()


class DubRequest(BaseModel):
    """One video to dub into one or more languages: the dub flow's parameters."""

    video: str
    source: str
    targets: list[str]
    output: str
    transcript: str | None = None
    translations: dict[str, str] = Field(default_factory=dict)  # target language -> .srt
    options: DubOptions = Field(default_factory=DubOptions)


def check_request(request: DubRequest) -> None:
    validate_request(request.video, request.source, request.targets, request.output)
    for language, path in request.translations.items():
        if language not in request.targets:
            raise UserInputError(f"a translation is given for {language!r}, which is not a target; add --to {language}")
        if not Path(path).is_file():
            raise UserInputError(f"translation file {path} for {language!r} does not exist")
    if request.transcript and not Path(request.transcript).is_file():
        raise UserInputError(f"transcript file {request.transcript} does not exist")


def run_dub(request: DubRequest, store: ArtifactStore, log: RunLog, refresh_stages: set[str] = frozenset()) -> DubResult:
    """The DAG for one video. Stages named in ``refresh_stages`` are recomputed even if cached."""
    check_request(request)
    options, source, output = request.options, request.source, request.output

    def call(stage_task, label: str = "", **inputs):
        return log.run(stage_task, store, label, stage_task.name in refresh_stages, **inputs)

    video_ref = call(ingest, source=SourceFile.of(request.video))
    transcript_ref = store.put_file(request.transcript, kind="subtitles") if request.transcript else None
    if transcript_ref is None and not video_ref.meta["has_audio"]:
        raise UserInputError(f"input {request.video} has no audio track; give a video with speech, "
                             "or pass --transcript FILE.srt")

    audio_ref = call(extract_audio, video=video_ref, config=options.audio) if video_ref.meta["has_audio"] else None
    soundtrack_ref = (call(extract_soundtrack, video=video_ref, config=ExtractSoundtrackConfig())  # issue 8
                      if audio_ref is not None and options.mix.soundtrack.original != "drop" else None)

    def speech(target: str, segments_ref: ArtifactRef) -> tuple:
        """Translation -> voice -> synthesis -> timing: the dub speech for ``target``."""
        given = (store.put_file(request.translations[target], kind="subtitles")
                 if target in request.translations else None)
        translated = call(translate, target, segments=segments_ref, translation=given,
                          config=TranslateConfig(source=source, target=target, mt=options.mt))
        # --- issue 8: a voice pitched like the speaker; speech that does not fit is re-synthesised faster.
        voice_ref = (call(match_voice, target, audio=audio_ref, segments=segments_ref,
                          config=MatchVoiceConfig(language=target, tts=options.tts, voice=options.voice))
                     if audio_ref is not None and options.voice.enabled else None)
        tts = voice_tts(options.tts, voice_ref)
        clips = call(synthesize, target, segments=translated, config=SynthesizeConfig(language=target, tts=tts))
        dub_audio = call(fit_timing, target, clips=clips, segments=translated, video=video_ref, voice=voice_ref,
                         config=options.timing.model_copy(update={"language": target, "tts": tts}))
        return translated, clips, dub_audio

    def words() -> tuple:
        """The transcript, then the first language's dub speech (the render needs it and the picture)."""
        segments_ref = call(transcribe, source, audio=audio_ref if transcript_ref is None else None,
                            transcript=transcript_ref, config=TranscribeConfig(language=source, asr=options.asr))
        return segments_ref, speech(request.targets[0], segments_ref)

    def picture() -> tuple:
        """The face track, then the mouths the embedded lip-sync re-uses: once per video, for every
        target language."""
        track_ref = call(track_faces, video=video_ref, audio=audio_ref, config=TrackFacesConfig(face=options.face))
        wants_library = (options.lipsync.backend == "embedded" and options.lipsync.embedded.mode != "warp"
                         and track_ref.meta["face_coverage"] > 0)
        library_ref = (call(mouth_library, video=video_ref, track=track_ref, config=options.lipsync.embedded.library)
                       if wants_library else None)
        return track_ref, library_ref

    # The render needs both branches, and they share the cores at one priority. Making the face
    # work 10 nicer helped while ASR decoded with two beams and was the longer branch (first dub
    # 29.5 -> 26.5 s); with greedy ASR the face work is the longer one once it yields, and the dub
    # took 1.5 s longer that way (bench/results/low_priority.md).
    (segments_ref, first_speech), (track_ref, library_ref) = log.together(words, picture)
    if track_ref.meta["face_coverage"] == 0:
        get_run_logger().warning("no face was found in %s: the output keeps the original picture, only "
                                 "the audio is dubbed", request.video)

    paths = output_paths(output, request.targets)
    source_srt = subtitle_path(output, source)
    _write_text(source_srt, to_srt(load_segments(store, segments_ref)))

    outputs = []
    for k, target in enumerate(request.targets):
        translated, clips, dub_audio = first_speech if k == 0 else speech(target, segments_ref)
        mixing = lambda: call(mix, target, dub=dub_audio, segments=segments_ref, video=video_ref,  # noqa: E731
                              config=options.mix, original=soundtrack_ref, speech=audio_ref,
                              voice_regions=segments_ref.meta.get("speech_regions"))
        # --- end issue 8
        rendering = lambda: (call(lipsync, target, video=video_ref, track=track_ref, dub=dub_audio,  # noqa: E731
                                  speech=clips, config=options.lipsync, library=library_ref)
                             if track_ref.meta["face_coverage"] > 0 else video_ref)
        # The mix (one thread) runs beside the lip-sync render, except for long videos: it holds
        # programme-length tracks (~1.3 MB per second of 48 kHz stereo at its peak), and beside
        # the render of a 10-minute 1080p video the two would need more than 2 GB together.
        if float(video_ref.meta.get("duration") or 0.0) <= OVERLAP_MIX_UP_TO_S:
            mixed, frames = log.together(mixing, rendering)
        else:
            mixed, frames = mixing(), rendering()
        evaluating = options.evaluate and track_ref.meta["face_coverage"] > 0

        def measure() -> ArtifactRef:
            # The lip-synced frames are the output's picture: mux copies their packets as they are,
            # so they are measured while mux runs. Measured: the output's lips against the dub, and
            # its frames against the input's. The frame checks need no track of the output: they
            # run beside its tracking, which leaves part of a core idle (~1 s of a 30-s dub).
            measured = frames.model_copy(update={"meta": {**frames.meta, "source": str(paths[target]),
                                                          **media.probe(store.local_path(frames)).model_dump()}})
            config = EvaluateConfig(audio_label="dub")
            out_track, images = log.together(
                lambda: call(track_faces, target, video=measured, audio=dub_audio,
                             config=TrackFacesConfig.for_measuring(options.face, track_ref.meta.get("speaker"))),
                lambda: call(check_images_stage, target, video=measured, input_video=video_ref, input_track=track_ref,
                             config=config))
            return call(evaluate_stage, target, video=measured, track=out_track, audio=dub_audio, config=config,
                        images=images)

        final, evaluation = log.together(
            lambda: call(mux, target, frames=frames, dub=mixed, config=options.mux),  # issue 8: the mix, not the bare dub
            measure if evaluating else lambda: None)
        video_out = export_file(store, final, paths[target])
        timeline = (str(export_file(store, ArtifactRef.model_validate(mixed.meta["timeline"]),
                                    subtitle_path(output, target).with_suffix(".timeline.png")))
                    if mixed.meta.get("timeline") else None)  # issue 8
        srt_out = subtitle_path(output, target)
        _write_text(srt_out, to_srt(load_segments(store, translated)))
        fitted = {t["index"]: t for t in dub_audio.meta.get("timing") or []}
        source_texts = [seg.text for seg in load_segments(store, segments_ref)]
        rows = [{"start": round(seg.start, 2), "end": round(seg.end, 2),
                 "source": source_texts[i] if i < len(source_texts) else "", "target": seg.text,
                 "speed": fitted.get(i, {}).get("speed"), "dub_start": fitted.get(i, {}).get("dub_start"),
                 # issue 8: the rest of the timing report
                 **{k: fitted.get(i, {}).get(k) for k in ("dub_end", "shift_s", "moved", "overlap_s",
                                                          "truncated_s", "rate_factor")}}
                for i, seg in enumerate(load_segments(store, translated))]
        report, metrics = None, {}
        if evaluation is not None:
            html = ArtifactRef.model_validate(evaluation.meta["html"])
            report = str(export_file(store, html, subtitle_path(output, target).with_suffix(".report.html")))
            metrics = evaluation.meta["summary"]
        outputs.append(DubOutput(language=target, video=str(video_out), subtitles=str(srt_out), artifact=final,
                                 segments=rows, report=report, metrics=metrics, evaluation=evaluation,
                                 timeline=timeline, audio={"loudness": mixed.meta.get("loudness"),  # issue 8
                                                           "voice": dub_audio.meta.get("voice")}))

    return DubResult(source_subtitles=str(source_srt), face_track=track_ref, outputs=outputs, stages=log.table(), summary=log.render())


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _num(value) -> str:
    return "" if value is None else f"{value:.2f}"


def _audio_lines(out: DubOutput) -> list[str]:
    """issue 8: the timeline picture, the mix's loudness and how the voice was matched."""
    lines = [f"- timeline: [{out.timeline}](file://{out.timeline})"] if out.timeline else []
    loud, voice = out.audio.get("loudness") or {}, out.audio.get("voice") or {}
    if loud:
        lines.append(f"- soundtrack: {loud.get('lufs')} LUFS, true peak {loud.get('true_peak_dbtp')} dBTP, "
                     f"original {loud.get('original')}" + (f" by {loud['duck_db']} dB" if loud.get("duck_db") else ""))
    if voice.get("source_f0_hz"):
        lines.append(f"- voice: speaker median F0 {_num(voice['source_f0_hz'])} Hz, dub {_num(voice.get('dub_f0_hz'))} Hz "
                     f"(espeak-ng variant {voice.get('voice_variant') or 'default'}, pitch {voice.get('pitch')}, "
                     f"shift ×{_num(voice.get('pitch_shift'))})")
    return lines


def summary_markdown(request: DubRequest, result: DubResult) -> str:
    """What a person checks after a dub: outputs, transcript against translation with the timing
    of each segment, and which stages ran."""
    lines = [f"# Dub of `{Path(request.video).name}` ({request.source} -> {', '.join(request.targets)})", ""]
    for out in result.outputs:
        lines += [f"## {out.language}", "", f"- video: [{out.video}](file://{out.video})",
                  f"- subtitles: [{out.subtitles}](file://{out.subtitles})"]
        if out.report:
            m = out.metrics
            lines += [f"- lip-sync report: [{out.report}](file://{out.report})",
                      f"- sync {m.get('sync')}, offset {m.get('offset')} frames, confidence {m.get('confidence')}, "
                      f"mouth closed in {m.get('closed_in_silence')} of silences, "
                      f"PSNR outside the mouth {m.get('psnr_outside_mouth')} dB"]
        lines += _audio_lines(out)  # issue 8
        lines += ["",
                  "| start | end | source | translation | speed | dub start | shift | overlap | rate |",
                  "|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['start']} | {r['end']} | {_cell(r['source'])} | {_cell(r['target'])} | "
                  f"{_num(r.get('speed'))} | {_num(r.get('dub_start'))} | "
                  f"{_num(r.get('shift_s'))}{' (moved)' if r.get('moved') else ''} | {_num(r.get('overlap_s'))}"
                  f"{' cut ' + _num(r['truncated_s']) if r.get('truncated_s') else ''} | {_num(r.get('rate_factor'))} |"
                  for r in out.segments]
        lines.append("")
    lines += ["## Stages", "", "| stage | for | result | seconds |", "|---|---|---|---|"]
    lines += [f"| {r['stage']} | {r['for']} | {'cached' if r['cached'] else r['state']} | {r['seconds']} |"
              for r in result.stages]
    return "\n".join(lines)


def publish_summary(request: DubRequest, result: DubResult, key: str = "dub-summary") -> None:
    """The run summary as a Prefect markdown artifact, for the UI."""
    create_markdown_artifact(key=re.sub(r"[^a-z0-9-]+", "-", key.lower()).strip("-") or "dub-summary",
                             markdown=summary_markdown(request, result),
                             description=f"Dub of {Path(request.video).name}")


@flow(name="dub", log_prints=True)
def dub(video: str, source: str, targets: list[str], output: str, store_url: str | None = None,
        transcript: str | None = None, translations: dict[str, str] | None = None,
        options: DubOptions | None = None, refresh: bool = False,
        refresh_stages: list[str] | None = None) -> DubResult:
    """Dub one video. ``transcript``: a source-language .srt/.vtt replacing recognition;
    ``translations``: target language -> .srt replacing machine translation for that language;
    ``refresh_stages``: stages to recompute (with everything downstream) although cached."""
    request = DubRequest(video=video, source=source, targets=targets, output=output, transcript=transcript,
                         translations=translations or {}, options=options or DubOptions())
    refresh_set = set(DOWNSTREAM) if refresh else with_downstream(refresh_stages or [])
    result = run_dub(request, ArtifactStore(store_url), RunLog(), refresh_set)
    publish_summary(request, result)
    return result


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def dump_result(result: DubResult) -> str:
    return json.dumps(result.model_dump(mode="json"), indent=1, ensure_ascii=False)
