"""Checks of a dub request that need no heavy imports, so bad input fails in a fraction of a second."""

from __future__ import annotations

import os
from pathlib import Path

from lipsync_sts.errors import UserInputError
from lipsync_sts.languages import get_language


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
    if not Path(video).is_file():
        raise UserInputError(f"input {video} does not exist or is not a file; check the path")
    parent = Path(output).resolve().parent
    probe_dir = parent
    while not probe_dir.exists():
        probe_dir = probe_dir.parent
    if not os.access(probe_dir, os.W_OK):
        raise UserInputError(f"output folder {parent} is not writable; choose another --output")
