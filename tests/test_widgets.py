"""gdlib.widgets (gdlib.widgets.live and gdlib.widgets.static): the sliders, live (ipywidgets) and static (HTML/JS).

The live twins are driven as a slider would drive them (setting ``.value``); the static twins
are checked for self-containment (no other host, no require.js, no widget state) and for
drawing exactly what the live twins compute for the same parameters. Grids are kept tiny so
the file runs in seconds; tests/test_widgets_browser.py runs the JavaScript.
"""

from __future__ import annotations

import base64
import importlib
import json
import re
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlib import widgets
from gdlib.landscapes import quadratic
from gdlib.plotting import RULE_COLORS
from gdlib.widgets import StaticWidget, static_landscape_explorer, static_training_explorer
from gdlib.widgets import (
    LandscapeFrame, TrainingSetup, explore_landscape, landscape_caption, landscape_explorer,
    landscape_frame, training_caption, training_explorer, training_frame, widget_mode,
)

SMALL_LANDSCAPE = dict(lrs=(1e-3, 1e-2, 1.0), rules=("sgd", "adam"), max_steps=40,
                       num_steps=30)
SMALL_TRAINING = dict(lrs=(0.01, 0.3, 10.0), batch_sizes=(8, None), num_epochs=2, n_train=48,
                      hidden=8)


@pytest.fixture(autouse=True)
def no_mode_from_environment(monkeypatch):
    monkeypatch.delenv("GDLIB_WIDGETS", raising=False)


@pytest.fixture(scope="module")
def static_landscape():
    return static_landscape_explorer("rosenbrock", lr=1e-3, **SMALL_LANDSCAPE)


@pytest.fixture(scope="module")
def static_training():
    return static_training_explorer(lr=0.3, batch_size=8, **SMALL_TRAINING)


def decode(b64: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype="<f4")


def static_landscape_frame(data: dict, rule: str, lr_index: int, start_index: int):
    """(path, loss, diverged_at, converged_at) of one frame of the static data."""
    f = (data["rules"].index(rule) * len(data["lrs"]) + lr_index) * len(data["starts"]) \
        + start_index
    off, n = data["offsets"][f], data["lengths"][f]
    path = decode(data["xy"]).reshape(-1, 2)[off:off + n]
    loss = decode(data["loss"])[off:off + n]
    return path, loss, data["divergedAt"][f], data["convergedAt"][f]


# --- importing without ipywidgets -------------------------------------------------------------


