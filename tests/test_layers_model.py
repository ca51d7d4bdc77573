"""Tests for gdlib.nn.layers and gdlib.nn.model: gradient checks, properties, convergence, errors."""

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlib.nn import check_gradient, check_model_gradients, relative_error
from gdlib.nn import (
    dense_backward, dense_forward, dropout_backward, dropout_forward, glorot_init, he_init,
    l1_penalty, l2_penalty,
)
from gdlib.nn import MLP

# gdlib.nn.gradcheck's relative error is the worst over the entries. Round-off in a centred
# difference is about 1e-16 |J| / h = 1e-11, so an entry smaller than ~1e-5 could fail by chance;
# the fixed seeds and scales below keep every entry well above that.
TOL = 1e-6
PROPERTY = settings(max_examples=40, deadline=None)


# -- dense -----------------------------------------------------------------------------------

def test_dense_backward_matches_finite_differences():
    rng = np.random.default_rng(0)
    X, W, b = rng.normal(size=(5, 4)), rng.normal(size=(4, 3)), rng.normal(size=3)
    dout = rng.normal(size=(5, 3))
    out, cache = dense_forward(X, W, b)
    np.testing.assert_allclose(out, X @ W + b)
    dX, dW, db = dense_backward(dout, cache)
    for name, value, grad in [("X", X, dX), ("W", W, dW), ("b", b, db)]:
        def f(_):
            return (dense_forward(X, W, b)[0] * dout).sum()
        report = check_gradient(f, grad, value, tolerance=TOL)
        assert report.ok, f"{name}:\n{report}"
    assert dense_backward(dout, cache, input_grad=False)[0] is None


def test_dense_shape_errors():
    with pytest.raises(ValueError, match=r"W must have shape \(d, m\) with d = X.shape\[1\] = 4"):
        dense_forward(np.zeros((2, 4)), np.zeros((3, 5)), np.zeros(5))
    with pytest.raises(ValueError, match=r"b must have shape \(5,\)"):
        dense_forward(np.zeros((2, 4)), np.zeros((4, 5)), np.zeros(4))
    _, cache = dense_forward(np.zeros((2, 4)), np.zeros((4, 5)), np.zeros(5))
    with pytest.raises(ValueError, match=r"dout must have the shape of the layer's output \(2, 5\)"):
        dense_backward(np.zeros((2, 4)), cache)


# -- dropout ---------------------------------------------------------------------------------

def test_dropout_backward_with_a_fixed_mask():
    rng = np.random.default_rng(1)
    X, dout = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    out, mask = dropout_forward(X, 0.4, 7)
    dX = dropout_backward(dout, mask)
    report = check_gradient(lambda v: (dropout_forward(v, 0.4, 7)[0] * dout).sum(), dX, X, tolerance=TOL)
    assert report.ok, str(report)
    assert set(np.unique(mask)) <= {0.0, 1 / 0.6}
    np.testing.assert_array_equal(out, X * mask)


@given(st.floats(0.0, 0.9), st.integers(0, 2**32 - 1))
@PROPERTY
def test_inverted_dropout_preserves_the_expectation(p, seed):
    n = 100_000
    out, _ = dropout_forward(np.full(n, 2.0), p, np.random.default_rng(seed))
    # the mean of n scaled Bernoulli(1-p) draws has standard deviation 2 sqrt(p / ((1-p) n))
    assert abs(out.mean() - 2.0) <= 6 * 2 * np.sqrt(p / ((1 - p) * n)) + 1e-12


@given(st.floats(0.0, 0.99))
@PROPERTY
def test_dropout_is_the_identity_at_evaluation(p):
    X = np.arange(6.0).reshape(2, 3)
    out, mask = dropout_forward(X, p, None, train=False)
    assert out is X and mask is None
    assert dropout_backward(X, mask) is X


def test_dropout_errors():
    with pytest.raises(ValueError, match=r"p must lie in \[0, 1\), got p=1.0"):
        dropout_forward(np.ones(3), 1.0, 0)
    with pytest.raises(ValueError, match="got p=-0.1"):
        dropout_forward(np.ones(3), -0.1, 0)
    with pytest.raises(ValueError, match="rng must be .* got rng=None"):
        dropout_forward(np.ones(3), 0.5, None)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        dropout_forward(np.ones(3), 0.5, "seed")


# -- penalties -------------------------------------------------------------------------------

