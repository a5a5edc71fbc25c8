"""Sphinx configuration: one source tree, built once per language (-D language=...)."""

from __future__ import annotations

import os

from docutils import nodes
from docutils.parsers.rst import Directive

import tfpersist

project = "tfpersist"
author = "tfpersist developers"
copyright = "2026, tfpersist developers"
release = version = tfpersist.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.intersphinx",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_root", "locale", "README.md"]
templates_path = ["_templates"]
html_static_path = ["_static"]
html_css_files = ["tfpersist.css"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_default_options = {"members": True}

# The build machine has no network: the inventories list the Python, NumPy and
# TensorFlow objects these pages cite, with their addresses in the official
# documentation (written by _inventories/build.py).
_inventories = os.path.join(os.path.dirname(__file__), "_inventories")
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", os.path.join(_inventories, "python.inv")),
    "numpy": ("https://numpy.org/doc/stable", os.path.join(_inventories, "numpy.inv")),
    "tensorflow": ("https://www.tensorflow.org", os.path.join(_inventories, "tensorflow.inv")),
}

# Narrative pages carry {doctest} blocks; docstrings are run by pytest in every
# TensorFlow env, so they are not run a second time here.
doctest_test_doctest_blocks = ""
doctest_global_setup = """
import os, tempfile
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.chdir(tempfile.mkdtemp(prefix="tfpersist-docs-"))
"""

# The compatibility matrix (compat/table.txt) is written by `tox -e compat`, which
# plain `tox` runs before this build; a build without it says how to get it.
_matrix = os.path.join(os.path.dirname(__file__), "compat", "table.txt")
if not os.path.exists(_matrix):
    os.makedirs(os.path.dirname(_matrix), exist_ok=True)
    with open(_matrix, "w", encoding="utf-8") as f:
        f.write(
            "The matrix has not been run here. Run `tox` (or `tox -e compat` after the\n"
            "TensorFlow envs), then build the docs again.\n"
            "此处尚未运行兼容性矩阵。请运行 `tox`（或在各 TensorFlow 环境之后运行 `tox -e compat`），再重新构建文档。\n"
        )

# Translation: docs/locale/zh_CN/LC_MESSAGES/<page>.po, one catalog per page.
locale_dirs = ["locale/"]
gettext_compact = False
gettext_uuid = False
gettext_location = False
gettext_additional_targets: list[str] = []  # code and doctest output stay as they are

LANGUAGES = {"en": "English", "zh_CN": "简体中文"}


def _setup_language(app, config):
    language = config.language or "en"
    config.html_search_language = "zh" if language.startswith("zh") else "en"
    other = "zh_CN" if language == "en" else "en"
    config.html_context = {
        **config.html_context,
        "current_language": language,
        "other_language": other,
        "other_language_name": LANGUAGES[other],
    }
    config.html_title = "tfpersist" + (" 文档" if other == "en" else " documentation")


class OpPolicy(Directive):
    """``.. op-policy::``: the groups of tfpersist/op_policy.json, in the build's language."""

    has_content = False

    def run(self):
        import json

        from tfpersist import safety

        chinese = (self.state.document.settings.env.config.language or "en").startswith("zh")
        with open(safety.POLICY_FILE, encoding="utf-8") as f:
            groups = json.load(f)["groups"]
        verdicts = {
            "allow": ("allowed", "允许"),
            "saver": ("saver rule", "按 Saver 规则"),
            "refuse": ("refused", "拒绝"),
        }
        heads = (
            ("family", "verdict", "ops", "why")
            if not chinese
            else ("类别", "结论", "运算数", "原因")
        )
        rows, details = [], []
        for g in groups:
            family = g["family_zh_CN"] if chinese else g["family"]
            reason = g["reason_zh_CN"] if chinese else g["reason"]
            rows.append((family, verdicts[g["verdict"]][chinese], str(len(g["ops"])), reason))
            item = nodes.definition_list_item()
            item += nodes.term(text=f"{family} ({len(g['ops'])})")
            ops = nodes.paragraph()
            for i, op in enumerate(g["ops"]):
                ops += nodes.literal(text=op)
                if i < len(g["ops"]) - 1:
                    ops += nodes.Text(" ")
            item += nodes.definition("", ops)
            details.append(item)
        table = _table(heads, rows, [18, 12, 6, 64], ["op-policy"])
        return _generated([table, nodes.definition_list("", *details, classes=["op-list"])])


