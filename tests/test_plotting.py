"""Tests for gdlib.plotting (Agg backend): what is drawn, labels, and no NaN for diverged runs."""

import matplotlib

matplotlib.use("Agg")

import warnings  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from gdlib import plotting  # noqa: E402
from gdlib.landscapes import LANDSCAPES, get_landscape, quadratic, rosenbrock, trace  # noqa: E402
from gdlib.optim import RULES  # noqa: E402
from gdlib.palette import COLORS  # noqa: E402
from gdlib.plotting import RULE_COLORS, comparison_bars, contour, loss_curves, trajectories

OKABE_ITO = {"#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00",
             "#CC79A7"}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def all_line_data(ax):
    return [np.asarray(line.get_xydata(), dtype=float) for line in ax.get_lines()]


def markers_of(ax, marker):
    return [line for line in ax.get_lines() if line.get_marker() == marker]


def diverged_history():
    """History-like, with the non-finite tail a hand-written loop might leave."""
    return SimpleNamespace(loss_per_step=[2.0, 1.0, 0.8, 5.0, np.inf, np.nan, np.nan],
                           loss_per_epoch=[2.5, 1.5, np.nan], epoch_time=[0.2, 0.3],
                           diverged=True, diverged_at=4)


def healthy_history():
    # as gdlib.train.History: loss_per_epoch starts at epoch 0, epoch_time has one per epoch
    return SimpleNamespace(loss_per_step=list(np.exp(-np.arange(20) / 5)),
                           loss_per_epoch=[2.0, 1.0, 0.5, 0.2], epoch_time=[0.5, 0.5, 0.5],
                           diverged=False, diverged_at=None)


def test_palette_is_okabe_ito_and_every_rule_has_its_own_colour_and_marker():
    assert {c.upper() for c in COLORS.values()} == OKABE_ITO
    assert set(RULE_COLORS) == set(RULES) == set(plotting.RULE_MARKERS)
    assert len(set(RULE_COLORS.values())) == len(RULE_COLORS)
    assert len(set(plotting.RULE_MARKERS.values())) == len(RULES)
    assert all(c in COLORS.values() for c in RULE_COLORS.values())
    assert plotting.rule_color("sgd") == RULE_COLORS["sgd"]
    assert plotting.rule_color("my_rule", 1) == plotting.CYCLE[1]


def test_style_context_applies_the_palette_only_inside():
    before = matplotlib.rcParams["axes.prop_cycle"]
    with plotting.style():
        cycle = [c["color"] for c in matplotlib.rcParams["axes.prop_cycle"]]
        assert cycle == plotting.CYCLE
    assert matplotlib.rcParams["axes.prop_cycle"] == before


@pytest.mark.parametrize("name", sorted(LANDSCAPES))
def test_contour_marks_every_critical_point_and_labels_the_axes(name):
    landscape = get_landscape(name)
    ax = contour(None, landscape, levels=15, num=60)
    assert isinstance(ax, matplotlib.axes.Axes)
    assert ax.collections  # the filled contours
    point_markers = [line for line in ax.get_lines() if line.get_linestyle() == "None"]
    assert len(point_markers) == len(landscape.critical_points)
    kinds = {line.get_label() for line in point_markers if not line.get_label().startswith("_")}
    assert kinds == {cp.kind for cp in landscape.critical_points}
    assert ax.get_xlabel() and ax.get_ylabel()
    assert ax.get_xlim() == landscape.bounds[0] and ax.get_ylim() == landscape.bounds[1]


def test_contour_on_a_given_axes_with_a_colourbar():
    fig, ax = plt.subplots()
    assert contour(ax, rosenbrock(), num=50, colorbar=True, log_scale=True) is ax
    assert len(fig.axes) == 2
    with pytest.raises(TypeError, match="landscape"):
        contour(ax, "rosenbrock")
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        contour("ax", rosenbrock())


def test_trajectories_draw_paths_in_the_rule_colours():
    q = quadratic(10.0)
    traces = [trace(q, "sgd", [1.5, 1.0], lr=0.1, num_steps=30),
              trace(q, "adam", [1.5, 1.0], lr=0.1, num_steps=30)]
    ax = trajectories(contour(None, q, num=40), traces)
    paths = [line for line in ax.get_lines() if line.get_label() in ("sgd", "adam")]
    assert len(paths) == 2
    for line in paths:
        assert mcolors.to_hex(line.get_color()) == RULE_COLORS[line.get_label()].lower()
        assert len(line.get_xdata()) == 31
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "sgd" in legend and "adam" in legend
    assert ax.get_xlabel() and ax.get_ylabel()