def params_away_from_zero(rng):
    W1 = rng.normal(size=(3, 4))
    W1[np.abs(W1) < 0.05] = 0.5
    return {"W1": W1, "b1": rng.normal(size=4), "W2": rng.uniform(0.1, 1.0, size=(4, 2))}


@pytest.mark.parametrize("penalty", [l1_penalty, l2_penalty])
def test_penalty_gradients_match_finite_differences(penalty):
    params = params_away_from_zero(np.random.default_rng(2))
    _, grads = penalty(params, 0.3)
    assert set(grads) == {"W1", "W2"}  # biases are not penalised
    for key, grad in grads.items():
        report = check_gradient(lambda _: penalty(params, 0.3)[0], grad, params[key], tolerance=TOL)
        assert report.ok, f"{key}:\n{report}"


def test_penalty_golden_values_and_keys():
    params = {"W1": np.array([[1.0, -2.0]]), "b1": np.array([5.0]), "W2": np.array([[0.0], [3.0]])}
    value, grads = l2_penalty(params, 0.1)
    assert value == pytest.approx(0.05 * (1 + 4 + 0 + 9))
    np.testing.assert_allclose(grads["W1"], [[0.1, -0.2]])
    value, grads = l1_penalty(params, 0.1)
    assert value == pytest.approx(0.1 * (1 + 2 + 0 + 3))
    np.testing.assert_allclose(grads["W2"], [[0.0], [0.1]])
    value, grads = l2_penalty(params, 1.0, keys=["b1"])
    assert value == pytest.approx(12.5) and list(grads) == ["b1"]
    with pytest.raises(KeyError, match="'W9'"):
        l1_penalty(params, 1.0, keys=["W9"])
    with pytest.raises(ValueError, match="lam must be a finite number >= 0, got lam=-1.0"):
        l2_penalty(params, -1.0)


@given(st.lists(st.sampled_from([0.0, -0.0, 1.5, -2.0]), min_size=1, max_size=10), st.floats(0, 10))
@PROPERTY
def test_l1_subgradient_at_zero_is_zero(values, lam):
    W = np.array(values)
    _, grads = l1_penalty({"W": W}, lam)
    assert np.all(grads["W"][W == 0] == 0)
    np.testing.assert_allclose(grads["W"][W != 0], lam * np.sign(W[W != 0]))


# -- initialisers ---------------------------------------------------------------------------

