"""Dataset manifests: one row per video, read with pandas from CSV or Parquet.

Columns: ``video`` (path or fsspec URL; required), ``source`` (language; or ``--from``),
``targets`` (languages separated by spaces, commas or semicolons; or ``--to``), ``id`` (default:
the video's file stem), ``transcript`` (.srt), ``translation_<lang>`` (.srt per target), ``options``
(JSON overriding stage settings, e.g. ``{"timing": {"timing": {"max_speedup": 1.4}}}``).

The manifest itself may be a local file or an fsspec URL (``s3://bucket/set/manifest.csv``).
Relative paths are relative to the manifest, and no path may leave the allowed roots (the
manifest's folder by default, ``--root`` to widen), so a manifest cannot make the pipeline read
arbitrary files:

* in a local manifest, paths are resolved (``..`` and symbolic links included) and must land in a
  root; URLs (``s3://...``) are taken as they are;
* in a remote manifest, paths are resolved against the manifest's URL on the same filesystem and
  must land in a root there; a local path (absolute, ``file://``, ``~``) or a URL of another
  filesystem is refused, so a manifest fetched from a bucket cannot name files on the machine
  that runs the dub.
"""

from __future__ import annotations

import io
import json
import posixpath
import re
from pathlib import Path, PurePosixPath

import pandas as pd
from pydantic import BaseModel, Field

from lipsync_sts.errors import UserInputError
from lipsync_sts.remote import is_remote, open_fs, protocol


class ManifestItem(BaseModel):
    """One (video, target language) pair: the unit that succeeds or fails on its own."""

    id: str
    video: str
    source: str
    target: str
    transcript: str | None = None
    translation: str | None = None
    options: dict = Field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.id}:{self.target}"


def _resolve(value: str, base: Path, roots: list[Path], what: str, row: int) -> str:
    if is_remote(value):
        return value
    path = Path(value.removeprefix("file://")).expanduser()
    path = (path if path.is_absolute() else base / path).resolve()
    if not any(path == root or root in path.parents for root in roots):
        raise UserInputError(f"manifest row {row}, column {what!r}: {value!r} is outside the allowed folders "
                             f"({', '.join(map(str, roots))}); move the file there or pass --root")
    return str(path)


class _RemoteBase:
    """Where the paths of a remote manifest may point: its filesystem, its folder, the roots."""

    def __init__(self, manifest_url: str, roots: list[str | Path]):
        self.url = manifest_url
        self.fs, path = open_fs(manifest_url)
        self.protocols = {p.lower() for p in ((self.fs.protocol,) if isinstance(self.fs.protocol, str)
                                              else self.fs.protocol)}
        self.folder = posixpath.dirname(path.rstrip("/"))
        self.roots = [self._root(str(r)) for r in roots] or [self.folder.rstrip("/")]

    def _root(self, root: str) -> str:
        if protocol(root) not in self.protocols:
            raise UserInputError(f"--root {root} is not on the manifest's filesystem ({self.url}); a remote "
                                 f"manifest's paths can only point into {sorted(self.protocols)[0]}:// folders")
        return posixpath.normpath(self.fs._strip_protocol(root)).rstrip("/")

    def resolve(self, value: str, what: str, row: int) -> str:
        scheme = protocol(value)
        where = f"manifest row {row}, column {what!r}: {value!r}"
        local = scheme in ("file", "local") or (scheme is None and (value.startswith(("/", "\\", "~"))
                                                                   or re.match(r"^[a-zA-Z]:[\\/]", value)))
        if local:
            raise UserInputError(f"{where} is a local path, which a remote manifest ({self.url}) may not name; "
                                 "give a path relative to the manifest, or a URL inside its folder")
        if scheme is not None and scheme not in self.protocols:
            raise UserInputError(f"{where} is on another filesystem ({scheme}://) than the remote manifest "
                                 f"({self.url}), which may only name files beside it; give a path relative "
                                 "to the manifest")
        path = (self.fs._strip_protocol(value) if scheme else posixpath.join(self.folder, value))
        path = posixpath.normpath(path)
        if not any(path == root or path.startswith(root + "/") for root in self.roots):
            raise UserInputError(f"{where} leads outside the allowed folders "
                                 f"({', '.join(self.fs.unstrip_protocol(r or '/') for r in self.roots)}); "
                                 "keep the files beside the manifest or pass --root")
        return self.fs.unstrip_protocol(path)


