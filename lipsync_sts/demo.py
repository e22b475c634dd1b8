"""`make demo`: a sample talking-head input built from what ships offline, dubbed hi -> ur.

No talking-face video ships in any package, so the input is a real portrait photo (scikit-image's
astronaut, Eileen Collins, NASA, public domain) held still for the length of Hindi speech
synthesised with espeak-ng. The dub then has to make that still face speak Urdu.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

DEMO_TEXT_HI = "नमस्ते। मैं अंतरिक्ष यात्री हूँ। आज मैं आपको अपनी यात्रा के बारे में बताऊँगी।"
FPS = "25/1"


def build_sample_video(path: Path, text: str = DEMO_TEXT_HI, language: str = "hi") -> Path:
    """A still portrait with speech: (512, 512) frames at 25 fps, 0.5 s of silence around the speech."""
    from skimage import data

    from lipsync_sts import media
    from models.tts import TtsConfig, synthesize

    speech = synthesize(text, language, TtsConfig())
    rate = speech.sample_rate
    pad = np.zeros(rate // 2, np.float32)
    audio = np.concatenate([pad, speech.audio.astype(np.float32), pad])
    n_frames = int(np.ceil(len(audio) / rate * 25))
    audio = np.pad(audio, (0, int(round(n_frames / 25 * rate)) - len(audio)))
    portrait = np.ascontiguousarray(data.astronaut())  # (512, 512, 3) uint8 RGB

    path.parent.mkdir(parents=True, exist_ok=True)
    frames_only = path.with_name(f".{path.stem}.frames.mp4")
    with media.VideoWriter(frames_only, FPS, portrait.shape[1], portrait.shape[0]) as writer:
        for _ in range(n_frames):
            writer.write(portrait)
    media.mux(frames_only, audio, rate, path)
    frames_only.unlink()
    return path


def run_demo(output_dir: Path, store_url: str | None = None) -> None:
    from flows.dub import dub

    sample = output_dir / "astronaut_hi.mp4"
    if not sample.exists():
        build_sample_video(sample)
    print(f"sample input: {sample} (Hindi speech over a still portrait)")
    result = dub(video=str(sample), source="hi", targets=["ur"], output=str(output_dir / "astronaut_ur.mp4"),
                 store_url=store_url)
    print(result.summary)
    print(f"subtitles (hi): {result.source_subtitles}")
    for out in result.outputs:
        print(f"dubbed ({out.language}): {out.video}\nsubtitles ({out.language}): {out.subtitles}")