@given(st.integers(1, 400), st.integers(0, 2**32 - 1))
@PROPERTY
def test_he_init_std_is_sqrt_two_over_fan_in(fan_in, seed):
    fan_out = -(-20_000 // fan_in)  # at least 20,000 draws: the sample std is within ~1%
    W = he_init(fan_in, fan_out, np.random.default_rng(seed))
    assert W.shape == (fan_in, fan_out) and W.dtype == np.float64
    assert W.std() == pytest.approx(np.sqrt(2 / fan_in), rel=0.05)
    assert abs(W.mean()) < 0.05 * np.sqrt(2 / fan_in)


@given(st.integers(1, 300), st.integers(1, 300), st.integers(0, 2**32 - 1))
@PROPERTY
def test_glorot_init_bounds_and_variance(fan_in, fan_out, seed):
    W = glorot_init(fan_in, fan_out, seed)
    a = np.sqrt(6 / (fan_in + fan_out))
    assert np.all(np.abs(W) <= a)
    if W.size >= 5000:
        assert W.var() == pytest.approx(2 / (fan_in + fan_out), rel=0.1)


def test_init_errors():
    with pytest.raises(ValueError, match="fan_in must be an integer >= 1, got fan_in=0"):
        he_init(0, 3, 0)
    with pytest.raises(TypeError, match="rng must be"):
        glorot_init(2, 3, None)


# -- MLP gradients ---------------------------------------------------------------------------

ACTIVATION_NAMES = ["sigmoid", "tanh", "relu", "leaky_relu", "step", "identity"]
HIDDEN = {1: (), 2: (5,), 3: (5, 4)}  # number of weight layers -> hidden widths


def problem(loss, depth, n=6, d=3, seed=0):
    """A small random network and data set for a gradient check."""
    rng = np.random.default_rng(seed)
    k = {"softmax": 3, "binary": 1, "mse": 2}[loss]
    X = rng.normal(size=(n, d))
    y = {
        "softmax": rng.integers(0, k, size=n),
        "binary": rng.integers(0, 2, size=n),
        "mse": rng.normal(size=(n, k)),
    }[loss]
    return (d, *HIDDEN[depth], k), X, y


def with_random_biases(model, seed=0):
    """Biases start at 0; random ones check their gradients in general position, and keep a row
    of inputs zeroed by dropout from putting every pre-activation exactly on a kink."""
    rng = np.random.default_rng(seed)
    for key, value in model.params.items():
        if key.startswith("b"):
            value[:] = rng.normal(scale=0.5, size=value.shape)
    return model


@pytest.mark.parametrize(
    "activation, loss, depth",
    list(itertools.product(ACTIVATION_NAMES, ["softmax", "mse", "binary"], [1, 2, 3])),
)
def test_mlp_gradients(activation, loss, depth):
    sizes, X, y = problem(loss, depth)
    model = with_random_biases(MLP(sizes, activation, rng=1, init=1.0, loss=loss))
    report = check_model_gradients(model, X, y, tolerance=TOL)
    assert report.ok, f"{activation}, {loss}, depth {depth}:\n{report}"


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky_relu"])
@pytest.mark.parametrize("loss", ["softmax", "mse", "binary"])
@pytest.mark.parametrize("depth", [2, 3])
def test_mlp_gradients_with_dropout_and_penalties(activation, loss, depth):
    sizes, X, y = problem(loss, depth, seed=depth)
    model = MLP(sizes, activation, rng=2, init=1.0, loss=loss, dropout=0.3, l1=0.003, l2=0.01)
    model = with_random_biases(model)
    report = check_model_gradients(model, X, y, tolerance=TOL, rng=123)  # same masks on every call
    assert report.ok, str(report)
    loss_train, _ = model.loss_and_grads(X, y, rng=123)
    loss_eval, _ = model.loss_and_grads(X, y, train=False)
    assert loss_train != loss_eval


@pytest.mark.parametrize("loss", ["mse", "binary"])
def test_mlp_gradients_with_penalties_only(loss):
    sizes, X, y = problem(loss, 3, seed=5)
    model = with_random_biases(MLP(sizes, "tanh", rng=3, init="glorot", loss=loss, l1=0.02, l2=0.1))
    report = check_model_gradients(model, X, y, tolerance=TOL)
    assert report.ok, str(report)


def test_penalties_add_to_the_loss():
    sizes, X, y = problem("softmax", 2)
    plain = MLP(sizes, rng=4)
    penalised = MLP(sizes, rng=4, l1=0.1, l2=0.2)
    W = [plain.params["W1"], plain.params["W2"]]
    expected = 0.1 * sum(np.abs(w).sum() for w in W) + 0.1 * sum((w ** 2).sum() for w in W)
    assert penalised.loss_and_grads(X, y)[0] - plain.loss_and_grads(X, y)[0] == pytest.approx(expected)


def test_step_activation_passes_no_gradient_below_it():
    sizes, X, y = problem("softmax", 3)
    model = MLP(sizes, "step", rng=0)
    _, grads = model.loss_and_grads(X, y)
    assert np.all(grads["W1"] == 0) and np.all(grads["W2"] == 0)
    assert np.any(grads["W3"] != 0)


def test_relu_preactivations_exactly_zero_pass_no_gradient():
    sizes, X, y = problem("softmax", 2)
    model = MLP(sizes, "relu", rng=0)
    model.params["W1"][:] = 0.0
    _, grads = model.loss_and_grads(X, y)
    (Z1,) = model.last_preactivations
    assert Z1.shape == (6, 5) and np.mean(Z1 == 0) == 1.0
    assert np.all(grads["W1"] == 0) and np.all(grads["b1"] == 0)


# -- MLP interface ---------------------------------------------------------------------------

def test_mlp_params_shapes_and_outputs():
    model = MLP((4, 8, 6, 3), rng=0)
    assert model.num_layers == 3
    assert list(model.params) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert model.params["W2"].shape == (8, 6) and model.params["b3"].shape == (3,)
    assert all(v.dtype == np.float64 for v in model.params.values())
    assert all(np.all(model.params[f"b{l}"] == 0) for l in (1, 2, 3))
    assert model.layer_names() == ["layer 1", "layer 2", "layer 3"]
    assert model.layer_keys()["layer 2"] == ("W2", "b2")
    X = np.random.default_rng(0).normal(size=(10, 4))
    assert model.forward(X).shape == (10, 3)
    assert [z.shape for z in model.last_preactivations] == [(10, 8), (10, 6)]
    assert [a.shape for a in model.last_activations] == [(10, 8), (10, 6)]
    np.testing.assert_array_equal(model.last_activations[0], np.maximum(model.last_preactivations[0], 0))
    assert model.predict(X).shape == (10,) and set(model.predict(X)) <= {0, 1, 2}
    assert MLP((4, 1), rng=0, loss="binary").forward(X).shape == (10,)
    assert MLP((4, 1), rng=0, loss="mse").forward(X).shape == (10,)
    assert MLP((4, 2), rng=0, loss="mse").forward(X).shape == (10, 2)
    assert MLP((4, 3), rng=0).last_preactivations == []


def test_mlp_init_choices():
    sizes = (200, 300, 10)
    assert MLP(sizes, rng=0, init="he").params["W1"].std() == pytest.approx(np.sqrt(2 / 200), rel=0.05)
    assert MLP(sizes, rng=0, init="glorot").params["W1"].std() == pytest.approx(np.sqrt(2 / 500), rel=0.05)
    assert MLP(sizes, rng=0, init="small").params["W1"].std() == pytest.approx(0.01, rel=0.05)
    assert MLP(sizes, rng=0, init=0.3).params["W1"].std() == pytest.approx(0.3, rel=0.05)
    np.testing.assert_array_equal(MLP(sizes, rng=5).params["W2"], MLP(sizes, rng=5).params["W2"])


def test_copy_is_deep():
    model = MLP((3, 4, 2), rng=0)
    clone = model.copy()
    clone.params["W1"] += 1.0
    assert not np.allclose(clone.params["W1"], model.params["W1"])
    assert clone.sizes == model.sizes and clone.loss == model.loss
    assert not np.shares_memory(clone.params["b2"], model.params["b2"])
    model.params = {key: value.astype(np.float32) for key, value in model.params.items()}
    model.params["b2"] = model.params["b2"].astype(np.float64)
    clone = model.copy()  # mixed dtypes: each array copied as it is
    assert [v.dtype for v in clone.params.values()] == [v.dtype for v in model.params.values()]
    model.params["b2"] = model.params["b2"].astype(np.float32)
    assert all(v.dtype == np.float32 for v in model.copy().params.values())


@pytest.mark.parametrize("make", [lambda: MLP((3, 4, 5, 2), rng=0), lambda: MLP((3, 4, 5, 2), rng=0).copy()])
def test_params_are_views_into_one_flat_vector_in_key_order(make):
    """What fit relies on (and the class docstring promises): writing the flat vector writes
    every parameter, W1 row by row, then b1, W2, b2, ..."""
    model = make()
    values = {key: value.copy() for key, value in model.params.items()}
    theta = model.params["W1"].base
    assert isinstance(theta, np.ndarray) and theta.ndim == 1 and theta.dtype == np.float64
    assert list(model.params) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    np.testing.assert_array_equal(theta, np.concatenate([v.ravel() for v in values.values()]))
    theta[...] = np.arange(theta.size)
    start = 0
    for key, value in model.params.items():
        assert value.base is theta and value.shape == values[key].shape
        np.testing.assert_array_equal(value.ravel(), np.arange(start, start + value.size))
        start += value.size
    assert start == theta.size


def test_dropout_only_when_training():
    sizes, X, y = problem("softmax", 2)
    model = MLP(sizes, rng=0, dropout=0.5)
    np.testing.assert_array_equal(model.forward(X), model.forward(X, train=False))
    assert not np.allclose(model.forward(X, train=True, rng=1), model.forward(X))
    np.testing.assert_array_equal(model.forward(X, train=True, rng=1), model.forward(X, train=True, rng=1))
    with pytest.raises(ValueError, match=r"rng must be .* when dropout=0.5 and train=True .*, got rng=None"):
        model.loss_and_grads(X, y)
    assert np.isfinite(model.loss_and_grads(X, y, train=False)[0])


def test_score_accuracy_and_r2():
    model = MLP((2, 2), "identity", rng=0)
    model.params["W1"][:] = [[1.0, 0.0], [0.0, 1.0]]
    X = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [0.0, 3.0]])
    assert model.score(X, np.array([0, 1, 0, 0])) == 0.75
    reg = MLP((1, 1), rng=0, loss="mse")
    reg.params["W1"][:] = 2.0
    X = np.array([[0.0], [1.0], [2.0]])
    assert reg.score(X, 2 * X[:, 0]) == pytest.approx(1.0)
    assert reg.score(X, 2 * X) == pytest.approx(1.0)  # y of shape (n, 1) is accepted
    assert reg.score(X, np.array([2.0, 2.0, 2.0])) == 0.0  # constant targets, inexact fit
    y = np.array([1.0, 0.0, 5.0])
    assert reg.score(X, y) == pytest.approx(1 - np.sum((y - 2 * X[:, 0]) ** 2) / np.sum((y - y.mean()) ** 2))


