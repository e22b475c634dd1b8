"""The training flow for the Wav2Lip-compatible lip-sync GAN.

folder of talking-face videos ──ingest──► preprocess_lipsync (face crops + mel; cached per video)
  └─ split by video into train / eval ──► train expert SyncNet (or take lipsync_expert.pth)
                                          └─► train the generator against the frozen expert

Checkpoints go into the store (content-addressed, public layout, so the public code loads them
too). A run is named by what decides its result (stage, config, the clips' sha256, the starting
weights); ``training/<run>/<stage>.json`` points at its latest checkpoint, so a killed run started
again with the same inputs continues from its last checkpoint instead of step 0, and one that
finished returns at once. Metrics are published as Prefect table artifacts (and to TensorBoard
when it is installed and a log folder is given).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import uuid
from pathlib import Path
from typing import Any, Callable

import torch
from prefect import flow, get_run_logger, task
from pydantic import BaseModel, Field

from lipsync_sts.cache import RunLog
from lipsync_sts.store import ArtifactRef, ArtifactStore
from models.wav2lip.checkpoint import read_checkpoint
from models.wav2lip.syncnet import SyncNet_color
from models.wav2lip.train import Progress, TrainConfig, train_expert, train_generator
from tasks.ingest import SourceFile, ingest
from tasks.preprocess_lipsync import PreprocessConfig, find_videos, load_clip, preprocess_lipsync


class TrainLipSyncOptions(BaseModel):
    preprocess: PreprocessConfig = Field(default_factory=PreprocessConfig)
    expert: TrainConfig = Field(default_factory=lambda: TrainConfig(steps=20000))
    generator: TrainConfig = Field(default_factory=lambda: TrainConfig(steps=50000))
    eval_fraction: float = Field(0.1, ge=0.0, lt=1.0, description="share of the videos held out for evaluation "
                                 "(none with one video: it then evaluates on its training clip)")
    expert_checkpoint: str | None = Field(None, description="a trained expert (lipsync_expert.pth): skips expert training")
    init_checkpoint: str | None = Field(None, description="generator weights to fine-tune (wav2lip.pth / wav2lip_gan.pth)")
    tensorboard_dir: str | None = None


class TrainLipSyncResult(BaseModel):
    expert: ArtifactRef
    generator: ArtifactRef
    clips: list[ArtifactRef]
    metrics: list[dict[str, Any]]


def run_key(stage: str, config: BaseModel, clips: list[ArtifactRef], start: str | None) -> str:
    payload = json.dumps({"stage": stage, "config": config.model_dump(mode="json"), "clips": sorted(c.sha256 for c in clips),
                          "start": start}, sort_keys=True)
    return f"{stage}-{hashlib.sha256(payload.encode()).hexdigest()[:24]}"


def _pointer(store: ArtifactStore, key: str) -> str:
    return store._path("training", f"{key}.json")


def latest_checkpoint(store: ArtifactStore, key: str) -> ArtifactRef | None:
    try:
        with store.fs.open(_pointer(store, key), "r") as f:
            ref = ArtifactRef(**json.load(f))
    except FileNotFoundError:
        return None
    return ref if store.exists(ref) else None


def save_checkpoint_ref(store: ArtifactStore, key: str, state: dict[str, Any]) -> ArtifactRef:
    """Checkpoint into the store, then the run's pointer moved to it (atomically: written under a
    temporary name and renamed), so an interruption leaves the previous checkpoint in force."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "checkpoint.pth"
        torch.save(state, path)
        ref = store.put_file(path, kind="wav2lip-checkpoint", meta={"step": int(state["global_step"]), "run": key})
    store.fs.makedirs(store._path("training"), exist_ok=True)
    tmp_pointer = store._path("tmp", f"{uuid.uuid4().hex}.json")
    with store.fs.open(tmp_pointer, "w") as f:
        f.write(ref.model_dump_json())
    store.fs.mv(tmp_pointer, _pointer(store, key))
    return ref


def resumable(store: ArtifactStore, key: str, train: Callable[..., dict[str, Any]], steps: int,
              on_metrics: Callable[[dict[str, Any]], None] = lambda row: None) -> tuple[ArtifactRef, list[dict]]:
    """Run ``train(resume=..., progress=...)`` from the run's latest checkpoint; a finished run
    returns its final checkpoint without training."""
    latest = latest_checkpoint(store, key)
    resume = read_checkpoint(store.local_path(latest)) if latest is not None else None
    if latest is not None and int(latest.meta.get("step", 0)) >= steps:
        return latest, []
    saved: list[ArtifactRef] = []
    progress = Progress(on_metrics=on_metrics, on_checkpoint=lambda state: saved.append(save_checkpoint_ref(store, key, state)))
    state = train(resume=resume, progress=progress)
    ref = saved[-1] if saved and saved[-1].meta["step"] == state["global_step"] else save_checkpoint_ref(store, key, state)
    return ref, progress.history


