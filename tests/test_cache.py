"""The stage cache: keys follow content and parameters, never names, paths or run ids."""

from __future__ import annotations

import pytest
from prefect import flow
from pydantic import BaseModel

from lipsync_sts.cache import RunLog, artifacts_present, bind, stage, stage_key
from lipsync_sts.store import ArtifactRef, ArtifactStore


class Gain(BaseModel):
    factor: float = 2.0


@stage("scale", version="1")
def scale(store_url: str, numbers: ArtifactRef, config: Gain) -> ArtifactRef:
    store = ArtifactStore(store_url)
    return store.put_json([x * config.factor for x in store.read_json(numbers)])


@stage("total", version="1")
def total(store_url: str, numbers: ArtifactRef) -> ArtifactRef:
    store = ArtifactStore(store_url)
    return store.put_json(sum(store.read_json(numbers)))


@flow
def two_stage_flow(store_url: str, source: list[float], factor: float) -> dict:
    store = ArtifactStore(store_url)
    log = RunLog()
    numbers = store.put_json(source)
    present = lambda result: artifacts_present(store, result)  # noqa: E731
    scaled = log.call(bind(scale, store), numbers=numbers, config=Gain(factor=factor), store_url=store.url,
                      verify=present)
    summed = log.call(bind(total, store), numbers=scaled, store_url=store.url, verify=present)
    return {"value": store.read_json(summed), "states": {r.stage: r.state for r in log.runs}}


def ref(sha: str) -> ArtifactRef:
    return ArtifactRef(uri=f"/anywhere/{sha}.wav", sha256=sha, size=1)


def test_key_ignores_where_an_input_lives():
    a = ArtifactRef(uri="/store-a/objects/ab/abc.wav", sha256="abc", size=3)
    b = ArtifactRef(uri="s3://bucket/objects/ab/abc.wav", sha256="abc", size=3, meta={"note": "copied"})
    assert stage_key("s", "1", "code", {"audio": a}) == stage_key("s", "1", "code", {"audio": b})


def test_key_changes_with_content_parameters_version_and_code():
    base = stage_key("s", "1", "code", {"audio": ref("abc"), "config": Gain(factor=2)})
    assert base != stage_key("s", "1", "code", {"audio": ref("abd"), "config": Gain(factor=2)})
    assert base != stage_key("s", "1", "code", {"audio": ref("abc"), "config": Gain(factor=3)})
    assert base != stage_key("s", "2", "code", {"audio": ref("abc"), "config": Gain(factor=2)})
    assert base != stage_key("s", "1", "edited", {"audio": ref("abc"), "config": Gain(factor=2)})
    assert base != stage_key("t", "1", "code", {"audio": ref("abc"), "config": Gain(factor=2)})



