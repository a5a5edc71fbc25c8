"""The checkpoint state file: absolute, moved, stale, missing and corrupt."""

from __future__ import annotations

import os
import shutil

import pytest
import tensorflow as tf

from tfpersist import checkpoint_state
from tfpersist.errors import CheckpointNotFoundError, CheckpointStateWarning


def save_steps(directory, steps, *, relative):
    with tf.Graph().as_default() as graph:
        v = tf.Variable(0.0, name="v")
        saver = tf.compat.v1.train.Saver(max_to_keep=10, save_relative_paths=relative)
        with tf.compat.v1.Session(graph=graph) as sess:
            for step in steps:
                sess.run(v.assign(float(step)))
                saver.save(sess, os.path.join(str(directory), "model.ckpt"), global_step=step)


def test_agrees_with_tensorflow_on_a_plain_directory(tmp_path):
    save_steps(tmp_path / "m", [1, 2, 3], relative=False)
    state = checkpoint_state.read_state(str(tmp_path / "m"))
    theirs = tf.train.get_checkpoint_state(str(tmp_path / "m"))
    assert state.latest == theirs.model_checkpoint_path
    assert list(state.checkpoints) == list(theirs.all_model_checkpoint_paths)
    assert state.source == "state file"
    assert state.notes == ()


def test_moved_directory_with_absolute_paths_is_found_here(tmp_path):
    save_steps(tmp_path / "old", [1, 2], relative=False)
    assert str(tmp_path / "old") in (tmp_path / "old" / "checkpoint").read_text()
    shutil.move(str(tmp_path / "old"), str(tmp_path / "new"))
    # TensorFlow itself follows the stale absolute path and finds nothing.
    assert not os.path.exists(tf.train.latest_checkpoint(str(tmp_path / "new")) or "")
    with pytest.warns(CheckpointStateWarning, match="moved"):
        state = checkpoint_state.read_state(str(tmp_path / "new"))
    assert state.latest == str(tmp_path / "new" / "model.ckpt-2")
    assert state.checkpoints == (str(tmp_path / "new" / "model.ckpt-1"), state.latest)


@pytest.mark.fault
def test_stale_entries_are_dropped(tmp_path):
    save_steps(tmp_path, [1, 2, 3], relative=True)
    for f in checkpoint_state.checkpoint_files(str(tmp_path / "model.ckpt-1")):
        os.remove(f)
    with pytest.warns(CheckpointStateWarning, match=r"model.ckpt-1.*skipped"):
        state = checkpoint_state.read_state(str(tmp_path))
    assert [os.path.basename(p) for p in state.checkpoints] == ["model.ckpt-2", "model.ckpt-3"]


@pytest.mark.fault
@pytest.mark.parametrize(
    "content, reason",
    [
        (None, "no 'checkpoint' state file"),
        ("", "corrupt"),
        ("garbage that is not a proto", "corrupt"),
        ('model_checkpoint_path: "model.ckpt-99"\n', "missing or incomplete"),
        ("\x00\xff\xfe binary", "corrupt"),
    ],
    ids=["missing", "empty", "garbage", "stale", "binary"],
)
def test_bad_state_file_falls_back_to_newest_complete_checkpoint(tmp_path, content, reason):
    save_steps(tmp_path, [5, 10, 20], relative=True)
    state_file = tmp_path / "checkpoint"
    if content is None:
        state_file.unlink()
    else:
        state_file.write_text(content, encoding="utf-8", errors="surrogateescape")
    with pytest.warns(CheckpointStateWarning, match=reason) as caught:
        assert checkpoint_state.latest_checkpoint(str(tmp_path)) == str(tmp_path / "model.ckpt-20")
    assert any("newest complete checkpoint" in str(w.message) for w in caught)


@pytest.mark.fault
def test_fallback_skips_incomplete_checkpoints(tmp_path):
    save_steps(tmp_path, [1, 2], relative=True)
    os.remove(tmp_path / "checkpoint")
    os.remove(tmp_path / "model.ckpt-2.data-00000-of-00001")
    with pytest.warns(CheckpointStateWarning):
        assert checkpoint_state.latest_checkpoint(str(tmp_path)) == str(tmp_path / "model.ckpt-1")


@pytest.mark.parametrize("escaped", [False, True], ids=["as-written", "octal-escaped"])
def test_non_ascii_directory(tmp_path, escaped):
    directory = tmp_path / "模型"
    save_steps(directory, [1], relative=False)
    if escaped:  # what protobuf's text_format writes with as_utf8=False
        state = directory / "checkpoint"
        raw = state.read_text(encoding="utf-8").encode("utf-8")
        state.write_text("".join(chr(b) if b < 128 else f"\\{b:03o}" for b in raw))
        assert "\\346" in state.read_text()
    assert checkpoint_state.read_state(str(directory)).latest == str(directory / "model.ckpt-1")


def test_glob_characters_are_literal(tmp_path):
    directory = tmp_path / "模型 [v1]"
    save_steps(directory, [1], relative=True)
    assert checkpoint_state.latest_checkpoint(str(directory)) == str(directory / "model.ckpt-1")
    assert checkpoint_state.is_complete(str(directory / "model.ckpt-1"))


@pytest.mark.fault
@pytest.mark.parametrize("suffix", [".index", ".meta", ".data-00000-of-00001"])
def test_a_file_of_the_checkpoint_suggests_the_prefix(article_checkpoint, suffix):
    with pytest.raises(CheckpointNotFoundError, match="pass its prefix") as caught:
        checkpoint_state.resolve_prefix(article_checkpoint + suffix)
    assert repr(article_checkpoint) in str(caught.value)


@pytest.mark.fault
def test_missing_prefix_lists_what_is_there(article_checkpoint):
    with pytest.raises(CheckpointNotFoundError, match=r"model.ckpt-3.*pass one of those") as caught:
        checkpoint_state.resolve_prefix(article_checkpoint + "-3")
    assert repr(article_checkpoint) in str(caught.value)


@pytest.mark.fault
def test_directory_without_checkpoint_lists_its_files(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(CheckpointNotFoundError, match=r"holds no checkpoint.*notes.txt"):
        checkpoint_state.resolve_prefix(str(tmp_path))


@pytest.mark.fault
def test_missing_directory_is_named(tmp_path):
    with pytest.raises(CheckpointNotFoundError, match=r"directory .*nowhere.* does not exist"):
        checkpoint_state.resolve_prefix(str(tmp_path / "nowhere" / "model.ckpt"))
