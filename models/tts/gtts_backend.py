"""Google Translate's TTS through gTTS: what the original project used. Online only; offline it
fails with a clear error rather than a silent segment."""

from __future__ import annotations

import io

import numpy as np

from lipsync_sts.errors import UserInputError
from lipsync_sts.languages import get_language


def gtts_languages() -> list[str]:
    from gtts.lang import tts_langs

    try:
        known = tts_langs()
    except Exception:  # noqa: BLE001 - some gTTS versions fetch the list online
        return []
    return [code for code in known if code in _codes()]


def _codes() -> set[str]:
    from lipsync_sts.languages import LANGUAGES

    return set(LANGUAGES)


def synthesize(text: str, language: str, rate_wpm: int) -> tuple[np.ndarray, int]:
    from gtts import gTTS
    from gtts.tts import gTTSError

    lang = get_language(language)
    if lang.code not in gtts_languages():
        raise UserInputError(f"gTTS has no voice for {lang.name} ({lang.code}); choose --tts espeak-ng or another target")
    buf = io.BytesIO()
    try:
        gTTS(text, lang=lang.code, slow=rate_wpm < 120).write_to_fp(buf)
    except (gTTSError, OSError) as err:
        raise UserInputError(f"gTTS needs a connection to translate.google.com and could not reach it ({err}); "
                             "use --tts espeak-ng (offline) or run where the internet is reachable") from None
    return _decode_mp3(buf.getvalue())


def _decode_mp3(data: bytes) -> tuple[np.ndarray, int]:
    import av

    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        frames = [f.to_ndarray().astype(np.float32).reshape(f.layout.nb_channels if f.format.is_planar else 1, -1)
                  for f in container.decode(stream)]
        rate = stream.rate
    audio = np.concatenate([f.mean(axis=0) for f in frames]) if frames else np.zeros(0, np.float32)
    return audio, rate
