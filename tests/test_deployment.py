"""The scheduled path users run: a Prefect server, the deployment from deployments/prefect.yaml,
a process worker, a run triggered through the API, and the run visible in the Prefect UI."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_API_URL": f"http://127.0.0.1:{port}/api"}
    server = subprocess.Popen([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(1)
    else:
        server.kill()
        pytest.fail("the Prefect server did not start within 120 s")
    yield {"env": env, "url": f"http://127.0.0.1:{port}"}
    server.terminate()
    server.wait(timeout=30)


def prefect(env, *args, timeout=300) -> str:
    proc = subprocess.run([str(BIN / "prefect"), *args], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc.stdout


def test_a_deployment_run_triggered_through_the_api_completes_and_shows_in_the_ui(prefect_server, tmp_path):
    from lipsync_sts.demo import build_sample_video

    env, url = prefect_server["env"], prefect_server["url"]
    dataset = tmp_path / "dataset"
    build_sample_video(dataset / "clip.mp4", text="नमस्ते।")
    (dataset / "manifest.csv").write_text("video,source,targets\nclip.mp4,hi,ur\n", encoding="utf-8")

    prefect(env, "work-pool", "create", "lipsync-local", "--type", "process")
    prefect(env, "--no-prompt", "deploy", "--prefect-file", "deployments/prefect.yaml", "--name", "nightly-dataset")
    api = httpx.Client(base_url=f"{url}/api", timeout=30)
    deployment = api.get("/deployments/name/dub-dataset/nightly-dataset").json()
    assert any(s["schedule"].get("cron") == "0 2 * * *" for s in deployment["schedules"])

    run = api.post(f"/deployments/{deployment['id']}/create_flow_run", json={"parameters": {
        "manifest": str(dataset / "manifest.csv"), "output_dir": str(tmp_path / "out"),
        "store_url": str(tmp_path / "store")}}).json()
    prefect(env, "worker", "start", "--pool", "lipsync-local", "--run-once", timeout=600)

    state = api.get(f"/flow_runs/{run['id']}").json()["state"]["type"]
    assert state == "COMPLETED"
    assert (tmp_path / "out" / "clip.ur.mp4").exists()
    artifacts = api.post("/artifacts/filter", json={"artifacts": {"key": {"any_": ["dub-dataset-results"]}}}).json()
    assert artifacts and json.loads(artifacts[0]["data"])[0]["status"] == "ok"

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian chromium is not installed (scripts/setup.sh installs it for `make test`)")
    shot = tmp_path / "flow-run.png"
    page = f"{url}/runs/flow-run/{run['id']}"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1400,900", "--virtual-time-budget=15000"]
    subprocess.run([chromium, *flags, f"--screenshot={shot}", page], capture_output=True, timeout=180)
    dom = subprocess.run([chromium, *flags, "--dump-dom", page], capture_output=True, text=True, timeout=180).stdout
    assert shot.exists() and shot.stat().st_size > 20_000, "the UI screenshot is missing or blank"
    assert run["name"] in dom, "the flow run's page does not show the run"
    shutil.copyfile(shot, REPO / "docs" / "prefect-ui-flow-run.png") if os.environ.get("LIPSYNC_STS_KEEP_SCREENSHOT") else None


# -- exposing the server (README: "Exposing the Prefect server") ---------------------------------

def exposure_section() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index("### Exposing the Prefect server")
    return readme[start:readme.index("\n## ", start)]


def test_every_prefect_setting_the_exposure_docs_name_exists_in_the_installed_prefect():
    import re

    from prefect.settings import Settings
    from prefect.settings.legacy import _get_valid_setting_names

    named = set(re.findall(r"\bPREFECT_[A-Z0-9_]+\b", exposure_section()))
    assert {"PREFECT_SERVER_API_AUTH_STRING", "PREFECT_API_AUTH_STRING",
            "PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED"} <= named
    assert named - _get_valid_setting_names(Settings) == set(), "the README names settings Prefect does not have"


def test_the_documented_settings_mean_what_the_docs_say(monkeypatch):
    from prefect.settings import Settings

    defaults = Settings()
    assert defaults.server.api.host == "127.0.0.1", "the server listens on loopback unless told otherwise"
    assert defaults.server.api.csrf_protection_enabled is False and defaults.client.csrf_support_enabled is True
    assert defaults.server.api.cors_allowed_origins == "*"
    for name, value in {"PREFECT_SERVER_API_AUTH_STRING": "dubber:secret", "PREFECT_API_AUTH_STRING": "dubber:secret",
                        "PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED": "true",
                        "PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS": "https://prefect.example.org",
                        "PREFECT_UI_API_URL": "https://prefect.example.org/api"}.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.server.api.auth_string.get_secret_value() == "dubber:secret"
    assert settings.api.auth_string.get_secret_value() == "dubber:secret"
    assert settings.server.api.csrf_protection_enabled is True
    assert settings.server.api.cors_allowed_origins == "https://prefect.example.org"
    assert settings.server.ui.api_url == "https://prefect.example.org/api"


def test_a_server_started_with_the_auth_string_refuses_clients_without_it(tmp_path):
    import base64

    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(tmp_path), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_SERVER_API_AUTH_STRING": "dubber:secret"}
    env.pop("PREFECT_API_URL", None)
    server = subprocess.Popen([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:  # probes stay open
                    break
            except httpx.HTTPError:
                time.sleep(1)
        else:
            pytest.fail("the Prefect server did not start within 120 s")

        def basic(credentials: str) -> dict:
            return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}

        assert httpx.get(f"{api}/admin/version", timeout=10).status_code == 401
        assert httpx.get(f"{api}/admin/version", headers=basic("dubber:wrong"), timeout=10).status_code == 401
        assert httpx.get(f"{api}/admin/version", headers=basic("dubber:secret"), timeout=10).status_code == 200

        # A client given PREFECT_API_AUTH_STRING (as the docs tell workers) gets in.
        client_env = {**os.environ, "PREFECT_HOME": str(tmp_path / "client"), "PREFECT_API_URL": api,
                      "PREFECT_API_AUTH_STRING": "dubber:secret"}
        client_env.pop("PREFECT_API_KEY", None)
        listed = subprocess.run([str(BIN / "prefect"), "work-pool", "ls"], env=client_env, capture_output=True,
                                text=True, timeout=120)
        assert listed.returncode == 0, listed.stdout[-1000:] + listed.stderr[-1000:]
        refused = subprocess.run([str(BIN / "prefect"), "work-pool", "ls"], capture_output=True, text=True,
                                 timeout=120, env={**client_env, "PREFECT_API_AUTH_STRING": "dubber:wrong"})
        assert refused.returncode != 0
    finally:
        server.terminate()
        server.wait(timeout=30)
