"""Serve the dub flow as a Prefect deployment, so runs can be started from the UI or the API.

    .venv/bin/prefect server start --host 127.0.0.1        # API and UI at http://127.0.0.1:4200
    PREFECT_API_URL=http://127.0.0.1:4200/api .venv/bin/python deployments/serve_dub.py

Then start a run from the UI (Deployments -> dub/dub-on-demand -> Run) with the video path and
languages as parameters. The process keeps serving until stopped (Ctrl-C).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flows.dub import dub  # noqa: E402

if __name__ == "__main__":
    dub.serve(
        name="dub-on-demand",
        parameters={"source": "hi", "targets": ["ur"]},
        description="Dub one video into one or more languages with the embedded backends.",
    )
