"""Content-hashed Prefect tasks: the cache that lets a flow rerun only what changed.

A stage's cache key is hash(stage name, stage version, the source code (comments aside) of the
modules that compute it, its parameters, the sha256 of every input artifact). Paths, file names
and run ids never enter the key, so a renamed copy of a video hits the cache, and a changed
parameter invalidates that stage and, through the new sha256 of its output, everything downstream
of it and nothing upstream.

Results (small :class:`ArtifactRef` JSON documents) persist in the same store as the artifacts,
under ``prefect-results/``, so every machine sharing a store shares the cache.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import importlib.util
import inspect
import io
import json
import os
import socket
import time
import tokenize
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from prefect import Task, task
from prefect.cache_policies import CachePolicy
from prefect.filesystems import RemoteFileSystem
from prefect.locking.filesystem import FileSystemLockManager
from pydantic import BaseModel

from lipsync_sts.memory import release_freed_memory
from lipsync_sts.store import ArtifactRef, ArtifactStore


def fingerprint(value: Any) -> Any:
    """A JSON-able description of a task input that depends on content only."""
    if isinstance(value, ArtifactRef):
        return {"artifact": value.sha256, "kind": value.kind}
    if isinstance(value, BaseModel):
        return {type(value).__name__: fingerprint(value.model_dump(mode="json"))}
    if isinstance(value, dict):
        return {str(k): fingerprint(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [fingerprint(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"stage input of type {type(value).__name__} has no content fingerprint")


def source_files(module: ModuleType | str) -> list[Path]:
    """A module's source file, or every .py file of a package. A dotted name is looked up on disk
    without importing it: a stage's key can cover a backend (Wav2Lip, SyncNet) whose import would
    load torch, ~3 s of every dub's start, in a dub that never runs it."""
    if isinstance(module, ModuleType):
        if hasattr(module, "__path__"):
            return sorted(Path(p) for root in module.__path__ for p in Path(root).rglob("*.py"))
        return [Path(inspect.getfile(module))]
    top, *parts = module.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"no module named {top!r}")
    path = Path(spec.origin)
    for part in parts:
        folder = path.parent / part
        path = folder / "__init__.py" if (folder / "__init__.py").is_file() else path.parent / f"{part}.py"
        if not path.is_file():
            raise ModuleNotFoundError(f"no module named {module!r}")
    return sorted(path.parent.rglob("*.py")) if path.name == "__init__.py" else [path]


def source_hash(modules: list[ModuleType | str]) -> str:
    """Hash of the source of modules, and of every .py file of packages among them; a module may
    be given by its dotted name (see :func:`source_files`). Comments and blank lines do not count:
    rewording a comment must not make a dataset's dubs recognise their speech again."""
    return _sources_hash(_read_sources(modules))


def code_snapshot(modules: list[ModuleType | str]) -> Callable[[], str]:
    """The source of ``modules`` read now, at import; the returned function gives its
    :func:`source_hash` (computed once): the code this process runs, whatever edits come later."""
    sources = _read_sources(modules)
    return lambda: _sources_hash(sources)


def _read_sources(modules: list[ModuleType | str]) -> tuple[tuple[str, bytes], ...]:
    """(file name, source) of each file of ``modules``, as it is now."""
    return tuple((file.name, file.read_bytes()) for module in modules for file in source_files(module))


@functools.lru_cache(maxsize=None)
def _sources_hash(sources: tuple[tuple[str, bytes], ...]) -> str:
    digest = hashlib.sha256()
    for name, source in sources:
        digest.update(name.encode())
        digest.update(_code_digest(source))
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=256)
def _code_digest(source: bytes) -> bytes:
    """sha256 of Python source's tokens without its comments and blank lines (of its bytes where
    it does not tokenize). Cached: many stages name the same packages."""
    digest = hashlib.sha256()
    try:
        for token in tokenize.tokenize(io.BytesIO(source).readline):
            if token.type not in (tokenize.COMMENT, tokenize.NL):
                digest.update(f"{token.type} {token.string}\n".encode())
    except (tokenize.TokenError, SyntaxError):
        digest = hashlib.sha256(source)
    return digest.digest()


# Inputs that say where to work, not what to compute.
LOCATION_INPUTS = frozenset({"store_url"})


@dataclass
class StageCachePolicy(CachePolicy):
    stage: str = ""
    version: str = ""
    # The source files that decide the result, (name, source) as read when the stage was imported:
    # the key must describe the code this process runs, even if the files are edited meanwhile.
    # Hashed when the first key is wanted, not at import, which would slow every command's start
    # by ~0.2 s (tokenising ~90 files).
    code: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)

    @property
    def code_hash(self) -> str:
        return _sources_hash(self.code)  # cached by content: Prefect's copies of a policy share it

    def compute_key(self, task_ctx: Any, inputs: dict[str, Any], flow_parameters: dict[str, Any],
                    **kwargs: Any) -> str:
        return stage_key(self.stage, self.version, self.code_hash,
                         {k: v for k, v in inputs.items() if k not in LOCATION_INPUTS})


