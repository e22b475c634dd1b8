"""The embedded lip-sync: no weights. Two ways to draw the mouth a dub needs:

- re-use (the default when the video shows enough mouth variety): each output frame shows a mouth
  the speaker really made, chosen from a library of the video's own lower faces (or another
  recording's, ``library=``) by shape and head pose with temporal smoothness (select.py), warped
  through the landmark mesh to the current face and pasted with a feathered mask (reuse.py);
- warp (v1, for a still photo or too little variety): the lips and jaw of the current frame are
  warped to a target opening and the opened mouth is synthesised; described below.

Targets are mouth shapes per frame (visemes.py: opening, rounding, closure, teeth), from the TTS's
phonemes where known, else from the dub's audio; a plain (N,) opening is accepted too.

The warp (v1):

Per frame, with the face mesh's landmarks in mouth-aligned coordinates (mouth_frame.py) and its
inner-lip edges re-measured on the frame's colours (lip_edges.py):
- the target inner-lip gap is ``target × max_gap × the speaker's relaxed mouth width`` at the
  middle (measured over the whole track, so rounded lips do not shrink it), shaped like a lens
  that closes at the inner corners; the change from the source frame's own gap moves the lower
  lip and jaw down and the upper lip up (or pulls them together when the target is smaller, so a
  talking source mouth closes in the dub's silences);
- that becomes a backward map for ``cv2.remap`` inside a crop around the lower face only: lower
  lip → jaw → a fade below the chin; upper lip → a fade up to the nose base;
- the opening shows the source's own inner mouth where it had one (its top part moved with the
  upper lip and its bottom with the lower, as teeth are) and a synthesised cavity with upper
  teeth where it had none (mouth_cavity.py);
- a feathered lower-face mask limits the change; pixels outside the crop are never written.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from pydantic import BaseModel, ConfigDict, Field

from models.face import FaceTrack
from models.face import landmarks as lm

from .lip_edges import refine_inner_lips
from .mouth_cavity import cavity_colours, cavity_layer
from .mouth_frame import MouthGeometry, smoothstep
from .mouth_library import MouthLibrary, MouthLibraryConfig, head_pose
from .speaker_fit import SpeakerFit, SpeakerFitConfig
from .reuse import ReuseConfig, render_entries
from .select import SelectConfig, desired_descriptors, select_path, switch_frames
from .visemes import CLOSURE, OPEN, REST, VisemeConfig

# Slopes of every displacement profile along b stay below 1/_NO_FOLD of a pixel per pixel, so the
# backward map stays monotonic (no fold-over, no doubled lips).
_NO_FOLD = 2.5


class EmbeddedLipSyncConfig(BaseModel):
    """Parameters of the embedded renderer (part of the lipsync stage's cache key)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_gap: float = Field(0.35, gt=0.0, le=0.8, description="inner-lip gap at target 1, in mouth widths")
    lower_share_open: float = Field(0.8, ge=0.0, le=1.0, description="share of an opening done by lower lip and jaw")
    lower_share_close: float = Field(0.6, ge=0.0, le=1.0, description="share of a closing done by lower lip and jaw")
    lip_profile_power: float = Field(0.6, gt=0.0, description="shape of the opening across the mouth: (1-t²)^p")
    teeth: float = Field(1.0, ge=0.0, le=1.0, description="strength of synthesised upper teeth (0 = none)")
    upper_share_inside: float = Field(
        0.65, ge=0.0, le=1.0, description="top share of the source's visible inner mouth that moves with the upper lip"
    )
    feather: float = Field(0.15, gt=0.0, description="width of the mask's soft edge, in mouth widths")
    refine_lips: bool = Field(True, description="grow the mesh's inner-lip edges over teeth/cavity pixels")
    min_change_px: float = Field(0.3, ge=0.0, description="smaller changes of the gap leave the frame untouched")
    # Appearance re-use (see the module docstring).
    mode: Literal["auto", "reuse", "warp"] = Field(
        "auto", description="auto: re-use mouths when the library is usable, else warp; warp: v1 only")
    library: MouthLibraryConfig = Field(default_factory=MouthLibraryConfig)
    speaker: SpeakerFitConfig = Field(default_factory=SpeakerFitConfig)
    select: SelectConfig = Field(default_factory=SelectConfig)
    reuse: ReuseConfig = Field(default_factory=ReuseConfig)
    visemes: VisemeConfig = Field(default_factory=VisemeConfig)
    morph_switches: bool = Field(True, description="morph over two frames where the chosen source run changes")
    reshape: float = Field(1.0, ge=0.0, le=1.0, description="share of the library mouth's opening error the "
                           "mesh warp corrects (0: show library mouths as they are)")
    max_extra_open: float = Field(0.6, ge=0.0, description="the warp opens a library mouth by at most this "
                                  "times its own opening + 0.01 eye distances (it has no inner mouth to stretch)")


class EmbeddedLipSync:
    """Renders frame by frame in a streaming loop: ``out = renderer.render(i, frame)``.

    target: (N,) opening in [0, 1] or (N, 4) mouth shapes (visemes.SHAPE_FIELDS) per frame of
    ``track``; library: mouths to re-use (MouthLibrary.from_video / from_frames), None = warp only.
    """

    def __init__(self, track: FaceTrack, target_opening: np.ndarray, config: EmbeddedLipSyncConfig | None = None,
                 library: MouthLibrary | None = None):
        target = np.nan_to_num(np.asarray(target_opening, dtype=np.float32), nan=0.0)
        if target.ndim == 1 and target.shape == (len(track),):
            target = np.clip(target, 0.0, 1.0)
            shapes = np.zeros((len(track), 4), np.float32)
            shapes[:, OPEN] = target
            shapes[target <= 0] = REST
        elif target.shape == (len(track), 4):
            shapes = target
        else:
            raise ValueError(f"target_opening must be ({len(track)},) or ({len(track)}, 4) like the face track, "
                             f"got {target.shape}")
        self.track = track
        self.shapes = shapes
        self.target = np.where(shapes[:, CLOSURE] > 0.6, 0.0, np.clip(shapes[:, OPEN], 0.0, 1.0)).astype(np.float32)
        self.config = config or EmbeddedLipSyncConfig()
        self.mouth_scale = _reference_mouth_width(track)  # (N,) px
        self.library = library
        self.path: np.ndarray | None = None  # (N,) library entry per frame when re-using
        self.entries: list[list[tuple[int, float]]] = []
        use = self.config.mode == "reuse" or (
            self.config.mode == "auto" and library is not None and library.usable(self.config.library))
        if use and library is not None and len(library) > 0:
            pose = np.full((len(track), 2), np.nan, np.float32)
            pose[track.present] = head_pose(track.landmarks[track.present])
            self.path = select_path(shapes, pose, track.present, library, self.config.select)
            self.entries = _frame_entries(self.path, library, self.config.morph_switches)
            self.open_delta = _opening_corrections(shapes, self.entries, library, self.config)

    @property
    def reusing(self) -> bool:
        """True when frames are drawn from the mouth library (False: the v1 warp)."""
        return self.path is not None

    def render(self, index: int, frame: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB → the same frame with the mouth re-shaped; the input array itself
        where the track has no face (nothing to change)."""
        w, h = self.track.size
        if frame.shape != (h, w, 3) or frame.dtype != np.uint8:
            raise ValueError(
                f"frame {index}: expected ({h}, {w}, 3) uint8 like the face track, got {frame.shape} {frame.dtype}"
            )
        if not self.track.present[index]:
            return frame
        if self.path is not None and self.path[index] >= 0:
            return render_entries(frame, self.track.landmarks[index].astype(np.float32), self.library,
                                  self.entries[index], self.config.reuse, float(self.open_delta[index]))
        geom = MouthGeometry.from_landmarks(self.track.landmarks[index])
        if self.config.refine_lips:
            geom = refine_inner_lips(frame, geom)
        return render_mouth(frame, geom, float(self.target[index]), self.config, float(self.mouth_scale[index]))


def _opening_corrections(shapes: np.ndarray, entries: list[list[tuple[int, float]]], library: MouthLibrary,
                         config: EmbeddedLipSyncConfig) -> np.ndarray:
    """(N,) eye distances by which to part the shown lips further (negative: close them) so the
    opening is the target's exactly: the selection favours long natural runs, whose own motion
    would otherwise blur the dub's syllable rhythm."""
    want, _ = desired_descriptors(shapes, library)
    delta = np.zeros(len(shapes), np.float32)
    for t, ent in enumerate(entries):
        if not ent:
            continue
        have = sum(w * float(library.opening[k]) for k, w in ent)
        d = config.reshape * (float(want[t, 0]) - have)
        delta[t] = np.clip(d, -have, config.max_extra_open * have + 0.01)
    return delta


def _frame_entries(path: np.ndarray, library: MouthLibrary, morph: bool) -> list[list[tuple[int, float]]]:
    """Per frame, the library entries to draw and their weights: one normally; at a switch
    between runs, the frame before and the frame of the switch each morph a third of the way
    towards the other side (the old run played on one frame / the new run one frame early)."""
    entries: list[list[tuple[int, float]]] = [[(int(k), 1.0)] if k >= 0 else [] for k in path]
    if not morph:
        return entries
    switches = switch_frames(path, library)

    def step(k: int, d: int) -> int:
        j = k + d
        ok = 0 <= j < len(library) and library.run_id[j] == library.run_id[k]
        return j if ok else k

    for t in np.flatnonzero(switches):
        a, b = int(path[t - 1]), int(path[t])
        if len(entries[t - 1]) == 1:
            entries[t - 1] = [(a, 2 / 3), (step(b, -1), 1 / 3)]
        entries[t] = [(step(a, 1), 1 / 3), (b, 2 / 3)]
    return entries


def _reference_mouth_width(track: FaceTrack) -> np.ndarray:
    """(N,) the speaker's relaxed mouth width in pixels at each frame's face size.

    Target openings are scaled by this rather than by the frame's own mouth width: that width
    shrinks by a third when the lips round ("oo"), and a target tied to it would close a rounded
    mouth instead of opening it."""
    pts = track.landmarks
    width = np.linalg.norm(pts[:, lm.MOUTH_CORNER_RIGHT] - pts[:, lm.MOUTH_CORNER_LEFT], axis=-1)
    eyes = track.face_size()
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = width / eyes
    ratio = ratio[track.present & np.isfinite(ratio)]
    typical = float(np.median(ratio)) if ratio.size else 0.7
    return np.nan_to_num(typical * eyes, nan=0.0).astype(np.float32)


def render_mouth(
    frame: np.ndarray, geom: MouthGeometry, target: float, config: EmbeddedLipSyncConfig, mouth_scale: float = 0.0
) -> np.ndarray:
    """One frame: returns a new array, or ``frame`` itself when nothing would visibly change.

    mouth_scale: the relaxed mouth width in pixels that ``target`` refers to; 0 = this frame's."""
    import cv2

    mw = geom.mouth_width
    gap_target = target * config.max_gap * (mouth_scale if mouth_scale > 0 else mw)
    d_mid = gap_target - geom.gap_mid
    if abs(d_mid) < config.min_change_px and gap_target < config.min_change_px:
        return frame
    jaw = d_mid * (config.lower_share_open if d_mid > 0 else config.lower_share_close)  # jaw drop, px

    feather = config.feather * mw
    if jaw >= 0:
        # An opening jaw carries the chin down over the neck; the neck below takes up the move.
        fade_len = max(0.3 * mw, _NO_FOLD * jaw)
        fade_start = geom.b_chin + jaw
    else:
        # A closing one would drag the shadowed neck (and a collar just under it) up into the
        # chin: the chin stays and the skin between lower lip and chin takes up the move.
        lip_bottom = float(geom.lower_outer(np.array([geom.a_mid], np.float32))[0])
        fade_len = max(geom.b_chin - lip_bottom, 2.0)
        fade_start = lip_bottom
        jaw = max(jaw, -fade_len / _NO_FOLD)
    b_top = geom.b_nose - feather
    b_bot = max(geom.b_chin, fade_start + fade_len) + feather
    a_ext = geom.jaw_half + feather
    x0, y0, x1, y1 = _crop_box(geom, geom.a_mid - a_ext, geom.a_mid + a_ext, b_top, b_bot, frame.shape)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return frame

    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)  # (h, w) output pixel centres
    a, b = geom.to_ab(xs, ys)

    # Lip curves at every column; source gap and target gap per column (lens-shaped).
    t = (a - geom.a_mid) / geom.half_inner  # -1, 1 at the inner corners
    b_ui = geom.upper_inner(a)
    b_li = geom.lower_inner(a)
    gap_src = np.maximum(b_li - b_ui, 0.0)  # 0 beyond the corners: the curves meet there
    profile = np.clip(1.0 - t * t, 0.0, 1.0) ** config.lip_profile_power
    delta = gap_target * profile - gap_src
    share = np.where(delta > 0, config.lower_share_open, config.lower_share_close).astype(np.float32)
    up_room = np.maximum(b_ui - geom.b_nose, 1.0) / _NO_FOLD
    e_up = np.clip((1.0 - share) * delta, -up_room, up_room)  # upper lip moves up by this
    e_low = delta - e_up  # lower lip moves down by this
    upper = b_ui - e_up  # output inner-lip edges
    lower = b_li + e_low

    # Lower region: lip displacement blends into the jaw's (uniform over the chin, fading
    # towards the jaw's angles), then fades out below the chin.
    tj = (a - geom.a_mid) / geom.jaw_half
    jaw_profile = 1.0 - smoothstep(0.35, 0.95, np.abs(tj))
    lip_thick = np.maximum(geom.lower_outer(a) - b_li, 0.0)
    ramp = np.maximum(np.maximum(lip_thick, _NO_FOLD * np.abs(e_low - jaw * jaw_profile)), 2.0)
    lam = smoothstep(0.0, ramp, b - lower)
    s_low = (e_low * (1.0 - lam) + jaw * jaw_profile * lam) * (1.0 - smoothstep(fade_start, fade_start + fade_len, b))
    # Upper region: the lip's move fades to nothing at the nose base.
    psi = smoothstep(geom.b_nose, np.maximum(upper, geom.b_nose + 1.0), b)
    src_b = np.where(
        b >= lower,
        b - s_low,
        np.where(b <= upper, b + e_up * psi, _inside_source(b, upper, lower, b_ui, b_li, gap_src, config)),
    )
    map_x, map_y = geom.to_xy(a, src_b)
    warped = cv2.remap(frame, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101).astype(np.float32)

    orig = frame[y0:y1, x0:x1].astype(np.float32)
    out = warped
    height = lower - upper
    depth = b - upper
    alpha_cav = np.clip(np.minimum(depth, lower - b) + 0.5, 0.0, 1.0) * (height > 0)
    if np.any(alpha_cav > 0):
        lip_rgb, teeth_rgb = cavity_colours(*_colour_samples(orig, a, b, t, b_ui, b_li, geom))
        synth = cavity_layer(t, depth, height, mw, lip_rgb, teeth_rgb, config.teeth)
        # The source's own inner mouth, where it had one, hangs from both lips (see
        # _inside_source); a soft edge of about a pixel hands over to the synthetic cavity between.
        soft = max(0.02 * mw, 0.7)
        top = config.upper_share_inside * gap_src
        bottom = gap_src - top
        from_top = 1.0 - smoothstep(top - soft, top + soft, depth)
        from_bottom = 1.0 - smoothstep(bottom - soft, bottom + soft, lower - b)
        alpha_src = np.where(gap_src > 2 * soft, np.maximum(from_top, from_bottom), 0.0)
        cav = alpha_src[..., None] * warped + (1.0 - alpha_src[..., None]) * synth
        out = warped + alpha_cav[..., None] * (cav - warped)

    # Feathered lower-face mask: 1 wherever anything moved, 0 beyond the jaw, the nose base and
    # the neck below the fade.
    mask = (
        (1.0 - smoothstep(1.0, 1.0 + feather / geom.jaw_half, np.abs(tj)))
        * smoothstep(b_top, geom.b_nose, b)
        * (1.0 - smoothstep(b_bot - feather, b_bot, b))
    )[..., None]
    blended = np.clip(orig + mask * (out - orig) + 0.5, 0, 255).astype(np.uint8)
    result = frame.copy()
    result[y0:y1, x0:x1] = np.where(mask > 0, blended, frame[y0:y1, x0:x1])
    return result


def _inside_source(b, upper, lower, b_ui, b_li, gap_src, config: EmbeddedLipSyncConfig) -> np.ndarray:
    """Source b for output pixels inside the mouth opening.

    Upper teeth move with the upper jaw and lower teeth with the lower one, so the top share of
    the source's opening stays under the upper lip and the rest above the lower lip; what opens
    between them is new (the synthetic cavity covers it). When the mouth closes, both parts
    shrink towards their lips."""
    depth = b - upper
    height = np.maximum(lower - upper, 1e-6)
    top = config.upper_share_inside * gap_src
    # Split the output opening in the same proportion, so a closing mouth keeps both parts.
    split = upper + config.upper_share_inside * height
    from_upper = b_ui + np.minimum(depth, top)
    from_lower = b_li - np.minimum(lower - b, gap_src - top)
    return np.where(b < split, from_upper, from_lower)


def _crop_box(
    geom: MouthGeometry, a0: float, a1: float, b0: float, b1: float, shape: tuple[int, ...]
) -> tuple[int, int, int, int]:
    """Integer pixel box (x0, y0, x1, y1) around an (a, b) rectangle, clipped to the frame."""
    xs, ys = geom.to_xy(np.array([a0, a1, a0, a1]), np.array([b0, b0, b1, b1]))
    h, w = shape[:2]
    x0 = int(np.clip(np.floor(xs.min()), 0, w))
    x1 = int(np.clip(np.ceil(xs.max()) + 1, 0, w))
    y0 = int(np.clip(np.floor(ys.min()), 0, h))
    y1 = int(np.clip(np.ceil(ys.max()) + 1, 0, h))
    return x0, y0, x1, y1


def _colour_samples(crop, a, b, t, b_ui, b_li, geom: MouthGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of the source lips (between outer and inner contours) and of the chin, (K, 3)."""
    central = np.abs(t) < 0.7
    lips = central & (((b > geom.upper_outer(a)) & (b < b_ui)) | ((b > b_li) & (b < geom.lower_outer(a))))
    lo = geom.lower_outer(a)
    chin = (np.abs(t) < 0.6) & (b > lo + 0.15 * geom.mouth_width) & (b < geom.b_chin - 0.1 * geom.mouth_width)
    return crop[lips], crop[chin]


def target_opening_from_envelope(
    envelope: np.ndarray,
    gate: float = 0.12,
    attack_frames: float = 1.0,
    release_frames: float = 2.0,
) -> np.ndarray:
    """Speech envelope at the video's frame rate (N,), any non-negative scale → target opening
    (N,) in [0, 1].

    The envelope is scaled by its 95th percentile (robust to a few loud peaks), values below
    ``gate`` become 0 (silence and breath close the mouth) and the rest is rescaled to start at 0
    so the mouth opens from closed without a jump. A one-pole follower then opens within about
    ``attack_frames`` and closes within about ``release_frames`` (time constants in frames), so a
    syllable's onset is not late and the mouth does not snap shut between syllables.
    """
    env = np.nan_to_num(np.asarray(envelope, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    env = np.maximum(env.reshape(-1), 0.0)
    if env.size == 0:
        return np.zeros(0, dtype=np.float32)
    peak = float(np.percentile(env, 95))
    if peak <= 0:
        return np.zeros(env.shape, dtype=np.float32)
    level = np.clip(env / peak, 0.0, 1.0)
    level = np.clip((level - gate) / (1.0 - gate), 0.0, 1.0)

    k_attack = 1.0 - np.exp(-1.0 / max(attack_frames, 1e-3))
    k_release = 1.0 - np.exp(-1.0 / max(release_frames, 1e-3))
    out = np.empty_like(level)
    y = 0.0
    for i, x in enumerate(level):
        y += (k_attack if x > y else k_release) * (x - y)
        out[i] = y
    out[out < 0.02] = 0.0  # the follower's tail never reaches 0 by itself: silence must be closed
    return out.astype(np.float32)


def embedded_renderer(video_path, track: FaceTrack, audio: np.ndarray, sample_rate: int, fps: float,
                      config: EmbeddedLipSyncConfig | None = None,
                      phonemes: list[tuple[float, float, str]] | None = None,
                      library: MouthLibrary | None = None, envelope_only: bool = False,
                      speaker: SpeakerFit | None = None) -> EmbeddedLipSync:
    """The renderer the lipsync stage runs: mouth shapes from the dub (its phonemes on the dub's
    clock where known, see visemes.phonemes_on_dub_clock; else its audio, through ``speaker``'s
    fitted mapping where given) and a mouth library from ``library`` (e.g. another recording,
    ``MouthLibrary.from_video(path, its_track)``) or else from the video itself (one extra
    decoding pass; only crops are kept)."""
    from .visemes import dub_mouth_shapes

    config = config or EmbeddedLipSyncConfig()
    shapes = dub_mouth_shapes(audio, sample_rate, fps, len(track), phonemes, config.visemes, envelope_only,
                              speaker=speaker if speaker is not None and speaker.useful else None)
    if library is None and config.mode != "warp":
        library = MouthLibrary.from_video(video_path, track, config.library)
    return EmbeddedLipSync(track, shapes, config, library=library)
