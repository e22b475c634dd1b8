"""Pictures of a face track for a person to check: a PNG strip of sampled frames or a full video.

Drawn on each frame: the face box (green when the detector is confident, orange when not), all
mesh points, the lip contours, and a caption with the frame number, confidence and shot cuts;
frames without the face say so. Frames are shown upright (rotated as a player would).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from lipsync_sts import media

from . import landmarks as lm
from . import rotation as rot
from .face_track import FaceTrack

_GOOD, _WEAK, _LIPS, _DOTS = (40, 220, 40), (255, 150, 0), (0, 255, 255), (255, 255, 0)


def draw(frame: np.ndarray, track: FaceTrack, index: int) -> np.ndarray:
    """An upright copy of stored ``frame`` ((H, W, 3) RGB) with frame ``index`` of the track drawn."""
    out = np.ascontiguousarray(frame).copy()
    h, w = out.shape[:2]
    thick = max(1, round(max(h, w) / 400))
    present = index < len(track) and bool(track.present[index])
    if present:
        pts = track.landmarks[index]
        x0, y0, x1, y1 = (int(round(v)) for v in track.boxes[index])
        colour = _GOOD if track.confidence[index] >= 0.5 else _WEAK
        cv2.rectangle(out, (x0, y0), (x1, y1), colour, thick)
        for x, y in np.round(pts).astype(int):
            if 0 <= x < w and 0 <= y < h:
                out[y, x] = _DOTS
        for contour in (lm.LIP_UPPER_OUTER, lm.LIP_LOWER_OUTER, lm.LIP_UPPER_INNER, lm.LIP_LOWER_INNER):
            poly = np.round(pts[list(contour)] * 4).astype(np.int32)  # 2 fractional bits
            cv2.polylines(out, [poly], False, _LIPS, thick, cv2.LINE_AA, shift=2)
    out = np.ascontiguousarray(rot.upright(out, rot.quarter_turns(track.rotation)))
    cut = track.cuts is not None and index < len(track) and bool(track.cuts[index])
    caption = f"{index}" + (f" conf {track.confidence[index]:.2f}" if present else " NO FACE") + (" CUT" if cut else "")
    if track.backend == "haar":
        caption += " (haar: mean face)"
    scale = max(out.shape[1], 320) / 640
    org = (round(6 * scale) + 2, round(24 * scale) + 4)
    cv2.putText(out, caption, org, cv2.FONT_HERSHEY_SIMPLEX, 0.7 * scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
    cv2.putText(out, caption, org, cv2.FONT_HERSHEY_SIMPLEX, 0.7 * scale, (255, 255, 255), thick, cv2.LINE_AA)
    return out


def render_debug(video_path: str | os.PathLike, track: FaceTrack, out_path: str | os.PathLike,
                 n_tiles: int = 12, tile_width: int = 320, columns: int = 4) -> Path:
    """Write ``out_path``: a .png strip of ``n_tiles`` evenly spaced frames (always including any
    faceless ones' first frame and every cut, as long as there is room) or, for .mp4/.mkv/.mov,
    every frame with the track drawn (upright, no audio). Returns the path written."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if out_path.suffix.lower() in (".mp4", ".mkv", ".mov"):
        return _render_video(video_path, track, out_path)
    if out_path.suffix.lower() != ".png":
        raise ValueError(f"debug output {out_path} must end in .png (a frame strip) or .mp4 (a video)")
    wanted = _sample(track, n_tiles)
    tiles: list[np.ndarray] = []
    for i, frame in enumerate(media.iter_frames(video_path)):
        if i in wanted:
            picture = draw(frame, track, i)
            th = max(1, round(picture.shape[0] * tile_width / picture.shape[1]))
            tiles.append(cv2.resize(picture, (tile_width, th), interpolation=cv2.INTER_AREA))
        if i >= max(wanted, default=-1):
            break
    if not tiles:
        raise ValueError(f"{video_path} has no frames to draw")
    while len(tiles) % columns:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[r:r + columns]) for r in range(0, len(tiles), columns)]
    with media.atomic_output(out_path) as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR)):  # tmp keeps ".png"
            raise OSError(f"could not write {out_path}")
    return out_path


def _sample(track: FaceTrack, n: int) -> set[int]:
    """Evenly spaced frames, with the interesting ones (cuts, first frames without the face) first."""
    total = len(track)
    if total == 0:
        return set()
    special: list[int] = []
    if track.cuts is not None:
        special += np.flatnonzero(track.cuts).tolist()
    lost = np.flatnonzero(~track.present & np.concatenate([[True], track.present[:-1]]))
    special += lost.tolist()
    chosen = set(special[: n // 2])
    for i in np.linspace(0, total - 1, n).round().astype(int):
        if len(chosen) >= n:
            break
        chosen.add(int(i))
    return chosen


def _render_video(video_path: str | os.PathLike, track: FaceTrack, out_path: Path) -> Path:
    info = media.probe(video_path)
    w, h = rot.displayed_size((info.width, info.height), rot.quarter_turns(track.rotation))
    with media.atomic_output(out_path) as tmp:
        with media.VideoWriter(tmp, info.fps_fraction, w, h, crf=23) as writer:
            for i, frame in enumerate(media.iter_frames(video_path)):
                writer.write(draw(frame, track, i))
    return out_path
