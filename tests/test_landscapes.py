"""Tests for gdlib.landscapes: derivatives, critical points, traces and their failure modes."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlib.nn import numerical_gradient
from gdlib.landscapes import (
    KINDS, LANDSCAPES, CriticalPoint, Landscape, classify_critical_point, find_critical_points,
    get_landscape,
    monkey_saddle, multi_minima, quadratic, rosenbrock, saddle, trace, trace_many,
)
from gdlib.train import DivergenceWarning
from gdlib.optim import RULES, sgd_init, sgd_step

ALL = [get_landscape(name) for name in LANDSCAPES] + [quadratic(25.0, angle=0.7),
                                                      rosenbrock(a=-0.5, b=10.0)]
IDS = [f"{ls.name}-{i}" for i, ls in enumerate(ALL)]
unit = st.floats(0.0, 1.0, allow_nan=False)


def point_in(landscape, u, v):
    (x0, x1), (y0, y1) = landscape.bounds
    return np.array([x0 + u * (x1 - x0), y0 + v * (y1 - y0)])


# --- derivatives ---------------------------------------------------------------------------


@pytest.mark.parametrize("landscape", ALL, ids=IDS)
@settings(max_examples=25, deadline=None)
@given(u=unit, v=unit)
def test_grad_matches_finite_differences(landscape, u, v):
    p = point_in(landscape, u, v)
    numeric = numerical_gradient(lambda q: landscape.value(q), p.copy())
    scale = 1 + np.max(np.abs(numeric))
    np.testing.assert_allclose(landscape.grad(p), numeric, rtol=1e-6, atol=1e-6 * scale)


@pytest.mark.parametrize("landscape", ALL, ids=IDS)
@settings(max_examples=25, deadline=None)
@given(u=unit, v=unit)
def test_hessian_matches_finite_differences_of_grad(landscape, u, v):
    p = point_in(landscape, u, v)
    numeric = np.stack([numerical_gradient(lambda q: landscape.grad(q)[i], p.copy())
                        for i in range(2)])
    H = landscape.hessian(p)
    scale = 1 + np.max(np.abs(numeric))
    np.testing.assert_allclose(H, numeric, rtol=1e-6, atol=1e-6 * scale)
    np.testing.assert_allclose(H, H.T, atol=1e-12)


@pytest.mark.parametrize("landscape", ALL, ids=IDS)
def test_functions_are_vectorised_over_grids(landscape):
    rng = np.random.default_rng(0)
    P = np.stack([point_in(landscape, *rng.random(2)) for _ in range(12)]).reshape(3, 4, 2)
    values, grads, hessians = landscape.value(P), landscape.grad(P), landscape.hessian(P)
    assert values.shape == (3, 4) and grads.shape == (3, 4, 2) and hessians.shape == (3, 4, 2, 2)
    for i, j in np.ndindex(3, 4):
        assert values[i, j] == pytest.approx(landscape.value(P[i, j]), rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(grads[i, j], landscape.grad(P[i, j]), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(hessians[i, j], landscape.hessian(P[i, j]), atol=1e-12)
    assert np.ndim(landscape.value(P[0, 0])) == 0
    X, Y, Z = landscape.grid(7)
    assert X.shape == Y.shape == Z.shape == (7, 7)


@pytest.mark.parametrize("bad", [np.zeros(3), np.zeros((4, 3)), 1.0])
def test_wrong_point_shape_is_rejected(bad):
    for landscape in ALL[:5]:
        for f in (landscape.value, landscape.grad, landscape.hessian):
            with pytest.raises(ValueError, match=r"p must have shape \(2,\)"):
                f(bad)


def test_golden_values():
    assert rosenbrock().value([0.0, 0.0]) == 1.0
    np.testing.assert_allclose(rosenbrock().grad([0.0, 0.0]), [-2.0, 0.0])
    np.testing.assert_allclose(rosenbrock().hessian([1.0, 1.0]), [[802.0, -400.0], [-400.0, 200.0]])
    assert saddle().value([1.0, 2.0]) == -3.0
    assert monkey_saddle().value([1.0, 1.0]) == -2.0
    np.testing.assert_allclose(monkey_saddle().grad([1.0, 1.0]), [0.0, -6.0])
    q = quadratic(10.0)
    assert q.value([1.0, 1.0]) == pytest.approx(5.5)
    np.testing.assert_allclose(q.grad([1.0, 1.0]), [1.0, 10.0])


@settings(max_examples=30, deadline=None)
@given(condition=st.floats(1.0, 1e3), angle=st.floats(-np.pi, np.pi))
def test_quadratic_constants_match_its_hessian(condition, angle):
    q = quadratic(condition, angle=angle)
    eig = np.linalg.eigvalsh(q.hessian([0.3, -0.2]))
    assert eig[0] == pytest.approx(q.strong_convexity) and q.strong_convexity == 1.0
    assert eig[1] == pytest.approx(q.smoothness, rel=1e-9) and q.smoothness == condition
    steep = np.array([-np.sin(angle), np.cos(angle)])  # the rotated second axis
    assert q.value(steep) == pytest.approx(condition / 2, rel=1e-9)


# --- critical points -----------------------------------------------------------------------

SIGNATURE = {"global minimum": "minimum", "local minimum": "minimum", "saddle": "saddle",
             "degenerate saddle": "degenerate", "maximum": "maximum"}


@pytest.mark.parametrize("landscape", ALL, ids=IDS)
def test_critical_points_have_zero_gradient_and_their_kinds_signature(landscape):
    assert landscape.critical_points
    for cp in landscape.critical_points:
        assert isinstance(cp, CriticalPoint) and cp.kind in KINDS
        assert np.linalg.norm(landscape.grad(cp.point)) < 1e-9
        assert classify_critical_point(landscape.hessian(cp.point)) == SIGNATURE[cp.kind]
        assert cp.value == pytest.approx(float(landscape.value(cp.point)), abs=1e-12)
        (x0, x1), (y0, y1) = landscape.bounds
        assert x0 <= cp.point[0] <= x1 and y0 <= cp.point[1] <= y1
        with pytest.raises(ValueError):
            cp.point[0] = 5.0  # read-only


def test_multi_minima_has_one_global_and_several_local_minima():
    mm = multi_minima()
    kinds = [cp.kind for cp in mm.critical_points]
    assert kinds.count("global minimum") == 1
    assert kinds.count("local minimum") >= 2
    minima = [cp for cp in mm.critical_points if cp.kind.endswith("minimum")]
    assert min(minima, key=lambda c: c.value) is mm.global_minimum
    # Morse relation for a function growing at infinity: #min - #saddle + #max = 1, so no
    # saddle or maximum is missing from the list.
    n_min, n_saddle, n_max = len(minima), kinds.count("saddle"), kinds.count("maximum")
    assert n_min - n_saddle + n_max == 1
    # and nothing on a fine grid is lower than the global minimum
    X, Y, Z = mm.grid(301)
    assert Z.min() >= mm.global_minimum.value - 1e-12


def test_multi_minima_finds_the_points_a_denser_search_finds():
    # multi_minima searches from a 21 x 21 grid for 40 steps, to be cheap for every process that
    # builds it; the default search (41 x 41, 100 steps) must find the same points.
    mm = multi_minima()
    dense = find_critical_points(mm.grad, mm.hessian, ((-4.0, 4.0), (-4.0, 4.0)))
    found = np.array([cp.point for cp in mm.critical_points])
    assert len(found) == len(dense) == 9
    nearest = np.linalg.norm(found[:, None, :] - dense[None, :, :], axis=-1).min(axis=1)
    assert nearest.max() < 1e-12, nearest


def test_multi_minima_grows_outside_its_bounds():
    mm = multi_minima()
    angles = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    ring = 4.0 * np.stack([np.cos(angles), np.sin(angles)], -1)
    outward = np.sum(mm.grad(ring) * ring, axis=-1)
    assert np.all(outward > 0)  # so every critical point lies inside the searched box


@pytest.mark.parametrize("H, expected", [
    (np.diag([1.0, 3.0]), "minimum"),
    (np.diag([-1.0, -3.0]), "maximum"),
    (np.diag([2.0, -2.0]), "saddle"),
    (np.zeros((2, 2)), "degenerate"),
    (np.diag([1.0, 0.0]), "degenerate"),
    (np.diag([1.0, 1e-12]), "degenerate"),
    (np.array([[0.0, 1.0], [1.0, 0.0]]), "saddle"),  # eigenvalues +1 and -1
    (np.diag([1.0, 2.0, -1e-3]), "saddle"),
])
def test_classify_critical_point(H, expected):
    assert classify_critical_point(H) == expected


def test_classify_critical_point_rejects_bad_input():
    with pytest.raises(ValueError, match="hessian must be a square matrix"):
        classify_critical_point(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="hessian contains"):
        classify_critical_point(np.array([[np.nan, 0.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="tol"):
        classify_critical_point(np.eye(2), tol=-1.0)


def test_get_landscape():
    assert get_landscape("quadratic", condition=4.0).smoothness == 4.0
    assert isinstance(get_landscape("saddle"), Landscape)
    with pytest.raises(ValueError, match="'bowl'.*valid names"):
        get_landscape("bowl")
    with pytest.raises(ValueError, match="condition"):
        quadratic(0.0)


# --- traces --------------------------------------------------------------------------------

Q10 = quadratic(10.0)
@pytest.mark.parametrize("rule", sorted(RULES))
def test_every_rule_converges_on_the_quadratic(rule):
    # the registry's test settings: RMSprop with a constant lr keeps hopping at a scale of lr
    hyper, tol = RULES[rule].test_hyper, RULES[rule].test_tolerance
    t = trace(Q10, rule, [1.5, 1.0], num_steps=500, **hyper)
    assert not t.diverged and t.diverged_at is None and t.message == ""
    assert np.linalg.norm(t.final - Q10.global_minimum.point) < tol
    assert t.path.shape == (501, 2) and t.values.shape == t.grad_norms.shape == (501,)
    assert t.rule == rule and t.num_grad_evals == 501


@pytest.mark.parametrize("rule, hyper, num_steps, tol", [
    ("sgd", {"lr": 2e-3}, 8000, 5e-3),
    ("momentum", {"lr": 1e-3, "beta": 0.9}, 2000, 1e-3),
    ("adam", {"lr": 0.05}, 1500, 2e-2),
])
def test_rules_converge_on_rosenbrock(rule, hyper, num_steps, tol):
    landscape = rosenbrock()
    t = trace(landscape, rule, [-1.2, 1.0], num_steps=num_steps, **hyper)
    assert not t.diverged
    assert np.linalg.norm(t.final - landscape.global_minimum.point) < tol


def test_first_gd_step_by_hand():
    # p1 = p0 - lr * A p0 = (1, 1) - 0.1 * (1, 10) = (0.9, 0)
    t = trace(Q10, "sgd", [1.0, 1.0], lr=0.1, num_steps=1)
    np.testing.assert_allclose(t.path, [[1.0, 1.0], [0.9, 0.0]])
    np.testing.assert_allclose(t.values, [5.5, 0.405])
    np.testing.assert_allclose(t.grad_norms, [np.hypot(1, 10), 0.9])


def test_gd_stability_threshold_is_two_over_L():
    threshold = 2 / Q10.smoothness
    stable = trace(Q10, "sgd", [1.0, 1.0], lr=0.95 * threshold, num_steps=400)
    assert not stable.diverged and np.linalg.norm(stable.final) < 1e-6
    with pytest.warns(DivergenceWarning, match=r"2/L = 0\.2"):
        unstable = trace(Q10, "sgd", [1.0, 1.0], lr=1.05 * threshold, num_steps=2000)
    assert unstable.diverged and 1 <= unstable.diverged_at <= 2000
    assert len(unstable.path) == unstable.diverged_at
    assert np.all(np.isfinite(unstable.path)) and np.all(np.isfinite(unstable.values))
    assert np.all(np.abs(unstable.path) <= 1e6)
    assert "diverged" in unstable.message and "step" in unstable.message
    assert issubclass(DivergenceWarning, UserWarning)


def test_divergence_raises_no_runtime_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", DivergenceWarning)
        for rule, lr in [("sgd", 5.0), ("momentum", 5.0), ("adam", 1e3), ("adagrad", 1e8)]:
            t = trace(rosenbrock(), rule, [-1.2, 1.0], lr=lr, num_steps=500)
            assert np.all(np.isfinite(t.path)) and np.all(np.isfinite(t.values))
        t = trace(monkey_saddle(), "sgd", [0.5, 0.1], lr=0.1, num_steps=500)
        assert t.diverged  # runs off to -infinity along a valley


@settings(max_examples=30, deadline=None)
@given(condition=st.floats(1.0, 100.0), angle=st.floats(-np.pi, np.pi),
       fraction=st.floats(0.01, 0.99), u=unit, v=unit)
def test_gd_below_threshold_never_increases_a_quadratic(condition, angle, fraction, u, v):
    q = quadratic(condition, angle=angle)
    t = trace(q, "sgd", point_in(q, u, v), lr=fraction * 2 / q.smoothness, num_steps=50)
    assert np.all(np.diff(t.values) <= 1e-12 * (1 + t.values[0]))


def test_gd_on_the_stable_manifold_converges_to_the_saddle():
    t = trace(saddle(), "sgd", [1.0, 0.0], lr=0.1, num_steps=200)
    assert not t.diverged and np.linalg.norm(t.final) < 1e-12
    off = trace(saddle(), "sgd", [1.0, 1e-8], lr=0.1, num_steps=200, warn=False)
    assert off.diverged or abs(off.final[1]) > 1.0  # any other start escapes


@pytest.mark.parametrize("rule, hyper", [("sgd", {"lr": 0.19}), ("momentum", {"lr": 0.05}),
                                         ("adam", {"lr": 0.1}), ("rmsprop", {"lr": 0.02})])
def test_trace_many_equals_looping_trace(rule, hyper):
    landscape = quadratic(10.0, angle=0.3)
    starts = np.array([[1.5, 1.0], [-1.0, 0.2], [0.0, 0.0], [1e-3, -2.0]])
    batch = trace_many(landscape, rule, starts, num_steps=60, **hyper)
    assert batch.paths.shape == (4, 61, 2) and batch.values.shape == (4, 61)
    for i, start in enumerate(starts):
        single = trace(landscape, rule, start, num_steps=60, **hyper)
        np.testing.assert_array_equal(batch.paths[i], single.path)
        np.testing.assert_array_equal(batch.values[i], single.values)
        np.testing.assert_array_equal(batch.grad_norms[i], single.grad_norms)


def test_trace_many_with_some_diverging_starts_equals_looping_trace():
    starts = np.array([[1.0, 1e-3], [1.0, 1.0], [1.0, 0.0], [2.0, 1e-9]])
    with pytest.warns(DivergenceWarning, match="3 of 4 starts"):
        batch = trace_many(Q10, "sgd", starts, lr=0.21, num_steps=400)
    assert np.all(np.isfinite(batch.paths)) and np.all(np.isfinite(batch.values))
    assert list(batch.diverged) == [True, True, False, True]
    assert batch.diverged_at[2] == -1
    for i, start in enumerate(starts):
        single = trace(Q10, "sgd", start, lr=0.21, num_steps=400, warn=False)
        cut = batch.trace(i)
        np.testing.assert_array_equal(cut.path, single.path)
        np.testing.assert_array_equal(cut.values, single.values)
        assert cut.diverged == single.diverged and cut.diverged_at == single.diverged_at
        assert cut.num_grad_evals == single.num_grad_evals
        if batch.diverged[i]:  # after diverging, a run stays at its last finite point
            np.testing.assert_array_equal(batch.paths[i, -1], single.path[-1])


def test_trace_many_when_every_start_diverges():
    with pytest.warns(DivergenceWarning):
        batch = trace_many(Q10, "sgd", [[1.0, 1.0], [0.5, 2.0]], lr=1.0, num_steps=100)
    assert batch.paths.shape == (2, 101, 2) and np.all(batch.diverged)
    assert np.all(np.isfinite(batch.paths))


def test_a_students_step_function_runs_beside_the_reference():
    def my_sgd_step(x, g, state, *, lr):
        return x - lr * g, state

    mine = trace(Q10, my_sgd_step, [1.0, 1.0], lr=0.1, num_steps=20, init=sgd_init)
    as_pair = trace(Q10, (sgd_init, my_sgd_step), [1.0, 1.0], lr=0.1, num_steps=20)
    reference = trace(Q10, "sgd", [1.0, 1.0], lr=0.1, num_steps=20)
    np.testing.assert_allclose(mine.path, reference.path)
    np.testing.assert_allclose(as_pair.path, reference.path)
    assert mine.rule == "my_sgd_step"


def test_trace_rejects_bad_input():
    with pytest.raises(ValueError, match=r"start must have shape \(2,\)"):
        trace(Q10, "sgd", [1.0, 2.0, 3.0], lr=0.1, num_steps=5)
    with pytest.raises(ValueError, match="start contains 1 NaN"):
        trace(Q10, "sgd", [np.nan, 2.0], lr=0.1, num_steps=5)
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got lr=0.0"):
        trace(Q10, "sgd", [1.0, 1.0], lr=0.0, num_steps=5)
    with pytest.raises(ValueError, match="lr"):
        trace(Q10, "sgd", [1.0, 1.0], lr=np.inf, num_steps=5)
    with pytest.raises(ValueError, match="num_steps must be an integer >= 1, got num_steps=0"):
        trace(Q10, "sgd", [1.0, 1.0], lr=0.1, num_steps=0)
    with pytest.raises(ValueError, match="unknown rule 'sgdd'"):
        trace(Q10, "sgdd", [1.0, 1.0], lr=0.1, num_steps=5)
    with pytest.raises(TypeError, match="state must be a SGDState as returned by sgd_init"):
        trace(Q10, sgd_step, [1.0, 1.0], lr=0.1, num_steps=5)  # a bare step's state is None
    with pytest.raises(TypeError, match="init must be callable"):
        trace(Q10, "sgd", [1.0, 1.0], lr=0.1, num_steps=5, init=0)
    with pytest.raises(TypeError, match="'sgd' does not accept.*beta"):
        trace(Q10, "sgd", [1.0, 1.0], lr=0.1, num_steps=5, beta=0.9)
    with pytest.raises(TypeError, match="landscape must be a Landscape"):
        trace("quadratic", "sgd", [1.0, 1.0], lr=0.1, num_steps=5)
    with pytest.raises(ValueError, match=r"starts must have shape \(m, 2\)"):
        trace_many(Q10, "sgd", np.zeros((3, 3)), lr=0.1, num_steps=5)
    with pytest.raises(ValueError, match="starts must have 2 dimension"):
        trace_many(Q10, "sgd", np.zeros(2), lr=0.1, num_steps=5)


# --- module layout -----------------------------------------------------------------------------


def test_gdlib_landscapes_re_exports_the_records_and_the_runner():
    """The records and the runner live in their own modules; the old import path still works."""
    from gdlib.landscapes import types as landscape_types, trajectories
    from gdlib import landscapes

    for module in (landscape_types, trajectories):
        for name in module.__all__:
            assert name in landscapes.__all__
            assert getattr(landscapes, name) is getattr(module, name)
    assert all(hasattr(landscapes, name) for name in landscapes.__all__)
