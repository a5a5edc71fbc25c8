"""The built site in headless Chromium: both languages, the switch, search in each.

Run by ``tox -e docs`` after the build; screenshots go to docs/_build/screenshots/.
"""

from __future__ import annotations

import functools
import http.server
import os
import pathlib
import threading
from urllib.parse import quote

import pytest
from playwright.sync_api import sync_playwright

SITE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "_build" / "html"
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
