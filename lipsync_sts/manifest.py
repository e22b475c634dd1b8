"""Dataset manifests: one row per video, read with pandas from CSV or Parquet.

Columns: ``video`` (path or fsspec URL; required), ``source`` (language; or ``--from``),
``targets`` (languages separated by spaces, commas or semicolons; or ``--to``), ``id`` (default:
the video's file stem), ``transcript`` (.srt), ``translation_<lang>`` (.srt per target), ``options``
(JSON overriding stage settings, e.g. ``{"timing": {"timing": {"max_speedup": 1.4}}}``).

Relative paths are relative to the manifest. Local paths must stay inside the allowed roots (the
manifest's folder by default), so a manifest cannot make the pipeline read arbitrary files.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, Field

from lipsync_sts.errors import UserInputError


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


def _is_url(value: str) -> bool:
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", value)) and not value.startswith("file://")


def _resolve(value: str, base: Path, roots: list[Path], what: str, row: int) -> str:
    if _is_url(value):
        return value
    path = Path(value.removeprefix("file://"))
    path = (path if path.is_absolute() else base / path).resolve()
    if not any(path == root or root in path.parents for root in roots):
        raise UserInputError(f"manifest row {row}: {what} {value!r} is outside the allowed folders "
                             f"({', '.join(map(str, roots))}); move it there or pass --root")
    return str(path)


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
    """Every (video, target) of a manifest, with paths resolved and checked."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"manifest {path} does not exist")
    try:
        table = pd.read_parquet(path) if path.suffix.lower() in {".parquet", ".pq"} else pd.read_csv(path)
    except Exception as exc:  # noqa: BLE001 - pandas raises many kinds for a bad file
        raise UserInputError(f"manifest {path} cannot be read as CSV/Parquet ({exc})") from None
    if "video" not in table.columns:
        raise UserInputError(f"manifest {path} has no 'video' column; columns found: {list(table.columns)}")
    base = path.resolve().parent
    allowed = [Path(r).resolve() for r in (roots or [])] or [base]
    items: list[ManifestItem] = []
    seen: set[str] = set()
    for number, (_, row) in enumerate(table.iterrows(), start=2):  # row 1 is the header
        video = _resolve(str(row["video"]), base, allowed, "video", number)
        item_id = _cell(row, "id") or Path(str(row["video"])).stem
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
                transcript=_resolve(transcript, base, allowed, "transcript", number) if transcript else None,
                translation=_resolve(translation, base, allowed, f"translation_{target}", number) if translation else None,
            ))
    if not items:
        raise UserInputError(f"manifest {path} has no rows")
    return items
