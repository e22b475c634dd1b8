"""Timed text segments and their SubRip (.srt) form."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from lipsync_sts.errors import UserInputError


class Segment(BaseModel):
    """One stretch of speech: seconds from the start of the video, and its text."""

    start: float
    end: float
    text: str

    @property
    def duration(self) -> float:
        return self.end - self.start


def _timestamp(seconds: float) -> str:
    ms = max(0, int(round(seconds * 1000)))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def to_srt(segments: list[Segment]) -> str:
    blocks = [
        f"{i}\n{_timestamp(seg.start)} --> {_timestamp(seg.end)}\n{seg.text.strip()}\n"
        for i, seg in enumerate(segments, start=1)
    ]
    return "\n".join(blocks)


_TIME = r"(\d+):(\d{2}):(\d{2})[,.](\d{1,3})"
_CUE = re.compile(_TIME + r"\s*-->\s*" + _TIME)


def _seconds(h: str, m: str, s: str, frac: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(frac.ljust(3, "0")) / 1000


def parse_srt(text: str, source: str = "subtitles") -> list[Segment]:
    """Parse SubRip or WebVTT cues; cue numbers and VTT headers are ignored."""
    segments: list[Segment] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()):
        lines = block.split("\n")
        for i, line in enumerate(lines):
            match = _CUE.search(line)
            if match:
                g = match.groups()
                body = " ".join(l.strip() for l in lines[i + 1:] if l.strip())
                segments.append(Segment(start=_seconds(*g[:4]), end=_seconds(*g[4:]), text=body))
                break
    if not segments:
        raise UserInputError(f"{source} holds no timed cues; give an .srt or .vtt file with at least one cue")
    return segments


def read_srt(path: str | Path) -> list[Segment]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UserInputError(f"subtitle file {path} does not exist") from None
    except UnicodeDecodeError:
        raise UserInputError(f"subtitle file {path} is not UTF-8 text; save it as UTF-8 and retry") from None
    return parse_srt(text, source=f"subtitle file {path}")
