"""Tests for gdlib.optim.schedules: golden values, monotonicity, vectorisation, errors."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlib.optim import (
    SCHEDULES, constant, cosine, exponential_decay, inverse_sqrt, make_schedule, step_decay,
)

KWARGS = {
    "constant": dict(lr0=0.1),
    "step_decay": dict(lr0=0.1, drop=0.5, every=3),
    "exponential_decay": dict(lr0=0.1, gamma=0.9),
    "inverse_sqrt": dict(lr0=0.1),
    "cosine": dict(lr0=0.1, total_steps=8, lr_min=0.01),
}


def test_golden_values():
    assert constant(0, lr0=0.3) == constant(1000, lr0=0.3) == 0.3
    # step_decay: 0.1 * 0.5^floor(t/10): t=0..9 -> 0.1, t=10 -> 0.05, t=25 -> 0.025
    assert step_decay(9, lr0=0.1) == 0.1
    assert step_decay(10, lr0=0.1) == pytest.approx(0.05)
    assert step_decay(25, lr0=0.1) == pytest.approx(0.025)
    assert step_decay(7, lr0=1.0, drop=0.1, every=3) == pytest.approx(0.01)  # 0.1^floor(7/3)
    # exponential: 0.1 * 0.9^2 = 0.081
    assert exponential_decay(2, lr0=0.1, gamma=0.9) == pytest.approx(0.081)
    assert exponential_decay(0, lr0=0.1, gamma=0.9) == 0.1
    # inverse_sqrt: 0.1 / sqrt(t + 1): t=3 -> 0.1 / 2 = 0.05
    assert inverse_sqrt(0, lr0=0.1) == 0.1
    assert inverse_sqrt(3, lr0=0.1) == pytest.approx(0.05)
    # cosine with T=4, lr0=1, lr_min=0: (1 + cos(pi t/4)) / 2
    #   t=0 -> 1, t=2 -> 0.5, t=4 -> 0, t=1 -> (1 + 0.70710678)/2 = 0.85355339, t=9 -> 0
    values = [cosine(t, lr0=1.0, total_steps=4) for t in (0, 1, 2, 4, 9)]
    np.testing.assert_allclose(values, [1.0, 0.8535533906, 0.5, 0.0, 0.0], atol=1e-10)
    # with lr_min = 0.2: 0.2 + 0.8 * 0.5 = 0.6 halfway, 0.2 at and after the end
    assert cosine(2, lr0=1.0, total_steps=4, lr_min=0.2) == pytest.approx(0.6)
    assert cosine(40, lr0=1.0, total_steps=4, lr_min=0.2) == pytest.approx(0.2)


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_scalar_in_float_out_and_never_increasing(name):
    lr = SCHEDULES[name](np.arange(40), **KWARGS[name])
    assert isinstance(SCHEDULES[name](3, **KWARGS[name]), float)
    assert isinstance(lr, np.ndarray) and lr.shape == (40,) and lr.dtype == float
    assert lr[0] == pytest.approx(0.1)
    assert np.all(np.diff(lr) <= 1e-15) and np.all(lr > 0)


def test_strictly_decreasing_where_it_should():
    t = np.arange(50)
    assert np.all(np.diff(exponential_decay(t, lr0=1.0, gamma=0.95)) < 0)
    assert np.all(np.diff(inverse_sqrt(t, lr0=1.0)) < 0)
    assert np.all(np.diff(cosine(np.arange(11), lr0=1.0, total_steps=10)) < 0)


@settings(max_examples=50, deadline=None)
@given(
    st.sampled_from(list(SCHEDULES)),
    st.lists(st.integers(0, 10_000), min_size=1, max_size=20),
    st.sampled_from([np.int32, np.int64, np.uint16]),
)
def test_vectorised_equals_scalar(name, steps, dtype):
    kw = KWARGS[name]
    vector = SCHEDULES[name](np.array(steps, dtype=dtype).reshape(-1, 1), **kw)
    assert vector.shape == (len(steps), 1)
    scalar = [SCHEDULES[name](s, **kw) for s in steps]
    np.testing.assert_allclose(vector.ravel(), scalar, rtol=1e-14)


def test_make_schedule():
    schedule = make_schedule("cosine", lr0=0.1, total_steps=10)
    assert schedule.__name__ == "cosine"
    assert schedule(5) == cosine(5, lr0=0.1, total_steps=10)
    np.testing.assert_array_equal(schedule(np.arange(3)), cosine(np.arange(3), lr0=0.1, total_steps=10))
    with pytest.raises(ValueError, match="name='warmup'.*constant, step_decay"):
        make_schedule("warmup", lr0=0.1)
    with pytest.raises(ValueError, match="lr0=0"):  # checked at once, not at the first call
        make_schedule("constant", lr0=0)
    with pytest.raises(TypeError, match="total_steps"):
        make_schedule("cosine", lr0=0.1)


@pytest.mark.parametrize("call, match", [
    (lambda: constant(0, lr0=0), "lr0=0"),
    (lambda: constant(0, lr0=-1), "lr0=-1"),
    (lambda: inverse_sqrt(0, lr0=math.nan), "lr0=nan"),
    (lambda: exponential_decay(0, lr0=math.inf, gamma=0.5), "lr0=inf"),
    (lambda: step_decay(0, lr0=0.1, drop=0), "drop=0"),
    (lambda: step_decay(0, lr0=0.1, drop=1.5), "drop=1.5"),
    (lambda: step_decay(0, lr0=0.1, every=0), "every=0"),
    (lambda: exponential_decay(0, lr0=0.1, gamma=0), "gamma=0"),
    (lambda: exponential_decay(0, lr0=0.1, gamma=1.01), "gamma=1.01"),
    (lambda: cosine(0, lr0=0.1, total_steps=0), "total_steps=0"),
    (lambda: cosine(0, lr0=0.1, total_steps=5, lr_min=0.5), "lr_min=0.5"),
    (lambda: cosine(0, lr0=0.1, total_steps=5, lr_min=-0.1), "lr_min=-0.1"),
    (lambda: constant(-1, lr0=0.1), "t=-1"),
    (lambda: constant(np.array([0, -3]), lr0=0.1), "t=an array with minimum -3"),
])
def test_bad_values(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("t", [1.5, np.array([0.0, 1.0]), True, "3"])
def test_non_integer_steps(t):
    with pytest.raises(TypeError, match="t must be an integer"):
        inverse_sqrt(t, lr0=0.1)


def test_decay_of_one_means_constant():
    t = np.arange(30)
    np.testing.assert_array_equal(step_decay(t, lr0=0.1, drop=1.0), constant(t, lr0=0.1))
    np.testing.assert_array_equal(exponential_decay(t, lr0=0.1, gamma=1.0), constant(t, lr0=0.1))
