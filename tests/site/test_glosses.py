"""English glosses on the built Chinese site: 检查点（checkpoint）.

A gloss is a full-width parenthesis holding only an English word or phrase; code, and
values such as ``local://``, do not count.
Rule (see the glossary): never in a heading or a table cell, and at most once per page.
Run by ``tox -e docs`` after the build; plain HTML parsing, no browser.
"""

from __future__ import annotations

import collections
import html.parser
import pathlib
import re

import pytest

SITE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "_build" / "html"
ZH = SITE / "zh_CN"
PAGES = sorted(p.name for p in ZH.glob("*.html") if p.name not in {"genindex.html", "search.html"})
GLOSS = re.compile(r"（([A-Za-z][A-Za-z0-9 .,'+/-]*)）")
CODE = {"code", "pre", "kbd", "samp", "script", "style"}
PLACES = {"h1", "h2", "h3", "h4", "h5", "h6", "th", "td"}


class _Text(html.parser.HTMLParser):
    """The text of the page's main article; code becomes NUL, and each character
    remembers the heading or table cell it sits in ("" for running text)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chars: list[str] = []
        self.places: list[str] = []
        self._open: list[str] = []
        self._depth = 0  # elements open inside <article role="main">

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._depth == 0:
            if tag == "article" and ("role", "main") in attrs:
                self._depth = 1
            return
        if tag in {"br", "img", "hr", "input", "meta", "link", "wbr"}:
            return
        self._depth += 1
        self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._depth == 0 or (tag not in self._open and tag != "article"):
            return
        if tag == "article" and self._depth == 1:
            self._depth = 0
            return
        while self._open:
            self._depth -= 1
            if self._open.pop() == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._depth == 0:
            return
        if CODE & set(self._open):
            data = "\0"
        place = next((t for t in reversed(self._open) if t in PLACES), "")
        self.chars.extend(data)
        self.places.extend([place] * len(data))


def glosses(page: pathlib.Path) -> list[tuple[str, str]]:
    """Each gloss on the page, with the heading or table cell it sits in ("" if none)."""
    parser = _Text()
    parser.feed(page.read_text(encoding="utf-8"))
    text = "".join(parser.chars)
    found = []
    for m in GLOSS.finditer(text):
        places = {p for p in parser.places[m.start() : m.end()] if p}
        found.append((m.group(1).strip(), ",".join(sorted(places))))
    return found


def test_the_chinese_site_is_built():
    assert (ZH / "index.html").is_file(), "build the site first: tox -e docs"
    assert len(PAGES) > 10, PAGES


@pytest.mark.parametrize("name", PAGES)
def test_no_gloss_in_headings_or_table_cells(name):
    bad = [(g, p) for g, p in glosses(ZH / name) if p]
    assert not bad, f"{name}: English glosses in headings or table cells: {bad}"


@pytest.mark.parametrize("name", PAGES)
def test_each_gloss_at_most_once_per_page(name):
    counts = collections.Counter(g for g, _ in glosses(ZH / name))
    repeated = {g: n for g, n in counts.items() if n > 1}
    assert not repeated, f"{name}: glossed more than once (keep the first use only): {repeated}"


def test_the_parser_sees_glosses_and_their_places(tmp_path):
    page = tmp_path / "p.html"
    page.write_text(
        '<nav><h1>检查点（checkpoint）</h1></nav><article role="main"><h1>检查点（checkpoint）</h1>'
        "<p>张量（tensor）与 <code>（tensor）</code>；<em>节点</em>（<em>node</em>）（local://）</p>"
        "<table><tr><td>会话（session）</td></tr></table></article><p>变量（variable）</p>",
        encoding="utf-8",
    )
    assert glosses(page) == [
        ("checkpoint", "h1"),
        ("tensor", ""),
        ("node", ""),
        ("session", "td"),
    ]