def test_divergence_gives_a_non_finite_loss_without_warnings():
    sizes, X, y = problem("softmax", 3)
    model = MLP(sizes, "sigmoid", rng=0, l2=0.1)
    model.params["W3"][:] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, grads = model.loss_and_grads(X, y)
    assert not np.isfinite(loss)


def test_mlp_errors_name_argument_and_value():
    model = MLP((4, 5, 3), rng=0)
    with pytest.raises(ValueError, match=r"X must have 4 columns \(sizes\[0\]=4\), got X of shape \(2, 3\)"):
        model.loss_and_grads(np.zeros((2, 3)), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"y must hold class labels in 0\.\.2 .* got y containing 3"):
        model.loss_and_grads(np.zeros((2, 4)), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"y must have shape \(2,\)"):
        model.loss_and_grads(np.zeros((2, 4)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="X contains 1 NaN"):
        model.forward(np.array([[0.0, 1.0, np.nan, 2.0]]))
    with pytest.raises(ValueError, match=r"dropout must lie in \[0, 1\), got dropout=1.0"):
        MLP((4, 3), rng=0, dropout=1)
    with pytest.raises(ValueError, match=r"unknown activation name='relux'.*'leaky_relu'"):
        MLP((4, 3), "relux", rng=0)
    with pytest.raises(ValueError, match="unknown loss='hinge'"):
        MLP((4, 3), rng=0, loss="hinge")
    with pytest.raises(ValueError, match="unknown init='lecun'"):
        MLP((4, 3), rng=0, init="lecun")
    with pytest.raises(ValueError, match=r"sizes must be .* got sizes=\(4,\)"):
        MLP((4,), rng=0)
    with pytest.raises(ValueError, match=r"loss='softmax' needs at least 2 outputs.*sizes\[-1\]=1"):
        MLP((4, 1), rng=0)
    with pytest.raises(ValueError, match=r"loss='binary' needs exactly 1 output.*sizes\[-1\]=3"):
        MLP((4, 3), rng=0, loss="binary")
    with pytest.raises(ValueError, match="l2 must be a finite number >= 0, got l2=-0.5"):
        MLP((4, 3), rng=0, l2=-0.5)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        MLP((4, 3), rng=None)
    with pytest.raises(ValueError, match="y must hold labels 0 or 1, got y containing 2"):
        MLP((4, 1), rng=0, loss="binary").loss_and_grads(np.zeros((2, 4)), np.array([0, 2]))
    with pytest.raises(ValueError, match=r"y must have shape \(2, 2\)"):
        MLP((4, 2), rng=0, loss="mse").loss_and_grads(np.zeros((2, 4)), np.zeros(2))


def test_student_activation_pair():
    sizes, X, y = problem("softmax", 2)
    softplus = (lambda z: np.logaddexp(0, z), lambda z: 1 / (1 + np.exp(-z)))
    model = with_random_biases(MLP(sizes, softplus, rng=0, init=0.7))
    assert check_model_gradients(model, X, y, tolerance=TOL).ok


# -- convergence: plain full-batch gradient descent written out here -------------------------

def blobs(n_per_class, centres, seed):
    rng = np.random.default_rng(seed)
    X = np.concatenate([c + 0.5 * rng.normal(size=(n_per_class, 2)) for c in centres])
    y = np.repeat(np.arange(len(centres)), n_per_class)
    return X, y


@pytest.mark.parametrize(
    "loss, activation", [("softmax", "relu"), ("softmax", "tanh"), ("binary", "sigmoid")]
)
def test_full_batch_gradient_descent_separates_blobs(loss, activation):
    centres = [(-2, 0), (2, 0), (0, 3)] if loss == "softmax" else [(-2, -1), (2, 1)]
    X, y = blobs(40, centres, seed=0)
    model = MLP((2, 16, len(centres) if loss == "softmax" else 1), activation, rng=0, loss=loss)
    first, _ = model.loss_and_grads(X, y)
    for _ in range(300):
        loss_value, grads = model.loss_and_grads(X, y)
        for key in model.params:
            model.params[key] -= 0.5 * grads[key]
    assert loss_value < first / 4
    assert model.score(X, y) > 0.9


def test_full_batch_gradient_descent_fits_a_line():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(50, 1))
    y = 3 * X[:, 0] - 1
    model = MLP((1, 1), rng=0, loss="mse")
    for _ in range(500):
        _, grads = model.loss_and_grads(X, y)
        for key in model.params:
            model.params[key] -= 0.3 * grads[key]
    assert relative_error(model.params["W1"], np.array([[3.0]])) < 1e-6
    assert model.score(X, y) > 0.999


