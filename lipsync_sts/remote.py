"""Inputs named by fsspec URL (s3://bucket/talk.mp4, memory://..., gcs://...): what they are, and a
local copy for the libraries that need a real file (ffmpeg, pysrt...).

``file://`` URLs and plain paths are local, not remote.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from pathlib import Path

from lipsync_sts.errors import UserInputError

_URL = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
_CHUNK = 1 << 20


def protocol(value: str) -> str | None:
    """The URL scheme of ``value`` (lower case), or None for a plain path."""
    match = _URL.match(str(value))
    return match.group(1).lower() if match else None


def is_remote(value: str | os.PathLike) -> bool:
    return protocol(str(value)) not in (None, "file", "local")


def open_fs(url: str):
    """(filesystem, path within it) for a URL, or a UserInputError that says what is missing."""
    import fsspec

    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise UserInputError(f"{url} cannot be opened ({exc}); install the fsspec package for "
                             f"{protocol(url)}:// (s3fs for s3://) or give a local path") from None


def identity(url: str) -> tuple[int, int]:
    """(size, a number that changes when the object is replaced) of a remote file; a UserInputError
    if it does not exist or cannot be reached."""
    fs, path = open_fs(url)
    try:
        info = fs.info(path)
    except FileNotFoundError:
        raise UserInputError(f"input {url} does not exist; check the URL") from None
    except Exception as exc:  # noqa: BLE001 - every backend has its own errors for the same thing
        raise UserInputError(f"input {url} cannot be reached ({type(exc).__name__}: {exc}); "
                             "check the URL and credentials") from None
    if info.get("type") not in (None, "file"):
        raise UserInputError(f"input {url} is a {info.get('type')}, not a file; check the URL")
    size = int(info.get("size") or 0)
    try:
        version = int(fs.modified(path).timestamp() * 1e9)
    except Exception:  # noqa: BLE001 - not every filesystem knows modification times
        version = int(hashlib.sha256(repr(sorted(info.items(), key=str)).encode()).hexdigest()[:15], 16)
    return size, version


def download(url: str, folder: str | os.PathLike, max_bytes: int | None = None) -> Path:
    """Stream ``url`` to a new file in ``folder``, named like it; the file appears only once complete.

    ``max_bytes``: refuse (and delete what came) once more than this many bytes have arrived,
    whatever size the server announced.
    """
    fs, path = open_fs(url)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = path.rstrip("/").rsplit("/", 1)[-1] or "download"
    target = folder / name
    part = folder / f".{name}.{uuid.uuid4().hex[:8]}.part"
    received = 0
    try:
        with fs.open(path, "rb") as src, open(part, "wb") as dst:
            while block := src.read(_CHUNK):
                received += len(block)
                if max_bytes is not None and received > max_bytes:
                    raise UserInputError(f"input {url} is over the {max_bytes / 1e9:.1f} GB limit; "
                                         "set LIPSYNC_STS_MAX_BYTES to allow it")
                dst.write(block)
        os.replace(part, target)
    except FileNotFoundError:
        raise UserInputError(f"input {url} does not exist; check the URL") from None
    finally:
        part.unlink(missing_ok=True)
    return target


def downloads_dir() -> Path:
    """Where remote inputs are copied to for the libraries that need a file path."""
    base = Path(os.environ.get("LIPSYNC_STS_CACHE", Path.home() / ".cache" / "lipsync-sts"))
    return base / "downloads"


def local_copy(url: str) -> Path:
    """A local copy of a small remote file (a subtitle file), kept per (URL, size, version) so a
    rerun does not fetch it again and a replaced object is fetched anew."""
    size, version = identity(url)
    folder = downloads_dir() / hashlib.sha256(f"{url}\n{size}\n{version}".encode()).hexdigest()[:24]
    name = url.rstrip("/").rsplit("/", 1)[-1] or "download"
    if (folder / name).is_file() and (folder / name).stat().st_size == size:
        return folder / name
    return download(url, folder)


def readable(value: str | os.PathLike) -> Path:
    """A local file with the contents of ``value``: the path itself, or for a URL its local copy
    (for the readers that need a real file: an audio track given to ``lipsync`` or ``evaluate``)."""
    return local_copy(str(value)) if is_remote(value) else Path(value)


def naming(url: str | os.PathLike, local: Path, error: UserInputError) -> UserInputError:
    """``error`` about the local copy ``local``, rewritten to name the URL the user gave."""
    return UserInputError(str(error).replace(str(local), str(url)))
