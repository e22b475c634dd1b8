"""Where speech models come from: a local folder, the per-user model cache, or a hub id.

No machine of this project reaches the internet, so a transformers model is only usable here when
its files are on disk. A user names a model by folder, by a short name this module knows (its
files then live in ``<cache>/models/<name>`` once ``lipsync-sts models fetch NAME`` ran on a
connected machine), or by a hub id (loaded from the Hugging Face cache, or downloaded where a
network exists). Every failure ends in one sentence saying how to supply the model.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lipsync_sts.errors import UserInputError

Kind = Literal["asr", "mt", "tts"]


def cache_root() -> Path:
    """The per-user cache shared by all lipsync-sts model files (same as the embedded whisper's)."""
    return Path(os.environ.get("LIPSYNC_STS_CACHE", Path.home() / ".cache" / "lipsync-sts")).expanduser()


def models_dir() -> Path:
    return cache_root() / "models"


@dataclass(frozen=True)
class KnownModel:
    name: str  # the short name users type
    hub_id: str
    kind: Kind
    family: str  # "whisper", "ctc", "indictrans2", "nllb", "m2m100", "marian", "vits"
    note: str = ""


# Models a dub between Indian languages is likely to want. Any other hub id or folder works too;
# these get a short name and a place in `lipsync-sts models`.
KNOWN_MODELS: dict[str, KnownModel] = {m.name: m for m in [
    KnownModel("whisper-small", "openai/whisper-small", "asr", "whisper", "multilingual Whisper, 244 M"),
    KnownModel("whisper-medium", "openai/whisper-medium", "asr", "whisper", "multilingual Whisper, 769 M"),
    KnownModel("whisper-large-v3", "openai/whisper-large-v3", "asr", "whisper", "multilingual Whisper, 1.55 B"),
    KnownModel("indicwav2vec-hindi", "ai4bharat/indicwav2vec-hindi", "asr", "ctc", "Hindi CTC (IndicWav2Vec)"),
    KnownModel("indictrans2-indic-indic-dist-320M", "ai4bharat/indictrans2-indic-indic-dist-320M", "mt",
               "indictrans2", "22 Indian languages, any to any (needs trust_remote_code)"),
    KnownModel("indictrans2-en-indic-dist-200M", "ai4bharat/indictrans2-en-indic-dist-200M", "mt", "indictrans2",
               "English to 22 Indian languages (needs trust_remote_code)"),
    KnownModel("indictrans2-indic-en-dist-200M", "ai4bharat/indictrans2-indic-en-dist-200M", "mt", "indictrans2",
               "22 Indian languages to English (needs trust_remote_code)"),
    KnownModel("nllb-200-distilled-600M", "facebook/nllb-200-distilled-600M", "mt", "nllb", "200 languages"),
    KnownModel("m2m100_418M", "facebook/m2m100_418M", "mt", "m2m100", "100 languages"),
    KnownModel("opus-mt-en-hi", "Helsinki-NLP/opus-mt-en-hi", "mt", "marian", "English to Hindi"),
    KnownModel("opus-mt-hi-en", "Helsinki-NLP/opus-mt-hi-en", "mt", "marian", "Hindi to English"),
    KnownModel("opus-mt-en-mul", "Helsinki-NLP/opus-mt-en-mul", "mt", "marian", "English to many (>>xxx<< tags)"),
    *[KnownModel(f"mms-tts-{iso3}", f"facebook/mms-tts-{iso3}", "tts", "vits", f"MMS VITS voice ({iso3})")
      for iso3 in ("hin", "ben", "guj", "kan", "mal", "mar", "pan", "tam", "tel", "urd-script_arabic", "ory", "asm")],
]}

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def resolve(model: str, kind: Kind, option: str) -> str:
    """A folder path or hub id that ``from_pretrained`` can load; ``option`` names the CLI flag.

    A folder is used as is; a known short name maps to its cache folder when fetched, else its hub
    id; anything else that looks like ``org/name`` is a hub id.
    """
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UserInputError(f"model folder {path} holds no config.json; pass a folder saved by "
                                 f"transformers' save_pretrained (or a hub snapshot) to {option}")
        return str(path)
    known = KNOWN_MODELS.get(model)
    if known is not None:
        cached = models_dir() / known.name
        return str(cached) if (cached / "config.json").is_file() else known.hub_id
    if _HUB_ID.match(model) and not path.exists():
        return model
    raise UserInputError(
        f"{kind.upper()} model {model!r} is not a folder that exists; pass a local model folder to {option}, "
        f"or a known name ({', '.join(n for n, m in KNOWN_MODELS.items() if m.kind == kind)}) after running "
        f"`lipsync-sts models fetch NAME` on a connected machine"
    )


def missing_model_error(model: str, kind: Kind, option: str, err: Exception) -> UserInputError:
    """The error for a hub id whose files are neither cached here nor downloadable."""
    return UserInputError(
        f"{kind.upper()} model {model!r} could not be loaded ({type(err).__name__}: {str(err).splitlines()[0][:160]}); "
        f"this machine may be offline: run `lipsync-sts models fetch {model}` on a connected machine and copy "
        f"{models_dir()} here, or pass a local model folder to {option}"
    )


def load_pretrained(loader, model: str, kind: Kind, option: str, **kwargs):
    """``loader.from_pretrained(model)``, from local files first so an offline machine fails fast."""
    source = resolve(model, kind, option)
    try:
        return loader.from_pretrained(source, local_files_only=True, **kwargs)
    except OSError as err:
        if Path(source).is_dir():
            raise UserInputError(f"model folder {source} is incomplete or unreadable ({str(err).splitlines()[0][:160]}); "
                                 f"save the whole model there (weights, config and tokenizer) for {option}") from None
        first = err
    try:
        return loader.from_pretrained(source, **kwargs)
    except Exception as err:  # noqa: BLE001 - network, 404, auth: the user's fix is the same
        raise missing_model_error(model, kind, option, err if str(err) else first) from None


def describe_folder(path: Path) -> dict | None:
    """(kind, family, architecture) of a saved transformers model folder, read from its config."""
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    arch = (config.get("architectures") or [config.get("model_type", "?")])[0]
    model_type = config.get("model_type", "")
    tokenizer_class = ""
    try:
        tokenizer_class = json.loads((path / "tokenizer_config.json").read_text(encoding="utf-8")).get("tokenizer_class", "")
    except (OSError, ValueError):
        pass
    family = detect_family(model_type, arch, tokenizer_class, path.name)
    kind = {"whisper": "asr", "ctc": "asr", "vits": "tts"}.get(family, "mt")
    return {"kind": kind, "family": family, "architecture": arch}


def detect_family(model_type: str, architecture: str, tokenizer_class: str, name: str = "") -> str:
    text = f"{model_type} {architecture} {tokenizer_class} {name}".lower()
    for needle, family in (("indictrans", "indictrans2"), ("nllb", "nllb"), ("whisper", "whisper"),
                           ("forctc", "ctc"), ("vits", "vits"), ("marian", "marian"), ("m2m", "m2m100")):
        if needle in text:
            return family
    return "unknown"


def local_models() -> list[dict]:
    """Model folders in the cache: name, path, kind, family, architecture."""
    root = models_dir()
    found = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        # CTranslate2 folders (the embedded whisper-base's join) hold model.bin: not transformers models.
        weights = any(folder.glob("*.safetensors")) or (folder / "pytorch_model.bin").is_file()
        if folder.is_dir() and (folder / "config.json").is_file() and weights:
            info = describe_folder(folder)
            if info:
                found.append({"name": folder.name, "path": str(folder), **info})
    return found


def fetch(name: str) -> Path:
    """Download a model into the cache (needs a network); returns its folder."""
    known = KNOWN_MODELS.get(name)
    hub_id = known.hub_id if known else name
    if known is None and not _HUB_ID.match(name):
        raise UserInputError(f"unknown model {name!r}; fetch one of {', '.join(KNOWN_MODELS)} or a hub id like org/name")
    from huggingface_hub import snapshot_download

    target = models_dir() / (known.name if known else hub_id.replace("/", "--"))
    try:
        snapshot_download(hub_id, local_dir=str(target))
    except Exception as err:  # noqa: BLE001
        raise UserInputError(f"downloading {hub_id} failed ({type(err).__name__}); `models fetch` needs a "
                             f"connection to huggingface.co — run it on a connected machine and copy {target} here") from None
    return target