# -- MLP.evaluate ---------------------------------------------------------------------------------

EVALUATE_CASES = [  # (activation, loss, depth, options)
    ("relu", "softmax", 2, {}),
    ("relu", "softmax", 3, dict(dropout=0.3, l2=0.01, l1=0.001)),
    ("tanh", "softmax", 1, dict(l2=0.1)),
    ("leaky_relu", "mse", 3, {}),
    ("sigmoid", "binary", 2, dict(dropout=0.2)),
    ("identity", "mse", 2, dict(l1=0.01)),
]


@pytest.mark.parametrize("activation, loss, depth, options", EVALUATE_CASES)
def test_evaluate_is_loss_without_dropout_and_score(activation, loss, depth, options):
    sizes, X, y = problem(loss, depth, n=9)
    model = with_random_biases(MLP(sizes, activation, rng=0, loss=loss, **options))
    expected = (model.loss_and_grads(X, y, train=False)[0], model.score(X, y))
    model.forward(X[:2])
    assert model.evaluate(X, y) == expected  # bit for bit: the same arithmetic
    # like forward(), evaluate leaves its hidden pre-activations behind
    assert [Z.shape for Z in model.last_preactivations] == [(9, width) for width in sizes[1:-1]]


def test_evaluate_raises_what_loss_and_grads_and_score_raise():
    model = MLP((4, 5, 3), rng=0)
    with pytest.raises(ValueError, match=r"X must have 4 columns \(sizes\[0\]=4\), got X of shape \(2, 3\)"):
        model.evaluate(np.zeros((2, 3)), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"y must hold class labels in 0\.\.2 .* got y containing 3"):
        model.evaluate(np.zeros((2, 4)), np.array([0, 3]))
    binary = MLP((4, 1), rng=0, loss="binary")
    with pytest.raises(ValueError, match=r"y must have shape \(2,\), got y of shape \(2, 1\)"):
        binary.score(np.zeros((2, 4)), np.zeros((2, 1)))
    with pytest.raises(ValueError, match=r"y must have shape \(2,\), got y of shape \(2, 1\)"):
        binary.evaluate(np.zeros((2, 4)), np.zeros((2, 1)))


