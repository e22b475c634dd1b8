"""The artifact store: content-addressed, atomic, and the same on any fsspec filesystem."""

from __future__ import annotations

import pytest

from lipsync_sts.errors import UserInputError
from lipsync_sts.store import ArtifactStore, export_file, sha256_file


def test_identical_content_under_different_names_is_one_object(tmp_path):
    store = ArtifactStore(str(tmp_path / "store"))
    a, b = tmp_path / "a.wav", tmp_path / "renamed copy.wav"
    a.write_bytes(b"RIFF same bytes")
    b.write_bytes(b"RIFF same bytes")
    ref_a, ref_b = store.put_file(a), store.put_file(b)
    assert ref_a.sha256 == ref_b.sha256 == sha256_file(a)
    assert ref_a.uri == ref_b.uri
    assert len(list((tmp_path / "store" / "objects").rglob("*.wav"))) == 1


def test_different_content_gets_a_different_reference(tmp_path):
    store = ArtifactStore(str(tmp_path))
    assert store.put_bytes(b"one", suffix=".txt").sha256 != store.put_bytes(b"two", suffix=".txt").sha256


def test_json_round_trip_keeps_unicode_text(tmp_path):
    store = ArtifactStore(str(tmp_path))
    segments = [{"start": 0.5, "end": 1.5, "text": "नमस्ते دنیا"}]
    assert store.read_json(store.put_json(segments)) == segments


def test_a_write_leaves_no_temporary_files_behind(tmp_path):
    store = ArtifactStore(str(tmp_path))
    store.put_bytes(b"x" * 10_000, suffix=".bin")
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_corrupted_object_is_refused_on_read(tmp_path):
    store = ArtifactStore(str(tmp_path))
    ref = store.put_bytes(b"original content", suffix=".txt")
    path = store.local_path(ref)
    path.write_bytes(b"tampered content")  # same size, other bytes
    with pytest.raises(IOError, match="sha256"):
        store.read_bytes(ref)
    with pytest.raises(IOError, match="sha256"):
        store.local_path(ref, verify=True)


def test_memory_filesystem_works_like_a_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("LIPSYNC_STS_CACHE", str(tmp_path / "cache"))
    store = ArtifactStore("memory://lipsync-test-store")
    ref = store.put_bytes(b"remote bytes", suffix=".bin")
    assert ref.uri.startswith("memory://")
    assert store.read_bytes(ref) == b"remote bytes"
    local = store.local_path(ref)  # materialised into the local cache for libraries that need paths
    assert local.read_bytes() == b"remote bytes"


def test_exporting_an_artifact_replaces_the_destination_atomically(tmp_path):
    store = ArtifactStore(str(tmp_path / "store"))
    ref = store.put_bytes(b"new video", suffix=".mp4")
    out = tmp_path / "out" / "video.mp4"
    export_file(store, ref, out)
    assert out.read_bytes() == b"new video"
    assert [p.name for p in out.parent.iterdir()] == ["video.mp4"]


def test_an_unusable_store_url_is_a_clear_user_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(UserInputError, match="store"):
        ArtifactStore(str(blocker / "store"))
    with pytest.raises(UserInputError, match="store"):
        ArtifactStore("nosuchprotocol://bucket/x")
