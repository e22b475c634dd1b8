"""Progress for long stages: a bar in the terminal and a progress artifact in the Prefect UI."""

from __future__ import annotations

import sys
import threading
import time

from tqdm import tqdm

# Each artifact update is a blocking API call (~20 ms to the local server, more to a remote one):
# every 2 % of a 14-s render was a second of it (issue 11). At most once a second, and at the end.
UPDATE_EVERY_S = 1.0


class Progress:
    """Counts work units; updates the Prefect artifact at most every 2% and every second, and once
    at the end, so the API is not flooded and the work not held up."""

    def __init__(self, total: int, description: str, unit: str = "frame"):
        self.total = max(int(total), 1)
        self.done = 0
        self._bar = tqdm(total=self.total, desc=description, unit=unit, leave=False,
                         disable=not sys.stderr.isatty())
        self._artifact_id = None
        self._last_percent = -100.0
        self._last_time = time.monotonic()
        self._lock = threading.Lock()
        try:
            from prefect.artifacts import create_progress_artifact
            from prefect.context import TaskRunContext

            if TaskRunContext.get() is not None:
                self._artifact_id = create_progress_artifact(progress=0.0, description=description)
        except Exception:  # noqa: BLE001 - progress must never break the work it reports on
            self._artifact_id = None

    def update(self, n: int = 1) -> None:
        with self._lock:  # work done in several threads (ASR pieces) reports from each
            self._update(n)

    def _update(self, n: int) -> None:
        self.done += n
        self._bar.update(n)
        percent = 100.0 * self.done / self.total
        if self._artifact_id is None or self._last_percent >= 100.0:
            return
        now = time.monotonic()
        if (percent - self._last_percent >= 2.0 and now - self._last_time >= UPDATE_EVERY_S) or self.done >= self.total:
            self._last_percent, self._last_time = percent, now
            try:
                from prefect.artifacts import update_progress_artifact

                update_progress_artifact(self._artifact_id, progress=min(percent, 100.0))
            except Exception:  # noqa: BLE001
                self._artifact_id = None

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
