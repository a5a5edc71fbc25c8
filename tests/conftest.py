"""Fixtures shared by the tests, and the reliability table built from the fault tests."""

from __future__ import annotations

import operator
import os
import re
import textwrap
from collections import defaultdict

import pytest
from article import save_article

#: The area of each module's fault tests, as the reliability table names it.
AREAS = {
    "test_bundle": "reading checkpoints without TensorFlow 不依赖 TensorFlow 读取",
    "test_faults": "restoring and importing 恢复与导入",
    "test_safety": "auditing graphs 审查计算图",
    "test_nothing_lost": "crashes, full disks, two writers 崩溃、磁盘满、并发写入",
    "test_checkpoint_state": "finding checkpoints 查找检查点",
    "test_restoring": "restoring 恢复",
    "test_freezing": "freezing 冻结",
    "test_meta_graph": "loading the whole graph 加载整个计算图",
}
_rows: dict[tuple[str, str], list] = defaultdict(lambda: [0, 0, 0, []])


_COMPARE = {">=": operator.ge, "<": operator.lt}
_deselected: dict[str, int] = defaultdict(int)


def _runs_here(spec: str) -> bool:
    """Whether the TensorFlow installed meets *spec*, as ``">=2.16"`` or ``"<2.16"``."""
    from tfpersist._tf import VERSION

    found = re.fullmatch(r"(>=|<)(\d+)\.(\d+)", spec)
    if not found:
        raise pytest.UsageError(f"requires_tf({spec!r}): write '>=2.16' or '<2.16'")
    return _COMPARE[found[1]](VERSION, (int(found[2]), int(found[3])))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the tests marked ``requires_tf`` for other TensorFlow releases."""
    kept, gone = [], []
    for item in items:
        unmet = [m.args[0] for m in item.iter_markers("requires_tf") if not _runs_here(m.args[0])]
        (gone if unmet else kept).append(item)
        for spec in unmet[:1]:
            _deselected[spec] += 1
    if gone:
        config.hook.pytest_deselected(items=gone)
        items[:] = kept


def pytest_terminal_summary(terminalreporter) -> None:
    """Say why tests were deselected, one line per version requirement."""
    if not _deselected:
        return
    from tfpersist._tf import RELEASE

    for spec, count in sorted(_deselected.items()):
        terminalreporter.write_line(
            f"deselected {count}: needs TensorFlow {spec} (this is {RELEASE})"
        )


@pytest.fixture
def article_checkpoint(tmp_path):
    """§保存模型 with raw ``tf.compat.v1.train.Saver``: the prefix ``model/model.ckpt``."""
    return save_article(tmp_path)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count each fault test: its cases, the rounds they ran, and how many passed."""
    if report.when != "call" or "fault" not in report.keywords:
        return
    module = os.path.splitext(os.path.basename(report.location[0]))[0]
    name = report.location[2].split("[")[0].removeprefix("test_").replace("_", " ")
    row = _rows[(AREAS.get(module, module), name)]
    props = dict(report.user_properties)
    row[0] += 1
    row[1] += int(props.get("rounds", 1))
    row[2] += report.passed
    if "fault_detail" in props:
        row[3].append(str(props["fault_detail"]))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write the table to $TFPERSIST_FAULT_TABLE, when it is set."""
    path = os.environ.get("TFPERSIST_FAULT_TABLE")
    if not path or not _rows:
        return
    lines, area = [], None
    for (row_area, fault), (cases, rounds, passed, details) in sorted(_rows.items()):
        if row_area != area:
            lines += ["", row_area] if lines else [row_area]
            area = row_area
        result = "ok 通过" if passed == cases else f"FAILED 失败 {cases - passed}/{cases}"
        lines.append(f"  {fault}: {cases} cases 例, {rounds} rounds 轮: {result}")
        for detail in details:
            lines += textwrap.wrap(detail, 88, initial_indent="    ", subsequent_indent="      ")
    cases = sum(r[0] for r in _rows.values())
    rounds = sum(r[1] for r in _rows.values())
    passed = sum(r[2] for r in _rows.values())
    lines += ["", f"total 合计: {len(_rows)} faults 故障, {cases} cases 例, {rounds} rounds 轮, "
              f"{passed} passed 通过"]  # fmt: skip
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
