"""Face tracking: mediapipe's 478-point face mesh per frame, smoothed, as a :class:`FaceTrack`."""

from .face_track import FaceTrack
from .track import FaceTrackConfig, track_faces

__all__ = ["FaceTrack", "FaceTrackConfig", "track_faces"]
