"""Low CPU priority for work that has time to spare, beside work the flow waits on.

Face tracking and the mouth library run beside speech recognition and are done long before the
dub's speech is; at the same priority they take CPU from whisper when both want it, and make the
dub later (bench/results/low_priority.md). On Linux a thread's nice value is its own: one made 10
nicer gets about a tenth of a core that a nice-0 thread also wants, and all of an idle one.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from typing import Any, Callable

NICER_BY = 10  # added to the thread's nice value (capped at 19, the lowest priority)


def at_low_priority(call: Callable[[], Any]) -> Any:
    """Run ``call`` in this thread at a lower CPU priority. Only for a thread that ends with the
    call (RunLog.together's pool threads): an unprivileged thread cannot raise its priority back,
    and the threads it starts (decoders, inference sessions) are as nice as it is."""
    start_shared_pools()  # while this thread is still at the usual priority (RunLog.together has already)
    lower_this_thread(NICER_BY)
    return call()


def lower_this_thread(by: int) -> None:
    if not sys.platform.startswith("linux"):  # elsewhere the call below would renice the whole process
        return
    try:
        me = threading.get_native_id()  # on Linux, setpriority's "process" id may be a thread's
        os.setpriority(os.PRIO_PROCESS, me, min(19, os.getpriority(os.PRIO_PROCESS, me) + by))
    except OSError:  # a sandbox without setpriority: run at the usual priority
        pass


@functools.cache
def start_shared_pools() -> None:
    """Start OpenCV's and PyTorch's worker threads in this thread, at its priority.

    Both start their workers on the first call that splits work, as children of the thread that
    made it. OpenCV's pool (pthreads) then serves every thread of the process: started from a
    low-priority stage, its workers would stay nice for good, and every later stage's resize
    would wait on them. PyTorch's OpenMP workers belong to the thread that started them, but a
    build with its own pool would behave like OpenCV's."""
    import cv2
    import numpy as np
    import torch

    # Large enough to be split: 1080p for OpenCV's resize, two of ATen's 32768-element grains.
    cv2.resize(np.zeros((1080, 1920, 3), np.uint8), (960, 540), interpolation=cv2.INTER_AREA)
    torch.zeros(1 << 16).add_(1)
