"""The built book in a real browser, offline: Debian's Chromium through playwright.

The book is served from 127.0.0.1 on a free port; every request of every page is recorded and any
request to another host is blocked and fails the test. Pages with maths must be typeset by the
book's own MathJax (an ``mjx-container`` appears), no page may log a console error, and the
search page must find a word. One test per page, so pytest-xdist shares the pages between its
workers; a screenshot of each page's first screen goes to pytest's tmp_path (a full-page one
costs seconds per long chapter and is never read by a test).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from browser_support import chromium, is_local, open_offline, serve
from conftest import read_toc_pages

pytestmark = [pytest.mark.book, pytest.mark.browser]

MATHJAX_TIMEOUT_MS = 30_000
PAGES = read_toc_pages()


@pytest.fixture(scope="module")
def book_url(book_html):
    with serve(book_html) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def open_page(browser, url: str):
    """Open ``url``; return (page, requests, foreign requests, console errors)."""
    visit = open_offline(browser, url)
    return visit.page, visit.requests, visit.foreign, visit.errors


def page_has_maths(book_html: Path, docname: str) -> bool:
    return 'class="math' in (book_html / f"{docname}.html").read_text(encoding="utf-8")


def test_there_are_pages_with_maths(book_html):
    assert any(page_has_maths(book_html, docname) for docname in PAGES), \
        "no page with maths was found: the introduction has some"


@pytest.mark.parametrize("docname", PAGES)
def test_the_page_is_offline_and_typeset(browser, book_url, book_html, docname, tmp_path):
    page, requests, foreign, errors = open_page(browser, f"{book_url}/{docname}.html")
    try:
        others = foreign + [u for u in requests if not is_local(u) and u not in foreign]
        problems = [f"request to another host: {u}" for u in others]
        problems += [f"console error: {e}" for e in errors]
        if page_has_maths(book_html, docname):
            page.wait_for_selector("mjx-container", state="attached", timeout=MATHJAX_TIMEOUT_MS)
        assert any(urlsplit(u).path.endswith(f"/{docname}.html") for u in requests)
        page.screenshot(path=str(tmp_path / f"{docname.replace('/', '__')}.png"))
    finally:
        page.context.close()
    assert not problems, "\n".join(problems)


def test_mathjax_comes_from_the_book(browser, book_url, book_html, toc_pages):
    docname = next(d for d in toc_pages if page_has_maths(book_html, d))
    page, requests, foreign, errors = open_page(browser, f"{book_url}/{docname}.html")
    try:
        page.wait_for_selector("mjx-container", state="attached", timeout=MATHJAX_TIMEOUT_MS)
        mathjax = [u for u in requests if "mathjax" in u.lower()]
        assert mathjax and all(u.startswith(book_url + "/_static/mathjax/") for u in mathjax), mathjax
    finally:
        page.context.close()


def test_search_works_offline(browser, book_url):
    page, requests, foreign, errors = open_page(browser, f"{book_url}/search.html?q=gradient")
    try:
        page.wait_for_selector("#search-results li", timeout=MATHJAX_TIMEOUT_MS)
        assert page.locator("#search-results li").count() >= 1
        assert not foreign and not errors, (foreign, errors)
    finally:
        page.context.close()


TABLES_PAST_THE_COLUMN = """() => {
  const column = document.querySelector('.bd-article table')?.parentElement.getBoundingClientRect();
  return Array.from(document.querySelectorAll('.bd-article table')).map(t => ({
    head: t.innerText.slice(0, 40).replace(/\\s+/g, ' '),
    past: Math.round(t.getBoundingClientRect().right - column.right),
    scrolls: ['auto', 'scroll'].includes(getComputedStyle(t.parentElement).overflowX)}))
    .filter(t => t.past > 0);
}"""


def test_the_labs_wide_tables_fit_a_1280_pixel_window_or_scroll(browser, book_url):
    # _static/course.css sets tables in smaller type: at 1280 x 900, 3 of the lab's 17 tables are
    # still wider than the text column (8 without it); those scroll sideways, never clipped.
    page, _, _, _ = open_page(browser, f"{book_url}/chapters/11-lab.html")
    try:
        wide = page.evaluate(TABLES_PAST_THE_COLUMN)
    finally:
        page.context.close()
    assert all(t["scrolls"] for t in wide), wide
    assert len(wide) <= 3, wide
