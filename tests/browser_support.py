"""Serving a folder on 127.0.0.1 and driving Debian's Chromium, for the browser tests.

Chromium comes from Debian's package (``make test`` installs it), never from a download by
playwright. The flags keep it from reaching out to Google's hosts at start-up.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import http.server
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
LOCAL_SCHEMES = {"data", "blob", "about"}


def is_local(url: str) -> bool:
    """True for a URL served from this machine (or inline: data:, blob:, about:)."""
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or parts.hostname in LOCAL_HOSTS


@dataclasses.dataclass
class Visit:
    """A page opened by :func:`open_offline` and what it did: every request, the ones to other
    hosts (aborted), console and page errors, and responses with an error status."""

    page: object
    requests: list
    foreign: list
    errors: list
    failed: list


def open_offline(browser, url: str, *, width: int = 1280, height: int = 900) -> Visit:
    """Open ``url`` in a new browser context that lets only local requests through."""
    context = browser.new_context(viewport={"width": width, "height": height})
    visit = Visit(None, [], [], [], [])

    def route(route_obj):
        if is_local(route_obj.request.url):
            route_obj.continue_()
        else:
            visit.foreign.append(route_obj.request.url)
            route_obj.abort()

    context.route("**/*", route)
    page = visit.page = context.new_page()
    page.on("request", lambda request: visit.requests.append(request.url))
    page.on("response", lambda response: visit.failed.append(response.url) if response.status >= 400 else None)
    page.on("console", lambda msg: visit.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: visit.errors.append(str(exc)))
    page.goto(url, wait_until="networkidle")
    return visit


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def serve(directory: Path):
    """Serve ``directory`` on 127.0.0.1 at a free port; yield its base URL."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def chromium():
    """Yield a playwright Browser running Debian's Chromium headless."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run make test (it installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                             headless=True)
        try:
            yield browser
        finally:
            browser.close()
