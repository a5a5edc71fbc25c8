"""Saving: the files written, parent directories, relative paths, no graph growth."""

from __future__ import annotations

import json
import os
import shutil
import uuid

import pytest
import tensorflow as tf
from article import build_article_graph

from tfpersist import checkpoint_state, saving
from tfpersist.bundle import load_checkpoint
from tfpersist.errors import NothingToSaveError, WriteError


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
            token = aside.rsplit("-", 1)[1]
            assert checkpoint_state.remove_leftovers(directory) == sorted(
                [
                    *(f"{aside}{suffix}" for suffix in (".data-00000-of-00001", ".index", ".meta")),
                    str(directory / f".tfpersist-switch-{token}.json"),
                ]
            )
        assert _tf1_values(directory / "model.ckpt")[0] == 10.0
        assert not any(".tfpersist-" in n for n in os.listdir(directory))
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


KEY = "v/.ATTRIBUTES/VARIABLE_VALUE"


def _manager(directory, value: float, **kwargs) -> tf.train.CheckpointManager:
    """A restarted job's manager: new variables, its numbering from ckpt-1 again."""
    ckpt = tf.train.Checkpoint(v=tf.Variable(value))
    return tf.train.CheckpointManager(ckpt, str(directory), max_to_keep=2, **kwargs)


def _value(prefix) -> float:
    return float(tf.train.load_checkpoint(str(prefix)).get_tensor(KEY))


def _state_is_true(directory, manager) -> None:
    """Every checkpoint the state file names is whole, and the manager names the same ones."""
    state = tf.train.get_checkpoint_state(str(directory))
    named = list(state.all_model_checkpoint_paths)
    assert [os.path.join(str(directory), p) for p in named] == manager.checkpoints
    assert len(set(named)) == len(named) == len(state.all_model_checkpoint_timestamps)
    for prefix in manager.checkpoints:
        assert checkpoint_state.is_complete(prefix), prefix
    assert checkpoint_state.leftovers(directory) == []


@pytest.mark.parametrize("resume", [False, True])
def test_a_manager_made_after_a_save_cut_short(tmp_path, resume):
    """A save killed over ckpt-1 left the state file naming its old copy; a new manager reads it."""
    from tfpersist._files import set_aside

    saving.save_checkpoint(_manager(tmp_path, 1.0))
    aside = set_aside(str(tmp_path / "ckpt-1"))  # as a save killed after this step leaves it
    manager = _manager(tmp_path, 3.0)
    assert manager.latest_checkpoint == aside  # the old checkpoint, whole, by another name
    if resume:  # the usual way back: restore the latest, then go on saving
        manager.checkpoint.restore(manager.latest_checkpoint).assert_consumed()
        manager.checkpoint.v.assign(3.0)
    for _ in range(3 if resume else 1):
        saved = saving.save_checkpoint(manager)
        assert _value(saved.prefix) == 3.0  # what was just saved, not the old values
        assert manager.latest_checkpoint == saved.prefix
        _state_is_true(tmp_path, manager)
    assert os.path.basename(saved.prefix) == ("ckpt-4" if resume else "ckpt-1")
    expected = ["ckpt-3", "ckpt-4"] if resume else ["ckpt-1"]  # max_to_keep=2, as TF keeps
    assert [os.path.basename(p) for p in manager.checkpoints] == expected
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["checkpoint", *(f"{p}.{s}" for p in expected for s in ("data-00000-of-00001", "index"))]
    )


def test_a_manager_saving_into_a_subdirectory(tmp_path):
    """checkpoint_name="sub/model": checkpoints in sub/, the state file above."""
    from tfpersist._files import set_aside

    sub = tmp_path / "sub"
    for value in (1.0, 2.0):  # the second a restarted manager: sub/model-1 saved over
        manager = _manager(tmp_path, value, checkpoint_name="sub/model")
        assert saving.save_checkpoint(manager).prefix == str(sub / "model-1")
    assert sorted(os.listdir(sub)) == ["model-1.data-00000-of-00001", "model-1.index"]
    assert sorted(os.listdir(tmp_path)) == ["checkpoint", "sub"]
    for directory in (sub, tmp_path):
        assert checkpoint_state.remove_leftovers(directory) == []
    assert _value(tf.train.latest_checkpoint(str(tmp_path))) == 2.0
    set_aside(str(sub / "model-1"), str(tmp_path))  # a save killed there
    assert _value(tf.train.latest_checkpoint(str(tmp_path))) == 2.0  # the state file is true
    assert checkpoint_state.remove_leftovers(sub) == []  # no switch is sub's own
    assert len(checkpoint_state.remove_leftovers(tmp_path)) == 3  # the journal and the old copy
    assert tf.train.latest_checkpoint(str(tmp_path)) == str(sub / "model-1")
    assert _value(sub / "model-1") == 2.0
    assert sorted(os.listdir(sub)) == ["model-1.data-00000-of-00001", "model-1.index"]


