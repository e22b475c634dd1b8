"""The dataset flow: many items, failures isolated and reported, reruns computing only what they must."""

from __future__ import annotations

import pandas as pd
import pytest

from flows.batch import dub_dataset, failed_items, task_runner
from lipsync_sts.demo import build_sample_video
from lipsync_sts.errors import UserInputError
from lipsync_sts.manifest import read_manifest


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Two short Hindi clips and one corrupt file, listed in a CSV manifest."""
    root = tmp_path_factory.mktemp("dataset")
    build_sample_video(root / "greeting.mp4", text="नमस्ते।")
    build_sample_video(root / "weather.mp4", text="आज मौसम अच्छा है।")
    (root / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video" * 50)
    pd.DataFrame({"id": ["greeting", "weather", "broken"],
                  "video": ["greeting.mp4", "weather.mp4", "broken.mp4"],
                  "source": ["hi", "hi", "hi"], "targets": ["ur", "ur", "ur"]}).to_csv(root / "manifest.csv", index=False)
    return root


def by_id(rows):
    return {r.id: r for r in rows}


def test_a_broken_item_is_reported_and_the_others_finish_then_rerun_computes_nothing(prefect_api, dataset, tmp_path):
    store, out = str(tmp_path / "store"), tmp_path / "out"
    first = by_id(dub_dataset(str(dataset / "manifest.csv"), str(out), store_url=store))
    assert first["greeting"].status == first["weather"].status == "ok"
    assert (out / "greeting.ur.mp4").exists() and (out / "weather.ur.srt").exists()
    assert first["broken"].status == "failed" and first["broken"].failed_stage == "ingest"
    assert "broken.mp4" in first["broken"].error

    table = pd.read_csv(out / "results.csv")
    assert set(table["status"]) == {"ok", "failed"} and len(table) == 3
    assert (out / "results.parquet").exists()
    assert failed_items(out) == ["broken:ur"]

    second = by_id(dub_dataset(str(dataset / "manifest.csv"), str(out), store_url=store))
    assert second["greeting"].stages_run == second["weather"].stages_run == 0

    # Rerun one stage of one item: exactly its lip-sync and mux are recomputed.
    from flows.dub import with_downstream

    rerun = by_id(dub_dataset(str(dataset / "manifest.csv"), str(out), store_url=store, only=["weather"],
                              refresh_stages=["lipsync"]))
    # The output's evaluation is a cache hit: the re-encoded frames come out byte-identical.
    assert set(rerun) == {"weather"} and rerun["weather"].stages_run == 2
    assert with_downstream(["lipsync"]) == {"lipsync", "mux"}
    assert len(pd.read_csv(out / "results.csv")) == 3, "a partial rerun keeps the other rows of the table"


def test_manifest_paths_cannot_escape_the_allowed_folders(tmp_path):
    (tmp_path / "m").mkdir()
    pd.DataFrame({"video": ["../secret.mp4"], "source": ["hi"], "targets": ["ur"]}).to_csv(tmp_path / "m" / "a.csv", index=False)
    with pytest.raises(UserInputError, match="outside the allowed folders"):
        read_manifest(tmp_path / "m" / "a.csv")
    assert read_manifest(tmp_path / "m" / "a.csv", roots=[tmp_path])[0].video == str(tmp_path / "secret.mp4")


def test_a_row_expands_to_one_item_per_target_with_its_own_translation(tmp_path):
    pd.DataFrame({"video": ["v.mp4"], "source": ["hi"], "targets": ["ur ta"],
                  "translation_ta": ["v.ta.srt"]}).to_csv(tmp_path / "m.csv", index=False)
    items = read_manifest(tmp_path / "m.csv")
    assert [(i.id, i.target) for i in items] == [("v", "ur"), ("v", "ta")]
    assert items[0].translation is None and items[1].translation == str(tmp_path / "v.ta.srt")


def test_parquet_manifests_and_run_level_languages(tmp_path):
    pd.DataFrame({"video": ["a.mp4", "b.mp4"]}).to_parquet(tmp_path / "m.parquet")
    items = read_manifest(tmp_path / "m.parquet", source="hi", targets=["ur"])
    assert [(i.id, i.source, i.target) for i in items] == [("a", "hi", "ur"), ("b", "hi", "ur")]


def test_items_run_in_parallel_on_a_dask_local_cluster(prefect_api, dataset, tmp_path):
    flow_on_dask = dub_dataset.with_options(task_runner=task_runner("dask", workers=2))
    rows = by_id(flow_on_dask(str(dataset / "manifest.csv"), str(tmp_path / "out"), store_url=str(tmp_path / "store")))
    assert rows["greeting"].status == rows["weather"].status == "ok"
    assert rows["broken"].status == "failed"
