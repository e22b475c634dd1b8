"""The dataset flow: every (video, target language) of a manifest, each item on its own.

A failing item does not stop the others: the flow finishes, and the results table says which
items failed, at which stage and why. Items are Prefect tasks, so a Dask task runner spreads them
over workers; the stages inside each item are the same content-cached tasks as in the dub flow,
so work shared between items (the per-video stages) is done once and a rerun computes nothing.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Literal

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from flows.dub import DOWNSTREAM, DubOptions, DubRequest, publish_summary, run_dub, with_downstream
from lipsync_sts import remote
from lipsync_sts.cache import RunLog
from lipsync_sts.errors import UserInputError
from lipsync_sts.manifest import ManifestItem, read_manifest
from lipsync_sts.store import ArtifactStore

RESULTS_NAME = "results"


class ItemResult(BaseModel):
    id: str
    target: str
    video: str
    status: Literal["ok", "failed"]
    failed_stage: str | None = None
    error: str | None = None
    output: str | None = None
    subtitles: str | None = None
    seconds: float = 0.0
    stages_run: int = 0
    stages_cached: int = 0


def item_request(item: ManifestItem, output_dir: Path) -> DubRequest:
    options = DubOptions.model_validate(item.options) if item.options else DubOptions()
    return DubRequest(video=item.video, source=item.source, targets=[item.target],
                      output=str(output_dir / f"{item.id}.{item.target}.mp4"), transcript=item.transcript,
                      translations={item.target: item.translation} if item.translation else {},
                      options=options)


def with_local_subtitles(item: ManifestItem) -> ManifestItem:
    """The item with subtitle files named by URL (a remote manifest's) fetched to local copies,
    which the dub reads like any given .srt; the video itself is fetched by the ingest stage."""
    fetched = {name: str(remote.local_copy(value)) for name in ("transcript", "translation")
               if (value := getattr(item, name)) and remote.is_remote(value)}
    return item.model_copy(update=fetched) if fetched else item


@task(name="dub-item", cache_policy=NO_CACHE, task_run_name="dub {item.id} -> {item.target}")
def dub_item(item: ManifestItem, output_dir: str, store_url: str, refresh_stages: list[str]) -> ItemResult:
    """One item, never raising: a failure becomes a row of the results table."""
    log, start = RunLog(), time.perf_counter()
    try:
        request = item_request(with_local_subtitles(item), Path(output_dir))
        result = run_dub(request, ArtifactStore(store_url), log, set(refresh_stages))
        publish_summary(request, result, key=f"dub-{item.id}-{item.target}")
    except Exception as exc:  # noqa: BLE001 - any failure of one item is reported, the rest go on
        failed = next((r.stage for r in reversed(log.runs) if r.state not in {"Completed", "Cached"}), None)
        message = str(exc) if isinstance(exc, UserInputError) else f"{type(exc).__name__}: {exc}"
        get_run_logger().error("item %s failed at %s: %s", item.key, failed or "setup", message)
        return ItemResult(id=item.id, target=item.target, video=item.video, status="failed",
                          failed_stage=failed or "setup", error=message,
                          seconds=round(time.perf_counter() - start, 2),
                          stages_run=sum(not r.cached for r in log.runs), stages_cached=sum(r.cached for r in log.runs))
    out = result.outputs[0]
    return ItemResult(id=item.id, target=item.target, video=item.video, status="ok", output=out.video,
                      subtitles=out.subtitles, seconds=round(time.perf_counter() - start, 2),
                      stages_run=sum(not s["cached"] for s in result.stages),
                      stages_cached=sum(s["cached"] for s in result.stages))


def results_path(output_dir: str | Path) -> Path:
    return Path(output_dir) / f"{RESULTS_NAME}.csv"


def write_results(rows: list[ItemResult], output_dir: Path, store: ArtifactStore, merge: bool) -> pd.DataFrame:
    """The results table of ``output_dir``; with ``merge``, rows of items not in this run are kept
    from the previous table, so a rerun of a few items keeps the dataset's full picture."""
    table = pd.DataFrame([r.model_dump() for r in rows])
    output_dir.mkdir(parents=True, exist_ok=True)
    csv_path = results_path(output_dir)
    if merge and csv_path.is_file():
        previous = pd.read_csv(csv_path, dtype={"id": str})
        keys = set(zip(table["id"], table["target"]))
        keep = previous[[(i, t) not in keys for i, t in zip(previous["id"], previous["target"])]]
        table = pd.concat([keep, table], ignore_index=True)
    tmp = csv_path.with_name(f".{csv_path.name}.part")
    table.to_csv(tmp, index=False)
    tmp.replace(csv_path)
    parquet = io.BytesIO()
    table.to_parquet(parquet, index=False)
    (output_dir / f"{RESULTS_NAME}.parquet").write_bytes(parquet.getvalue())
    store.put_bytes(csv_path.read_bytes(), kind="results-table", suffix=".csv")
    return table


@flow(name="dub-dataset", log_prints=True)
def dub_dataset(manifest: str, output_dir: str, store_url: str | None = None, source: str | None = None,
                targets: list[str] | None = None, roots: list[str] | None = None,
                only: list[str] | None = None, refresh_stages: list[str] | None = None) -> list[ItemResult]:
    """Dub every (video, target) of ``manifest`` into ``output_dir``.

    ``only``: item ids, or ``id:lang`` keys, to restrict the run to; ``refresh_stages``: stages to
    recompute (with everything downstream) for the selected items.
    """
    items = read_manifest(manifest, source, targets, roots)
    if only:
        wanted = set(only)
        items = [i for i in items if i.id in wanted or i.key in wanted]
        if not items:
            raise UserInputError(f"no manifest item matches {sorted(wanted)}")
    store = ArtifactStore(store_url)
    refresh = sorted(with_downstream(refresh_stages or []))
    futures = [dub_item.submit(item, str(Path(output_dir).resolve()), store.url, refresh) for item in items]
    rows = [f.result() for f in futures]
    table = write_results(rows, Path(output_dir), store, merge=bool(only))
    create_table_artifact(key="dub-dataset-results", table=table.fillna("").to_dict(orient="records"),
                          description=f"{len(rows)} items from {Path(manifest).name}: "
                                      f"{sum(r.status == 'ok' for r in rows)} ok, "
                                      f"{sum(r.status == 'failed' for r in rows)} failed")
    return rows


def failed_items(output_dir: str | Path) -> list[str]:
    """The ``id:lang`` keys that failed in the last run writing to ``output_dir``."""
    path = results_path(output_dir)
    if not path.is_file():
        raise UserInputError(f"no results table at {path}; run `lipsync-sts batch` with this --output-dir first")
    table = pd.read_csv(path, dtype={"id": str})
    return [f"{r.id}:{r.target}" for r in table.itertuples() if r.status == "failed"]


def task_runner(kind: str, address: str | None = None, workers: int | None = None):
    """Prefect's thread pool, or Dask (a LocalCluster, or an existing scheduler by address)."""
    if kind == "thread":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=workers or 1)
    if kind == "dask":
        from prefect_dask import DaskTaskRunner

        if address:
            return DaskTaskRunner(address=address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": workers or 2, "threads_per_worker": 1,
                                              "processes": True, "dashboard_address": None})
    raise UserInputError(f"unknown task runner {kind!r}; use thread or dask")


__all__ = ["DOWNSTREAM", "ItemResult", "dub_dataset", "failed_items", "task_runner"]