def test_evaluate_uses_a_subclass_own_score():
    class Balanced(MLP):
        def score(self, X, y):
            return 0.25

    sizes, X, y = problem("softmax", 2)
    model = Balanced(sizes, rng=0)
    assert model.evaluate(X, y) == (model.loss_and_grads(X, y, train=False)[0], 0.25)
    assert not model._own_public_methods() and MLP(sizes, rng=0)._own_public_methods()


@PROPERTY
@given(st.integers(1, 12), st.integers(2, 6), st.integers(0, 2**31 - 1),
       st.sampled_from([1e-3, 1.0, 50.0, 800.0]), st.booleans())
def test_inplace_softmax_cross_entropy_is_the_same_numbers(n, k, seed, scale, ties):
    """The training loop's softmax overwrites its logits and reads the row maxima at the
    argmax; loss and gradient must be those of the reference, zeros' signs included."""
    from gdlib.nn.losses import _softmax_cross_entropy, _softmax_cross_entropy_inplace

    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, k)) * scale
    if ties:  # repeated maxima and signed zeros
        z[rng.random(z.shape) < 0.5] = rng.choice([0.0, -0.0, 1.0])
    y = rng.integers(0, k, n)
    loss, grad = _softmax_cross_entropy(z, y)
    z_copy = z.copy()
    loss_inplace, grad_inplace = _softmax_cross_entropy_inplace(z_copy, y)
    assert grad_inplace is z_copy and loss_inplace == loss
    np.testing.assert_array_equal(grad_inplace, grad)
    np.testing.assert_array_equal(np.signbit(grad_inplace), np.signbit(grad))
