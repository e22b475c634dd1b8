"""`lipsync-sts`: the command line.

Bad input ends with one line on stderr naming the input and what to do, and exit status 2;
`--debug` shows the traceback as well.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import lipsync_sts  # noqa: E402,F401 - sets the quiet-logging environment first
from lipsync_sts import prefect_api


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lipsync-sts", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    dub = sub.add_parser("dub", help="translate a talking-head video and re-sync the lips")
    dub.add_argument("input", help="video file")
    dub.add_argument("--from", dest="source", required=True, help="language spoken in the video (e.g. hi)")
    dub.add_argument("--to", dest="targets", action="append", required=True,
                     help="target language; repeat for several (outputs are then named OUT.<lang>.mp4)")
    dub.add_argument("--output", "-o", help="output video (default: <input>.dub.mp4 in the current folder)")
    dub.add_argument("--store", help="artifact store: a folder or fsspec URL "
                                     "(default: $LIPSYNC_STS_STORE or ./artifacts)")
    dub.add_argument("--transcript", help="source-language .srt/.vtt to use instead of speech recognition")
    dub.add_argument("--translation", action="append", default=[], metavar="LANG=FILE",
                     help="target-language .srt to use instead of machine translation (repeatable)")
    dub.add_argument("--refresh", action="store_true", help="recompute every stage, ignoring the cache")
    dub.add_argument("--json", action="store_true", help="print the result as JSON")
    dub.add_argument("--face", default="auto",
                     help="whose lips to sync when several faces show: auto (the one whose mouth follows "
                          "the speech), an index counted left to right, or a point x,y in fractions of the picture")
    dub.add_argument("--lipsync", choices=["embedded", "wav2lip"], default="embedded",
                     help="lip-sync backend: embedded (no weights, the default) or wav2lip (needs --checkpoint)")
    dub.add_argument("--checkpoint", metavar="PATH", help="Wav2Lip generator weights for --lipsync wav2lip "
                                                          "(wav2lip.pth, wav2lip_gan.pth or one from train-lipsync)")
    dub.add_argument("--shapes-from", choices=["audio", "speaker", "phonemes", "envelope"], default="audio",
                     help="what drives the embedded backend's mouth shapes: the dub's audio (default), the speaker's "
                          "own sound-to-lips mapping fitted on the video, the TTS phonemes, or loudness alone")
    # --- speech backends (issue 7) ---
    dub.add_argument("--asr", choices=["faster-whisper", "transformers"], default="faster-whisper",
                     help="speech recognition backend (default: faster-whisper with the embedded whisper-base)")
    dub.add_argument("--asr-model", metavar="DIR|NAME", help="ASR model: a CTranslate2 folder for faster-whisper; a "
                                                            "Whisper/CTC folder, hub id or `models` name for transformers")
    dub.add_argument("--mt", choices=["apertium", "transformers"], default=None,
                     help="translation backend (default: apertium, or transformers when --mt-model is given)")
    dub.add_argument("--mt-model", metavar="DIR|NAME", help="IndicTrans2 / NLLB-200 / M2M100 / MarianMT folder, hub id "
                                                           "or `models` name")
    dub.add_argument("--tts", choices=["espeak-ng", "festival", "vits", "gtts"], default="espeak-ng",
                     help="speech synthesis backend (default: espeak-ng; gtts needs the internet)")
    dub.add_argument("--tts-model", metavar="DIR|NAME", help="VITS/MMS-TTS folder or hub id for --tts vits")
    dub.add_argument("--preview", metavar="STRIP.png",
                     help="also write a strip: input | output lower faces and mouth opening against the dub")
    dub.add_argument("--no-evaluate", dest="evaluate", action="store_false",
                     help="skip measuring each output's lip sync (OUT.<lang>.report.html): about a fifth of a dub's time")
    dub.add_argument("--debug-faces", metavar="FILE", help="also draw the face track: FILE.png (a strip of "
                                                             "sampled frames) or FILE.mp4 (every frame)")

    for name, help_text in (("batch", "dub every (video, language) of a CSV/Parquet manifest"),
                            ("rerun", "recompute failed items, or a named stage and what follows it")):
        batch = sub.add_parser(name, help=help_text)
        batch.add_argument("manifest", help="CSV or Parquet, a path or an fsspec URL (s3://bucket/set.csv): video, "
                                            "source, targets, [id, transcript, translation_<lang>, options]")
        batch.add_argument("--output-dir", default="dubbed", help="where outputs and results.csv go (default: dubbed/)")
        batch.add_argument("--from", dest="source", help="source language for rows without one")
        batch.add_argument("--to", dest="targets", action="append", help="target language(s) for rows without any")
        batch.add_argument("--store", help="artifact store: a folder or fsspec URL (s3://bucket/prefix)")
        batch.add_argument("--root", dest="roots", action="append",
                           help="folder manifest paths may point into (default: the manifest's folder)")
        batch.add_argument("--task-runner", choices=["thread", "dask"], default="thread",
                           help="run items in Prefect's thread pool or on Dask (default: thread)")
        batch.add_argument("--dask-address", help="an existing Dask scheduler (default: a LocalCluster)")
        batch.add_argument("--workers", type=int, help="parallel items (default: 1 thread, or 2 Dask workers)")
        if name == "rerun":
            batch.add_argument("--stage", help="recompute this stage and everything after it "
                                               "(default: recompute only what failed)")
            batch.add_argument("--video", dest="ids", action="append", help="item id(s) to rerun (default: all)")

    evaluate = sub.add_parser("evaluate", help="measure how well the lips follow the speech (sync score, "
                                               "SyncNet LSE with --syncnet), with an HTML report")
    evaluate.add_argument("input", help="video file")
    evaluate.add_argument("--audio", help="score the lips against this audio (or video) file instead of the video's own track")
    evaluate.add_argument("--json", action="store_true", help="print the measures as JSON")
    evaluate.add_argument("--html", metavar="OUT.html", help="write the report (plots and table) to this file")
    evaluate.add_argument("--syncnet", metavar="PATH", help="syncnet_v2.model, for LSE-D/LSE-C")
    evaluate.add_argument("--reference", metavar="REAL.mp4",
                          help="the real video of the same frames (e.g. the input of a lip-sync of a clip to its "
                               "own audio): also measure lip shape against it (LMD, opening/width correlation, "
                               "closed-lip recall, pop)")
    evaluate.add_argument("--store", help="artifact store (default: $LIPSYNC_STS_STORE or ./artifacts)")

    sync = sub.add_parser("lipsync", help="re-sync a video's lips to a speech track you already have")
    sync.add_argument("input", help="video file")
    sync.add_argument("audio", help="speech: any audio file, or a video whose soundtrack is used")
    sync.add_argument("--output", "-o", required=True, help="output video")
    sync.add_argument("--longer", choices=["loop", "hold", "trim"], default="loop",
                      help="a track longer than the video: play the video again (loop), hold its last "
                           "frame (hold), or cut the track (trim); a shorter track is padded with silence")
    sync.add_argument("--lipsync", choices=["embedded", "wav2lip"], default="embedded", help="lip-sync backend")
    sync.add_argument("--checkpoint", metavar="PATH", help="Wav2Lip generator weights for --lipsync wav2lip")
    sync.add_argument("--face", default="auto", help="whose lips, when several faces show (see dub --face)")
    sync.add_argument("--mouth-library", metavar="VIDEO",
                      help="another recording of the same person to take mouth appearance from (embedded backend)")
    sync.add_argument("--shapes-from", choices=["speaker", "audio", "envelope"], default="speaker",
                      help="what drives the embedded backend's mouth shapes: the speaker's own sound-to-lips mapping "
                           "fitted on their recording (the mouth library, else the video; the default), heuristics "
                           "on the audio, or loudness alone")
    sync.add_argument("--store", help="artifact store (default: $LIPSYNC_STS_STORE or ./artifacts)")
    sync.add_argument("--refresh", action="store_true", help="recompute every stage, ignoring the cache")

    # --- speech backends (issue 7) ---
    sub.add_parser("languages", help="the languages and which ASR / MT / TTS backends can run for each here")
    models = sub.add_parser("models", help="list the speech models found; `models fetch NAME` downloads one "
                                           "(needs the internet)")
    models.add_argument("action", nargs="?", choices=["list", "fetch"], default="list")
    models.add_argument("name", nargs="?", help="model to fetch: a name from the list or a hub id")

    demo = sub.add_parser("demo", help="build a sample talking-head clip and dub it hi -> ur")
    demo.add_argument("--output-dir", default="demo", help="where the sample and its dub go (default: demo/)")
    demo.add_argument("--store", help="artifact store (default: $LIPSYNC_STS_STORE or ./artifacts)")
    return parser


def run_dub(args: argparse.Namespace) -> int:
    from lipsync_sts.errors import UserInputError
    from lipsync_sts.validation import validate_request

    output = args.output or f"{Path(args.input).stem}.dub.mp4"
    translations = {}
    for item in args.translation:
        language, sep, path = item.partition("=")
        if not sep or not path:
            raise UserInputError(f"--translation {item!r} must look like LANG=FILE.srt, e.g. --translation ta=talk.ta.srt")
        translations[language.strip()] = path
    validate_request(args.input, args.source, args.targets, output)
    from lipsync_sts import media

    from lipsync_sts.segments import read_srt
    from lipsync_sts.validation import check_limits

    from lipsync_sts.remote import is_remote

    for subtitles in [args.transcript, *translations.values()]:
        if subtitles:
            read_srt(subtitles)  # an unreadable or empty subtitle file fails here, naming the file
    if is_remote(args.input):  # s3://...: the ingest stage fetches, probes and checks it
        if args.preview or args.debug_faces:
            raise UserInputError(f"--preview and --debug-faces need a local input, not {args.input}; "
                                 "copy it here first or leave them out")
    else:
        info = media.probe(args.input)  # a corrupt or non-video input fails here, before any flow run
        check_limits(args.input, info.duration)
        if not info.has_audio and not args.transcript:
            raise UserInputError(f"input {args.input} has no audio track; give a video with speech, "
                                 "or pass --transcript FILE.srt")
    prefect_api.start_early()  # comes up while the pipeline is imported
    from flows.dub import dub, dump_result

    from flows.dub import DubOptions
    from models.face import FaceTrackConfig

    if args.preview and not args.evaluate:
        raise UserInputError("--preview draws the output's measured lips: drop --no-evaluate to use it")
    # --debug-faces draws the detector's score per frame (drift shows as a weak frame): only then is it computed.
    face = FaceTrackConfig(face=args.face, score_with_detector=bool(args.debug_faces))
    options = DubOptions(face=face, lipsync=lipsync_config(args), evaluate=args.evaluate,
                         **_speech_options(args))  # issue 7: speech backends
    with prefect_api.serving():
        result = dub(video=args.input, source=args.source, targets=args.targets, output=output,
                     store_url=args.store, transcript=args.transcript, translations=translations,
                     options=options, refresh=args.refresh)
    if args.preview:
        from lipsync_sts.preview import write_dub_preview
        from lipsync_sts.store import ArtifactStore

        first = result.outputs[0]
        if first.evaluation is None:
            print("no preview: no face was found, so the picture was not changed")
        else:
            print(f"preview: {write_dub_preview(ArtifactStore(args.store), args.input, first.video, result.face_track, first.evaluation, args.preview)}")
    if args.debug_faces:
        from lipsync_sts.store import ArtifactStore
        from models.face import FaceTrack, render_debug

        track = FaceTrack.load(ArtifactStore(args.store).local_path(result.face_track))
        print(f"face track drawn: {render_debug(args.input, track, args.debug_faces)}")
    if args.json:
        print(dump_result(result))
    else:
        print(result.summary)
        print(f"subtitles ({args.source}): {result.source_subtitles}")
        for out in result.outputs:
            print(f"dubbed ({out.language}): {out.video}\nsubtitles ({out.language}): {out.subtitles}")
    return 0


def _speech_options(args: argparse.Namespace) -> dict:
    """issue 7: the dub's ASR / MT / TTS backend choices as DubOptions fields."""
    from models.asr import AsrConfig
    from models.mt import MtConfig
    from models.tts import TtsConfig

    def local(model):  # a folder given relative to the current directory must survive the flow's cwd
        return str(Path(model).resolve()) if model and Path(model).exists() else model

    asr = AsrConfig(backend=args.asr, model=local(args.asr_model) or "embedded")
    mt = MtConfig(backend=args.mt or ("transformers" if args.mt_model else "apertium"), model=local(args.mt_model))
    tts = TtsConfig(backend=args.tts, model=local(args.tts_model))
    return {"asr": asr, "mt": mt, "tts": tts}