def test_repeated_rules_get_distinct_colours_and_lr_in_the_label():
    q = quadratic(10.0)
    traces = [trace(q, "sgd", [1.5, 1.0], lr=lr, num_steps=10) for lr in (0.05, 0.15)]
    ax = trajectories(None, traces)
    labels = [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert labels == ["sgd, lr=0.05", "sgd, lr=0.15"]
    colours = {mcolors.to_hex(line.get_color()) for line in ax.get_lines()
               if line.get_label() in labels}
    assert len(colours) == 2


def test_diverged_trajectory_ends_in_an_x_without_nan_and_keeps_the_window():
    q = quadratic(10.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bad = trace(q, "sgd", [1.5, 1.0], lr=0.25, num_steps=500)
    assert bad.diverged
    raw = np.array([[1.0, 1.0], [0.5, -1.0], [np.nan, np.nan]])  # a student's array with NaN
    ax = contour(None, q, num=40)
    limits = (ax.get_xlim(), ax.get_ylim())
    trajectories(ax, [bad, raw], ["too large", "student"])
    assert (ax.get_xlim(), ax.get_ylim()) == limits
    assert len(markers_of(ax, "x")) == 2
    assert any("diverged at step" in t.get_text() for t in ax.texts)
    for data in all_line_data(ax):
        assert np.all(np.isfinite(data))


def test_trajectories_accept_one_array_and_reject_bad_shapes():
    ax = trajectories(None, np.array([[0.0, 0.0], [1.0, 1.0]]))
    assert len(ax.get_lines()) >= 2
    with pytest.raises(ValueError, match=r"shape \(k, 2\)"):
        trajectories(None, [np.zeros((3, 3))])
    with pytest.raises(ValueError, match="labels must have one entry per curve"):
        trajectories(None, [np.zeros((3, 2))], ["a", "b"])


@pytest.mark.parametrize("x", ["step", "epoch", "time"])
def test_loss_curves_mark_divergence_without_plotting_nan(x):
    ax = loss_curves(None, [healthy_history(), diverged_history()], ["sgd", "adam"], x=x)
    for data in all_line_data(ax):
        assert np.all(np.isfinite(data))
    assert len(markers_of(ax, "x")) == 1
    assert any("adam diverged" in t.get_text() for t in ax.texts)
    assert ax.get_xlabel().startswith(x) and ax.get_ylabel() == "loss"
    assert ax.get_yscale() == "log"


def test_loss_curves_time_axis_is_the_running_sum_of_epoch_times():
    ax = loss_curves(None, healthy_history(), x="time")
    (line,) = ax.get_lines()
    np.testing.assert_allclose(line.get_xdata(), [0.0, 0.5, 1.0, 1.5])
    np.testing.assert_allclose(line.get_ydata(), [2.0, 1.0, 0.5, 0.2])


def test_loss_curves_accept_a_real_training_history():
    from gdlib.train import History

    history = History(loss_per_step=[1.0, 0.6, 9.0], loss_per_epoch=[1.2], diverged=True,
                      diverged_at=3)
    ax = loss_curves(None, [history], ["sgd"])
    assert len(markers_of(ax, "x")) == 1
    assert any("sgd diverged (step 3)" in t.get_text() for t in ax.texts)


def test_loss_curves_from_arrays():
    ys = np.array([3.0, 2.0, 1.0, np.nan])
    ax = loss_curves(None, [np.linspace(2, 1, 10), ys], ["sgd", "momentum"])
    curves = {line.get_label(): line for line in ax.get_lines()}
    assert len(curves["sgd"].get_xdata()) == 10
    np.testing.assert_array_equal(curves["momentum"].get_ydata(), [3.0, 2.0, 1.0])
    assert mcolors.to_hex(curves["momentum"].get_color()) == RULE_COLORS["momentum"].lower()
    assert len(markers_of(ax, "x")) == 1
    one = loss_curves(None, [1.0, 0.5, 0.25])  # a single curve given as a list of numbers
    assert len(one.get_lines()) == 1


def test_loss_curves_diverged_before_any_value_and_nonpositive_losses():
    ax = loss_curves(None, [[np.nan, np.nan]], ["run"])
    assert any("before the first value" in t.get_text() for t in ax.texts)
    ax = loss_curves(None, [[1.0, 0.0, -1.0]])
    assert ax.get_yscale() == "linear"  # log scale needs positive losses


def test_loss_curves_reject_bad_input():
    with pytest.raises(ValueError, match="x must be one of"):
        loss_curves(None, [[1.0, 0.5]], x="seconds")
    with pytest.raises(ValueError, match="x='time' needs History"):
        loss_curves(None, [[1.0, 0.5]], x="time")
    with pytest.raises(ValueError, match="1-D"):
        loss_curves(None, [np.zeros((2, 2))])


def test_comparison_bars_with_errors_and_a_diverged_method():
    ax = comparison_bars(None, ["sgd", "momentum", "adam"], [0.3, 0.1, np.nan],
                         errors=[0.05, 0.02, 0.1], ylabel="final loss")
    assert len(ax.patches) == 2  # no bar for the diverged method
    assert [t.get_text() for t in ax.get_xticklabels()] == ["sgd", "momentum", "adam"]
    assert any(t.get_text() == "diverged" for t in ax.texts)
    assert ax.get_ylabel() == "final loss" and ax.get_xlabel()
    assert mcolors.to_hex(ax.patches[0].get_facecolor()) == RULE_COLORS["sgd"].lower()
    for line in ax.get_lines():  # error bars
        assert np.all(np.isfinite(line.get_xydata()))
    log_ax = comparison_bars(None, ["a", "b"], [1e-3, 1.0], log=True)
    assert log_ax.get_yscale() == "log"


def test_comparison_bars_reject_mismatched_lengths():
    with pytest.raises(ValueError, match="values must have one entry per label"):
        comparison_bars(None, ["a", "b"], [1.0])
    with pytest.raises(ValueError, match="errors must have the shape of values"):
        comparison_bars(None, ["a", "b"], [1.0, 2.0], errors=[0.1])