def _publisher(key: str, tensorboard_dir: str | None) -> Callable[[dict[str, Any]], None]:
    from prefect.artifacts import create_table_artifact

    rows: list[dict[str, Any]] = []
    writer = None
    if tensorboard_dir:
        try:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(Path(tensorboard_dir) / key))
        except ImportError:
            get_run_logger().warning("tensorboard is not installed; metrics go to Prefect artifacts only")

    def publish(row: dict[str, Any]) -> None:
        rows.append(row)
        create_table_artifact(key=key.lower()[:60], table=rows[-200:], description=f"{key}: metrics per evaluation")
        get_run_logger().info("%s", {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()})
        if writer is not None:
            for name, value in row.items():
                if isinstance(value, (int, float)) and name != "step":
                    writer.add_scalar(name, value, row["step"])
            writer.flush()

    return publish


@task(name="train_expert")
def train_expert_task(store_url: str, train_clips: list[ArtifactRef], eval_clips: list[ArtifactRef],
                      config: TrainConfig, tensorboard_dir: str | None = None) -> tuple[ArtifactRef, list[dict]]:
    store = ArtifactStore(store_url)
    train, evaluate = [load_clip(store, c) for c in train_clips], [load_clip(store, c) for c in eval_clips]
    key = run_key("expert", config, train_clips + eval_clips, None)
    return resumable(store, key, lambda **kw: train_expert(train, evaluate, config, **kw), config.steps,
                     _publisher(key, tensorboard_dir))


@task(name="train_generator")
def train_generator_task(store_url: str, train_clips: list[ArtifactRef], eval_clips: list[ArtifactRef],
                         expert: ArtifactRef, config: TrainConfig, init: ArtifactRef | None = None,
                         tensorboard_dir: str | None = None) -> tuple[ArtifactRef, list[dict]]:
    store = ArtifactStore(store_url)
    train, evaluate = [load_clip(store, c) for c in train_clips], [load_clip(store, c) for c in eval_clips]
    syncnet = SyncNet_color()
    syncnet.load_state_dict(read_checkpoint(store.local_path(expert))["state_dict"])
    init_state = read_checkpoint(store.local_path(init))["state_dict"] if init is not None else None
    key = run_key("generator", config, train_clips + eval_clips, f"{expert.sha256}:{init.sha256 if init else ''}")
    return resumable(store, key, lambda **kw: train_generator(train, evaluate, syncnet, config, init=init_state, **kw),
                     config.steps, _publisher(key, tensorboard_dir))


def split(clips: list[ArtifactRef], eval_fraction: float) -> tuple[list[ArtifactRef], list[ArtifactRef]]:
    """Held-out videos chosen by content hash: stable across runs and machines."""
    if len(clips) < 2 or eval_fraction == 0:
        return clips, clips
    ordered = sorted(clips, key=lambda c: c.sha256)
    n_eval = max(1, round(eval_fraction * len(clips)))
    return ordered[n_eval:], ordered[:n_eval]


@flow(name="train-lipsync", log_prints=True)
def train_lipsync(data_dir: str, store_url: str | None = None,
                  options: TrainLipSyncOptions = TrainLipSyncOptions()) -> TrainLipSyncResult:
    """Preprocess every video under ``data_dir`` and train the expert, then the generator."""
    from models.wav2lip.checkpoint import load_model

    store = ArtifactStore(store_url)
    log = RunLog()

    def call(stage_task, label: str = "", **inputs):
        return log.run(stage_task, store, label, **inputs)

    clips = []
    for path in find_videos(data_dir):
        video = call(ingest, path.name, source=SourceFile.of(path))
        clips.append(call(preprocess_lipsync, path.name, video=video, config=options.preprocess))
    train_clips, eval_clips = split(clips, options.eval_fraction)

    if options.expert_checkpoint:
        load_model(options.expert_checkpoint, "syncnet")  # a clear error now if it is not an expert
        expert, expert_rows = store.put_file(options.expert_checkpoint, kind="wav2lip-checkpoint"), []
    else:
        expert, expert_rows = train_expert_task(store.url, train_clips, eval_clips, options.expert, options.tensorboard_dir)
    init = None
    if options.init_checkpoint:
        load_model(options.init_checkpoint, "wav2lip")
        init = store.put_file(options.init_checkpoint, kind="wav2lip-checkpoint")
    generator, gen_rows = train_generator_task(store.url, train_clips, eval_clips, expert, options.generator, init,
                                               options.tensorboard_dir)
    print(f"expert checkpoint: {expert.uri}\ngenerator checkpoint: {generator.uri}")
    return TrainLipSyncResult(expert=expert, generator=generator, clips=clips, metrics=expert_rows + gen_rows)