def run_languages(args: argparse.Namespace) -> int:
    from lipsync_sts.speech_support import language_table, render_table

    print(render_table(language_table()))
    return 0


def run_models(args: argparse.Namespace) -> int:
    from lipsync_sts.errors import UserInputError
    from lipsync_sts.model_registry import KNOWN_MODELS, fetch, local_models, models_dir

    if args.action == "fetch":
        if not args.name:
            raise UserInputError(f"`models fetch` needs a NAME: one of {', '.join(KNOWN_MODELS)} or a hub id")
        print(f"fetched into {fetch(args.name)}")
        return 0
    from models.asr.embedded_whisper import MODEL_BYTES, cache_root

    joined = cache_root() / "models" / "whisper-base-ct2" / "model.bin"
    state = "joined" if joined.is_file() and joined.stat().st_size == MODEL_BYTES else "joined on first use"
    print(f"embedded: whisper-base (faster-whisper, {state}); apertium hin<->urd; espeak-ng voices")
    found = local_models()
    print(f"in {models_dir()}: " + ("none" if not found else ""))
    for m in found:
        print(f"  {m['name']:<36} {m['kind']:<4} {m['family']:<12} {m['architecture']}")
    have = {m["name"] for m in found}
    print("fetchable with `lipsync-sts models fetch NAME` on a connected machine:")
    for m in KNOWN_MODELS.values():
        if m.name not in have:
            print(f"  {m.name:<36} {m.kind:<4} {m.family:<12} {m.hub_id} - {m.note}")
    return 0


