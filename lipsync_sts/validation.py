"""Checks of a dub request that need no heavy imports, so bad input fails in a fraction of a second."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from lipsync_sts.errors import UserInputError
from lipsync_sts.languages import get_language
from lipsync_sts.remote import identity, is_remote


def validate_request(video: str, source: str, targets: list[str], output: str | os.PathLike) -> None:
    """Everything checkable before any work starts, so bad input fails fast and touches nothing."""
    get_language(source)
    if not targets:
        raise UserInputError("no target language given; pass --to CODE (for example --to ur)")
    for target in targets:
        get_language(target)
        if target == source:
            raise UserInputError(f"target language {target!r} is the source language; choose another --to")
    if len(set(targets)) != len(targets):
        raise UserInputError(f"target languages repeat: {targets}; give each --to once")
    if is_remote(video):  # fetched by the ingest stage; here only: is it there, and not too big
        check_size(video, identity(video)[0])
    elif not Path(video).is_file():
        raise UserInputError(f"input {video} does not exist or is not a file; check the path")
    check_writable(output)


def check_writable(output: str | os.PathLike) -> None:
    """The output's folder exists or can be made, and a file can be written there (a real probe:
    permission bits say nothing for root or on read-only mounts)."""
    parent = Path(output).resolve().parent
    existing = parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UserInputError(f"output folder {parent} cannot be made: {existing} is a file; choose another --output")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise UserInputError(f"output folder {parent} is not writable ({exc.strerror}); choose another --output") from None


# Defaults sized for talking-head clips on a 2-core machine; raise them for long-form material.
MAX_DURATION_S = float(os.environ.get("LIPSYNC_STS_MAX_DURATION", 3 * 3600))
MAX_INPUT_BYTES = int(float(os.environ.get("LIPSYNC_STS_MAX_BYTES", 20e9)))


def check_limits(path: str | os.PathLike, duration: float) -> None:
    """Refuse inputs beyond the configured size and duration before any work starts."""
    check_size(path, Path(path).stat().st_size)
    check_duration(path, duration)


def check_size(name: str | os.PathLike, size: int) -> None:
    if size > MAX_INPUT_BYTES:
        raise UserInputError(f"input {name} is {size / 1e9:.1f} GB, over the {MAX_INPUT_BYTES / 1e9:.1f} GB limit; "
                             "set LIPSYNC_STS_MAX_BYTES to allow it")


def check_duration(name: str | os.PathLike, duration: float) -> None:
    if duration > MAX_DURATION_S:
        raise UserInputError(f"input {name} lasts {duration / 60:.0f} min, over the {MAX_DURATION_S / 60:.0f} min limit; "
                             "set LIPSYNC_STS_MAX_DURATION (seconds) to allow it")
