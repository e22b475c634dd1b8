"""Lip-Sync-STS: dub talking-head videos between Indian languages with the lips re-synced."""

import os
import sys

# Offline machines: Prefect's telemetry would only log connection errors, and mediapipe's
# TFLite/glog start-up chatter on stderr says nothing a user can act on. Set before either is
# imported, wherever the package is used (CLI, flows run by a worker, tests).
# Prefect gives its temporary API server 20 s to start; a new database on a loaded 2-core
# machine took longer (seen in the test suite), and the run then fails before its first stage.
for _name, _value in (("PREFECT_SERVER_ANALYTICS_ENABLED", "false"), ("DO_NOT_TRACK", "1"),
                      ("GLOG_minloglevel", "2"), ("TF_CPP_MIN_LOG_LEVEL", "3"),
                      ("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")):
    os.environ.setdefault(_name, _value)

# How long a thread that wants the GIL waits before the holder is asked to drop it: 0.5 ms, not
# Python's 5 ms. The pipeline's threads mostly release the GIL in C (decoding ahead, AAC encoding,
# ONNX, mediapipe) and need it back for a moment per frame; beside a thread running Python, each
# of those moments waited out the full 5 ms. Decoding 10 s of 720p ahead beside a Python loop:
# 12.3-15.1 s -> 2.2-2.7 s (bench/bench_gil_switch.py; beside numpy on small arrays no change);
# a first dub of 30 s of 720p on 2 cores, 1.7-2.1 -> 1.4-1.5 real time (interleaved runs; README).
# LIPSYNC_STS_SWITCH_INTERVAL (seconds) overrides it, e.g. to measure Python's default.


def _switch_interval(text: str | None) -> float:
    if not text:
        return 0.0005
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0:  # also NaN
        raise ValueError(f"LIPSYNC_STS_SWITCH_INTERVAL={text!r} is not a time: give seconds as a positive "
                         "number (Python's default is 0.005), or unset it for the pipeline's 0.0005")
    return seconds


sys.setswitchinterval(_switch_interval(os.environ.get("LIPSYNC_STS_SWITCH_INTERVAL")))