def run_batch(args: argparse.Namespace) -> int:
    from flows.batch import dub_dataset, failed_items, results_path, task_runner

    only, refresh = None, None
    if args.command == "rerun":
        if args.stage:
            refresh = [args.stage]
            only = args.ids
            if args.targets and args.ids:
                only = [f"{i}:{t}" for i in args.ids for t in args.targets]
        else:
            only = failed_items(args.output_dir)
            if args.ids:
                only = [key for key in only if key.split(":")[0] in set(args.ids)]
            if not only:
                print(f"nothing failed in {results_path(args.output_dir)}; nothing to rerun")
                return 0
    flow_fn = dub_dataset.with_options(task_runner=task_runner(args.task_runner, args.dask_address, args.workers))
    rows = flow_fn(manifest=args.manifest, output_dir=args.output_dir, store_url=args.store, source=args.source,
                   targets=args.targets, roots=args.roots, only=only, refresh_stages=refresh)
    for row in rows:
        state = "ok" if row.status == "ok" else f"FAILED at {row.failed_stage}: {row.error}"
        print(f"{row.id} -> {row.target}: {state} ({row.stages_run} stages run, {row.stages_cached} cached, "
              f"{row.seconds:.1f}s){' ' + row.output if row.output else ''}")
    failed = sum(r.status == "failed" for r in rows)
    print(f"{len(rows) - failed} ok, {failed} failed; results: {results_path(args.output_dir)}")
    return 1 if failed else 0


