"""The built site in headless Chromium: both languages, the switch, search in each.

Run by ``tox -e docs`` after the build; screenshots go to docs/_build/screenshots/.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import pathlib
import re
import threading
from urllib.parse import quote

import pytest
from playwright.sync_api import sync_playwright

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs"
SITE = DOCS / "_build" / "html"
SHOTS = SITE.parent / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Without the networking flags Chromium keeps calling home, which this closed network refuses.
FLAGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site():
    assert (SITE / "en" / "index.html").is_file(), "build the site first: tox -e docs"
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A page that fails the test on any JavaScript error or console error."""
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    page.close()
    assert not errors, f"JavaScript errors: {errors}"


def test_language_picker_leads_to_both_trees(site, page):
    page.goto(f"{site}/index.html")
    page.screenshot(path=str(SHOTS / "root.png"))
    page.click("#lang-zh_CN")
    page.wait_for_load_state()
    assert page.url.endswith("/zh_CN/index.html")
    page.goto(f"{site}/index.html")  # not go_back: it can race the click's navigation
    page.click("#lang-en")
    page.wait_for_load_state()
    assert page.url.endswith("/en/index.html")


@pytest.mark.parametrize(
    "language, html_lang, heading",
    [("en", "en", "The article, section by section"), ("zh_CN", "zh-CN", "原文各节")],
)
def test_index_pages(site, page, language, html_lang, heading):
    page.goto(f"{site}/{language}/index.html")
    assert page.get_attribute("html", "lang") == html_lang
    assert page.locator("h2", has_text=heading).count() == 1
    page.screenshot(path=str(SHOTS / f"{language}-index.png"), full_page=True)


@pytest.mark.parametrize("page_name", ["saving", "freezing", "side_by_side"])
def test_language_switch_leads_to_the_same_page(site, page, page_name):
    page.goto(f"{site}/en/{page_name}.html")
    page.click("#language-switch")
    assert page.url == f"{site}/zh_CN/{page_name}.html"
    assert page.get_attribute("html", "lang") == "zh-CN"
    page.screenshot(path=str(SHOTS / f"zh_CN-{page_name}.png"))
    page.click("#language-switch")
    assert page.url == f"{site}/en/{page_name}.html"


@pytest.mark.parametrize(
    "language, word, expected",
    [
        ("zh_CN", "冻结", "freezing.html"),
        ("zh_CN", "检查点", "saving.html"),
        ("en", "frozen", "freezing.html"),
    ],
)
def test_search_finds_the_page(site, page, language, word, expected):
    page.goto(f"{site}/{language}/search.html?q={quote(word)}")
    # Results appear one by one; the summary line is written when the search is done.
    page.wait_for_function(
        "() => (document.querySelector('#search-results p.search-summary')?.innerText || '').trim()",
        timeout=20_000,
    )
    hrefs = [a.get_attribute("href") for a in page.locator("#search-results ul.search li a").all()]
    assert any(h.split("?")[0].split("#")[0].endswith(expected) for h in hrefs), hrefs
    page.screenshot(path=str(SHOTS / f"{language}-search-{expected.split('.')[0]}.png"))


def _data(*parts: str) -> dict:
    return json.loads((DOCS.joinpath(*parts)).read_text(encoding="utf-8"))


def _tables() -> dict[str, dict[str, int]]:
    """page -> table class -> how many tables the committed JSON makes there."""
    results, audit = _data("benchmarks", "results.json"), _data("benchmarks", "audit.json")
    keras = _data("benchmarks", "keras.json")
    return {
        "compat": {"compat-matrix": 1},
        "performance": {
            "bench-results": len(results["scenarios"]),
            "bench-async": 1,
            "bench-rename": 1,
            "bench-audit": len(audit["rows"]),
            "bench-keras": len(keras["rows"]),
        },
        "safety": {"scanner-results": 1, "bench-audit": len(audit["rows"])},
    }


