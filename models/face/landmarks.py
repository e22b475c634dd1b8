"""Indices into mediapipe's 478-point face mesh (468 mesh points + 10 iris points with
``refine_landmarks=True``), named once so no module carries magic numbers.

"Left"/"right" are as seen in the image (the subject's right side appears on the image's left).
"""

from __future__ import annotations

N_LANDMARKS = 478

# Inner lip gap at the middle of the mouth: the lip-sync measures of DESIGN.md §4 use these two.
UPPER_LIP_INNER_MID = 13
LOWER_LIP_INNER_MID = 14
UPPER_LIP_OUTER_MID = 0
LOWER_LIP_OUTER_MID = 17

# Outer eye corners: their distance is a face-size measure that does not change when the mouth moves.
EYE_OUTER_LEFT = 33
EYE_OUTER_RIGHT = 263

# Points that the jaw and lips do not move (eye corners, nose bridge and tip, cheeks by the ears):
# what a face is aligned on when only the mouth may differ.
STABLE = (33, 133, 362, 263, 168, 6, 197, 195, 5, 4, 1, 2, 98, 327, 234, 454, 93, 323)
MOUTH_CORNER_LEFT = 61
MOUTH_CORNER_RIGHT = 291
MOUTH_INNER_CORNER_LEFT = 78
MOUTH_INNER_CORNER_RIGHT = 308

CHIN = 152
# Face outline at about the height of the mouth: the jaw's lateral extent.
JAW_LEFT = 58
JAW_RIGHT = 288
NOSE_BASE = 2  # just below the nose tip, where the upper lip's skin begins (subnasale)

# Lip contours, each ordered from the image-left corner to the image-right corner.
LIP_UPPER_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIP_UPPER_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIP_LOWER_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
LIP_LOWER_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)

# Lower face outline, image-left cheek round the chin to image-right cheek (part of FACE_OVAL).
JAW_CONTOUR = (234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454)

# Every lip landmark once: the points whose frame-to-frame noise the jitter measure counts.
MOUTH = tuple(sorted(set(LIP_UPPER_OUTER + LIP_UPPER_INNER + LIP_LOWER_INNER + LIP_LOWER_OUTER)))

# The mesh point nearest each of the 68 iBUG/300-W points that face-alignment (FAN) predicts, in
# iBUG order: jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, outer lips 48-59, inner lips 60-67.
# Lets a 68-point backend drive the 478-point template (template.py).
IBUG68_TO_MESH = (
    162, 234, 93, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 323, 454, 389,
    71, 63, 105, 66, 107, 336, 296, 334, 293, 301,
    168, 197, 5, 4, 75, 97, 2, 326, 305,
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,
    78, 82, 13, 312, 308, 317, 14, 87,
)