def test_a_state_file_that_spells_the_directory_another_way(tmp_path):
    """TF1's Saver writes absolute paths: here through the real directory, saved via a link."""
    from tfpersist._files import finish_switches, set_aside

    real, alias = tmp_path / "real", tmp_path / "alias"
    real.mkdir()
    alias.symlink_to(real, target_is_directory=True)
    with tf.Graph().as_default() as graph:
        build_article_graph()
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.train.Saver().save(sess, str(real / "model.ckpt"))
    state = (real / "checkpoint").read_text()
    aside = set_aside(str(alias / "model.ckpt"))  # as a save killed after this step leaves it
    latest = tf.train.latest_checkpoint(str(alias))
    assert os.path.basename(latest) == os.path.basename(aside)  # renamed as the old spelling
    assert str(real) in (real / "checkpoint").read_text()
    assert _tf1_values(latest) == [1.0, 2.0]  # whole
    finish_switches(str(alias))
    assert (real / "checkpoint").read_text() == state
    assert _tf1_values(real / "model.ckpt") == [1.0, 2.0]


def test_lookalikes_of_an_old_copy_are_never_touched(tmp_path, monkeypatch):
    """Checkpoints and directories of yours named like tfpersist's old copies stay as they are."""
    import secrets

    for name, value in [
        ("model-1", 1.0),
        ("model-1.tfpersist-old", 2.0),
        ("model-1.tfpersist-old-0123abcd", 3.0),  # the name the next save first draws
    ]:
        tf.train.Checkpoint(v=tf.Variable(value)).write(str(tmp_path / name))
    (tmp_path / "notes.tfpersist-old.meta").mkdir()
    (tmp_path / "notes.tfpersist-old.meta" / "mine.txt").write_text("precious")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert checkpoint_state.leftovers(tmp_path) == []
    assert checkpoint_state.remove_leftovers(tmp_path) == []
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
    draws = iter(["0123abcd"])
    token_hex = secrets.token_hex
    monkeypatch.setattr(secrets, "token_hex", lambda n: next(draws, None) or token_hex(n))
    saved = saving.save_checkpoint(tf.train.Checkpoint(v=tf.Variable(5.0)), tmp_path / "model")
    assert saved.prefix == str(tmp_path / "model-1")  # saved over model-1
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert {n: after.get(n) for n in before if "tfpersist" in n} == {
        n: b for n, b in before.items() if "tfpersist" in n
    }
    assert (tmp_path / "notes.tfpersist-old.meta" / "mine.txt").read_text() == "precious"
    assert [_value(tmp_path / n) for n in ("model-1", "model-1.tfpersist-old")] == [5.0, 2.0]
    assert _value(tmp_path / "model-1.tfpersist-old-0123abcd") == 3.0
    assert checkpoint_state.remove_leftovers(tmp_path) == []


def test_a_skipped_save_returns_none_as_tensorflow_does(tmp_path):
    """A manager with checkpoint_interval skips a save: save() returns None, and so does this."""
    results = {}
    for how in ("tensorflow", "tfpersist"):
        step = tf.Variable(0, dtype=tf.int64)
        ckpt = tf.train.Checkpoint(v=tf.Variable(0.0), step=step)
        manager = tf.train.CheckpointManager(
            ckpt, str(tmp_path / how), 5, step_counter=step, checkpoint_interval=10
        )
        results[how] = []
        for s in (0, 1, 10):
            step.assign(s)
            saved = manager.save() if how == "tensorflow" else saving.save_checkpoint(manager)
            results[how].append(
                None
                if saved is None
                else os.path.basename(str(saved.prefix if how == "tfpersist" else saved))
            )
    assert results["tfpersist"] == results["tensorflow"] == ["ckpt-1", None, "ckpt-2"]
    assert sorted(os.listdir(tmp_path / "tfpersist")) == sorted(os.listdir(tmp_path / "tensorflow"))


HOSTILE_JOURNALS = {
    "deep nesting": "[" * 200_000,
    "NUL in the prefix": json.dumps({"prefix": "a\x00b", "parts": [".index"]}),
    "lone surrogate": '{"prefix": "a\\ud800b", "parts": [".index"]}',
    "a name too long": json.dumps({"prefix": "x" * 5000, "parts": [".index"]}),
    "huge": None,
}


