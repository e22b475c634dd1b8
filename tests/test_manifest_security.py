"""A manifest is a list of files for the pipeline to read, so it is also a way to make the pipeline
read files. These tests are the rules:

* a relative path is relative to the manifest, wherever the manifest is (a folder or a bucket);
* no path leaves the manifest's folder (or the folders given with --root), ``..`` or not;
* a manifest fetched from a bucket names nothing on the machine that runs the dub: no absolute
  paths, no ``file://``, no ``~``, no other filesystem;
* every refusal names the row, the column and the value, and says what to do.

The remote cases run on a real S3 API (moto's server on loopback, as in test_s3_store.py).
"""

from __future__ import annotations

import fsspec
import pandas as pd
import pytest

from lipsync_sts.errors import UserInputError
from lipsync_sts.manifest import read_manifest
from tests.test_s3_store import s3_endpoint  # noqa: F401 - the moto S3 server fixture

SET = "s3://lipsync-bucket/sets/week1"
MANIFEST = f"{SET}/manifest.csv"


def upload_manifest(url: str, **columns) -> str:
    with fsspec.open(url, "wb") as f:
        f.write(pd.DataFrame({"source": "hi", "targets": "ur", **columns}).to_csv(index=False).encode())
    return url


def refusal(manifest, **options) -> str:
    with pytest.raises(UserInputError) as error:
        read_manifest(manifest, **options)
    return str(error.value)


# -- remote manifests ---------------------------------------------------------------------------

def test_relative_paths_in_a_remote_manifest_name_files_beside_it_in_the_same_bucket(s3_endpoint):
    upload_manifest(MANIFEST, video=["talk.mp4", "clips/../intro.mp4"], transcript=["subs/talk.hi.srt", ""],
                    translation_ur=["subs/talk.ur.srt", ""])
    talk, intro = read_manifest(MANIFEST)
    assert talk.video == f"{SET}/talk.mp4"
    assert talk.transcript == f"{SET}/subs/talk.hi.srt" and talk.translation == f"{SET}/subs/talk.ur.srt"
    assert talk.id == "talk"
    assert intro.video == f"{SET}/intro.mp4", "a '..' that stays inside the folder is only normalised"


def test_a_url_inside_the_remote_manifests_folder_is_taken_as_it_is(s3_endpoint):
    upload_manifest(MANIFEST, video=[f"{SET}/more/talk.mp4"])
    assert read_manifest(MANIFEST)[0].video == f"{SET}/more/talk.mp4"


@pytest.mark.parametrize("value", ["/etc/passwd", "file:///etc/passwd", "~/.ssh/id_rsa", "C:\\Windows\\win.ini"])
def test_a_remote_manifest_naming_a_local_file_is_refused(s3_endpoint, value):
    upload_manifest(MANIFEST, video=[value])
    message = refusal(MANIFEST)
    assert f"manifest row 2, column 'video': {value!r}" in message
    assert "is a local path, which a remote manifest" in message and MANIFEST in message
    assert "give a path relative to the manifest" in message


def test_the_refusal_names_the_row_and_column_where_the_local_path_is(s3_endpoint):
    upload_manifest(MANIFEST, video=["a.mp4", "b.mp4"], transcript=["a.srt", "/etc/shadow"])
    assert "manifest row 3, column 'transcript': '/etc/shadow' is a local path" in refusal(MANIFEST)
    upload_manifest(MANIFEST, video=["a.mp4"], translation_ur=["file:///root/.aws/credentials"])
    assert "manifest row 2, column 'translation_ur': 'file:///root/.aws/credentials' is a local path" \
        in refusal(MANIFEST)


@pytest.mark.parametrize("value", ["../../x", "../week2/talk.mp4", f"{SET}/../../secret.mp4",
                                   "s3://lipsync-bucket/elsewhere/talk.mp4", "s3://another-bucket/talk.mp4"])
def test_a_remote_path_leading_out_of_the_manifests_folder_is_refused(s3_endpoint, value):
    upload_manifest(MANIFEST, video=[value])
    message = refusal(MANIFEST)
    assert f"manifest row 2, column 'video': {value!r} leads outside the allowed folders ({SET})" in message
    assert "pass --root" in message


@pytest.mark.parametrize("value", ["memory://talk.mp4", "https://example.com/talk.mp4"])
def test_a_remote_manifest_cannot_name_another_filesystem(s3_endpoint, value):
    upload_manifest(MANIFEST, video=[value])
    message = refusal(MANIFEST)
    assert f"manifest row 2, column 'video': {value!r} is on another filesystem" in message


