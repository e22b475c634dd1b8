"""translate: source segments -> target-language segments, each kept in its source time slot."""

from __future__ import annotations

from pydantic import BaseModel, Field

import models.mt
from lipsync_sts.cache import stage
from lipsync_sts.segments import Segment, parse_srt
from lipsync_sts.store import ArtifactRef, ArtifactStore
from models.mt import MtConfig
from tasks.transcribe import load_segments


class TranslateConfig(BaseModel):
    source: str
    target: str
    mt: MtConfig = Field(default_factory=MtConfig)


def translate_segments(store: ArtifactStore, segments: ArtifactRef, config: TranslateConfig,
                       translation: ArtifactRef | None = None) -> ArtifactRef:
    if translation is not None:
        translated = parse_srt(store.read_bytes(translation).decode("utf-8-sig"), source="the translation")
    else:
        source = load_segments(store, segments)
        texts = models.mt.translate([s.text for s in source], config.source, config.target, config.mt)
        translated = [Segment(start=s.start, end=s.end, text=t) for s, t in zip(source, texts)]
    return store.put_json([s.model_dump() for s in translated], kind="segments",
                          meta={"language": config.target, "count": len(translated)})


@stage("translate", version="1", code=(models.mt,))
def translate(store_url: str, segments: ArtifactRef, config: TranslateConfig,
              translation: ArtifactRef | None = None) -> ArtifactRef:
    return translate_segments(ArtifactStore(store_url), segments, config, translation)