def run_evaluate(args: argparse.Namespace) -> int:
    import json
    import tempfile

    from lipsync_sts import media

    from lipsync_sts.remote import is_remote

    if not is_remote(args.input):  # s3://...: the ingest stage fetches, probes and checks it
        media.probe(args.input)  # a corrupt or non-video input fails here, before any flow run
    prefect_api.start_early()
    from flows.evaluate import evaluate_videos

    with tempfile.TemporaryDirectory() as tmp, prefect_api.serving():
        [result] = evaluate_videos(videos=[args.input], audios=[args.audio], store_url=args.store,
                                   syncnet=args.syncnet, html_dir=tmp if args.html else None,
                                   references=[args.reference])
        if args.html:
            import shutil

            Path(args.html).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(result.html, args.html)
    measures = {k: v for k, v in result.evaluation.items() if k != "series"}
    if args.json:
        print(json.dumps(measures, indent=1, ensure_ascii=False))
    else:
        s = measures["sync"]
        print(f"{Path(args.input).name} (audio: {measures['audio']}): sync {s['sync']}, offset {s['offset']} frames "
              f"({s['offset_ms']} ms), confidence {s['confidence']}, mouth closed in {s['closed_in_silence']} of silences")
        if measures.get("lse"):
            print(f"SyncNet: LSE-D {measures['lse']['lse_d']:.3f}, LSE-C {measures['lse']['lse_c']:.3f}, "
                  f"offset {measures['lse']['offset']}")
        if measures.get("reference"):
            r = measures["reference"]
            print(f"against {r['reference']}: LMD {r['lmd']} (eye distances), lip opening correlation "
                  f"{r['opening_correlation']}, mouth width correlation {r['width_correlation']}, closed-lip recall "
                  f"{r['closed_recall']} of {r['closed_frames']} closed frames, pop {r['pop']}x the real video's")
            s["notes"] = s["notes"] + r["notes"]
        for note in s["notes"]:
            print(f"note: {note}")
    if args.html:
        print(f"report: {args.html}")
    return 0


