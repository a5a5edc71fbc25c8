"""The checkpoint state file: absolute, moved, stale, missing and corrupt."""

from __future__ import annotations

import errno
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


def _tree(root) -> dict[str, bytes | str]:
    """Every path under *root*: a file's bytes, a link's target, a directory's mark."""
    out = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            out[key] = "link to " + os.readlink(path)
        elif path.is_dir():
            out[key] = "dir"
        else:
            out[key] = path.read_bytes()
    return out


def test_remove_leftovers_removes_only_what_a_writer_left(tmp_path):
    d = tmp_path / "m"
    tf.train.Checkpoint(v=tf.Variable(1.0)).save(str(d / "ckpt"))  # ckpt-1 and the state file
    mine = tmp_path / "mine"  # what symbolic links point at
    (mine / "part-00000-of-00001.index").parent.mkdir()
    (mine / "part-00000-of-00001.index").write_bytes(b"a user's file")
    writers = {  # what interrupted writes leave, tied to the checkpoints ckpt-N
        "ckpt-2_temp/part-00000-of-00001.index": b"",
        "ckpt-2_temp/part-00000-of-00001.data-00000-of-00001.tempstate77": b"",
        "ckpt-1_temp_" + "ab" * 16 + "/part-00001-of-00002.data-00000-of-00001": b"",
        "ckpt-3.data-00000-of-00001": b"",  # its .index never written
        "ckpt-2.index.tempstate123": b"",
        "checkpoint.tmp" + "0f" * 16: b"",
        "ckpt-1.meta.tmp" + "1e" * 16: b"",
        "weights.npz.tfpersist-0a1b2c3d.tmp": b"",
    }
    decoys = {  # a user's: nothing ties them to a checkpoint writer
        "notes_temp/todo.txt": b"my notes",
        "my_temp/part-00000-of-00001": b"no checkpoint 'my' was ever here",
        "my_temp/part-00000-of-00001.index": b"",
        "other_temp/part-00000-of-00001.index": b"",
        "other.data-00000-of-00001": b"no checkpoint 'other' either",
        "ckpt-4_temp/part-00000-of-00001.index": b"",
        "ckpt-4_temp/README": b"a file no writer makes",
        "notes.tmp": b"",
        "draft.abcdefgh.tmp": b"",
        "ckpt-1.index.tempstate": b"no digits",
        "notes.index.tempstate7": b"no checkpoint 'notes' was ever here",
        "notes.meta.tmp" + "2d" * 16: b"",
    }
    for name, data in {**writers, **decoys}.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(data)
    (d / "ckpt-5_temp").symlink_to(mine, target_is_directory=True)
    (d / "ckpt-6.index.tempstate1").symlink_to(mine / "part-00000-of-00001.index")
    (d / "ckpt-7.data-00000-of-00001").symlink_to(mine / "part-00000-of-00001.index")
    expected = sorted(str(d / n.split("/")[0]) for n in writers)
    expected = sorted(set(expected))
    assert checkpoint_state.leftovers(d) == expected
    before = {
        k: v for k, v in _tree(d).items() if not any(str(d / k).startswith(p) for p in expected)
    }
    mine_before = _tree(mine)
    assert checkpoint_state.remove_leftovers(d) == expected
    assert _tree(d) == before  # the decoys, the links and the checkpoint, untouched
    assert _tree(mine) == mine_before
    assert checkpoint_state.leftovers(d) == []
    assert checkpoint_state.latest_checkpoint(d) == str(d / "ckpt-1")


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_remove_leftovers_needs_a_directory_and_creates_none(tmp_path, kind):
    path = tmp_path / "m"
    if kind == "file":
        path.write_text("not a directory")
    with pytest.raises(
        CheckpointNotFoundError, match="pass the directory that holds the checkpoints"
    ):
        checkpoint_state.remove_leftovers(path)
    with pytest.raises(CheckpointNotFoundError):
        checkpoint_state.leftovers(path)
    assert os.listdir(tmp_path) == ([] if kind == "missing" else ["m"])


def test_remove_leftovers_where_nothing_may_change_is_a_write_error(tmp_path, monkeypatch):
    from tfpersist._files import set_aside
    from tfpersist.errors import WriteError

    tf.train.Checkpoint(v=tf.Variable(1.0)).save(str(tmp_path / "ckpt"))
    set_aside(str(tmp_path / "ckpt-1"))  # a save cut short: the old checkpoint kept aside
    before = sorted(os.listdir(tmp_path))

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", args[0])

    for name in ("link", "remove", "unlink", "replace", "rename"):
        monkeypatch.setattr(os, name, refuse)  # as in a read-only directory
    with pytest.raises(WriteError, match=r"Permission denied.*make the directory writable"):
        checkpoint_state.remove_leftovers(tmp_path)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == before  # nothing lost: it can be run again
    checkpoint_state.remove_leftovers(tmp_path)
    assert sorted(os.listdir(tmp_path)) == [
        "checkpoint",
        "ckpt-1.data-00000-of-00001",
        "ckpt-1.index",
    ]
