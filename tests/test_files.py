"""Atomic writes: a replaced file is on disk before the rename; a new one costs no fsync."""

from __future__ import annotations

import os

from tfpersist._files import atomic_write


def test_only_a_replacing_write_is_fsynced(tmp_path, monkeypatch):
    synced = []
    fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), fsync(fd))[1])
    atomic_write(tmp_path / "graph.pb", b"first")
    assert synced == []  # nothing was there to lose
    atomic_write(tmp_path / "graph.pb", b"second")
    assert len(synced) == 2  # the new bytes before the rename, then the directory
    assert (tmp_path / "graph.pb").read_bytes() == b"second"
    assert os.listdir(tmp_path) == ["graph.pb"]