@pytest.mark.parametrize("case", HOSTILE_JOURNALS)
def test_a_journal_not_of_ours_is_left_alone_and_blocks_nothing(tmp_path, case):
    journal = tmp_path / ".tfpersist-switch-0123abcd.json"
    if HOSTILE_JOURNALS[case] is None:
        with open(journal, "wb") as f:
            f.truncate(1 << 30)  # sparse: a gigabyte that costs nothing on disk
    else:
        journal.write_text(HOSTILE_JOURNALS[case], encoding="utf-8")
    before = journal.stat()
    for value in (1.0, 2.0):
        saving.save_checkpoint(tf.train.Checkpoint(v=tf.Variable([value])), tmp_path / "ckpt")
    checkpoint_state.remove_leftovers(tmp_path)
    assert journal.stat().st_size == before.st_size and journal.stat().st_mtime == before.st_mtime
    assert tf.train.load_checkpoint(str(tmp_path / "ckpt-1")).get_tensor(
        "v/.ATTRIBUTES/VARIABLE_VALUE"
    ).tolist() == [2.0]


@pytest.mark.parametrize("fails", [False, True])
def test_saving_over_a_v1_checkpoint_keeps_it_or_replaces_it(tmp_path, fails):
    prefix = str(tmp_path / "model.ckpt")
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        v = tf.compat.v1.Variable([1.0, 2.0], name="v")
        saver = tf.compat.v1.train.Saver(write_version=tf.compat.v1.train.SaverDef.V1)
        sess.run(v.initializer)
        saving.save_session(sess, prefix, saver=saver)
        sess.run(v.assign([3.0, 4.0]))
        if fails:

            def full_disk(*args, **kwargs):
                raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")

            saver.save = full_disk
            with pytest.raises(WriteError):
                saving.save_session(sess, prefix, saver=saver)
        else:
            saving.save_session(sess, prefix, saver=saver)
    latest = checkpoint_state.latest_checkpoint(tmp_path)
    value = tf.train.load_checkpoint(latest).get_tensor("v").tolist()
    assert value == ([1.0, 2.0] if fails else [3.0, 4.0])
    assert not checkpoint_state.leftovers(tmp_path)


def test_an_empty_saver_is_refused_and_leaves_the_disk_as_it_was(tmp_path):
    old = str(tmp_path / "old" / "model.ckpt")
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        v = tf.compat.v1.Variable([1.0], name="v")
        sess.run(v.initializer)
        saving.save_session(sess, old)
    before = {p.name: p.read_bytes() for p in (tmp_path / "old").iterdir()}
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        empty = tf.compat.v1.train.Saver(var_list=[], allow_empty=True)
        assert empty.save(sess, str(tmp_path / "tf" / "model.ckpt")) is None  # TF saves nothing
        for prefix in (old, str(tmp_path / "new" / "model.ckpt")):
            with pytest.raises(NothingToSaveError, match="the saver holds no variables"):
                saving.save_session(sess, prefix, saver=empty)
    assert {p.name: p.read_bytes() for p in (tmp_path / "old").iterdir()} == before
    assert not any((tmp_path / "new").iterdir())


@pytest.mark.fault
@pytest.mark.parametrize("var_list", [None, []])
def test_a_graph_with_nothing_to_save_is_a_write_error(tmp_path, var_list):
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        with pytest.raises(ValueError, match="No variables to save"):  # what TensorFlow says
            tf.compat.v1.train.Saver(var_list=var_list)
        with pytest.raises(NothingToSaveError, match="nothing to save"):
            saving.save_session(sess, tmp_path / "model.ckpt", var_list=var_list)
    assert list(tmp_path.iterdir()) == []


# -- who writes a save's bytes: the writer for eager TF2 saves, TensorFlow for the rest ----


def _same_files(ours: str, theirs: str) -> None:
    """The .index and .data files of two checkpoints are equal byte for byte."""
    names = sorted(
        os.path.basename(f)[len(os.path.basename(ours)) :] for f in _data_and_index(ours)
    )
    assert names == sorted(
        os.path.basename(f)[len(os.path.basename(theirs)) :] for f in _data_and_index(theirs)
    )
    for suffix in names:
        with open(ours + suffix, "rb") as a, open(theirs + suffix, "rb") as b:
            assert a.read() == b.read(), suffix


def _data_and_index(prefix: str) -> list[str]:
    return [f for f in checkpoint_state.checkpoint_files(prefix) if not f.endswith(".meta")]


@pytest.fixture
def engine_writes(monkeypatch):
    """How many checkpoints the writer wrote for a save."""
    closed = []
    close = saving.BundleWriter.close

    def counted(self):
        closed.append(self.prefix)
        return close(self)

    monkeypatch.setattr(saving.BundleWriter, "close", counted)
    return closed