LANGUAGES = ["en", "zh_CN"]
HIDE_OVERLAYS = ".back-to-top { display: none !important; }"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("page_name", ["compat", "performance", "safety"])
def test_results_are_tables_that_fit(site, page, language, page_name):
    page.goto(f"{site}/{language}/{page_name}.html")
    page.add_style_tag(content=HIDE_OVERLAYS)
    # Results as preformatted text (a literalinclude) would be a highlight-text block.
    assert page.locator("article .highlight-text").count() == 0
    for css, count in _tables()[page_name].items():
        tables = page.locator(f"article table.results-table.{css}")
        assert tables.count() == count, css
        for i in range(count):
            table = tables.nth(i)
            assert table.locator("tbody td").count() > 0
            # furo puts each table in a scrolling wrapper: it must not need to scroll.
            wide = table.evaluate(
                "t => { const w = t.closest('.table-wrapper') || t.parentElement;"
                " return [w.scrollWidth, w.clientWidth]; }"
            )
            assert wide[0] <= wide[1], (css, i, wide)
            if i == 0:
                table.screenshot(path=str(SHOTS / f"{language}-{page_name}-{css}.png"))
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_compat_cell_shows_its_outcome(site, page, language, theme):
    results = _data("compat", "results.json")
    page.goto(f"{site}/{language}/compat.html")
    page.evaluate(f"document.body.dataset.theme = '{theme}'")
    table = page.locator("article table.compat-matrix")
    rows = table.locator("tbody tr:not(.group-title)")
    assert rows.count() == len({c["kind"] for c in results["cells"]}) * len(results["releases"])
    cells = table.locator("tbody tr:not(.group-title) td:not(:first-child)")
    assert cells.count() == len(results["cells"])
    found = cells.evaluate_all(
        """cells => cells.map(c => [c.className, c.innerText.trim(),
                   getComputedStyle(c).backgroundColor])"""
    )
    words, colours = {}, {}
    for css, word, colour in found:
        assert css in ("outcome-ok", "outcome-repaired", "outcome-failed"), (css, word)
        assert word, css  # the outcome is said in words too, not by colour alone
        words.setdefault(css, set()).add(word)
        colours.setdefault(css, set()).add(colour)
    assert all(len(w) == 1 for w in words.values()), words
    assert len({w for ws in words.values() for w in ws}) == len(words), words
    assert all(len(c) == 1 for c in colours.values()), colours
    assert len({c for cs in colours.values() for c in cs}) == len(colours), colours
    expected = {"outcome-" + c["status"] for c in results["cells"]}
    assert set(words) == expected
    if language == "zh_CN":
        assert words.get("outcome-ok") != {"ok"}, "the outcome words are not translated"
    table.screenshot(path=str(SHOTS / f"{language}-compat-{theme}.png"))


# The chrome of a Chinese page: everything but the article, the page titles in the
# navigation and next/previous links, and the link to the English site.
_CHROME_TEXT = """() => {
  const skip = "article, .sidebar-tree, .toc-tree, .related-pages .title, .sidebar-language,"
    + " script, style, noscript";
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (node.parentElement.closest(skip)) continue;
    if (node.textContent.trim()) out.push(node.textContent.trim());
  }
  for (const el of document.body.querySelectorAll("[title], [aria-label], [placeholder]")) {
    if (el.closest(skip)) continue;
    for (const a of ["title", "aria-label", "placeholder"])
      if (el.getAttribute(a)) out.push(el.getAttribute(a));
  }
  return out;
}"""
_NAMES = {"tfpersist", "Sphinx", "Furo", "pradyunsg"}


def _english(texts: list[str]) -> list[str]:
    return [t for t in texts if set(re.findall(r"[A-Za-z]{2,}", t)) - _NAMES]


@pytest.mark.parametrize("page_name", ["index", "saving", "genindex"])
def test_chinese_chrome_has_no_english(site, page, page_name):
    page.goto(f"{site}/zh_CN/{page_name}.html")
    texts = page.evaluate(_CHROME_TEXT)
    assert texts, "found no chrome to check"
    assert not _english(texts), _english(texts)
    if page_name == "saving":  # a page with both links
        footer = page.locator(".related-pages").inner_text()
        assert "Next" not in footer and "Previous" not in footer, footer


@pytest.mark.parametrize("word", ["检查点", "checkpoint", "zzzznothing"])
def test_chinese_search_speaks_chinese(site, page, word):
    page.goto(f"{site}/zh_CN/search.html?q={quote(word)}")
    summary = page.locator("#search-results p.search-summary")
    page.wait_for_function(
        "() => (document.querySelector('#search-results p.search-summary')?.innerText || '').trim()",
        timeout=20_000,
    )
    text = summary.inner_text()
    assert not _english([text]), text
    assert not _english([page.locator("#search-results h2").inner_text()])
    assert not _english(page.evaluate(_CHROME_TEXT))
    page.screenshot(path=str(SHOTS / f"zh_CN-search-summary-{len(word)}.png"))
