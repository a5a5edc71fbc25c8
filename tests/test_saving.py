"""Saving: the files written, parent directories, relative paths, no graph growth."""

from __future__ import annotations

import os
import shutil
import uuid

import pytest
import tensorflow as tf
from article import build_article_graph

from tfpersist import checkpoint_state, saving
from tfpersist.bundle import load_checkpoint
from tfpersist.errors import WriteError


def test_names_every_file_written_and_nothing_else(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.ckpt.bak").write_text("not ours")
    with tf.Graph().as_default() as graph:
        build_article_graph()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saved = saving.save_session(sess, str(tmp_path / "model" / "model.ckpt"))
    on_disk = sorted(str(tmp_path / "model" / n) for n in os.listdir(tmp_path / "model"))
    assert sorted(saved.files) == [f for f in on_disk if not f.endswith(".bak")]
    assert {os.path.basename(f) for f in saved.files} == {
        "checkpoint",
        "model.ckpt.index",
        "model.ckpt.data-00000-of-00001",
        "model.ckpt.meta",
    }


def test_creates_missing_parent_directories(tmp_path):
    prefix = tmp_path / "a" / "b" / "c" / "model.ckpt"
    with tf.Graph().as_default() as graph:
        build_article_graph()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saved = saving.save_session(sess, prefix)
    assert saved.prefix == str(prefix)
    assert checkpoint_state.is_complete(str(prefix))


def test_state_file_is_relative_so_a_copied_directory_works(tmp_path):
    with tf.Graph().as_default() as graph:
        build_article_graph()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saving.save_session(sess, str(tmp_path / "a" / "model.ckpt"), global_step=1)
    assert str(tmp_path) not in (tmp_path / "a" / "checkpoint").read_text()
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    shutil.rmtree(tmp_path / "a")
    assert tf.train.latest_checkpoint(str(tmp_path / "b")) == str(tmp_path / "b" / "model.ckpt-1")


def test_saving_in_a_loop_reuses_one_saver(tmp_path):
    with tf.Graph().as_default() as graph:
        build_article_graph()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saving.save_session(sess, str(tmp_path / "m"), global_step=0)
            ops_after_first = len(graph.get_operations())
            for step in range(1, 8):
                saving.save_session(sess, str(tmp_path / "m"), global_step=step)
            assert len(graph.get_operations()) == ops_after_first
    state = checkpoint_state.read_state(str(tmp_path))
    assert [os.path.basename(p) for p in state.checkpoints] == [f"m-{i}" for i in range(3, 8)]


def test_dict_var_list_saves_under_the_given_names(tmp_path):
    with tf.Graph().as_default() as graph:
        v1, v2, _ = build_article_graph(names=("other-v1", "other-v2"))
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saved = saving.save_session(sess, str(tmp_path / "m"), var_list={"v1": v1, "v2": v2})
    assert tf.train.list_variables(saved.prefix) == [("v1", [1]), ("v2", [1])]


def test_checkpoint_manager_keeps_max_to_keep(tmp_path):
    ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    manager = tf.train.CheckpointManager(ckpt, str(tmp_path / "m"), max_to_keep=3)
    for i in range(5):
        ckpt.v.assign(float(i))
        saved = saving.save_checkpoint(manager)
    assert saved.prefix == str(tmp_path / "m" / "ckpt-5")
    kept = checkpoint_state.read_state(str(tmp_path / "m")).checkpoints
    assert kept == tuple(manager.checkpoints)
    assert len(kept) == 3
    assert not os.path.exists(str(tmp_path / "m" / "ckpt-2.index"))


def test_var_list_with_a_partitioned_variable(tmp_path):
    """A PartitionedVariable in var_list is saved whole, under its own name, as Saver does."""
    with tf.Graph().as_default() as graph:
        w = tf.compat.v1.get_variable(
            "w", [4, 2], partitioner=tf.compat.v1.fixed_size_partitioner(2)
        )
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saved = saving.save_session(sess, tmp_path / "c", var_list=[w], write_meta_graph=False)
            expected = sess.run(w.as_tensor())
    assert tf.train.list_variables(saved.prefix) == [("w", [4, 2])]
    assert (tf.train.load_checkpoint(saved.prefix).get_tensor("w") == expected).all()


def _tf1_values(prefix) -> list[float]:
    """What TensorFlow's own Saver restores from *prefix* into the article's graph."""
    with tf.Graph().as_default() as graph:
        v1, v2, _ = build_article_graph()
        with tf.compat.v1.Session(graph=graph) as sess:
            tf.compat.v1.train.Saver().restore(sess, str(prefix))
            return [float(x[0]) for x in sess.run([v1, v2])]


def _save_article(prefix, v1: float) -> saving.SavedCheckpoint:
    with tf.Graph().as_default() as graph:
        a, _, _ = build_article_graph()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            sess.run(a.assign([v1]))
            return saving.save_session(sess, prefix)


def test_saving_over_a_prefix_replaces_it_and_leaves_nothing_else(tmp_path):
    prefix = tmp_path / "model" / "model.ckpt"
    first = _save_article(prefix, 10.0)
    second = _save_article(prefix, 20.0)
    assert second == first  # the same prefix and files
    assert _tf1_values(prefix)[0] == 20.0
    assert tf.train.latest_checkpoint(str(tmp_path / "model")) == str(prefix)
    assert sorted(os.listdir(tmp_path / "model")) == sorted(
        os.path.basename(f) for f in second.files
    )


def test_a_failed_save_over_a_prefix_brings_the_old_checkpoint_back(tmp_path, monkeypatch):
    prefix = tmp_path / "model.ckpt"
    _save_article(prefix, 10.0)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    real_save = tf.compat.v1.train.Saver.save

    def failing(self, sess, path, **kwargs):
        real_save(self, sess, path, write_state=False, **kwargs)  # the new files land...
        raise tf.errors.ResourceExhaustedError(None, None, f"{path}; No space left on device")

    monkeypatch.setattr(tf.compat.v1.train.Saver, "save", failing)
    with pytest.raises(WriteError, match="No space left on device"):
        _save_article(prefix, 20.0)  # ...and the old ones come back
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert _tf1_values(prefix)[0] == 10.0
    with pytest.raises(WriteError, match="No space left on device"):
        _save_article(tmp_path / "first" / "model.ckpt", 20.0)  # nothing there before
    assert os.listdir(tmp_path / "first") == []  # nothing there after


def test_a_switch_cut_short_is_ended_by_the_next_save_or_remove_leftovers(tmp_path):
    from tfpersist._files import set_aside

    for end in ("save", "remove_leftovers"):
        directory = tmp_path / end
        _save_article(directory / "model.ckpt", 10.0)
        aside = set_aside(str(directory / "model.ckpt"))  # then a kill, as it were
        (directory / "model.ckpt.index").write_bytes(b"half a new index")
        assert tf.train.latest_checkpoint(str(directory)) == aside  # the old one, whole
        assert _tf1_values(aside)[0] == 10.0
        if end == "save":
            _save_article(directory / "other.ckpt", 30.0)
        else:
            assert checkpoint_state.remove_leftovers(directory) == sorted(
                f"{aside}{suffix}" for suffix in (".data-00000-of-00001", ".index", ".meta")
            )
        assert _tf1_values(directory / "model.ckpt")[0] == 10.0
        assert not any(".tfpersist-old" in n for n in os.listdir(directory))
        if end == "remove_leftovers":  # a new Saver names only its own saves, as TF's does
            assert checkpoint_state.latest_checkpoint(directory) == str(directory / "model.ckpt")


def test_a_global_step_variable_names_the_prefix(tmp_path):
    with tf.Graph().as_default() as graph:
        build_article_graph()
        step = tf.compat.v1.train.get_or_create_global_step()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            sess.run(step.assign(42))
            saved = saving.save_session(sess, tmp_path / "m", global_step=step)
            theirs = tf.compat.v1.train.Saver().save(sess, str(tmp_path / "t"), global_step=step)
    assert os.path.basename(saved.prefix) == "m-42"
    assert os.path.basename(theirs) == "t-42"
    assert os.path.exists(saved.prefix + ".meta")


@pytest.mark.parametrize("root", ["local", "ram"])
def test_a_fresh_checkpoint_saved_over_ckpt_1(tmp_path, root):
    directory = str(tmp_path) if root == "local" else f"ram://{uuid.uuid4().hex[:8]}"
    for value in (1.0, 2.0):  # each a new Checkpoint, numbering from 1
        saved = saving.save_checkpoint(
            tf.train.Checkpoint(v=tf.Variable([value])), f"{directory}/ckpt"
        )
        assert saved.prefix == f"{directory}/ckpt-1"
    value = load_checkpoint(saved.prefix).get_tensor("v/.ATTRIBUTES/VARIABLE_VALUE")
    assert value.tolist() == [2.0]
    assert checkpoint_state.latest_checkpoint(directory) == saved.prefix
    assert sorted(tf.io.gfile.listdir(directory)) == sorted(
        f.rsplit("/", 1)[1] for f in saved.files
    )
