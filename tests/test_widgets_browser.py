"""The static sliders in a real browser: Debian's Chromium through playwright, offline.

Each page is served from 127.0.0.1 on a free port; any request to another host is blocked and
fails the test. Every control of every explorer on the page is moved (keyboard ArrowRight on a
range, another option of a select), then put back, and the canvas must change each time; the
caption written by the JavaScript must equal the one gdlib computes in Python. Screenshots go
to pytest's tmp_path.

- test_static_explorers_in_chromium: a page written from gdlib.widgets.static into tmp_path
  (runs without the book).
- test_learning_rate_chapter_sliders: the built chapter page (``make book`` first).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from browser_support import chromium, open_offline, serve
from conftest import BOOK_HTML
from gdlib.widgets import static_landscape_explorer, static_training_explorer
from gdlib.widgets import (
    TrainingSetup, landscape_caption, landscape_frame, training_caption, training_frame,
)

pytestmark = pytest.mark.browser

CHAPTER = "chapters/04-learning-rate.html"

LANDSCAPE = dict(lrs=(1e-3, 1e-2, 0.1), max_steps=120, num_steps=100)
TRAINING = dict(lrs=(0.01, 0.3, 10.0), batch_sizes=(1, 8, None), num_epochs=2, n_train=48,
                hidden=8)


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@contextlib.contextmanager
def open_page(browser, url: str):
    """Yield (page, foreign requests, console errors) for ``url``."""
    visit = open_offline(browser, url, width=1100)
    try:
        yield visit.page, visit.foreign, visit.errors
    finally:
        visit.page.context.close()


def canvas_image(explorer) -> str:
    return explorer.locator("canvas").evaluate("c => c.toDataURL()")


def move(control) -> None:
    """One step of a range (ArrowRight, or ArrowLeft at its maximum) or the next option."""
    if control.evaluate("e => e.tagName") == "SELECT":
        count = control.locator("option").count()
        current = int(control.input_value())
        control.select_option(str((current + 1) % count))
    else:
        at_max = control.evaluate("e => e.value === e.max")
        control.focus()
        control.press("ArrowLeft" if at_max else "ArrowRight")


def restore(control, value: str) -> None:
    if control.evaluate("e => e.tagName") == "SELECT":
        control.select_option(value)
    else:
        control.evaluate("(e, v) => { e.value = v; e.dispatchEvent(new Event('input')); "
                         "e.dispatchEvent(new Event('change')); }", value)


def exercise(page, check_caption=None) -> int:
    """Move every control of every explorer on ``page``; return the number of explorers."""
    explorers = page.locator(".gdlib-explorer")
    count = explorers.count()
    for e in range(count):
        explorer = explorers.nth(e)
        explorer.scroll_into_view_if_needed()
        caption = explorer.locator("figcaption")
        initial_image, initial_caption = canvas_image(explorer), caption.inner_text()
        assert initial_caption and initial_image.startswith("data:image/png")
        assert explorer.locator("canvas").get_attribute("aria-label").endswith(initial_caption)
        if check_caption:
            check_caption(explorer)
        controls = explorer.locator("[data-control]")
        assert controls.count() >= 2
        for c in range(controls.count()):
            control = controls.nth(c)
            name, value = control.get_attribute("data-control"), control.input_value()
            move(control)
            assert canvas_image(explorer) != initial_image, f"explorer {e}: {name} changed nothing"
            assert control.input_value() != value
            if check_caption:
                check_caption(explorer)
            restore(control, value)
            assert canvas_image(explorer) == initial_image, f"explorer {e}: {name} not restored"
        assert caption.inner_text() == initial_caption
    return count


SET_CONTROLS = """(root, values) => {
  for (const [name, value] of Object.entries(values)) {
    const e = root.querySelector(`[data-control="${name}"]`);
    e.value = String(value);
    e.dispatchEvent(new Event("input"));
  }
}"""


def values(explorer) -> dict:
    controls = explorer.locator("[data-control]")
    return {controls.nth(i).get_attribute("data-control"): int(controls.nth(i).input_value())
            for i in range(controls.count())}


def test_static_explorers_in_chromium(browser, tmp_path):
    landscape = static_landscape_explorer("rosenbrock", **LANDSCAPE)
    training = static_training_explorer(lr=0.3, batch_size=8, **TRAINING)
    (tmp_path / "index.html").write_text(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>sliders</title>'
        f"</head><body>{landscape.html}\n{training.html}</body></html>", encoding="utf-8")
    data, setup = landscape.data, TrainingSetup(**TRAINING)

    def expected(explorer) -> str:
        v = values(explorer)
        if "rule" in v:
            rule, lr = data["rules"][v["rule"]], LANDSCAPE["lrs"][v["lr"]]
            start = widgets_start(v["start"])
            frame = landscape_frame("rosenbrock", rule, lr, start, v["steps"],
                                    max_steps=LANDSCAPE["max_steps"])
            return landscape_caption(rule, lr, start, frame)
        lr, batch_size = setup.lrs[v["lr"]], setup.batch_sizes[v["batch"]]
        return training_caption(lr, batch_size, setup, training_frame(lr, batch_size, setup))

    def widgets_start(index: int):
        from gdlib.widgets.runs import _STARTS
        return _STARTS["rosenbrock"][index]

    def check_caption(explorer):
        assert explorer.locator("figcaption").inner_text() == expected(explorer)

    with serve(tmp_path) as url, open_page(browser, f"{url}/index.html") as (page, foreign,
                                                                             errors):
        assert exercise(page, check_caption) == 2
        # Every frame of the landscape grid: the script's caption is the one Python writes.
        first = page.locator(".gdlib-explorer").first
        for r in range(len(data["rules"])):
            for i in range(len(LANDSCAPE["lrs"])):
                for k in range(len(data["starts"])):
                    first.evaluate(SET_CONTROLS, {"rule": r, "lr": i, "start": k, "steps": 90})
                    check_caption(first)
        # A diverged run: the landscape's note and the training map's caption say so.
        first.evaluate(SET_CONTROLS, {"rule": 0, "lr": 2, "start": 0, "steps": 100})  # sgd, 0.1
        assert "diverged at step" in first.locator("figcaption").inner_text()
        page.screenshot(path=str(tmp_path / "static-explorers.png"), full_page=True)
    assert not foreign, foreign
    assert not errors, errors


@pytest.mark.book
def test_learning_rate_chapter_sliders(browser, tmp_path):
    chapter = BOOK_HTML / CHAPTER
    if not chapter.is_file():
        pytest.fail(f"{chapter} is missing: run make book (the learning-rate chapter must be in "
                    f"_toc.yml)")
    with serve(BOOK_HTML) as url, open_page(browser, f"{url}/{CHAPTER}") as (page, foreign,
                                                                              errors):
        assert exercise(page) >= 1, f"no slider (.gdlib-explorer) on {CHAPTER}"
        page.screenshot(path=str(tmp_path / "learning-rate-chapter.png"), full_page=True)
    assert not foreign, foreign
    assert not errors, errors