@pytest.mark.parametrize("resource", [True, False])
def test_tf1_saves_are_tensorflows_bytes(resource, tmp_path, engine_writes):
    """Reference and resource variables, the default saver and a name map, with a step.

    TensorFlow's SaveV2 writes them from the variables' buffers; the writer never runs.
    """
    with tf.Graph().as_default() as graph:
        values = {
            "w": tf.random.uniform([300, 200], seed=1),
            "big": tf.random.uniform([1 << 19], seed=2),  # 2 MiB: written in parallel pieces
            "half": tf.constant([1.5, -2.0], tf.bfloat16),
            "names": tf.constant(["中文", "", "a\x00b"]),
            "step": tf.constant(7, tf.int64),
            "flags": tf.constant([True, False]),
            "z": tf.constant([1 + 2j], tf.complex128),
        }
        variables = {
            n: tf.compat.v1.Variable(v, name=n, use_resource=resource) for n, v in values.items()
        }
        savers = [
            tf.compat.v1.train.Saver(),
            tf.compat.v1.train.Saver({"renamed/w": variables["w"], "s": variables["names"]}),
        ]
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for i, saver in enumerate(savers):
                ours, theirs = str(tmp_path / f"ours{i}" / "m"), str(tmp_path / f"tf{i}" / "m")
                mine = saving.save_session(sess, ours, saver=saver, global_step=3)
                _same_files(mine.prefix, saver.save(sess, theirs, global_step=3))
    assert engine_writes == []


def test_tf1_saver_from_a_meta_graph_is_tensorflows_bytes(tmp_path, engine_writes):
    with tf.Graph().as_default() as graph:
        tf.compat.v1.Variable(tf.ones([4]), name="v")
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            first = saving.save_session(sess, str(tmp_path / "a" / "m")).prefix
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        saver = tf.compat.v1.train.import_meta_graph(first + ".meta")
        saver.restore(sess, first)
        mine = saving.save_session(sess, str(tmp_path / "ours" / "m"), saver=saver)
        _same_files(mine.prefix, saver.save(sess, str(tmp_path / "tf" / "m")))
    assert engine_writes == []


def test_tf1_sharded_and_sliced_saves(tmp_path, engine_writes):
    with tf.Graph().as_default() as graph:
        tf.compat.v1.Variable(tf.ones([4]), name="v")
        tf.compat.v1.get_variable(
            "p", [6], partitioner=tf.compat.v1.fixed_size_partitioner(2), use_resource=True
        )
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            sharded = tf.compat.v1.train.Saver(sharded=True)
            saved = saving.save_session(sess, str(tmp_path / "sharded" / "m"), saver=sharded)
            sliced = saving.save_session(sess, str(tmp_path / "sliced" / "m"))
    assert engine_writes == []
    assert load_checkpoint(saved.prefix).get_tensor("v").tolist() == [1.0] * 4
    assert load_checkpoint(sliced.prefix).get_tensor("p").shape == (6,)


def _tf2_objects():
    model = tf.keras.Sequential([tf.keras.layers.Dense(3)])
    model.build([None, 4])
    optimizer = tf.keras.optimizers.Adam()
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(tf.ones([2, 4])))
    variables = model.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
    extra = tf.Module()
    extra.names = tf.Variable(["中文", ""])
    extra.half = tf.Variable(tf.constant([1.5], tf.bfloat16))
    extra.big = tf.Variable(tf.random.uniform([1 << 19], seed=3))
    return {"model": model, "optimizer": optimizer, "extra": extra}


def test_tf2_saves_are_tensorflows_bytes(tmp_path, engine_writes):
    objects = _tf2_objects()
    mine = saving.save_checkpoint(tf.train.Checkpoint(**objects), str(tmp_path / "ours" / "ckpt"))
    theirs = tf.train.Checkpoint(**objects).save(str(tmp_path / "tf" / "ckpt"))
    _same_files(mine.prefix, theirs)
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(**objects), tmp_path / "m", 2)
    raw = tf.train.CheckpointManager(tf.train.Checkpoint(**objects), tmp_path / "r", 2)
    for _ in range(3):
        _same_files(saving.save_checkpoint(manager).prefix, raw.save())
    assert sorted(os.listdir(tmp_path / "m")) == sorted(os.listdir(tmp_path / "r"))
    assert len(engine_writes) == 4


def test_tf2_saves_the_writer_leaves_to_tensorflow(tmp_path, engine_writes):
    ckpt = tf.train.Checkpoint(v=tf.Variable([1.0, 2.0]))
    options = tf.train.CheckpointOptions(experimental_io_device="/job:localhost")
    saved = saving.save_checkpoint(ckpt, str(tmp_path / "io" / "ckpt"), options=options)
    assert engine_writes == []
    assert load_checkpoint(saved.prefix).get_tensor("v/.ATTRIBUTES/VARIABLE_VALUE").tolist() == [
        1.0,
        2.0,
    ]
