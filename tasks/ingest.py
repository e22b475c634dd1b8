"""ingest: copy the input video into the store and record its stream facts.

This is the one stage keyed by file identity (path, size, modification time) rather than content:
it is the stage that computes the content hash. A renamed copy re-runs only this cheap step and
then hits the cache everywhere downstream, because every later key uses the sha256.

A video named by URL (s3://bucket/talk.mp4 from a remote manifest) is streamed into a local file,
checked against the size and duration limits, and stored like a local one; its identity is the
URL, its size and the object's modification time.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from pydantic import BaseModel

from lipsync_sts import media, remote, validation
from lipsync_sts.cache import stage
from lipsync_sts.errors import UserInputError
from lipsync_sts.store import ArtifactRef, ArtifactStore


class SourceFile(BaseModel):
    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: str | os.PathLike) -> "SourceFile":
        if remote.is_remote(path):
            size, version = remote.identity(str(path))
            return cls(path=str(path), size=size, mtime_ns=version)
        path = Path(path).resolve()
        stat = path.stat()
        return cls(path=str(path), size=stat.st_size, mtime_ns=stat.st_mtime_ns)


def ingest_video(store: ArtifactStore, source: SourceFile) -> ArtifactRef:
    if not remote.is_remote(source.path):
        info = media.probe(source.path)
        validation.check_limits(source.path, info.duration)
        return store.put_file(source.path, kind="video", meta=info.model_dump())
    validation.check_size(source.path, source.size)
    with tempfile.TemporaryDirectory(prefix="ingest-", dir=_scratch()) as tmp:
        local = remote.download(source.path, tmp, max_bytes=validation.MAX_INPUT_BYTES)
        try:
            info = media.probe(local)
        except UserInputError as exc:  # it names the local copy: name the URL the user gave
            raise remote.naming(source.path, local, exc) from None
        validation.check_duration(source.path, info.duration)
        return store.put_file(local, kind="video", meta=info.model_dump())


def _scratch() -> Path:
    folder = remote.downloads_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@stage("ingest", version="1", code=(media,))
def ingest(store_url: str, source: SourceFile) -> ArtifactRef:
    return ingest_video(ArtifactStore(store_url), source)