def test_root_widens_a_remote_manifests_reach_within_its_own_filesystem_only(s3_endpoint, tmp_path):
    upload_manifest(MANIFEST, video=["../shared/talk.mp4"])
    items = read_manifest(MANIFEST, roots=["s3://lipsync-bucket/sets"])
    assert items[0].video == "s3://lipsync-bucket/sets/shared/talk.mp4"
    assert "is not on the manifest's filesystem" in refusal(MANIFEST, roots=[str(tmp_path)])


def test_a_missing_remote_manifest_is_named(s3_endpoint):
    assert refusal(f"{SET}/absent.csv") == f"manifest {SET}/absent.csv does not exist; check the URL"


# -- local manifests ----------------------------------------------------------------------------

def local_manifest(folder, **columns):
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"source": "hi", "targets": "ur", **columns}).to_csv(folder / "manifest.csv", index=False)
    return folder / "manifest.csv"


@pytest.mark.parametrize("value", ["../secret.mp4", "clips/../../secret.mp4", "/etc/passwd", "file:///etc/passwd"])
def test_a_local_manifest_path_leaving_its_folder_is_refused(tmp_path, value):
    manifest = local_manifest(tmp_path / "set", video=[value])
    message = refusal(manifest)
    assert f"manifest row 2, column 'video': {value!r} is outside the allowed folders ({tmp_path / 'set'})" in message
    assert "pass --root" in message


def test_a_symbolic_link_out_of_a_local_manifests_folder_is_refused(tmp_path):
    (tmp_path / "secret.mp4").write_bytes(b"x")
    manifest = local_manifest(tmp_path / "set", video=["innocent.mp4"])
    (tmp_path / "set" / "innocent.mp4").symlink_to(tmp_path / "secret.mp4")
    assert "column 'video': 'innocent.mp4' is outside the allowed folders" in refusal(manifest)


def test_inside_its_folder_a_local_manifest_resolves_relative_paths(tmp_path):
    manifest = local_manifest(tmp_path / "set", video=["clips/../talk.mp4"], transcript=["talk.srt"])
    [item] = read_manifest(manifest)
    assert item.video == str(tmp_path / "set" / "talk.mp4") and item.transcript == str(tmp_path / "set" / "talk.srt")


# -- through the command line and the flow --------------------------------------------------------

def test_batch_on_a_remote_manifest_naming_a_local_file_stops_with_one_line(prefect_api, s3_endpoint, capsys,
                                                                            tmp_path):
    from lipsync_sts.cli import main

    upload_manifest(MANIFEST, video=["talk.mp4", "/etc/passwd"])
    code = main(["batch", MANIFEST, "--output-dir", str(tmp_path / "out"), "--store", str(tmp_path / "store")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(
        "lipsync-sts: error: manifest row 3, column 'video': '/etc/passwd' is a local path")
    assert not (tmp_path / "out").exists(), "nothing was dubbed"


@pytest.fixture(scope="module")
def remote_set(s3_endpoint, tmp_path_factory):
    """A talking-head clip and its transcript in the bucket, beside a manifest naming them relatively."""
    from lipsync_sts.demo import build_sample_video

    local = build_sample_video(tmp_path_factory.mktemp("clip") / "greeting.mp4", text="नमस्ते।")
    fs = fsspec.filesystem("s3")
    fs.put_file(str(local), f"{SET}/greeting.mp4")
    fs.pipe_file(f"{SET}/greeting.hi.srt", "1\n00:00:00,500 --> 00:00:01,300\nनमस्ते।\n".encode())
    upload_manifest(f"{SET}/dub.csv", id=["greeting", "absent"], video=["greeting.mp4", "absent.mp4"],
                    transcript=["greeting.hi.srt", ""])
    return local


def test_a_remote_manifests_videos_and_transcripts_are_fetched_and_dubbed(prefect_api, remote_set, tmp_path,
                                                                          monkeypatch):
    from flows.batch import dub_dataset
    from lipsync_sts import media

    monkeypatch.setenv("LIPSYNC_STS_CACHE", str(tmp_path / "cache"))
    rows = {r.id: r for r in dub_dataset(f"{SET}/dub.csv", str(tmp_path / "out"), store_url=str(tmp_path / "store"))}

    assert rows["greeting"].status == "ok", rows["greeting"].error
    assert media.probe(rows["greeting"].output).n_frames == media.probe(remote_set).n_frames
    stored = [p for p in (tmp_path / "store" / "objects").rglob("*.mp4")]
    assert any(p.read_bytes() == remote_set.read_bytes() for p in stored), "the bucket's video was ingested as is"
    assert rows["absent"].status == "failed"
    assert rows["absent"].error == f"input {SET}/absent.mp4 does not exist; check the URL"
    assert not list((tmp_path / "cache" / "downloads").rglob("*.mp4")), "the download is not kept beside the store"
