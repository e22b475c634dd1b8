"""Content-addressed artifact store on any fsspec filesystem.

Every artifact is written once under ``objects/<sha[:2]>/<sha><suffix>`` and referred to by an
:class:`ArtifactRef` (URI + sha256 + small metadata). Stages pass refs, never arrays, so the Prefect
results that the cache persists stay a few hundred bytes.

Writes are atomic: the bytes go to ``tmp/<uuid>`` first and are moved into place only once
complete and hashed, so a killed run never leaves an object that a later run could take for a
result.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import fsspec
from pydantic import BaseModel, Field

from lipsync_sts.errors import UserInputError

DEFAULT_STORE_ENV = "LIPSYNC_STS_STORE"
_CHUNK = 1 << 20


class ArtifactRef(BaseModel):
    """A reference to one immutable artifact in a store."""

    uri: str
    sha256: str
    size: int
    kind: str = "file"
    meta: dict[str, Any] = Field(default_factory=dict)

    @property
    def suffix(self) -> str:
        name = self.uri.rsplit("/", 1)[-1]
        return name[len(self.sha256):] if name.startswith(self.sha256) else Path(name).suffix


def default_store_url() -> str:
    return os.environ.get(DEFAULT_STORE_ENV) or str(Path.cwd() / "artifacts")


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


class ArtifactStore:
    """fsspec-backed, content-addressed, atomic."""

    def __init__(self, url: str | None = None):
        self.url = (url or default_store_url()).rstrip("/")
        try:
            self.fs, self.root = fsspec.core.url_to_fs(self.url)
        except (ImportError, ValueError) as exc:
            raise UserInputError(
                f"store {self.url!r} cannot be opened ({exc}); pass --store with a local folder "
                "or an fsspec URL whose filesystem package is installed (s3fs for s3://)"
            ) from exc
        self.is_local = "file" in (self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,))
        try:
            self.fs.makedirs(self._path("objects"), exist_ok=True)
            self.fs.makedirs(self._path("tmp"), exist_ok=True)
        except Exception as exc:  # noqa: BLE001 - any backend error means the same to the user
            raise UserInputError(
                f"store {self.url!r} is not writable or not reachable ({type(exc).__name__}: {exc}); "
                "check the path or credentials, or pass another --store"
            ) from exc

    # -- paths --------------------------------------------------------------------------------
    def _path(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts]) if self.root else "/".join(parts)

    def _uri(self, path: str) -> str:
        return self.fs.unstrip_protocol(path) if not self.is_local else path

    def _object_path(self, sha: str, suffix: str) -> str:
        return self._path("objects", sha[:2], f"{sha}{suffix}")

    @property
    def local_cache_dir(self) -> Path:
        """Where remote objects are materialised for libraries that need a real file path."""
        base = Path(os.environ.get("LIPSYNC_STS_CACHE", Path.home() / ".cache" / "lipsync-sts"))
        return base / "objects"

    # -- writing ------------------------------------------------------------------------------
    def put_file(self, local_path: str | os.PathLike, kind: str = "file", suffix: str | None = None,
                 meta: dict[str, Any] | None = None) -> ArtifactRef:
        """Copy a local file into the store (atomically) and return its reference."""
        local_path = Path(local_path)
        suffix = local_path.suffix if suffix is None else suffix
        sha = sha256_file(local_path)
        size = local_path.stat().st_size
        target = self._object_path(sha, suffix)
        if not self._exists_complete(target, size):
            tmp = self._path("tmp", f"{uuid.uuid4().hex}{suffix}")
            self.fs.makedirs(self._path("objects", sha[:2]), exist_ok=True)
            self.fs.put_file(str(local_path), tmp)
            self.fs.mv(tmp, target)
        return ArtifactRef(uri=self._uri(target), sha256=sha, size=size, kind=kind, meta=meta or {})

    def put_bytes(self, data: bytes, kind: str = "file", suffix: str = "",
                  meta: dict[str, Any] | None = None) -> ArtifactRef:
        with tempfile.NamedTemporaryFile(suffix=suffix, delete=False) as f:
            f.write(data)
        try:
            return self.put_file(f.name, kind=kind, suffix=suffix, meta=meta)
        finally:
            os.unlink(f.name)

    def put_json(self, obj: Any, kind: str = "json", meta: dict[str, Any] | None = None) -> ArtifactRef:
        data = json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")
        return self.put_bytes(data, kind=kind, suffix=".json", meta=meta)

    def _exists_complete(self, path: str, size: int) -> bool:
        try:
            return self.fs.size(path) == size
        except FileNotFoundError:
            return False

    # -- reading ------------------------------------------------------------------------------
    def _fs_path(self, ref: ArtifactRef) -> str:
        return self.fs._strip_protocol(ref.uri)

    def exists(self, ref: ArtifactRef) -> bool:
        return self._exists_complete(self._fs_path(ref), ref.size)

    def local_path(self, ref: ArtifactRef, verify: bool = False) -> Path:
        """A local file holding the artifact: the object itself for a local store, else a
        hash-checked download into the local cache."""
        if self.is_local:
            path = Path(self._fs_path(ref))
            if not path.exists() or path.stat().st_size != ref.size:
                raise FileNotFoundError(f"artifact {ref.uri} is missing or incomplete in store {self.url}")
            if verify and sha256_file(path) != ref.sha256:
                raise IOError(f"artifact {ref.uri} does not match its sha256; delete it and rerun")
            return path
        cached = self.local_cache_dir / ref.sha256[:2] / f"{ref.sha256}{ref.suffix}"
        if cached.exists() and cached.stat().st_size == ref.size:
            return cached
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f".{uuid.uuid4().hex}.part")
        self.fs.get_file(self._fs_path(ref), str(tmp))
        if sha256_file(tmp) != ref.sha256:
            tmp.unlink(missing_ok=True)
            raise IOError(f"artifact {ref.uri} does not match its sha256; delete it and rerun")
        os.replace(tmp, cached)
        return cached

    def read_bytes(self, ref: ArtifactRef) -> bytes:
        with self.fs.open(self._fs_path(ref), "rb") as f:
            data = f.read()
        if hashlib.sha256(data).hexdigest() != ref.sha256:
            raise IOError(f"artifact {ref.uri} does not match its sha256; delete it and rerun")
        return data

    def read_json(self, ref: ArtifactRef) -> Any:
        return json.loads(self.read_bytes(ref).decode("utf-8"))


def export_file(store: ArtifactStore, ref: ArtifactRef, destination: str | os.PathLike) -> Path:
    """Copy an artifact to a user-facing path, atomically (never a half-written output)."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.with_name(f".{destination.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        shutil.copyfile(store.local_path(ref), tmp)
        os.replace(tmp, destination)
    finally:
        tmp.unlink(missing_ok=True)
    return destination
