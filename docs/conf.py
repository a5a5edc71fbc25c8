"""Sphinx configuration: one source tree, built once per language (-D language=...)."""

from __future__ import annotations

import os
import sys

from docutils import nodes
from docutils.parsers.rst import Directive

import tfpersist

project = "tfpersist"
author = "tfpersist developers"
copyright = "2026, tfpersist developers"
release = version = tfpersist.__version__

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "_ext"))
extensions = [
    "results_tables",  # benchmark and compatibility tables from their JSON
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
# Built with -n: every cross-reference must resolve. Types from the private
# modules (a parsed MetaGraph, say) appear in signatures; their docstrings
# describe them instead.
nitpick_ignore_regex = [("py:class", r"tfpersist\._\w+\..*")]

# Narrative pages carry {doctest} blocks; docstrings are run by pytest in every
# TensorFlow env, so they are not run a second time here.
doctest_test_doctest_blocks = ""
doctest_global_setup = """
import os, tempfile
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.chdir(tempfile.mkdtemp(prefix="tfpersist-docs-"))
"""

# Translation: docs/locale/zh_CN/LC_MESSAGES/<page>.po, one catalog per page.
# Absolute: Sphinx looks for the search page's sphinx.js relative to the working directory.
locale_dirs = [os.path.join(os.path.dirname(os.path.abspath(__file__)), "locale")]
gettext_compact = False
gettext_uuid = False
gettext_location = False
gettext_additional_targets: list[str] = []  # code and doctest output stay as they are

LANGUAGES = {"en": "English", "zh_CN": "简体中文"}
COPYRIGHT = {"en": copyright, "zh_CN": "2026，tfpersist 开发者"}


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
    config.copyright = COPYRIGHT.get(language, copyright)
    if language != "en":
        _write_translations_js(os.path.join(app.srcdir, config.locale_dirs[0], language))


def _write_translations_js(locale_dir: str) -> None:
    """LC_MESSAGES/sphinx.js: the search page's words, Sphinx's own and ours.

    Sphinx takes a sphinx.js in locale_dirs over its own, so this one is Sphinx's
    catalog for the language plus every message of our sphinx.po (those for the
    templates cost a few bytes), made again at every build (not in git), so it
    follows Sphinx's upgrades.
    """
    import json
    import re

    import sphinx
    from babel.messages.pofile import read_po

    here = os.path.join(locale_dir, "LC_MESSAGES")
    language = os.path.basename(locale_dir)
    if not os.path.exists(os.path.join(here, "sphinx.po")):
        return
    with open(os.path.join(here, "sphinx.po"), "rb") as f:
        ours = read_po(f)
    catalog = {"locale": language, "messages": {}, "plural_expr": ours.plural_expr}
    theirs = os.path.join(os.path.dirname(sphinx.__file__), "locale", language, "LC_MESSAGES")
    if os.path.exists(os.path.join(theirs, "sphinx.js")):
        with open(os.path.join(theirs, "sphinx.js"), encoding="utf-8") as f:
            text = f.read()
        catalog = json.loads(text[text.index("(") + 1 : text.rindex(")")])
    # Sphinx's JavaScript looks an ngettext up by its singular and wants one form per
    # plural; the catalog gives one msgstr for them all (Chinese has a single form).
    static = os.path.join(os.path.dirname(sphinx.__file__), "themes", "basic", "static")
    with open(os.path.join(static, "searchtools.js"), encoding="utf-8") as f:
        plurals = set(re.findall(r'ngettext\(\s*"([^"]+)"', f.read()))
    for m in ours:
        if m.id and m.string:
            plural = m.id in plurals
            catalog["messages"][m.id] = [m.string] * ours.num_plurals if plural else m.string
    text = f"Documentation.addTranslations({json.dumps(catalog, indent=4, sort_keys=True)});\n"
    target = os.path.join(here, "sphinx.js")
    if os.path.exists(target):
        with open(target, encoding="utf-8") as f:
            if f.read() == text:
                return
    with open(target + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(target + ".tmp", target)


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


def setup(app):
    app.connect("config-inited", _setup_language)
    app.add_directive("op-policy", OpPolicy)
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