def _generated(found):
    """Mark generated text as already in the reader's language: gettext leaves it alone."""
    for top in found:
        for node in top.findall(nodes.TextElement):
            node["translatable"] = False
    return found


def _table(heads, rows, widths, classes):
    """A docutils table: a header row, then rows of cells; a one-cell row is a title row."""
    table = nodes.table(classes=classes)
    group = nodes.tgroup(cols=len(heads))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head, body = nodes.thead(), nodes.tbody()
    group += head
    group += body
    head += nodes.row("", *(nodes.entry("", nodes.paragraph(text=h)) for h in heads))
    for cells in rows:
        if len(cells) == 1:
            body += nodes.row(
                "", nodes.entry("", nodes.strong(text=cells[0]), morecols=len(heads) - 1)
            )
        else:
            body += nodes.row("", *(nodes.entry("", nodes.paragraph(text=c)) for c in cells))
    return table


class ScannerResults(Directive):
    """``.. scanner-results::``: docs/benchmarks/scanners.json as a table, in the build's language."""

    def run(self):
        import json

        chinese = (self.state.document.settings.env.config.language or "en").startswith("zh")
        path = os.path.join(os.path.dirname(__file__), "benchmarks", "scanners.json")
        with open(path, encoding="utf-8") as f:
            result = json.load(f)
        marks = {  # (dangerous, flagged) -> English, Chinese
            (True, True): ("caught", "检出"),
            (True, False): ("missed", "漏报"),
            (False, True): ("false alarm", "误报"),
            (False, False): ("passed", "通过"),
        }
        titles = {
            "dangerous": (
                "dangerous: reads, writes or runs what it should not",
                "危险文件：读写或运行不该动的东西",
            ),
            "real": ("real: written by TensorFlow", "真实文件：由 TensorFlow 写出"),
        }
        totals = {
            "dangerous": ("caught, of {}", "检出（共 {} 个）"),
            "real": ("false alarms, of {}", "误报（共 {} 个）"),
        }
        names = list(result["versions"])
        heads = ["文件" if chinese else "file"] + [
            f"{n} ({v})" for n, v in result["versions"].items()
        ]
        rows = []
        for kind in ("dangerous", "real"):
            files = [f for f in result["files"] if f["kind"] == kind]
            rows.append([titles[kind][chinese]])
            for f in files:
                rows.append(
                    [
                        f["name"],
                        *(marks[kind == "dangerous", f["flagged"][n]][chinese] for n in names),
                    ]
                )
            counts = [str(sum(f["flagged"][n] for f in files)) for n in names]
            rows.append([totals[kind][chinese].format(len(files)), *counts])
        found = [_table(heads, rows, [46, 18, 18, 18], ["scanner-results"])]
        sources = sorted({f["source"] for f in result["files"] if f["source"] != "built"})
        if sources:
            intro = (
                "来自公开仓库的真实文件："
                if chinese
                else "The real files from public repositories:"
            )
            found.append(nodes.paragraph(text=intro))
            items = [
                nodes.list_item("", nodes.paragraph("", "", nodes.literal(text=s))) for s in sources
            ]
            found.append(nodes.bullet_list("", *items))
        return _generated(found)


def setup(app):
    app.connect("config-inited", _setup_language)
    app.add_directive("op-policy", OpPolicy)
    app.add_directive("scanner-results", ScannerResults)
    return {"parallel_read_safe": True}


html_theme = "furo"
html_context: dict[str, str] = {}
html_sidebars = {
    "**": [
        "sidebar/scroll-start.html",
        "sidebar/brand.html",
        "sidebar/language.html",
        "sidebar/search.html",
        "sidebar/navigation.html",
        "sidebar/scroll-end.html",
    ]
}
html_favicon = "_static/favicon.svg"
html_show_sourcelink = False
html_copy_source = False
