"""ingest: copy the input video into the store and record its stream facts.

This is the one stage keyed by file identity (path, size, modification time) rather than content:
it is the stage that computes the content hash. A renamed copy re-runs only this cheap step and
then hits the cache everywhere downstream, because every later key uses the sha256.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel

from lipsync_sts import media
from lipsync_sts.cache import stage
from lipsync_sts.store import ArtifactRef, ArtifactStore


class SourceFile(BaseModel):
    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: str | os.PathLike) -> "SourceFile":
        path = Path(path).resolve()
        stat = path.stat()
        return cls(path=str(path), size=stat.st_size, mtime_ns=stat.st_mtime_ns)


def ingest_video(store: ArtifactStore, source: SourceFile) -> ArtifactRef:
    info = media.probe(source.path)
    return store.put_file(source.path, kind="video", meta=info.model_dump())


@stage("ingest", version="1", code=(media,))
def ingest(store_url: str, source: SourceFile) -> ArtifactRef:
    return ingest_video(ArtifactStore(store_url), source)