def lipsync_config(args: argparse.Namespace):
    """The lip-sync backend the options name, with its checkpoint checked before any work."""
    from lipsync_sts.errors import UserInputError
    from tasks.lipsync import LipSyncConfig

    if args.lipsync == "wav2lip" and not args.checkpoint:
        raise UserInputError("--lipsync wav2lip needs --checkpoint PATH (Wav2Lip generator weights)")
    if args.checkpoint and not Path(args.checkpoint).is_file():
        raise UserInputError(f"checkpoint {args.checkpoint} does not exist; check the --checkpoint path")
    if args.lipsync == "wav2lip":
        from models.wav2lip.checkpoint import load_model

        # A corrupt, unsafe or wrong-architecture file is refused here, before ASR and TTS have run.
        load_model(args.checkpoint, "wav2lip")
    return LipSyncConfig(backend=args.lipsync, shapes_from=getattr(args, "shapes_from", "audio"),
                         checkpoint=str(Path(args.checkpoint).resolve()) if args.checkpoint else None)


def run_lipsync(args: argparse.Namespace) -> int:
    from lipsync_sts import media

    from lipsync_sts.validation import check_limits, check_writable

    from lipsync_sts.remote import is_remote

    if not is_remote(args.input):  # s3://...: the ingest stage fetches, probes and checks it
        check_limits(args.input, media.probe(args.input).duration)
    check_writable(args.output)
    prefect_api.start_early()
    from flows.lipsync_only import LipSyncOptions, lipsync_flow
    from models.face import FaceTrackConfig
    from tasks.prepare_track import PrepareTrackConfig

    options = LipSyncOptions(face=FaceTrackConfig(face=args.face), lipsync=lipsync_config(args),
                             track=PrepareTrackConfig(longer=args.longer))
    with prefect_api.serving():
        result = lipsync_flow(video=args.input, audio=args.audio, output=args.output, store_url=args.store,
                              options=options, refresh=args.refresh, mouth_library=args.mouth_library)
    extra = (f", {result.extended_frames} frames added ({args.longer})" if result.extended_frames else "") + \
            (f", {result.trimmed_s:.2f}s of track cut" if result.trimmed_s else "")
    print(f"lip-synced: {result.video} ({result.frames} frames{extra})")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    prefect_api.start_early()
    from lipsync_sts.demo import run_demo as demo

    with prefect_api.serving():
        demo(Path(args.output_dir), args.store)
    return 0


class _NoTracebackForUserErrors(logging.Filter):
    """Prefect logs every failed task with its traceback; for bad input the message says it all."""

    def filter(self, record: logging.LogRecord) -> bool:
        from lipsync_sts.errors import UserInputError

        if record.exc_info and isinstance(record.exc_info[1], UserInputError):
            record.exc_info, record.exc_text = None, None
        return True


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from lipsync_sts.errors import UserInputError

    if not args.debug:
        for name in ("prefect.task_runs", "prefect.flow_runs"):
            logging.getLogger(name).addFilter(_NoTracebackForUserErrors())

    try:
        return {"dub": run_dub, "demo": run_demo, "batch": run_batch, "rerun": run_batch,
                "evaluate": run_evaluate, "lipsync": run_lipsync,
                "languages": run_languages, "models": run_models}[args.command](args)  # issue 7: last two
    except UserInputError as exc:
        if args.debug:
            raise
        print(f"lipsync-sts: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("lipsync-sts: interrupted; completed stages stay cached, rerun to continue", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
