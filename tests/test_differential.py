"""TensorFlow is the oracle: tfpersist restores what TensorFlow restores, bit for bit.

Every case of the generated corpus (``corpus.py``) is written once, then
restored into fresh objects by TensorFlow's own restore and by each of
tfpersist's ways; all must succeed and give the saved bytes. Mutated
rebuilds (a wrong shape, a variable the checkpoint lacks, a value nothing
takes, another dtype) must raise VariableMismatchError, where TensorFlow
often restores without a word.
"""

from __future__ import annotations

import pytest
from corpus import CASES, MUTATIONS, UNBUILT, TF1Case

from tfpersist.errors import VariableMismatchError

TF1 = [c for c in CASES if isinstance(c, TF1Case)]
TF2 = [c for c in CASES if not isinstance(c, TF1Case)]


def params(cases: list) -> list:
    """The cases as test parameters, each marked with the releases it runs on."""
    return [
        pytest.param(c, id=c.name, marks=[pytest.mark.requires_tf(c.requires_tf)])
        if getattr(c, "requires_tf", None)
        else pytest.param(c, id=c.name)
        for c in cases
    ]


@pytest.mark.parametrize("case", params(CASES))
def test_restores_what_tensorflow_restores(case, tmp_path):
    prefix = case.write(tmp_path)
    hows = ["tf", "direct", "saver", *(["subset"] if isinstance(case, TF1Case) else [])]
    for how in hows:
        assert case.restore(prefix, how) == case.expected, how


KINDS = {"shape": "shape", "missing": "missing", "extra": "unexpected", "dtype": "dtype"}
#: What TensorFlow's own restore does instead: "accepted" is a silent trap.
TENSORFLOW = {
    ("tf1-resource", "shape"): "accepted",  # the variable silently takes the saved shape
    ("tf1-ref", "shape"): "InvalidArgumentError",
    ("tf1", "missing"): "NotFoundError",
    ("tf1", "extra"): "accepted",  # values nothing takes are ignored without a word
    ("tf1", "dtype"): "InvalidArgumentError",
    ("tf2", "shape"): "ValueError",
    ("tf2", "missing"): "AssertionError",  # only because assert_consumed() was called
    ("tf2", "extra"): "AssertionError",
    ("tf2", "dtype"): "InvalidArgumentError",
}
MUTATED = [
    c for c in CASES if c.name in ("v2-every-dtype-resource", "v1-every-dtype-ref", "modules-save")
]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    prefixes = {}

    def write(case):
        if case.name not in prefixes:
            prefixes[case.name] = case.write(tmp_path_factory.mktemp(case.name))
        return prefixes[case.name]

    return write


def tensorflow_outcome(case, prefix, mutation):
    """What TensorFlow's own restore does with the mutated rebuild."""
    try:
        case.restore(prefix, "tf", mutation)
    except Exception as e:  # any error: its type is compared below
        return type(e).__name__
    return "accepted"


@pytest.mark.fault
@pytest.mark.parametrize("mutation", MUTATIONS)
@pytest.mark.parametrize("case", MUTATED, ids=lambda c: c.name)
def test_mutated_rebuild_is_refused(case, mutation, written, record_property):
    prefix = written(case)
    hows = ["direct", "saver", *(["subset"] if isinstance(case, TF1Case) else [])]
    for how in hows:
        with pytest.raises(VariableMismatchError) as caught:
            case.restore(prefix, how, mutation)
        assert [m.kind for m in caught.value.problems] == [KINDS[mutation]], how
    outcome = tensorflow_outcome(case, prefix, mutation)
    record_property("fault_detail", f"{case.name}, {mutation}: TensorFlow {outcome}")
    kind = case.kind
    if kind == "tf1" and mutation == "shape":
        kind += "-resource" if case.specs[0].resource else "-ref"
    assert outcome == TENSORFLOW[kind, mutation]


@pytest.mark.parametrize("case", MUTATED, ids=lambda c: c.name)
def test_partial_restore_takes_what_tensorflow_takes(case, written):
    """A model that lacks a saved variable: with partial=True, the same values as TensorFlow's."""
    prefix = written(case)
    want = case.restore(prefix, "tf", "extra", partial=True)
    assert set(want) < set(case.expected)
    assert all(want[k] == case.expected[k] for k in want)
    hows = ["direct", "saver", *(["subset"] if isinstance(case, TF1Case) else [])]
    for how in hows:
        assert case.restore(prefix, how, "extra", partial=True) == want, how


@pytest.mark.parametrize(
    "case", params([c for c in CASES if c.name.startswith(("keras", "compat-"))])
)
def test_fails_where_tensorflow_fails(case, written):
    """An optimizer that has made no variables yet: tfpersist fails exactly when TensorFlow does.

    TensorFlow makes a missing slot when it restores one (so Momentum, which
    has nothing but slots, succeeds), but not other optimizer variables.
    """
    prefix = written(case)
    try:
        want = case.restore(prefix, "tf", UNBUILT)
    except AssertionError as e:
        assert "Unresolved object" in str(e)
        want = None
    for how in ("direct", "saver"):
        if want is None:
            with pytest.raises(VariableMismatchError) as caught:
                case.restore(prefix, how, UNBUILT)
            assert {m.kind for m in caught.value.problems} == {"unexpected"}
        else:
            assert case.restore(prefix, how, UNBUILT) == want
    assert (want is None) == (case.name != "compat-momentum")


@pytest.mark.parametrize("case", [c for c in TF1 if c.table], ids=lambda c: c.name)
def test_partial_restore_restores_saveable_objects(case, written):
    """With partial=True the table beside the variables is restored too, as by ``Saver()``."""
    prefix = written(case)
    assert case.restore(prefix, "tf", partial=True) == case.expected
    for how in ("direct", "saver", "subset"):
        assert case.restore(prefix, how, partial=True) == case.expected, how