def test_import_works_without_ipywidgets(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # `import ipywidgets` now fails
    for name in ("gdlib.widgets", "gdlib.widgets.runs", "gdlib.widgets.figures",
                 "gdlib.widgets.live", "gdlib.widgets.static"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.raises(ImportError):
        import ipywidgets  # noqa: F401
    importlib.import_module("gdlib")
    fresh = importlib.import_module("gdlib.widgets")
    with pytest.raises(ImportError, match="ipywidgets"):
        fresh.landscape_explorer("quadratic")
    with pytest.raises(ImportError, match="ipywidgets"):
        fresh.training_explorer(**SMALL_TRAINING)
    assert fresh.widget_mode("auto") == "static"
    static = fresh.explore_landscape("quadratic", lrs=(0.1,), rules=("sgd",), max_steps=5,
                                     num_steps=5)
    assert "<canvas" in static._repr_html_()


# --- choosing the twin ------------------------------------------------------------------------


def test_mode_from_argument_and_environment(monkeypatch):
    assert widget_mode("live") == "live" and widget_mode("static") == "static"
    assert widget_mode("auto") == "static"  # no Jupyter kernel in pytest
    monkeypatch.setenv("GDLIB_WIDGETS", "static")
    assert widget_mode() == "static"
    monkeypatch.setenv("GDLIB_WIDGETS", "live")
    assert widget_mode() == "live"
    monkeypatch.setenv("GDLIB_WIDGETS", "sometimes")
    with pytest.raises(ValueError, match="GDLIB_WIDGETS"):
        widget_mode()
    with pytest.raises(ValueError, match="mode"):
        widget_mode("interactive")


def test_build_time_environment_gives_static_html(monkeypatch):
    monkeypatch.setenv("GDLIB_WIDGETS", "static")
    out = explore_landscape("quadratic", lrs=(0.1,), rules=("sgd",), max_steps=5, num_steps=5)
    assert isinstance(out, StaticWidget)
    assert not hasattr(out, "_repr_mimebundle_")  # never widget state in the book


# --- the computations -------------------------------------------------------------------------


def test_landscape_frame_is_a_prefix_of_the_full_run():
    full = landscape_frame("rosenbrock", "adam", 0.05, (-1.2, 1.0), 60, max_steps=60)
    part = landscape_frame("rosenbrock", "adam", 0.05, (-1.2, 1.0), 25, max_steps=60)
    assert part.path.shape == (26, 2) and part.loss.shape == (26,)
    np.testing.assert_array_equal(part.path, full.path[:26])
    np.testing.assert_array_equal(part.path[0], [-1.2, 1.0])


@settings(max_examples=25, deadline=None)
@given(num_steps=st.integers(1, 30), lr_exp=st.floats(-3, 0.5), rule=st.sampled_from(
    widgets.RULE_NAMES))
def test_frames_are_finite_and_consistent(num_steps, lr_exp, rule):
    frame = landscape_frame("quadratic", rule, 10.0**lr_exp, (1.5, -1.0), num_steps,
                            max_steps=30)
    assert np.all(np.isfinite(frame.path)) and np.all(np.isfinite(frame.loss))
    assert np.all(frame.loss > 0)  # log axis: floored, never 0
    if frame.diverged:
        assert len(frame.path) == frame.diverged_at <= num_steps
    else:
        assert len(frame.path) == num_steps + 1
    if frame.converged_at is not None:
        assert frame.converged_at <= num_steps


def test_stability_threshold_of_the_quadratic_bowl():
    # f = (x^2 + 10 y^2) / 2: gradient descent converges iff lr < 2 / L = 0.2.
    bowl = quadratic(10.0)
    stable = landscape_frame(bowl, "sgd", 0.1, (1.5, 1.5), 200, max_steps=200)
    unstable = landscape_frame(bowl, "sgd", 0.3, (1.5, 1.5), 200, max_steps=200)
    assert stable.converged_at is not None and not stable.diverged
    assert unstable.diverged and unstable.diverged_at > 10
    assert "diverged at step" in landscape_caption("sgd", 0.3, (1.5, 1.5), unstable)


def test_landscape_captions_golden():
    path = np.zeros((4, 2))
    loss = np.ones(4)
    assert landscape_caption("adam", 0.01, (-1.5, 2.0), LandscapeFrame(path, loss, None, 1)) \
        == "lr = 0.01, rule = adam, start (-1.5, 2): converged in 1 step"
    assert landscape_caption("sgd", 0.000316, (0.0, 1.0), LandscapeFrame(path, loss, None, None)) \
        == "lr = 0.000316, rule = sgd, start (0, 1): not converged after 3 steps (f - f* = 1)"
    frame = LandscapeFrame(path, np.array([1.0, 0.5, -2.0, -12345.678]), None, None, "f")
    assert landscape_caption("sgd", 0.1, (0.0, 1.0), frame).endswith("(f = -1.23e+04)")
    assert landscape_caption("sgd", 1.0, (0.0, 1.0), LandscapeFrame(path, loss, 4, None)) \
        == "lr = 1, rule = sgd, start (0, 1): diverged at step 4"


def test_training_frame_and_caption():
    setup = TrainingSetup(**SMALL_TRAINING)
    good = training_frame(0.3, 8, setup)
    assert len(good.loss) == 3 and len(good.times) == 3 and good.times[0] == 0
    assert good.final_loss < good.loss[0] and not good.diverged
    assert training_frame(0.3, 8, setup) is good  # cached
    assert "validation accuracy" in training_caption(0.3, 8, setup, good)
    bad = training_frame(10.0, 8, setup)
    assert bad.diverged and np.all(np.isfinite(bad.loss)) and np.all(np.isfinite(bad.times))
    text = training_caption(10.0, 8, setup, bad)
    assert text.startswith("lr = 10, batch size = 8: diverged at step")
    assert training_frame(0.3, None, setup) is training_frame(0.3, 48, setup)


@pytest.mark.parametrize("call, match", [
    (lambda: landscape_frame("rosenbrock", "sgd", 0.0, (0, 0), 5), "lr"),
    (lambda: landscape_frame("rosenbrock", "sgd", float("nan"), (0, 0), 5), "lr"),
    (lambda: landscape_frame("rosenbrock", "lion", 0.1, (0, 0), 5), "rule"),
    (lambda: landscape_frame("rosenbrock", "sgd", 0.1, (0, 0, 0), 5), "start"),
    (lambda: landscape_frame("rosenbrock", "sgd", 0.1, (0, float("inf")), 5), "start"),
    (lambda: landscape_frame("rosenbrock", "sgd", 0.1, (0, 0), 50, max_steps=20), "num_steps"),
    (lambda: landscape_frame("banana", "sgd", 0.1, (0, 0), 5), "landscape"),
    (lambda: training_frame(0.3, 5, TrainingSetup(**SMALL_TRAINING)), "batch_size"),
    (lambda: TrainingSetup(n_train=10**6), "n_train"),
    (lambda: TrainingSetup(batch_sizes=(0, None)), "batch_sizes"),
    (lambda: TrainingSetup(lrs=(0.1, -1.0)), "lrs"),
    (lambda: TrainingSetup(rule="lbfgs"), "rule"),
    (lambda: static_landscape_explorer("quadratic", rule="adam", rules=("sgd",)), "rule"),
])
def test_bad_arguments_are_named(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


# --- the live twins ---------------------------------------------------------------------------


def test_live_landscape_explorer_redraws_on_every_slider_move():
    explorer = landscape_explorer("rosenbrock", lr=1e-3, num_steps=30, max_steps=40)
    c = explorer.controls
    assert set(c) == {"rule", "lr", "num_steps", "x", "y"}
    assert explorer.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    seen = {explorer.image.value}
    previous = explorer.figure.path.get_xydata().copy()
    for name, value in [("lr", 10**-2.5), ("rule", "adam"), ("x", 0.5), ("y", -0.5),
                        ("num_steps", 12)]:
        c[name].value = value
        data = explorer.figure.path.get_xydata()
        assert not np.array_equal(data, previous), name
        assert explorer.image.value not in seen, name
        seen.add(explorer.image.value)
        previous = data.copy()
    assert len(previous) == 13 and tuple(previous[0]) == (0.5, -0.5)
    assert explorer.caption.value.startswith("lr = 0.00316, rule = adam, start (0.5, -0.5): ")
    assert explorer.figure.path.get_color() == RULE_COLORS["adam"]


def test_live_landscape_explorer_marks_divergence():
    explorer = landscape_explorer("rosenbrock", lr=1.0, start=(-1.5, 2.5), num_steps=30,
                                  max_steps=40)
    fig = explorer.figure
    assert explorer.frame.diverged and "diverged at step" in explorer.caption.value
    assert all(cross.get_visible() for cross in fig.crosses)
    assert all(note.get_text().startswith("diverged at step") for note in fig.notes)
    assert not fig.end.get_visible()
    assert np.all(np.isfinite(fig.path.get_xydata())) and np.all(np.isfinite(fig.loss.get_xydata()))
    explorer.controls["lr"].value = explorer.controls["lr"].options[0][1]  # the smallest lr
    assert not any(cross.get_visible() for cross in fig.crosses)


def test_live_learning_rates_are_the_static_ones_read_out_as_numbers():
    """The live lr slider offers exactly the static explorer's grid (both sides of 2/L) and its
    readout, which a screen reader reads, is the learning rate, not its exponent."""
    from gdlib.widgets.runs import _landscape_defaults, _resolve_landscape
    explorer = landscape_explorer("quadratic", num_steps=20, max_steps=40)
    lrs = _landscape_defaults(_resolve_landscape("quadratic"), None, None, "sgd", None, None)[0]
    slider = explorer.controls["lr"]
    assert [value for _, value in slider.options] == [float(v) for v in lrs]
    assert all(label == f"{value:.3g}" for label, value in slider.options)
    assert slider.label == f"{slider.value:.3g}"
    assert "kernel is free" in explorer.widget.children[0].value


def test_live_training_explorer_redraws_and_fills_its_map():
    explorer = training_explorer(lr=0.3, batch_size=8, **SMALL_TRAINING)
    assert set(explorer.controls) == {"lr", "batch_size"}
    first_image, first = explorer.image.value, explorer.figure.lines[0].get_xydata().copy()
    explorer.controls["lr"].value = 10.0
    assert explorer.image.value != first_image
    assert not np.array_equal(explorer.figure.lines[0].get_xydata(), first)
    assert explorer.frame.diverged and "diverged" in explorer.caption.value
    assert all(cross.get_visible() for cross in explorer.figure.crosses)
    explorer.controls["batch_size"].value = 48
    assert len(explorer.cells) == 3
    explorer.fill_map()
    assert len(explorer.cells) == 6
    hatched = [p for p in explorer.figure.ax_map.patches if p.get_hatch()]
    assert len(hatched) == sum(f.diverged for f in explorer.cells.values()) >= 1


def test_live_explorer_displays_as_a_widget():
    explorer = landscape_explorer("quadratic", num_steps=5, max_steps=5)
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


# --- the static twins -------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["landscape", "training"])
def test_static_html_is_self_contained(which, static_landscape, static_training):
    text = (static_landscape if which == "landscape" else static_training)._repr_html_()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text)
    assert "http://" not in text and "https://" not in text
    assert "require" not in text
    assert "application/vnd.jupyter.widget" not in text
    assert text.count("<script>") == 1 and "<script src" not in text
    assert 'role="img"' in text and 'aria-label="' in text and 'aria-live="polite"' in text
    ids = re.findall(r'id="([^"]+)"', text)
    assert len(ids) == len(set(ids))
    for control in re.findall(r'<(?:input|select) id="([^"]+)"', text):
        assert f'<label for="{control}">' in text
    # base64 (images, float32 paths) may spell "NaN" by chance: look only at the text around it
    without_images = re.sub(r"[A-Za-z0-9+/=]{40,}", "", text)
    assert "NaN" not in without_images and "Infinity" not in without_images


def test_two_instances_have_different_ids():
    a = static_landscape_explorer("quadratic", lrs=(0.1,), rules=("sgd",), max_steps=5,
                                  num_steps=5)
    b = static_landscape_explorer("quadratic", lrs=(0.1,), rules=("sgd",), max_steps=5,
                                  num_steps=5)
    id_a, id_b = (re.search(r'<div id="([^"]+)"', w.html).group(1) for w in (a, b))
    assert id_a != id_b


def test_static_landscape_frames_equal_the_live_computation(static_landscape):
    from gdlib.widgets.runs import _STARTS
    data = static_landscape.data
    assert len(data["rules"]) * len(data["lrs"]) * len(data["starts"]) == \
        static_landscape.num_frames
    for rule in data["rules"]:
        for i, lr in enumerate(SMALL_LANDSCAPE["lrs"]):
            for k, start in enumerate(_STARTS["rosenbrock"]):
                path, loss, div, conv = static_landscape_frame(data, rule, i, k)
                live = landscape_frame("rosenbrock", rule, lr, start, 40, max_steps=40)
                np.testing.assert_array_equal(path, live.path.astype("<f4"))
                np.testing.assert_array_equal(loss, live.loss.astype("<f4"))
                assert div == (-1 if live.diverged_at is None else live.diverged_at)
                assert conv == (-1 if live.converged_at is None else live.converged_at)
                assert np.all(np.isfinite(path)) and np.all(np.isfinite(loss))


def test_static_frame_equals_what_the_live_explorer_draws(static_landscape):
    explorer = landscape_explorer("rosenbrock", lr=1e-2, rule="adam", start=(-1.2, 1.0),
                                  num_steps=40, max_steps=40)
    path, loss, _, _ = static_landscape_frame(static_landscape.data, "adam", 1, 1)
    np.testing.assert_array_equal(explorer.figure.path.get_xydata().astype("<f4"), path)
    np.testing.assert_array_equal(explorer.figure.loss.get_xydata()[:, 1].astype("<f4"), loss)


def test_static_landscape_marks_divergence(static_landscape):
    data = static_landscape.data
    _, _, div, _ = static_landscape_frame(data, "sgd", 2, 0)  # lr = 1 on Rosenbrock
    assert div > 0
    assert "diverged at step" in static_landscape.html  # the script writes the note
    json.loads(json.dumps(data), parse_constant=lambda c: pytest.fail(f"{c} in the data"))


def test_static_training_frames_equal_the_live_computation(static_training):
    data, setup = static_training.data, TrainingSetup(**SMALL_TRAINING)
    assert data["batchSizes"] == ["8", "full (48)"]
    for i, lr in enumerate(setup.lrs):
        for j, batch_size in enumerate(setup.batch_sizes):
            frame = data["frames"][i * len(setup.batch_sizes) + j]
            live = training_frame(lr, batch_size, setup)
            np.testing.assert_allclose(frame["loss"], live.loss, rtol=1e-4)
            np.testing.assert_allclose(frame["val"], live.val_loss, rtol=1e-4)
            assert frame["caption"] == training_caption(lr, batch_size, setup, live)
            assert frame["divergedAt"] == (-1 if live.diverged_at is None else live.diverged_at)
    assert any(f["divergedAt"] >= 0 for f in data["frames"])  # lr = 10 diverges
    assert "lr = 0.3, batch size = 8: final training loss" in static_training.html


def test_static_page_is_small_enough():
    # The chapter's grid is 6 rules x 9 lrs x 3 starts x 200 steps; a third of it (2 rules)
    # weighs more than a third of the page (the background PNG is counted in full).
    page = static_landscape_explorer("rosenbrock", rules=("sgd", "adam"), max_steps=200)
    assert page.num_frames == 2 * 9 * 3
    assert 3 * len(page.html) < 1_500_000
