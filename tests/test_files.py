"""Atomic writes: the file and its directory fsynced, streams, the umask left alone."""

from __future__ import annotations

import os
import stat
import uuid

import pytest
import tensorflow as tf

from tfpersist._files import atomic_write


@pytest.fixture
def synced(monkeypatch):
    """The paths os.fsync was called on, in order."""
    paths = []
    fsync = os.fsync

    def recording(fd):
        paths.append(os.readlink(f"/proc/self/fd/{fd}"))
        return fsync(fd)

    monkeypatch.setattr(os, "fsync", recording)
    return paths


@pytest.mark.parametrize("replacing", [False, True])
def test_the_file_and_its_directory_are_fsynced(tmp_path, synced, replacing):
    if replacing:
        (tmp_path / "graph.pb").write_bytes(b"first")
    atomic_write(tmp_path / "graph.pb", b"second")
    assert len(synced) == 2
    temp, directory = synced
    assert os.path.dirname(temp) == str(tmp_path)
    assert os.path.basename(temp).startswith("graph.pb.tfpersist-")  # the bytes, before the rename
    assert directory == str(tmp_path)  # then the rename itself
    assert (tmp_path / "graph.pb").read_bytes() == b"second"
    assert os.listdir(tmp_path) == ["graph.pb"]


def test_the_umask_is_applied_and_never_changed(tmp_path, monkeypatch):
    old = os.umask(0o027)
    try:

        def refuse(mask):
            raise AssertionError("os.umask called")

        monkeypatch.setattr(os, "umask", refuse)
        atomic_write(tmp_path / "a", b"x")
        atomic_write(tmp_path / "a", b"y")
    finally:
        monkeypatch.undo()
        os.umask(old)
    reference = tmp_path / "plain"
    os.umask(0o027)
    try:
        reference.write_bytes(b"")  # what a plain open() gives under the same umask
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == stat.S_IMODE(reference.stat().st_mode)


def test_a_stream_is_written_chunk_by_chunk(tmp_path):
    chunks = [os.urandom(1000) for _ in range(50)]

    def write(f):
        for chunk in chunks:
            f.write(chunk)

    atomic_write(tmp_path / "big.bin", write)
    assert (tmp_path / "big.bin").read_bytes() == b"".join(chunks)


def test_a_failing_stream_leaves_the_old_file(tmp_path):
    (tmp_path / "f").write_bytes(b"old")

    def write(f):
        f.write(b"half")
        raise RuntimeError("the source went away")

    with pytest.raises(RuntimeError, match="went away"):
        atomic_write(tmp_path / "f", write)
    assert (tmp_path / "f").read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f"]


def test_a_stream_to_a_url(tmp_path):
    url = f"ram://{uuid.uuid4().hex[:8]}/out/f.bin"
    atomic_write(url, b"old old old")
    atomic_write(url, lambda f: [f.write(b"%d;" % i) for i in range(1000)])
    with tf.io.gfile.GFile(url, "rb") as f:
        assert f.read() == b"".join(b"%d;" % i for i in range(1000))
    assert tf.io.gfile.listdir(url.rsplit("/", 1)[0]) == ["f.bin"]


def test_an_existing_file_keeps_its_mode_as_with_open(tmp_path):
    theirs, ours = tmp_path / "theirs", tmp_path / "ours"
    for path in (theirs, ours):
        path.write_bytes(b"old")
        path.chmod(0o600)
    with open(theirs, "wb") as f:  # what a plain open() does
        f.write(b"new")
    atomic_write(ours, b"new")
    assert stat.S_IMODE(ours.stat().st_mode) == stat.S_IMODE(theirs.stat().st_mode) == 0o600


def test_a_symbolic_link_is_written_through_as_with_open(tmp_path):
    (tmp_path / "real").mkdir()
    for name in ("theirs", "ours"):
        (tmp_path / "real" / name).write_bytes(b"old")
        (tmp_path / f"{name}.link").symlink_to(tmp_path / "real" / name)
    with open(tmp_path / "theirs.link", "wb") as f:
        f.write(b"new")
    atomic_write(tmp_path / "ours.link", b"new")
    for name in ("theirs", "ours"):
        assert (tmp_path / f"{name}.link").is_symlink()
        assert (tmp_path / "real" / name).read_bytes() == b"new"
    assert sorted(os.listdir(tmp_path / "real")) == ["ours", "theirs"]  # no temporary file left
