"""The store and the cache on a real S3 API (moto's server on loopback): workers on several
machines share artifacts and cache hits through a bucket."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

FLOW_RUN = """
import json, sys
from tests.test_cache import two_stage_flow
print(json.dumps(two_stage_flow(sys.argv[1], [1, 2, 3], 2.0)))
"""


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto keeps its buckets in process-wide memory: a server started by another test module would
    # hand this one its buckets. Each module starts from an empty S3.
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    s3fs.S3FileSystem().mkdir("lipsync-bucket")
    yield env
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    server.stop()


def test_artifacts_round_trip_through_s3(s3_endpoint, tmp_path, monkeypatch):
    from lipsync_sts.store import ArtifactStore

    monkeypatch.setenv("LIPSYNC_STS_CACHE", str(tmp_path / "cache"))
    store = ArtifactStore("s3://lipsync-bucket/store")
    ref = store.put_bytes(b"segment data", suffix=".json")
    assert ref.uri.startswith("s3://lipsync-bucket/store/objects/")
    assert store.read_bytes(ref) == b"segment data"
    assert store.local_path(ref).read_bytes() == b"segment data"
    again = ArtifactStore("s3://lipsync-bucket/store").put_bytes(b"segment data", suffix=".json")
    assert again.uri == ref.uri


def test_a_second_process_sharing_the_bucket_gets_cache_hits(s3_endpoint, tmp_path):
    env = {**os.environ, **s3_endpoint, "PYTHONPATH": str(REPO), "PREFECT_HOME": str(tmp_path / "prefect-a"),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "LIPSYNC_STS_CACHE": str(tmp_path / "cache-a")}
    store = "s3://lipsync-bucket/shared-store"

    def run(home: str) -> dict:
        proc = subprocess.run([sys.executable, "-c", FLOW_RUN, store], cwd=REPO, capture_output=True, text=True,
                              timeout=300, env={**env, "PREFECT_HOME": str(tmp_path / home),
                                                "LIPSYNC_STS_CACHE": str(tmp_path / f"cache-{home}")})
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    first, second = run("machine-a"), run("machine-b")  # separate Prefect databases, one bucket
    assert first["states"] == {"scale": "Completed", "total": "Completed"}
    assert second["states"] == {"scale": "Cached", "total": "Cached"}
    assert first["value"] == second["value"] == 12
