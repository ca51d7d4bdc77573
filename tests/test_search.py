"""Tests for gdlib.landscapes.search: annealing, random restarts, perturbed gradient descent."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlib.landscapes import multi_minima, quadratic, rosenbrock, saddle, trace
from gdlib.landscapes import (
    acceptance_probability, perturbed_gradient_descent, random_restarts, simulated_annealing,
    temperature, uniform_ball,
)

MM = multi_minima()
#: plain gradient descent from here ends in the local minimum near (1.44, 1.15)
LOCAL_START = np.array([2.0, 1.5])


# --- temperature and acceptance ------------------------------------------------------------


def test_temperature_golden_values():
    assert temperature(0, T0=3.0) == 3.0
    assert temperature(2, T0=8.0, cooling=0.5) == pytest.approx(2.0)
    assert temperature(0, T0=3.0, schedule="log") == pytest.approx(3.0)
    assert temperature(2, T0=3.0, schedule="log") == pytest.approx(1.5)  # ln 2 / ln 4
    assert temperature(5, T0=2.0, schedule="linear", num_steps=10) == pytest.approx(1.0)
    assert temperature(10, T0=2.0, schedule="linear", num_steps=10) == 0.0
    assert isinstance(temperature(1, T0=1.0), float)


@pytest.mark.parametrize("schedule", ["exponential", "log", "linear"])
def test_temperature_of_an_array_decreases(schedule):
    T = temperature(np.arange(50), T0=2.0, schedule=schedule, cooling=0.9, num_steps=50)
    assert T.shape == (50,) and T[0] == 2.0
    assert np.all(np.diff(T) < 0) and np.all(T > 0)


def test_temperature_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown schedule='cubic'"):
        temperature(1, T0=1.0, schedule="cubic")
    with pytest.raises(ValueError, match="num_steps"):
        temperature(1, T0=1.0, schedule="linear")
    with pytest.raises(ValueError, match="t must be <= num_steps=5"):
        temperature(6, T0=1.0, schedule="linear", num_steps=5)
    with pytest.raises(ValueError, match="T0 must be a finite number > 0, got T0=0.0"):
        temperature(1, T0=0.0)
    with pytest.raises(ValueError, match="cooling"):
        temperature(1, T0=1.0, cooling=1.0)
    with pytest.raises(ValueError, match="t must be >= 0"):
        temperature(-1, T0=1.0)
    with pytest.raises(TypeError, match="t must be an integer"):
        temperature(1.5, T0=1.0)


def test_acceptance_probability_golden_values():
    assert acceptance_probability(-1.0, 0.5) == 1.0
    assert acceptance_probability(0.0, 0.0) == 1.0
    assert acceptance_probability(1.0, 1.0) == pytest.approx(math.exp(-1))
    assert acceptance_probability(2.0, 4.0) == pytest.approx(math.exp(-0.5))
    assert acceptance_probability(1.0, 0.0) == 0.0  # greedy at T = 0
    assert acceptance_probability(np.inf, 1.0) == 0.0
    np.testing.assert_allclose(acceptance_probability(np.array([-1.0, 0.0, 1.0]), 1.0),
                               [1.0, 1.0, math.exp(-1)])


@settings(max_examples=60, deadline=None)
@given(d1=st.floats(-10, 10), d2=st.floats(-10, 10), T1=st.floats(0, 10), T2=st.floats(0, 10))
def test_acceptance_probability_is_monotone(d1, d2, T1, T2):
    p = acceptance_probability(d1, T1)
    assert 0.0 <= p <= 1.0
    (dlo, dhi), (Tlo, Thi) = sorted([d1, d2]), sorted([T1, T2])
    assert acceptance_probability(dlo, T1) >= acceptance_probability(dhi, T1)  # less uphill
    assert acceptance_probability(d1, Thi) >= acceptance_probability(d1, Tlo)  # hotter


def test_acceptance_probability_rejects_bad_input():
    with pytest.raises(ValueError, match="delta"):
        acceptance_probability(np.nan, 1.0)
    with pytest.raises(ValueError, match="T must be a finite temperature >= 0, got T=-1.0"):
        acceptance_probability(1.0, -1.0)


# --- simulated annealing -------------------------------------------------------------------

SA = dict(num_steps=1500, step_size=0.5, T0=1.0, cooling=0.997)


def test_annealing_finds_the_global_minimum_where_gd_gets_stuck():
    gd = trace(MM, "sgd", LOCAL_START, lr=0.1, num_steps=500)
    global_point = MM.global_minimum.point
    assert np.linalg.norm(gd.final - global_point) > 1.0  # stuck in a local minimum
    result = simulated_annealing(MM, LOCAL_START, rng=0, bounds=MM.bounds, **SA)
    assert result.best_value < gd.values[-1] - 0.3
    # the best point found lies in the global minimum's basin: gd from it gets there
    polish = trace(MM, "sgd", result.best_x, lr=0.1, num_steps=300)
    assert np.linalg.norm(polish.final - global_point) < 1e-6


def test_annealing_result_shapes_and_bookkeeping():
    result = simulated_annealing(MM.value, LOCAL_START, rng=1, num_steps=200, step_size=0.3,
                                 T0=0.5)
    assert result.path.shape == (201, 2) and result.values.shape == (201,)
    assert result.temperatures.shape == (200,) and result.accepted.shape == (200,)
    assert result.num_function_evals == 201
    assert result.best_value == pytest.approx(result.values.min())
    np.testing.assert_allclose(MM.value(result.path), result.values)
    moved = np.any(result.path[1:] != result.path[:-1], axis=1)
    np.testing.assert_array_equal(moved, result.accepted)  # rejected steps stay put
    assert 0 < result.acceptance_rate < 1


def test_annealing_is_deterministic_given_the_seed():
    a = simulated_annealing(MM, LOCAL_START, rng=7, **SA)
    b = simulated_annealing(MM, LOCAL_START, rng=np.random.default_rng(7), **SA)
    c = simulated_annealing(MM, LOCAL_START, rng=8, **SA)
    np.testing.assert_array_equal(a.path, b.path)
    np.testing.assert_array_equal(a.accepted, b.accepted)
    assert not np.array_equal(a.path, c.path)


def test_cold_annealing_is_greedy_and_hot_annealing_accepts_almost_everything():
    cold = simulated_annealing(MM, LOCAL_START, rng=2, num_steps=300, step_size=0.3, T0=1e-12)
    assert np.all(np.diff(cold.values) <= 0)
    hot = simulated_annealing(MM, LOCAL_START, rng=2, num_steps=300, step_size=0.3, T0=1e6,
                              cooling=0.999999)
    assert hot.acceptance_rate > 0.95


def test_annealing_stays_inside_bounds():
    box = ((0.0, 1.0), (0.0, 1.0))
    result = simulated_annealing(MM, [0.5, 0.5], rng=3, num_steps=300, step_size=2.0, T0=1.0,
                                 bounds=box)
    assert np.all((result.path >= 0.0) & (result.path <= 1.0))


def test_annealing_works_in_any_dimension_and_rejects_non_finite_values():
    def f(x):
        return np.inf if x[0] > 1.0 else float(np.sum(x**2))

    result = simulated_annealing(f, np.zeros(5), rng=4, num_steps=300, step_size=0.5, T0=1.0)
    assert result.path.shape == (301, 5)
    assert np.all(result.path[:, 0] <= 1.0) and np.all(np.isfinite(result.values))


def test_annealing_rejects_bad_input():
    kw = dict(num_steps=10, step_size=0.1, T0=1.0)
    with pytest.raises(ValueError, match="x0 contains 1 NaN"):
        simulated_annealing(MM, [np.nan, 0.0], rng=0, **kw)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        simulated_annealing(MM, [0.0, 0.0], rng=None, **kw)
    with pytest.raises(ValueError, match="step_size must be a finite number > 0"):
        simulated_annealing(MM, [0.0, 0.0], rng=0, num_steps=10, step_size=0.0, T0=1.0)
    with pytest.raises(ValueError, match="num_steps"):
        simulated_annealing(MM, [0.0, 0.0], rng=0, num_steps=0, step_size=0.1, T0=1.0)
    with pytest.raises(ValueError, match="bounds must be"):
        simulated_annealing(MM, [0.0, 0.0], rng=0, bounds=((0, 1),), **kw)
    with pytest.raises(ValueError, match="x0 must lie inside bounds"):
        simulated_annealing(MM, [5.0, 0.0], rng=0, bounds=MM.bounds, **kw)
    with pytest.raises(ValueError, match="unknown schedule"):
        simulated_annealing(MM, [0.0, 0.0], rng=0, schedule="fast", **kw)
    with pytest.raises(TypeError, match="f must be callable"):
        simulated_annealing("f", [0.0, 0.0], rng=0, **kw)


# --- random restarts -----------------------------------------------------------------------


def test_random_restarts_find_the_global_minimum_and_count_the_cost():
    result = random_restarts(MM, "sgd", rng=0, num_restarts=40, lr=0.1, num_steps=300)
    assert result.starts.shape == result.end_points.shape == (40, 2)
    assert 1 <= result.num_at_global < 40  # some runs, not all, end in the global minimum
    assert result.num_at_global == int(result.at_global.sum())
    np.testing.assert_allclose(result.best_x, MM.global_minimum.point, atol=1e-3)
    assert result.best_value == pytest.approx(result.end_values.min())
    assert result.num_grad_evals == 40 * 301
    (x0, x1), (y0, y1) = MM.bounds
    assert np.all((result.starts[:, 0] >= x0) & (result.starts[:, 0] <= x1))
    assert np.all((result.starts[:, 1] >= y0) & (result.starts[:, 1] <= y1))
    # each end point is where trace() from that start ends
    one = trace(MM, "sgd", result.starts[3], lr=0.1, num_steps=300)
    np.testing.assert_array_equal(one.final, result.end_points[3])


def test_random_restarts_on_a_convex_bowl_always_succeed_and_are_reproducible():
    a = random_restarts(quadratic(10.0), "momentum", rng=5, num_restarts=10, lr=0.05,
                        num_steps=300, beta=0.5)
    b = random_restarts(quadratic(10.0), "momentum", rng=5, num_restarts=10, lr=0.05,
                        num_steps=300, beta=0.5)
    assert a.num_at_global == 10
    np.testing.assert_array_equal(a.starts, b.starts)


def test_random_restarts_skip_diverged_runs_when_picking_the_best():
    with pytest.warns(UserWarning, match="diverged"):
        result = random_restarts(rosenbrock(), "sgd", rng=0, num_restarts=20, lr=3e-3,
                                 num_steps=200, bounds=((-2.0, 2.0), (-1.0, 3.0)))
    assert result.diverged.any() and not result.diverged.all()
    assert not result.diverged[np.argmin(np.where(result.diverged, np.inf, result.end_values))]
    assert np.all(np.isfinite(result.end_points))


def test_random_restarts_reject_bad_input():
    with pytest.raises(ValueError, match="num_restarts must be an integer >= 1"):
        random_restarts(MM, "sgd", rng=0, num_restarts=0, lr=0.1, num_steps=10)
    with pytest.raises(ValueError, match="lr"):
        random_restarts(MM, "sgd", rng=0, num_restarts=3, lr=-0.1, num_steps=10)
    with pytest.raises(TypeError, match="rng"):
        random_restarts(MM, "sgd", rng="seed", num_restarts=3, lr=0.1, num_steps=10)
    with pytest.raises(ValueError, match="bounds"):
        random_restarts(MM, "sgd", rng=0, num_restarts=3, lr=0.1, num_steps=10,
                        bounds=((1.0, 0.0), (0.0, 1.0)))


# --- perturbed gradient descent ------------------------------------------------------------


def test_perturbed_gd_escapes_the_saddle_that_traps_plain_gd():
    landscape = saddle()
    plain = trace(landscape, "sgd", [1.0, 0.0], lr=0.1, num_steps=100)
    assert np.linalg.norm(plain.final) < 1e-8  # converged to the saddle point
    kicked = perturbed_gradient_descent(landscape, [1.0, 0.0], lr=0.1, rng=0, num_steps=100,
                                        g_thresh=1e-3, radius=1e-2)
    assert not kicked.diverged
    assert len(kicked.perturbed_at) >= 1
    assert abs(kicked.path[-1, 1]) > 1.0  # escaped along the negative-curvature direction
    assert landscape.value(kicked.path[-1]) < -1.0
    assert kicked.num_grad_evals == 100 + len(kicked.perturbed_at)
    assert kicked.path.shape == (101, 2) and kicked.grad_norms.shape == (100,)


def test_perturbed_gd_follows_gd_until_the_first_kick():
    landscape = saddle()
    plain = trace(landscape, "sgd", [1.0, 0.0], lr=0.1, num_steps=100)
    kicked = perturbed_gradient_descent(landscape.grad, [1.0, 0.0], lr=0.1, rng=0,
                                        num_steps=100, g_thresh=1e-3, radius=1e-2)
    first = kicked.perturbed_at[0]
    assert plain.grad_norms[first] <= 1e-3 < plain.grad_norms[first - 1]
    np.testing.assert_allclose(kicked.path[: first + 1], plain.path[: first + 1])


def test_perturbed_gd_waits_between_kicks_and_stays_in_a_minimum():
    result = perturbed_gradient_descent(quadratic(10.0), [1.0, 1.0], lr=0.05, rng=1,
                                        num_steps=300, g_thresh=0.1, radius=0.01, wait=20)
    kicks = result.perturbed_at
    assert len(kicks) >= 2 and np.all(np.diff(kicks) > 20)
    assert np.linalg.norm(result.path[-1]) < 0.05


def test_perturbed_gd_is_deterministic_and_reports_divergence():
    kw = dict(lr=0.1, num_steps=50, g_thresh=1e-3, radius=1e-2)
    a = perturbed_gradient_descent(saddle(), [1.0, 0.0], rng=3, **kw)
    b = perturbed_gradient_descent(saddle(), [1.0, 0.0], rng=3, **kw)
    np.testing.assert_array_equal(a.path, b.path)
    with pytest.warns(UserWarning, match="diverged"):
        bad = perturbed_gradient_descent(saddle(), [1.0, 1.0], rng=0, lr=0.5, num_steps=200,
                                         g_thresh=1e-3, radius=1e-2)
    assert bad.diverged and np.all(np.isfinite(bad.path))


def test_perturbed_gd_rejects_bad_input():
    kw = dict(lr=0.1, rng=0, num_steps=10, g_thresh=1e-3, radius=1e-2)
    with pytest.raises(ValueError, match="g_thresh must be a finite number > 0"):
        perturbed_gradient_descent(saddle(), [1.0, 0.0], **{**kw, "g_thresh": 0.0})
    with pytest.raises(ValueError, match="radius"):
        perturbed_gradient_descent(saddle(), [1.0, 0.0], **{**kw, "radius": -1.0})
    with pytest.raises(ValueError, match="wait must be an integer >= 0, got wait=-1"):
        perturbed_gradient_descent(saddle(), [1.0, 0.0], wait=-1, **kw)
    with pytest.raises(ValueError, match="lr"):
        perturbed_gradient_descent(saddle(), [1.0, 0.0], **{**kw, "lr": 0.0})
    with pytest.raises(TypeError, match="grad must be callable"):
        perturbed_gradient_descent(None, [1.0, 0.0], **kw)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), dim=st.integers(1, 6), radius=st.floats(1e-3, 10.0))
def test_uniform_ball_samples_lie_in_the_ball(seed, dim, radius):
    xi = uniform_ball(seed, dim, radius)
    assert xi.shape == (dim,) and np.linalg.norm(xi) <= radius * (1 + 1e-12)


def test_uniform_ball_is_uniform_in_radius():
    rng = np.random.default_rng(0)
    norms = np.array([np.linalg.norm(uniform_ball(rng, 2, 1.0)) for _ in range(4000)])
    # in 2-D, P(|xi| <= 1/2) = 1/4 for a uniform disc
    assert abs(np.mean(norms <= 0.5) - 0.25) < 0.03
