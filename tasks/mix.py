"""mix: dub speech + original soundtrack -> the final soundtrack (and its timeline picture).

Outside speech the original plays (scaled by the one programme gain); under the source's speech and
the dub's it is ducked or dropped. The result is exactly the video's duration, at EBU R128 loudness
with its true peak under the ceiling. The timeline PNG rides along as a second artifact whose
reference is in the meta (``timeline``), for the flow to copy next to the output.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from pydantic import BaseModel, Field

from lipsync_sts import soundtrack
from lipsync_sts.cache import stage
from lipsync_sts.soundtrack import SoundtrackConfig
from lipsync_sts.store import ArtifactRef, ArtifactStore
from models.asr import vad
from tasks.transcribe import load_segments


class MixConfig(BaseModel):
    soundtrack: SoundtrackConfig = Field(default_factory=SoundtrackConfig)
    timeline: bool = True  # draw the timeline picture
    # ASR segments miss the odd trailing word; voice activity on the source speech catches it, so the
    # original voice does not poke through after a segment "ended".
    duck_voice_activity: bool = True


def mix_dub(store: ArtifactStore, dub: ArtifactRef, segments: ArtifactRef, video: ArtifactRef,
            config: MixConfig, original: ArtifactRef | None = None, speech_audio: ArtifactRef | None = None,
            voice_regions: list[list[float]] | None = None) -> ArtifactRef:
    """``voice_regions``: the speech regions of ``speech_audio`` as transcribe found them (its meta
    "speech_regions"); without them, voice activity is detected here."""
    from lipsync_sts import timeline_plot  # matplotlib: loaded by the stage that draws

    cfg = config.soundtrack
    duration = float(video.meta["duration"])
    rate, n = cfg.sample_rate, int(round(duration * cfg.sample_rate))
    # Only the tracks at the output rate are kept: a 10-minute 48 kHz stereo track is 230 MB, and
    # the files as read are dropped as soon as they are resampled (issue 11: bounded memory).
    speech, speech_rate = sf.read(store.local_path(dub), dtype="float32")
    dub_track = soundtrack.to_layout(speech, speech_rate, rate, n, 1)[:, 0]
    del speech
    source_channels = sf.info(store.local_path(original)).channels if original is not None else None
    channels = soundtrack.output_channels(cfg, source_channels)
    original_track = read_track(store.local_path(original), rate, n, channels) if original is not None else None
    report = dub.meta.get("timing") or []
    # Where anyone speaks: the source (its voice must not poke through) and the dub (wherever it moved).
    regions = [(s.start, s.end) for s in load_segments(store, segments)]
    regions += [(r["dub_start"], r["dub_end"]) for r in report]
    if config.duck_voice_activity and speech_audio is not None and original is not None:
        if voice_regions is not None:  # found by transcribe on this same audio: no second pass
            regions += [(float(a), float(b)) for a, b in voice_regions]
        else:  # a transcript was given, or recognition ran without VAD
            samples, _ = sf.read(store.local_path(speech_audio), dtype="float32")  # extract_audio: 16 kHz mono
            regions += vad.speech_regions(samples)
    # The timeline's input lanes are drawn from envelopes taken now, so that the mix can let the
    # tracks go as it uses them (it is handed the only references).
    lanes = ({"original": timeline_plot.envelope(original_track, rate, duration),
              "dub speech": timeline_plot.envelope(dub_track, rate, duration)} if config.timeline else {})
    tracks = [dub_track, original_track]
    del dub_track, original_track
    mixed, stats = soundtrack.mix_tracks(tracks, rate, regions, cfg)
    if mixed.shape[1] != channels:
        mixed = np.repeat(mixed, channels, axis=1)
    meta = {"sample_rate": rate, "channels": channels, "duration": n / rate, "loudness": stats,
            "timing": report, "voice": dub.meta.get("voice")}
    if config.timeline:
        png = timeline_plot.render_timeline(duration, report, None, rate, None, rate, mixed, rate, envelopes=lanes)
        meta["timeline"] = store.put_bytes(png, kind="timeline", suffix=".png").model_dump(mode="json")
    with tempfile.TemporaryDirectory() as tmp:
        flac = Path(tmp) / "soundtrack.flac"
        sf.write(flac, mixed, rate, subtype="PCM_24")
        return store.put_file(flac, kind="dub-mix", meta=meta)


def read_track(path: str | Path, rate: int, n_samples: int, channels: int) -> np.ndarray:
    """(n_samples, channels) float32 at ``rate`` from an audio file, as :func:`soundtrack.to_layout`
    makes it. A file already in that layout (extract_soundtrack writes the output's) is read
    straight into the result: one track-long buffer instead of two."""
    with sf.SoundFile(str(path)) as f:
        if f.samplerate != rate or f.channels != channels:
            return soundtrack.to_layout(f.read(dtype="float32", always_2d=True), f.samplerate, rate, n_samples,
                                        channels)
        track = np.zeros((n_samples, channels), np.float32)
        f.read(dtype="float32", out=track[:min(n_samples, f.frames)])
        return track


# The timeline picture by name: matplotlib is imported when the stage draws, not when a dub starts.
@stage("mix", version="1", code=(soundtrack, "lipsync_sts.timeline_plot", vad))
def mix(store_url: str, dub: ArtifactRef, segments: ArtifactRef, video: ArtifactRef, config: MixConfig,
        original: ArtifactRef | None = None, speech: ArtifactRef | None = None,
        voice_regions: list[list[float]] | None = None) -> ArtifactRef:
    return mix_dub(ArtifactStore(store_url), dub, segments, video, config, original, speech, voice_regions)