def _read_table(path, name: str, opener) -> pd.DataFrame:
    try:
        with opener() as f:
            data = f.read()
        source = io.BytesIO(data)
        return pd.read_parquet(source) if name.lower().endswith((".parquet", ".pq")) else pd.read_csv(source)
    except UserInputError:
        raise
    except Exception as exc:  # noqa: BLE001 - pandas and the filesystems raise many kinds for a bad file
        raise UserInputError(f"manifest {path} cannot be read as CSV/Parquet ({type(exc).__name__}: {exc})") from None


def _languages(value) -> list[str]:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v for v in re.split(r"[\s,;|]+", str(value)) if v]


def _cell(row: pd.Series, column: str) -> str | None:
    value = row.get(column)
    if value is None or (isinstance(value, float) and pd.isna(value)) or str(value).strip() == "":
        return None
    return str(value).strip()


def read_manifest(path: str | Path, source: str | None = None, targets: list[str] | None = None,
                  roots: list[str | Path] | None = None) -> list[ManifestItem]:
    """Every (video, target) of a manifest (a local path or an fsspec URL), with paths resolved
    and checked."""
    if is_remote(str(path)):
        remote_base = _RemoteBase(str(path), list(roots or []))
        try:
            exists = remote_base.fs.isfile(remote_base.fs._strip_protocol(str(path)))
        except Exception as exc:  # noqa: BLE001 - unreachable bucket, bad credentials...
            raise UserInputError(f"manifest {path} cannot be reached ({type(exc).__name__}: {exc}); "
                                 "check the URL and credentials") from None
        if not exists:
            raise UserInputError(f"manifest {path} does not exist; check the URL")
        table = _read_table(path, str(path), lambda: remote_base.fs.open(str(path), "rb"))

        def resolve(value: str, what: str, row: int) -> str:
            return remote_base.resolve(value, what, row)
    else:
        path = Path(path)
        if not path.is_file():
            raise UserInputError(f"manifest {path} does not exist")
        table = _read_table(path, path.name, lambda: open(path, "rb"))
        base = path.resolve().parent
        allowed = [Path(r).resolve() for r in (roots or [])] or [base]

        def resolve(value: str, what: str, row: int) -> str:
            return _resolve(value, base, allowed, what, row)
    if "video" not in table.columns:
        raise UserInputError(f"manifest {path} has no 'video' column; columns found: {list(table.columns)}")
    items: list[ManifestItem] = []
    seen: set[str] = set()
    for number, (_, row) in enumerate(table.iterrows(), start=2):  # row 1 is the header
        raw_video = _cell(row, "video")
        if raw_video is None:
            raise UserInputError(f"manifest row {number}, column 'video': empty; give the video's path")
        video = resolve(raw_video, "video", number)
        item_id = _cell(row, "id") or PurePosixPath(raw_video.replace("\\", "/")).stem
        if item_id in seen:
            raise UserInputError(f"manifest row {number}: id {item_id!r} repeats; give each row a unique id")
        seen.add(item_id)
        row_source = _cell(row, "source") or source
        if not row_source:
            raise UserInputError(f"manifest row {number}: no source language; add a 'source' column or pass --from")
        row_targets = _languages(row.get("targets")) or list(targets or [])
        if not row_targets:
            raise UserInputError(f"manifest row {number}: no target language; add a 'targets' column or pass --to")
        transcript = _cell(row, "transcript")
        try:
            options = json.loads(_cell(row, "options") or "{}")
        except json.JSONDecodeError as exc:
            raise UserInputError(f"manifest row {number}: 'options' is not valid JSON ({exc})") from None
        for target in row_targets:
            translation = _cell(row, f"translation_{target}")
            items.append(ManifestItem(
                id=item_id, video=video, source=row_source, target=target, options=options,
                transcript=resolve(transcript, "transcript", number) if transcript else None,
                translation=resolve(translation, f"translation_{target}", number) if translation else None,
            ))
    if not items:
        raise UserInputError(f"manifest {path} has no rows")
    return items