def stage_key(stage: str, version: str, code_hash: str, inputs: dict[str, Any]) -> str:
    payload = json.dumps(
        {"stage": stage, "version": version, "code": code_hash, "inputs": fingerprint(inputs)},
        sort_keys=True, ensure_ascii=False,
    )
    return f"{stage}-{hashlib.sha256(payload.encode('utf-8')).hexdigest()[:40]}"


def stage(name: str, version: str, code: tuple[ModuleType | str, ...] = ()) -> Callable[[Callable], Task]:
    """Turn a plain ``fn(store_url, **inputs) -> ArtifactRef`` into a content-cached Prefect task.

    ``code`` names the modules (besides the task's own) whose source decides the result, so that
    editing a backend invalidates the stages built on it: module objects, or dotted names for
    modules the stage imports only when it needs them.
    """

    def decorate(fn: Callable) -> Task:
        sources = _read_sources([inspect.getmodule(fn), *code])
        _STAGE_SOURCES.append(sources)
        policy = StageCachePolicy(stage=name, version=version, code=sources)
        return task(fn, name=name, cache_policy=policy, persist_result=True, result_serializer="json")

    return decorate


_STAGE_SOURCES: list[tuple[tuple[str, bytes], ...]] = []  # each imported stage's code, for hash_stage_code


def hash_stage_code() -> None:
    """Hash the code of every stage imported so far now, rather than in the flow at each stage's
    first key: a command calls this while it waits for its Prefect server anyway."""
    for sources in _STAGE_SOURCES:
        _sources_hash(sources)


def artifacts_present(store: ArtifactStore, result: Any) -> bool:
    """Whether every artifact a stage result refers to is (completely) in the store."""
    if isinstance(result, ArtifactRef):
        return store.exists(result)
    if isinstance(result, dict):
        return all(artifacts_present(store, v) for v in result.values())
    if isinstance(result, (list, tuple)):
        return all(artifacts_present(store, v) for v in result)
    return True


def result_storage(store: ArtifactStore) -> Path | str:
    """Where Prefect keeps this store's task results: a folder, or for a remote store a
    RemoteFileSystem block saved under a name derived from the store URL (Prefect only accepts
    blocks that the server knows)."""
    base = f"{store.url}/prefect-results"
    if store.is_local:
        return Path(base)
    name = "lipsync-sts-" + hashlib.sha256(base.encode()).hexdigest()[:12]
    RemoteFileSystem(basepath=base).save(name, overwrite=True)
    return f"remote-file-system/{name}"


def _process_started(pid: int) -> float | None:
    """When process ``pid`` started (None if there is no such process): with the pid, an identity
    that a later process reusing the number does not share."""
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


class CrashSafeLockManager(FileSystemLockManager):
    """Prefect's file locks, safe against a holder that was killed.

    Prefect writes a lock as an empty file and then its holder, with no expiry unless one is
    asked for, and only its holder removes it: a run killed while computing a stage (SIGKILL, OOM,
    power loss) would make every later run of that stage wait forever. Here a lock file is
    written whole (linked into place with its content) and names its process; a lock whose process
    on this host is gone is stale and removed, as is an unreadable one older than a few seconds
    (left by a writer that died mid-write, e.g. under Prefect's own lock manager).
    """

    TORN_LOCK_GRACE_S = 5.0

    def __init__(self, lock_files_directory: Path) -> None:
        super().__init__(lock_files_directory)
        self._owner = {"host": socket.gethostname(), "pid": os.getpid(), "started": _process_started(os.getpid())}

    def _stale(self, info: dict[str, Any]) -> bool:
        if info.get("host") != self._owner["host"] or not isinstance(info.get("pid"), int):
            return False  # another machine's lock (a shared folder): its liveness is unknowable here
        started = _process_started(info["pid"])
        return started is None or (info.get("started") is not None and abs(started - info["started"]) > 1e-3)

    def _get_lock_info(self, key: str, use_cache: bool = True):
        path = self._lock_path_for_key(key)
        try:
            info = super()._get_lock_info(key, use_cache)
        except ValueError:  # empty or torn JSON
            try:
                young = time.time() - path.stat().st_mtime < self.TORN_LOCK_GRACE_S
            except FileNotFoundError:
                return None
            if young:  # being written right now: locked, holder not yet known
                return {"holder": "", "expiration": None, "path": path}
            path.unlink(missing_ok=True)
            self._locks.pop(key, None)
            return None
        if info is not None and not use_cache and self._stale(info):
            path.unlink(missing_ok=True)
            self._locks.pop(key, None)
            return None
        return info

    def acquire_lock(self, key: str, holder: str, acquire_timeout: float | None = None,
                     hold_timeout: float | None = None) -> bool:
        from datetime import datetime, timedelta, timezone

        import pydantic_core

        self._ensure_lock_files_directory_exists()
        path = self._lock_path_for_key(key)
        while True:
            if self.is_locked(key) and not self.is_lock_holder(key, holder):
                if not self.wait_for_lock(key, acquire_timeout):
                    return False
            expiration = (datetime.now(timezone.utc) + timedelta(seconds=hold_timeout)
                          if hold_timeout is not None else None)
            draft = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
            draft.write_bytes(pydantic_core.to_json({"holder": holder, "expiration": str(expiration) if expiration else None,
                                                     **self._owner}))
            try:
                os.link(draft, path)  # atomic create-if-absent, content included
            except FileExistsError:
                if self.is_lock_holder(key, holder):
                    return True
                continue  # another run took it between the check and the link: wait again
            finally:
                draft.unlink(missing_ok=True)
            self._locks[key] = {"holder": holder, "expiration": expiration, "path": path}
            return True


