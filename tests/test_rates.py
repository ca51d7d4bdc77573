"""Tests for gdlib.optim.rates: the heavy ball's rate against the iteration matrix and against runs of
gdlib's momentum rule, Polyak's setting, and the argument checks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlib.landscapes import quadratic, trace
from gdlib.optim import heavy_ball_optimal, heavy_ball_rate


@settings(max_examples=200, deadline=None)
@given(lr=st.floats(1e-3, 5.0), beta=st.floats(0.0, 0.999), lam=st.floats(1e-3, 10.0))
def test_the_rate_is_the_spectral_radius_of_the_iteration_matrix(lr, beta, lam):
    T = np.array([[1 + beta - lr * lam, -beta], [1.0, 0.0]])
    expected = np.max(np.abs(np.linalg.eigvals(T)))
    # a double eigenvalue (a^2 = 4 beta) is found by eigvals to about sqrt(machine epsilon)
    assert heavy_ball_rate(lr, beta, lam) == pytest.approx(expected, rel=1e-7, abs=1e-7)


def test_without_momentum_it_is_gradient_descents_factor_and_complex_roots_give_sqrt_beta():
    assert heavy_ball_rate(0.3, 0.0, 5.0) == pytest.approx(0.5)
    assert heavy_ball_rate(0.5, 0.0, 5.0) == pytest.approx(1.5)  # beyond 2 / L: diverges
    assert heavy_ball_rate(0.1, 0.81, 10.0) == pytest.approx(0.9)  # a = 0.81, a^2 < 4 beta


def test_the_rate_broadcasts_and_is_below_one_exactly_inside_the_stability_region():
    lr, beta = np.meshgrid(np.linspace(0.01, 1.0, 40), np.linspace(0.0, 0.95, 30))
    rho = heavy_ball_rate(lr, beta, 4.0)
    assert rho.shape == (30, 40)
    inside = 4.0 * lr < 2 * (1 + beta)
    edge = np.isclose(4.0 * lr, 2 * (1 + beta), rtol=1e-9)
    assert np.all((rho < 1)[~edge] == inside[~edge])


@pytest.mark.parametrize("mu,L", [(1.0, 25.0), (0.01, 100.0), (2.0, 2.0)])
def test_polyaks_setting_shrinks_both_ends_by_the_optimal_rate(mu, L):
    lr, beta = heavy_ball_optimal(mu, L)
    kappa = L / mu
    rho_star = (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)
    assert np.sqrt(beta) == pytest.approx(rho_star, abs=1e-12)
    for lam in (mu, L):
        assert heavy_ball_rate(lr, beta, lam) == pytest.approx(rho_star, abs=1e-7)
    for lam in np.linspace(mu, L, 7):  # every curvature in between shrinks at least as fast
        assert heavy_ball_rate(lr, beta, lam) <= rho_star + 1e-7


def test_the_predicted_rate_is_the_measured_rate_of_gdlibs_momentum():
    bowl = quadratic(condition=25.0, angle=0.4)
    mu, L = bowl.strong_convexity, bowl.smoothness
    lr, beta = 0.04, 0.5
    run = trace(bowl, "momentum", np.array([1.0, 1.0]), lr=lr, beta=beta, num_steps=300)
    d = np.linalg.norm(run.path, axis=1)
    measured = (d[-1] / d[150]) ** (1 / (len(d) - 151))
    assert measured == pytest.approx(max(heavy_ball_rate(lr, beta, mu), heavy_ball_rate(lr, beta, L)),
                                     abs=2e-3)


@pytest.mark.parametrize("call,message", [
    (lambda: heavy_ball_rate(0.0, 0.5, 1.0), "lr must be > 0, got lr=0.0"),
    (lambda: heavy_ball_rate(0.1, 1.0, 1.0), r"beta must lie in \[0, 1\), got beta=1.0"),
    (lambda: heavy_ball_rate(0.1, 0.5, np.nan), "lam must be finite"),
    (lambda: heavy_ball_rate(0.1, "0.5", 1.0), "beta must be a real number"),
    (lambda: heavy_ball_optimal(4.0, 1.0), "mu must be <= L, got mu=4.0 and L=1.0"),
    (lambda: heavy_ball_optimal(0.0, 1.0), "mu"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()
