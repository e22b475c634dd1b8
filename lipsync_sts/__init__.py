"""Lip-Sync-STS: dub talking-head videos between Indian languages with the lips re-synced."""

import os

# Offline machines: Prefect's telemetry would only log connection errors, and mediapipe's
# TFLite/glog start-up chatter on stderr says nothing a user can act on. Set before either is
# imported, wherever the package is used (CLI, flows run by a worker, tests).
# Prefect gives its temporary API server 20 s to start; a new database on a loaded 2-core
# machine took longer (seen in the test suite), and the run then fails before its first stage.
for _name, _value in (("PREFECT_SERVER_ANALYTICS_ENABLED", "false"), ("DO_NOT_TRACK", "1"),
                      ("GLOG_minloglevel", "2"), ("TF_CPP_MIN_LOG_LEVEL", "3"),
                      ("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")):
    os.environ.setdefault(_name, _value)