def bind(stage_task: Task, store: ArtifactStore, refresh: bool = False) -> Task:
    """The task with its results and cache records kept in ``store``.

    On a local store, runs that would compute the same key wait on a file lock and then read the
    first run's result, so two identical dubs started together do the work once. Not inside another
    task (the dataset flow's items): Prefect 3.8 releases a failed nested task's lock twice when the
    parent commits; there, a stage computed twice in parallel is only wasted work, since objects are
    content-addressed and written atomically.
    """
    from prefect.context import TaskRunContext

    policy = stage_task.cache_policy
    if store.is_local and TaskRunContext.get() is None:
        policy = policy.configure(lock_manager=CrashSafeLockManager(Path(store.url) / "locks"),
                                  isolation_level="SERIALIZABLE")
    return stage_task.with_options(result_storage=result_storage(store), cache_policy=policy,
                                   refresh_cache=refresh or None)


def _outcome(call: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    try:
        return call(), None
    except BaseException as error:  # re-raised by RunLog.together once every stage has ended
        return None, error


@dataclass
class StageRun:
    stage: str
    label: str
    state: str  # Prefect's state name: "Completed", "Cached", "Failed"...
    seconds: float

    @property
    def cached(self) -> bool:
        return self.state == "Cached"


@dataclass
class RunLog:
    """What each stage of a flow run did: the run summary users read."""

    runs: list[StageRun] = field(default_factory=list)

    def call(self, stage_task: Task, label: str = "", verify: Callable[[Any], bool] | None = None,
             **inputs: Any) -> Any:
        """Run (or fetch from the cache) one stage and record how it went.

        ``verify`` checks a cached result (e.g. that its artifacts are still in the store); one
        that fails it is recomputed rather than handed downstream.
        """
        start = time.perf_counter()
        state = stage_task(**inputs, return_state=True)
        if state.name == "Cached" and verify is not None and not verify(state.result()):
            state = stage_task.with_options(refresh_cache=True)(**inputs, return_state=True)
        self._record(StageRun(stage_task.name, label, state.name or state.type.value, time.perf_counter() - start))
        release_freed_memory()
        return state.result()  # re-raises the stage's exception when it failed

    def _record(self, run: StageRun) -> None:
        self.runs.append(run)

    def together(self, *calls: Callable[[], Any]) -> list[Any]:
        """Run independent stages at once: each of ``calls`` is a thunk that calls ``run``.

        Most stages leave one of two cores idle (face tracking, lip-sync rendering, the mix are
        mostly one thread), so overlapping them with one another or with ASR shortens a dub. The
        other calls run in threads that carry the flow's Prefect context (as Prefect's own
        thread-pool task runner does), the first in this thread. Results come back in order;
        after every call has ended, the first failure (in order) is raised.
        """
        if len(calls) < 2:
            return [call() for call in calls]
        with ThreadPoolExecutor(max_workers=len(calls) - 1, thread_name_prefix="stage") as pool:
            futures = [pool.submit(contextvars.copy_context().run, call) for call in calls[1:]]
            outcomes = [_outcome(calls[0])]
            outcomes += [_outcome(future.result) for future in futures]
        for value, error in outcomes:
            if error is not None:
                raise error
        return [value for value, _ in outcomes]

    def run(self, stage_task: Task, store: ArtifactStore, label: str = "", refresh: bool = False,
            **inputs: Any) -> Any:
        """``call`` for a stage kept in ``store``: bound to it, and a cached result whose artifacts
        are gone from it is recomputed. What every flow uses."""
        return self.call(bind(stage_task, store, refresh), label,
                         verify=lambda result: artifacts_present(store, result), store_url=store.url, **inputs)

    @property
    def ran(self) -> list[str]:
        return [r.stage + (f"[{r.label}]" if r.label else "") for r in self.runs if not r.cached]

    def table(self) -> list[dict[str, Any]]:
        return [{"stage": r.stage, "for": r.label or "-", "state": r.state,
                 "cached": r.cached, "seconds": round(r.seconds, 2)} for r in self.runs]

    def render(self) -> str:
        width = max([len("stage"), *(len(r.stage) for r in self.runs)])
        rows = [f"{'stage':<{width}} {'for':<7} {'result':<10} {'time':>8}"]
        rows += [f"{r.stage:<{width}} {r.label or '-':<7} {('cached' if r.cached else r.state.lower()):<10} "
                 f"{r.seconds:>7.2f}s" for r in self.runs]
        total = sum(r.seconds for r in self.runs)
        n_cached = sum(r.cached for r in self.runs)
        rows.append(f"{len(self.runs)} stages, {n_cached} cached, {total:.1f}s")
        return "\n".join(rows)
