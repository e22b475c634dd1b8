"""Face tracking: the speaker's face box, 478 landmarks and a confidence per frame, as a :class:`FaceTrack`."""

from .face_track import FaceTrack
from .track import FaceTrackConfig, detection_size, track_faces


def render_debug(video_path, track, out_path, **kwargs):
    """See :func:`models.face.debug.render_debug` (imported lazily: it pulls in PyAV)."""
    from .debug import render_debug as render

    return render(video_path, track, out_path, **kwargs)


__all__ = ["FaceTrack", "FaceTrackConfig", "detection_size", "render_debug", "track_faces"]
