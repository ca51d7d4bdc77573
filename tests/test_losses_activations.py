"""Tests for gdlib.nn.activations and gdlib.nn.losses: gradient checks, properties, golden values, errors."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gdlib.nn import (
    activations as act, check_gradient, binary_cross_entropy, mse, softmax,
    softmax_cross_entropy,
)

TOL = 1e-6
PROPERTY = settings(max_examples=60, deadline=None)


def away_from_kinks(rng, shape, margin=0.05):
    """Random points in [-3, 3] with |z| >= margin (the kinks of relu, leaky relu, step are at 0)."""
    z = rng.uniform(-3, 3, size=shape)
    return np.where(np.abs(z) < margin, np.copysign(margin, z) + z, z)


# -- activations ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(act.ACTIVATIONS))
def test_activation_grad_matches_finite_differences(name):
    f, fprime = act.ACTIVATIONS[name]
    z = away_from_kinks(np.random.default_rng(0), (4, 5))
    report = check_gradient(lambda v: f(v).sum(), fprime(z), z, tolerance=TOL)
    assert report.ok, f"{name}:\n{report}"


@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.3])
def test_leaky_relu_grad_with_other_slopes(alpha):
    z = away_from_kinks(np.random.default_rng(1), (20,))
    report = check_gradient(lambda v: act.leaky_relu(v, alpha).sum(), act.leaky_relu_grad(z, alpha), z)
    assert report.ok, str(report)


def test_subgradients_at_the_kink():
    assert act.relu_grad(0.0) == 0.0
    assert act.relu_grad(np.zeros(3)).tolist() == [0.0, 0.0, 0.0]
    assert act.leaky_relu_grad(0.0) == 0.01
    assert act.leaky_relu_grad(0.0, alpha=0.2) == 0.2
    assert act.step(0.0) == 0.0 and act.step(1e-300) == 1.0
    assert np.all(act.step_grad(np.array([-1.0, 0.0, 2.0])) == 0.0)


@given(arrays(np.float64, st.integers(1, 20), elements=st.floats(-1e6, 1e6)))
@PROPERTY
def test_relu_grad_is_zero_exactly_where_relu_is_zero(z):
    assert np.array_equal(act.relu_grad(z) == 0, act.relu(z) == 0)


def test_golden_values():
    assert act.sigmoid(0.0) == 0.5
    np.testing.assert_allclose(act.sigmoid(np.log(3.0)), 0.75)
    np.testing.assert_allclose(act.sigmoid_grad(0.0), 0.25)
    np.testing.assert_allclose(act.tanh_grad(0.0), 1.0)
    np.testing.assert_array_equal(act.relu([-2.0, 0.0, 3.0]), [0.0, 0.0, 3.0])
    np.testing.assert_array_equal(act.leaky_relu([-2.0, 3.0], alpha=0.5), [-1.0, 3.0])
    np.testing.assert_array_equal(act.identity_grad(np.ones((2, 2))), np.ones((2, 2)))


def test_sigmoid_is_stable_for_large_inputs():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = act.sigmoid(np.array([-1000.0, -30.0, 30.0, 1000.0]))
    assert s[0] == 0.0 and s[3] == 1.0
    np.testing.assert_allclose(s[1], np.exp(-30.0) / (1 + np.exp(-30.0)), rtol=1e-12)
    assert np.all(act.sigmoid_grad(np.array([-1000.0, 1000.0])) == 0.0)


@given(arrays(np.float64, st.integers(1, 20), elements=st.floats(-700, 700)))
@PROPERTY
def test_sigmoid_symmetry_and_tanh_identity(z):
    np.testing.assert_allclose(act.sigmoid(z) + act.sigmoid(-z), 1.0, atol=1e-15)
    np.testing.assert_allclose(act.tanh(z), 2 * act.sigmoid(2 * z) - 1, atol=1e-12)


def test_activations_registry_and_unknown_name():
    assert {"sigmoid", "tanh", "relu", "leaky_relu", "step", "identity", "linear"} <= set(act.ACTIVATIONS)
    assert act.get_activation("relu") == (act.relu, act.relu_grad)
    with pytest.raises(ValueError, match=r"activation name='swish'.*'relu'"):
        act.get_activation("swish")


def test_leaky_relu_rejects_negative_alpha():
    with pytest.raises(ValueError, match="alpha=-0.1"):
        act.leaky_relu(np.ones(2), alpha=-0.1)


# -- softmax -------------------------------------------------------------------------------

logit_rows = arrays(
    np.float64,
    st.tuples(st.integers(1, 6), st.integers(1, 8)),
    elements=st.floats(-1e4, 1e4),
)


@given(logit_rows, st.floats(-1e3, 1e3))
@PROPERTY
def test_softmax_rows_sum_to_one_and_shift_invariant(z, c):
    p = softmax(z)
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(softmax(z + c), p, atol=1e-9)


def test_softmax_golden_and_1d():
    np.testing.assert_allclose(softmax(np.zeros((2, 4))), 0.25)
    np.testing.assert_allclose(softmax(np.log([1.0, 2.0, 5.0])), [0.125, 0.25, 0.625])


# -- loss gradients ------------------------------------------------------------------------

def test_mse_gradient_vector_and_matrix():
    rng = np.random.default_rng(2)
    for shape in [(7,), (5, 3)]:
        pred, y = rng.normal(size=shape), rng.normal(size=shape)
        _, grad = mse(pred, y)
        report = check_gradient(lambda p: mse(p, y)[0], grad, pred, tolerance=TOL)
        assert report.ok, str(report)


def test_softmax_cross_entropy_gradient():
    rng = np.random.default_rng(3)
    z, y = rng.normal(size=(6, 4)), rng.integers(0, 4, size=6)
    _, grad = softmax_cross_entropy(z, y)
    report = check_gradient(lambda v: softmax_cross_entropy(v, y)[0], grad, z, tolerance=TOL)
    assert report.ok, str(report)


def test_binary_cross_entropy_gradient():
    rng = np.random.default_rng(4)
    z, y = rng.normal(size=9) * 3, rng.integers(0, 2, size=9)
    _, grad = binary_cross_entropy(z, y)
    report = check_gradient(lambda v: binary_cross_entropy(v, y)[0], grad, z, tolerance=TOL)
    assert report.ok, str(report)


# -- loss golden values and properties ----------------------------------------------------

def test_loss_golden_values():
    loss, grad = mse(np.array([1.0, 2.0]), np.array([0.0, 4.0]))
    assert loss == pytest.approx((1 + 4) / 2)
    np.testing.assert_allclose(grad, [1.0, -2.0])  # 2 (pred - y) / n
    loss, grad = softmax_cross_entropy(np.zeros((3, 4)), np.array([0, 1, 3]))
    assert loss == pytest.approx(np.log(4))
    np.testing.assert_allclose(grad[0], [(0.25 - 1) / 3, 0.25 / 3, 0.25 / 3, 0.25 / 3])
    loss, grad = binary_cross_entropy(np.zeros(2), np.array([0, 1]))
    assert loss == pytest.approx(np.log(2))
    np.testing.assert_allclose(grad, [0.25, -0.25])


def test_losses_are_means_not_sums():
    z, y = np.array([[2.0, -1.0]]), np.array([1])
    one, _ = softmax_cross_entropy(z, y)
    many, grad = softmax_cross_entropy(np.repeat(z, 10, axis=0), np.repeat(y, 10))
    assert many == pytest.approx(one)
    np.testing.assert_allclose(grad.sum(axis=0), softmax_cross_entropy(z, y)[1][0])


@given(logit_rows, st.data())
@PROPERTY
def test_cross_entropy_finite_for_huge_logits(z, data):
    n, k = z.shape
    y = np.array(data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, grad = softmax_cross_entropy(z, y)
        bloss, bgrad = binary_cross_entropy(z[:, 0], (y > 0).astype(int))
    assert np.isfinite(loss) and loss >= 0 and np.all(np.isfinite(grad))
    assert np.isfinite(bloss) and bloss >= 0 and np.all(np.isfinite(bgrad))
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-12)


def test_cross_entropy_of_confident_mistake_is_the_margin():
    loss, _ = softmax_cross_entropy(np.array([[1e4, 0.0]]), np.array([1]))
    assert loss == pytest.approx(1e4)
    loss, _ = binary_cross_entropy(np.array([-1e4]), np.array([1]))
    assert loss == pytest.approx(1e4)


@given(arrays(np.float64, st.integers(1, 10), elements=st.floats(-50, 50)), st.data())
@PROPERTY
def test_binary_equals_two_class_softmax(z, data):
    y = np.array(data.draw(st.lists(st.integers(0, 1), min_size=len(z), max_size=len(z))))
    bloss, bgrad = binary_cross_entropy(z, y)
    sloss, sgrad = softmax_cross_entropy(np.column_stack([np.zeros_like(z), z]), y)
    assert bloss == pytest.approx(sloss, rel=1e-9, abs=1e-12)
    np.testing.assert_allclose(bgrad, sgrad[:, 1], atol=1e-15)


# -- errors --------------------------------------------------------------------------------

def test_loss_errors_name_argument_and_value():
    z = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"y must hold class labels in 0\.\.3.*got y containing 4"):
        softmax_cross_entropy(z, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match="got y containing -1"):
        softmax_cross_entropy(z, np.array([0, -1, 1]))
    with pytest.raises(ValueError, match=r"y must hold integer class labels, got y containing 0\.5"):
        softmax_cross_entropy(z, np.array([0.0, 0.5, 1.0]))
    with pytest.raises(ValueError, match=r"y must have shape \(3,\)"):
        softmax_cross_entropy(z, np.array([0, 1]))
    with pytest.raises(ValueError, match="logits must have 2 dimension"):
        softmax_cross_entropy(np.zeros(3), np.array([0, 1, 1]))
    with pytest.raises(ValueError, match="logits contains 1 NaN"):
        softmax_cross_entropy(np.array([[0.0, np.nan]]), np.array([0]))
    with pytest.raises(ValueError, match="y must hold labels 0 or 1, got y containing 2"):
        binary_cross_entropy(np.zeros(3), np.array([0, 2, 1]))
    with pytest.raises(ValueError, match="pred and y must have the same shape"):
        mse(np.zeros(3), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="y contains 1 NaN"):
        mse(np.zeros(2), np.array([0.0, np.nan]))


def test_float_and_bool_labels_are_accepted():
    z = np.array([[1.0, 2.0], [0.5, -1.0]])
    expected = softmax_cross_entropy(z, np.array([1, 0]))[0]
    assert softmax_cross_entropy(z, np.array([1.0, 0.0]))[0] == expected
    assert softmax_cross_entropy(z, np.array([True, False]))[0] == expected
    assert binary_cross_entropy(z[:, 0], np.array([True, False]))[0] == binary_cross_entropy(z[:, 0], [1, 0])[0]
