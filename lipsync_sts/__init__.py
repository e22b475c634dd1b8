"""Lip-Sync-STS: dub talking-head videos between Indian languages with the lips re-synced."""

import os

# Offline machines: Prefect's telemetry would only log connection errors, and mediapipe's
# TFLite/glog start-up chatter on stderr says nothing a user can act on. Set before either is
# imported, wherever the package is used (CLI, flows run by a worker, tests).
for _name, _value in (("PREFECT_SERVER_ANALYTICS_ENABLED", "false"), ("DO_NOT_TRACK", "1"),
                      ("GLOG_minloglevel", "2"), ("TF_CPP_MIN_LOG_LEVEL", "3")):
    os.environ.setdefault(_name, _value)