def test_code_named_by_module_name_hashes_as_the_module_and_code_edits_change_it(tmp_path, monkeypatch):
    import sys

    from lipsync_sts.cache import source_hash
    import models.lipsync
    import models.wav2lip.model

    for module, name in ((models.wav2lip.model, "models.wav2lip.model"), (models.lipsync, "models.lipsync")):
        assert source_hash([name]) == source_hash([module])
    # A name is found on disk, not imported, and an edit to its file changes the hash.
    package = tmp_path / "pkg_by_name"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("raise ImportError('a name must not be imported')\n")
    (package / "sub" / "backend.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = source_hash(["pkg_by_name.sub.backend"])
    whole = source_hash(["pkg_by_name.sub"])
    (package / "sub" / "backend.py").write_text("# why X is 1\n\nX = 1  # one, not two\n")
    assert source_hash(["pkg_by_name.sub.backend"]) == before, "comments and blank lines are not code"
    (package / "sub" / "backend.py").write_text("X = 2\n")
    assert source_hash(["pkg_by_name.sub.backend"]) != before
    assert source_hash(["pkg_by_name.sub"]) != whole
    assert "pkg_by_name.sub" not in sys.modules
    with pytest.raises(ModuleNotFoundError, match="pkg_by_name.sub.missing"):
        source_hash(["pkg_by_name.sub.missing"])


def test_a_stage_key_describes_the_code_the_process_imported_though_its_file_is_edited_since(tmp_path, monkeypatch):
    import importlib

    from lipsync_sts.cache import source_hash

    module = tmp_path / "stage_edited_while_running.py"
    imported = ("from lipsync_sts.cache import stage\n\n\n"
                "@stage('edited', version='1')\ndef edited(store_url: str) -> int:\n    return 1\n")
    module.write_text(imported)
    monkeypatch.syspath_prepend(str(tmp_path))
    policy = importlib.import_module("stage_edited_while_running").edited.cache_policy

    module.write_text(imported.replace("return 1", "return 2"))  # edited before any key was wanted
    edited_hash = source_hash(["stage_edited_while_running"])
    running_hash = policy.code_hash
    module.write_text(imported)
    assert running_hash == source_hash(["stage_edited_while_running"]) != edited_hash


def test_stage_code_hashed_ahead_leaves_no_source_to_read_in_the_flow(monkeypatch):
    import tokenize

    from lipsync_sts.cache import hash_stage_code
    from tasks.lipsync import lipsync
    from tasks.transcribe import transcribe

    hash_stage_code()  # what a command does while its Prefect server comes up

    def no_tokenising(*args, **kwargs):
        raise AssertionError("a stage's code was tokenised in the flow")

    monkeypatch.setattr(tokenize, "tokenize", no_tokenising)
    for task in (transcribe, lipsync):  # lipsync's policy is a copy made by with_options
        assert len(task.cache_policy.code_hash) == 16


def test_rerun_computes_nothing(prefect_api, tmp_path):
    store_url = str(tmp_path / "store")
    first = two_stage_flow(store_url, [1, 2, 3], 2.0)
    second = two_stage_flow(store_url, [1, 2, 3], 2.0)
    assert first["value"] == second["value"] == 12
    assert first["states"] == {"scale": "Completed", "total": "Completed"}
    assert second["states"] == {"scale": "Cached", "total": "Cached"}


def test_a_parameter_change_reruns_its_stage_and_what_depends_on_it(prefect_api, tmp_path):
    store_url = str(tmp_path / "store")
    two_stage_flow(store_url, [1, 2, 3], 2.0)
    changed = two_stage_flow(store_url, [1, 2, 3], 10.0)
    assert changed["value"] == 60
    assert changed["states"] == {"scale": "Completed", "total": "Completed"}


def test_a_change_that_gives_the_same_output_stops_invalidation_there(prefect_api, tmp_path):
    store_url = str(tmp_path / "store")
    two_stage_flow(store_url, [0, 0], 2.0)
    # Another factor, but zeros scale to the same bytes: downstream sees the same sha256.
    again = two_stage_flow(store_url, [0, 0], 5.0)
    assert again["states"] == {"scale": "Completed", "total": "Cached"}


def test_each_store_keeps_its_own_cache(prefect_api, tmp_path):
    two_stage_flow(str(tmp_path / "a"), [1], 2.0)
    other = two_stage_flow(str(tmp_path / "b"), [1], 2.0)
    assert other["states"] == {"scale": "Completed", "total": "Completed"}


def test_a_cached_result_whose_artifact_was_deleted_is_recomputed(prefect_api, tmp_path):
    store_url = str(tmp_path / "store")
    two_stage_flow(store_url, [4, 5], 2.0)
    for obj in (tmp_path / "store" / "objects").rglob("*.json"):
        obj.unlink()  # someone cleaned the store but not Prefect's result records
    again = two_stage_flow(store_url, [4, 5], 2.0)
    assert again["value"] == 18
    assert again["states"] == {"scale": "Completed", "total": "Completed"}


def test_a_truncated_result_record_counts_as_a_miss_not_a_result(prefect_api, tmp_path):
    store_url = str(tmp_path / "store")
    two_stage_flow(store_url, [1, 1], 3.0)
    for record in (tmp_path / "store" / "prefect-results").glob("scale-*"):
        record.write_bytes(record.read_bytes()[:20])  # as if the writer was killed mid-write
    again = two_stage_flow(store_url, [1, 1], 3.0)
    assert again["value"] == 6 and again["states"]["scale"] == "Completed"


class Rendezvous(BaseModel):
    name: str


_MET: dict = {}


@stage("meet", version="1")
def meet(store_url: str, config: Rendezvous) -> ArtifactRef:
    """Sets its own event and waits for the other stage's: only stages running at once both finish."""
    import threading

    mine = _MET.setdefault(config.name, threading.Event())
    other = _MET.setdefault("b" if config.name == "a" else "a", threading.Event())
    mine.set()
    if not other.wait(timeout=20):
        raise TimeoutError(f"stage {config.name} ran alone")
    return ArtifactStore(store_url).put_json(config.name)


@stage("fail", version="1")
def fail(store_url: str, config: Rendezvous) -> ArtifactRef:
    raise ValueError(f"{config.name} failed")


def test_stages_run_together_overlap_and_return_in_order(prefect_api, tmp_path):
    _MET.clear()

    @flow
    def side_by_side(store_url: str) -> tuple[list, list]:
        store, log = ArtifactStore(store_url), RunLog()
        refs = log.together(lambda: log.run(meet, store, "a", config=Rendezvous(name="a")),
                            lambda: log.run(meet, store, "b", config=Rendezvous(name="b")))
        return [store.read_json(r) for r in refs], sorted(r.label for r in log.runs)

    values, labels = side_by_side(str(tmp_path / "store"))
    assert values == ["a", "b"] and labels == ["a", "b"]


def test_a_failing_stage_run_together_is_raised_after_the_others_end(prefect_api, tmp_path):
    ended = []

    @flow
    def one_fails(store_url: str) -> None:
        store, log = ArtifactStore(store_url), RunLog()
        log.together(lambda: log.run(fail, store, "x", config=Rendezvous(name="x")),
                     lambda: ended.append(log.run(scale, store, numbers=store.put_json([1.0]), config=Gain())))

    with pytest.raises(ValueError, match="x failed"):
        one_fails(str(tmp_path / "store"))
    assert len(ended) == 1


def test_memory_freed_by_a_stage_goes_back_to_the_system(tmp_path):
    """glibc keeps freed heap for reuse; after each stage the run log hands it back, so the stages
    after ASR do not peak on top of memory nobody uses."""
    import sys

    import numpy as np

    from lipsync_sts.memory import _malloc_trim, release_freed_memory

    if not sys.platform.startswith("linux") or _malloc_trim() is None:
        pytest.skip("malloc_trim is glibc's: nothing to check on this platform")

    def rss_mb() -> float:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024

    # 100 KB blocks come from the heap (below the mmap threshold); every tenth stays, so the heap
    # cannot simply shrink from its top: the freed space sits between live blocks.
    blocks = [np.ones(100_000, np.uint8) for _ in range(3000)]
    kept = blocks[::10]
    del blocks
    before = rss_mb()
    release_freed_memory()
    assert rss_mb() < before - 150
    assert len(kept) == 300


def test_progress_reaches_the_ui_at_most_once_a_second_and_always_at_the_end(monkeypatch):
    """A stage reports every frame; the Prefect artifact (a blocking API call each) hears of it at
    most every second and every 2 %, and once at 100 %."""
    import prefect.artifacts

    from lipsync_sts import progress

    sent, clock = [], [0.0]
    monkeypatch.setattr(prefect.artifacts, "update_progress_artifact", lambda _id, progress: sent.append(progress))
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    bar = progress.Progress(1000, "frames")
    bar._artifact_id = "artifact"  # as inside a task run
    for _ in range(999):
        clock[0] += 0.004  # 250 frames/s: 4 s in all
        bar.update()
    assert 2 <= len(sent) <= 4 and all(b - a >= 2.0 for a, b in zip(sent, sent[1:]))
    bar.update()
    bar.update()  # past the total: the end is reported once
    assert sent[-1] == 100.0 and sent.count(100.0) == 1
