"""The per-video face track: one face per frame, landmarks in full-resolution pixels.

Computed once per video (DESIGN.md §1) and shared by every target language, so it is saved as a
small .npz artifact: about 3.8 kB per frame before compression, never the frames themselves.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import landmarks as lm

FORMAT_VERSION = 1


@dataclass(frozen=True, eq=False)
class FaceTrack:
    """One tracked face per frame.

    Pixel coordinates have pixel centres at integers (the convention of ``cv2.remap``), x to the
    right, y down, in the frame's full resolution.
    """

    present: np.ndarray  # (N,) bool: a face was tracked in this frame
    boxes: np.ndarray  # (N, 4) float32 x0, y0, x1, y1 of the landmarks' extent; NaN where absent
    landmarks: np.ndarray  # (N, 478, 2) float32 x, y; NaN where absent
    confidence: np.ndarray  # (N,) float32 in [0, 1]; 0 where absent (see track.py for its meaning)
    fps: float
    size: tuple[int, int]  # (W, H) of the frames as stored (decoded), not as displayed
    # Added after format 1's first files (all optional on load, so older tracks still read):
    rotation: int = 0  # display rotation of the video, degrees counter-clockwise (media.MediaInfo.rotation)
    backend: str = "mediapipe"  # which detector made it; "haar" landmarks are a mean face in a box
    cuts: np.ndarray | None = None  # (N,) bool, True where a new shot starts; None: not measured
    notes: tuple[str, ...] = field(default_factory=tuple)  # how the speaker was chosen, per shot

    def __post_init__(self) -> None:
        n = self.present.shape[0]
        if self.present.shape != (n,) or self.present.dtype != np.bool_:
            raise ValueError(f"present must be (N,) bool, got {self.present.shape} {self.present.dtype}")
        if self.boxes.shape != (n, 4):
            raise ValueError(f"boxes must be ({n}, 4), got {self.boxes.shape}")
        if self.landmarks.shape != (n, lm.N_LANDMARKS, 2):
            raise ValueError(f"landmarks must be ({n}, {lm.N_LANDMARKS}, 2), got {self.landmarks.shape}")
        if self.confidence.shape != (n,):
            raise ValueError(f"confidence must be ({n},), got {self.confidence.shape}")
        if self.cuts is not None and (self.cuts.shape != (n,) or self.cuts.dtype != np.bool_):
            raise ValueError(f"cuts must be ({n},) bool, got {self.cuts.shape} {self.cuts.dtype}")
        if not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")

    def __len__(self) -> int:
        return int(self.present.shape[0])

    # -- measures ------------------------------------------------------------------------------

    def face_size(self) -> np.ndarray:
        """(N,) distance between the outer eye corners in pixels, NaN where absent: a scale that
        the mouth's motion does not change."""
        eyes = self.landmarks[:, [lm.EYE_OUTER_LEFT, lm.EYE_OUTER_RIGHT]]  # (N, 2, 2)
        return np.linalg.norm(eyes[:, 1] - eyes[:, 0], axis=-1)

    def mouth_opening(self) -> np.ndarray:
        """(N,) inner-lip gap at the middle of the mouth over the eye-corner distance; about 0 for
        a closed mouth, 0.3-0.5 wide open; NaN where absent."""
        gap = np.linalg.norm(
            self.landmarks[:, lm.LOWER_LIP_INNER_MID] - self.landmarks[:, lm.UPPER_LIP_INNER_MID], axis=-1
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            return (gap / self.face_size()).astype(np.float32)

    def mouth_width(self) -> np.ndarray:
        """(N,) corner-to-corner mouth width over the eye-corner distance; NaN where absent
        (about 0.6-0.8 relaxed; narrower when the lips round)."""
        width = np.linalg.norm(
            self.landmarks[:, lm.MOUTH_CORNER_RIGHT] - self.landmarks[:, lm.MOUTH_CORNER_LEFT], axis=-1
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            return (width / self.face_size()).astype(np.float32)

    def lip_height(self) -> np.ndarray:
        """(N,) outer-lip height (upper lip's top to lower lip's bottom, mid-line) over the
        eye-corner distance; NaN where absent. Unlike the inner gap it keeps moving while the lips
        are closed (the jaw and lips still move together), and two lip contours are tracked more
        steadily than the inner gap, so it is the series the sync score correlates with speech."""
        height = np.linalg.norm(
            self.landmarks[:, lm.LOWER_LIP_OUTER_MID] - self.landmarks[:, lm.UPPER_LIP_OUTER_MID], axis=-1
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            return (height / self.face_size()).astype(np.float32)

    def shot_starts(self) -> np.ndarray:
        """Frame indices where shots start (always 0 first for a non-empty track)."""
        if len(self) == 0:
            return np.zeros(0, np.int64)
        starts = np.flatnonzero(self.cuts) if self.cuts is not None else np.zeros(0, np.int64)
        return np.unique(np.concatenate([[0], starts])).astype(np.int64)

    # -- persistence ---------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write a compressed .npz at exactly ``path`` (numpy would otherwise append ".npz")."""
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            format_version=np.int32(FORMAT_VERSION),
            present=self.present,
            boxes=self.boxes.astype(np.float32),
            landmarks=self.landmarks.astype(np.float32),
            confidence=self.confidence.astype(np.float32),
            fps=np.float64(self.fps),
            size=np.asarray(self.size, dtype=np.int64),
            rotation=np.int32(self.rotation),
            backend=np.str_(self.backend),
            cuts=self.cuts if self.cuts is not None else np.zeros(0, bool),
            has_cuts=np.bool_(self.cuts is not None),
            notes=np.str_(json.dumps(list(self.notes))),
        )
        Path(path).write_bytes(buf.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> FaceTrack:
        with np.load(Path(path), allow_pickle=False) as z:
            version = int(z["format_version"])
            if version != FORMAT_VERSION:
                raise ValueError(f"{path}: face track format {version}, this code reads {FORMAT_VERSION}")
            w, h = (int(v) for v in z["size"])
            has_cuts = "has_cuts" in z.files and bool(z["has_cuts"])
            return cls(
                present=z["present"].astype(bool),
                boxes=z["boxes"],
                landmarks=z["landmarks"],
                confidence=z["confidence"],
                fps=float(z["fps"]),
                size=(w, h),
                rotation=int(z["rotation"]) if "rotation" in z.files else 0,
                backend=str(z["backend"]) if "backend" in z.files else "mediapipe",
                cuts=z["cuts"].astype(bool) if has_cuts else None,
                notes=tuple(json.loads(str(z["notes"]))) if "notes" in z.files else (),
            )
