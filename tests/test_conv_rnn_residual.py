"""Tests of gdlib.nn.conv, gdlib.nn.rnn and gdlib.nn.residual: the layers and models of the experiments lab.

Every backward pass is checked against centred finite differences (relative error < 1e-6),
the convolution against a naive loop, and every model learns a tiny task with a few hundred
full-batch gradient-descent steps written out here (gdlib.train is deliberately not used).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlib.nn import (
    CNN, avgpool2d_backward, avgpool2d_forward, conv2d_backward, conv2d_forward,
    flatten_backward, flatten_forward, maxpool2d_backward, maxpool2d_forward,
)
from gdlib.nn import check_model_gradients, numerical_gradient, relative_error
from gdlib.nn import (
    ResidualMLP, num_blocks_for_depth, residual_block_backward, residual_block_forward,
)
from gdlib.nn import RNNClassifier, RNNRegressor, clip_by_global_norm, rnn_backward, rnn_forward

TOL = 1e-6


def layer_gradient_errors(forward, args, backward, *, kwargs=None, seed=0):
    """Relative errors of ``backward`` against finite differences of sum(forward(*args) * D)."""
    kwargs = kwargs or {}
    out, cache = forward(*args, **kwargs)
    upstream = np.random.default_rng(seed).normal(size=np.shape(out))
    analytic = backward(upstream, cache)
    analytic = analytic if isinstance(analytic, tuple) else (analytic,)

    def objective(_):
        return float(np.sum(forward(*args, **kwargs)[0] * upstream))

    return [relative_error(g, numerical_gradient(objective, a)) for g, a in zip(analytic, args)]


def naive_conv2d(X, W, b, stride, pad):
    """out[n, f, i, j] = b[f] + sum over the window, one output at a time."""
    Xp = np.pad(X, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    n, _, hp, wp = Xp.shape
    f, _, kh, kw = W.shape
    oh, ow = (hp - kh) // stride + 1, (wp - kw) // stride + 1
    out = np.zeros((n, f, oh, ow))
    for i in range(n):
        for k in range(f):
            for r in range(oh):
                for c in range(ow):
                    window = Xp[i, :, r * stride:r * stride + kh, c * stride:c * stride + kw]
                    out[i, k, r, c] = np.sum(window * W[k]) + b[k]
    return out


def gradient_descent(model, X, y, *, lr, num_steps, rng=None):
    """Full-batch gradient descent; returns the loss before the first and after the last step."""
    first = None
    for step in range(num_steps):
        loss, grads = model.loss_and_grads(X, y, rng=rng)
        first = loss if first is None else first
        for key in model.params:
            model.params[key] -= lr * grads[key]
    return first, model.loss_and_grads(X, y, train=False)[0]


@pytest.fixture(scope="module")
def bars():
    """A tiny image task: 8x8 noisy images of a horizontal bar, a vertical bar or a diagonal.

    Flattened to (n, 64) like the digits, 3 classes, 150 images.
    """
    rng = np.random.default_rng(0)
    n = 150
    y = np.arange(n) % 3
    images = 0.3 * rng.random((n, 8, 8))
    where = rng.integers(1, 7, size=n)
    rows = np.arange(n)
    images[rows[y == 0], where[y == 0], :] += 1.0
    images[rows[y == 1], :, where[y == 1]] += 1.0
    images[y == 2] += np.eye(8)
    return images.reshape(n, 64), y


# -- convolution ----------------------------------------------------------------------------

CONV_SETTINGS = [(1, 0), (1, 1), (2, 0), (2, 1)]


@pytest.mark.parametrize("stride, pad", CONV_SETTINGS)
def test_conv2d_forward_matches_naive_loop(stride, pad):
    rng = np.random.default_rng(1)
    X, W, b = rng.normal(size=(2, 3, 7, 6)), rng.normal(size=(4, 3, 3, 2)), rng.normal(size=4)
    out, _ = conv2d_forward(X, W, b, stride=stride, pad=pad)
    assert out.shape == naive_conv2d(X, W, b, stride, pad).shape
    np.testing.assert_allclose(out, naive_conv2d(X, W, b, stride, pad), rtol=1e-12, atol=1e-12)


def test_conv2d_golden_case():
    # A 2x2 kernel of ones sums each 2x2 window; the bias is added once.
    X = np.arange(9.0).reshape(1, 1, 3, 3)
    out, _ = conv2d_forward(X, np.ones((1, 1, 2, 2)), np.array([0.5]))
    np.testing.assert_array_equal(out[0, 0], [[8.5, 12.5], [20.5, 24.5]])
    # Padding 1 with stride 2: the corner windows see one pixel each, the centre the middle.
    out, _ = conv2d_forward(X, np.ones((1, 1, 3, 3)), np.zeros(1), stride=2, pad=1)
    np.testing.assert_array_equal(out[0, 0], [[0 + 1 + 3 + 4, 1 + 2 + 4 + 5], [3 + 4 + 6 + 7, 4 + 5 + 7 + 8]])


@pytest.mark.parametrize("stride, pad", CONV_SETTINGS)
def test_conv2d_backward_gradcheck(stride, pad):
    rng = np.random.default_rng(2)
    args = [rng.normal(size=(2, 3, 5, 6)), rng.normal(size=(2, 3, 3, 3)), rng.normal(size=2)]
    errors = layer_gradient_errors(conv2d_forward, args, conv2d_backward,
                                   kwargs={"stride": stride, "pad": pad})
    assert max(errors) < TOL, errors


def test_conv2d_backward_without_input_grad_gives_same_weight_grads():
    rng = np.random.default_rng(3)
    X, W, b = rng.normal(size=(2, 2, 5, 5)), rng.normal(size=(3, 2, 3, 3)), rng.normal(size=3)
    out, cache = conv2d_forward(X, W, b, stride=2, pad=1)
    dout = rng.normal(size=out.shape)
    full = conv2d_backward(dout, cache)
    dX, dW, db = conv2d_backward(dout, cache, input_grad=False)
    assert dX is None
    np.testing.assert_allclose(dW, full[1])
    np.testing.assert_allclose(db, full[2])


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(1, 6), w=st.integers(1, 6),
       f=st.integers(1, 3), k=st.integers(1, 3), stride=st.integers(1, 3), pad=st.integers(0, 2),
       seed=st.integers(0, 2**16))
def test_conv2d_forward_property_matches_naive(n, c, h, w, f, k, stride, pad, seed):
    if k > h + 2 * pad or k > w + 2 * pad:
        with pytest.raises(ValueError, match="does not fit"):
            conv2d_forward(np.zeros((n, c, h, w)), np.zeros((f, c, k, k)), np.zeros(f), stride=stride, pad=pad)
        return
    rng = np.random.default_rng(seed)
    X, W, b = rng.normal(size=(n, c, h, w)), rng.normal(size=(f, c, k, k)), rng.normal(size=f)
    out, cache = conv2d_forward(X, W, b, stride=stride, pad=pad)
    np.testing.assert_allclose(out, naive_conv2d(X, W, b, stride, pad), rtol=1e-10, atol=1e-10)
    # The backward pass is the adjoint of the (linear in X) forward pass: <dout, conv(X)> = <dX, X>.
    dout = rng.normal(size=out.shape)
    dX, _, _ = conv2d_backward(dout, cache)
    linear_part = out - b[None, :, None, None]
    assert np.isclose(np.sum(dout * linear_part), np.sum(dX * X), rtol=1e-9, atol=1e-9)


# -- pooling and flatten --------------------------------------------------------------------

def test_maxpool_golden_case_and_tie_goes_to_first():
    X = np.array([[1.0, 2.0, 0.0, 0.0],
                  [4.0, 3.0, 0.0, 0.0],
                  [5.0, 5.0, -1.0, -2.0],
                  [5.0, 5.0, -3.0, -4.0]]).reshape(1, 1, 4, 4)
    out, cache = maxpool2d_forward(X)
    np.testing.assert_array_equal(out[0, 0], [[4.0, 0.0], [5.0, -1.0]])
    dX = maxpool2d_backward(np.ones((1, 1, 2, 2)), cache)[0, 0]
    expected = np.zeros((4, 4))
    expected[1, 0] = expected[0, 2] = expected[2, 0] = expected[2, 2] = 1.0
    np.testing.assert_array_equal(dX, expected)


@pytest.mark.parametrize("size, stride", [(2, 2), (3, 1), (2, 1), (3, 2)])
@pytest.mark.parametrize("forward, backward", [(maxpool2d_forward, maxpool2d_backward),
                                               (avgpool2d_forward, avgpool2d_backward)])
def test_pooling_backward_gradcheck(forward, backward, size, stride):
    X = np.random.default_rng(4).normal(size=(2, 3, 7, 6))  # 7 rows: uneven for stride 2
    errors = layer_gradient_errors(forward, [X], backward, kwargs={"size": size, "stride": stride})
    assert max(errors) < TOL, errors


def test_avgpool_golden_case():
    X = np.arange(16.0).reshape(1, 1, 4, 4)
    out, _ = avgpool2d_forward(X)
    np.testing.assert_array_equal(out[0, 0], [[2.5, 4.5], [10.5, 12.5]])


def test_flatten_round_trip():
    X = np.arange(24.0).reshape(2, 3, 2, 2)
    flat, shape = flatten_forward(X)
    assert flat.shape == (2, 12)
    np.testing.assert_array_equal(flatten_backward(flat, shape), X)


# -- recurrent layer ------------------------------------------------------------------------

def rnn_args(n, T, d, H, seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n, T, d)), rng.normal(size=(n, H)), 0.5 * rng.normal(size=(d, H)),
            0.5 * rng.normal(size=(H, H)), 0.1 * rng.normal(size=H)]


def test_rnn_forward_golden_recursion():
    X, h0, Wx, Wh, b = rnn_args(3, 2, 2, 4, seed=5)
    hs, _ = rnn_forward(X, h0, Wx, Wh, b)
    h1 = np.tanh(X[:, 0] @ Wx + h0 @ Wh + b)
    h2 = np.tanh(X[:, 1] @ Wx + h1 @ Wh + b)
    np.testing.assert_allclose(hs[:, 0], h1)
    np.testing.assert_allclose(hs[:, 1], h2)


@pytest.mark.parametrize("T", [1, 2, 3, 4])
def test_rnn_backward_gradcheck_every_output(T):
    args = rnn_args(3, T, 2, 4, seed=T)
    errors = layer_gradient_errors(rnn_forward, args, rnn_backward, seed=T)
    assert len(errors) == 5  # dX, dh0, dWx, dWh, db
    assert max(errors) < TOL, errors


def test_clip_by_global_norm():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    clipped, norm = clip_by_global_norm(grads, 1.0)
    assert norm == pytest.approx(5.0)
    np.testing.assert_allclose(clipped["a"], [0.6, 0.0])
    np.testing.assert_allclose(clipped["b"], [[0.8]])
    np.testing.assert_array_equal(grads["a"], [3.0, 0.0])  # not mutated
    same, norm = clip_by_global_norm(grads, 10.0)
    assert norm == pytest.approx(5.0)
    np.testing.assert_array_equal(same["b"], grads["b"])
    with pytest.raises(ValueError, match="max_norm"):
        clip_by_global_norm(grads, 0.0)


# -- residual block -------------------------------------------------------------------------

def test_residual_block_backward_gradcheck():
    rng = np.random.default_rng(6)
    args = [rng.normal(size=(5, 3)), rng.normal(size=(3, 4)), rng.normal(size=4),
            rng.normal(size=(4, 3)), rng.normal(size=3)]
    errors = layer_gradient_errors(residual_block_forward, args, residual_block_backward)
    assert max(errors) < TOL, errors


def test_residual_block_with_zero_branch_is_identity():
    X = np.random.default_rng(7).normal(size=(4, 3))
    out, cache = residual_block_forward(X, np.ones((3, 5)), np.zeros(5), np.zeros((5, 3)), np.zeros(3))
    np.testing.assert_array_equal(out, X)
    dX = residual_block_backward(np.ones((4, 3)), cache)[0]
    np.testing.assert_array_equal(dX, np.ones((4, 3)))  # the skip path passes the gradient as is


def test_depth_bookkeeping():
    assert [num_blocks_for_depth(d) for d in (20, 32, 44, 56)] == [9, 15, 21, 27]
    model = ResidualMLP(4, 3, 9, 2, rng=0)
    assert model.depth == 20
    assert sum(key.startswith("W") for key in model.params) == 20
    with pytest.raises(ValueError, match="depth"):
        num_blocks_for_depth(21)


# -- models: full gradient checks -----------------------------------------------------------

@pytest.mark.parametrize("options", [
    {},
    {"activation": "tanh", "l1": 0.01, "l2": 0.1, "dropout": 0.3},
    {"kernel": 2, "l2": 0.05},
])
def test_cnn_loss_and_grads_gradcheck(options):
    rng = np.random.default_rng(8)
    X, y = rng.normal(size=(4, 2, 6, 5)), np.array([0, 1, 2, 1])
    model = CNN((2, 6, 5), num_filters=3, hidden=5, num_classes=3, rng=1, **options)
    report = check_model_gradients(model, X, y, rng=11)  # an int seed: the same mask every call
    assert report.ok, str(report)
    flat = check_model_gradients(model, X.reshape(4, -1), y, rng=11)
    assert flat.ok, str(flat)


def test_rnn_regressor_gradcheck():
    rng = np.random.default_rng(9)
    X, y = rng.normal(size=(5, 3, 2)), rng.normal(size=5)
    assert check_model_gradients(RNNRegressor(2, 4, rng=0), X, y).ok
    report = check_model_gradients(RNNRegressor(1, 3, rng=1), X[:, :, 0], y)  # (n, T) for d = 1
    assert report.ok, str(report)


@pytest.mark.parametrize("dropout", [0.0, 0.4])
def test_rnn_classifier_gradcheck_tokens(dropout):
    rng = np.random.default_rng(10)
    X, y = rng.integers(0, 7, size=(6, 4)), rng.integers(0, 3, size=6)
    model = RNNClassifier(7, 4, 3, rng=0, embed_dim=3, dropout=dropout)
    report = check_model_gradients(model, X, y, rng=5)
    assert report.ok, str(report)
    assert set(report.errors) == {"E", "Wx", "Wh", "b", "W_out", "b_out"}


def test_rnn_classifier_gradcheck_real_valued_with_dropout():
    rng = np.random.default_rng(11)
    X, y = rng.normal(size=(5, 3, 2)), rng.integers(0, 2, size=5)
    report = check_model_gradients(RNNClassifier(2, 4, 2, rng=0, dropout=0.5), X, y, rng=3)
    assert report.ok, str(report)


@pytest.mark.parametrize("num_blocks", [1, 2, 3])
def test_residual_mlp_gradcheck(num_blocks):
    rng = np.random.default_rng(12)
    X, y = rng.normal(size=(6, 4)), rng.integers(0, 3, size=6)
    report = check_model_gradients(ResidualMLP(4, 5, num_blocks, 3, rng=num_blocks), X, y)
    assert report.ok, str(report)


def test_dropout_needs_rng_only_in_training():
    X, y = np.random.default_rng(13).integers(0, 5, size=(4, 3)), np.array([0, 1, 0, 1])
    model = RNNClassifier(5, 3, 2, rng=0, embed_dim=2, dropout=0.5)
    with pytest.raises(ValueError, match="rng"):
        model.loss_and_grads(X, y)
    loss_a, _ = model.loss_and_grads(X, y, train=False)
    loss_b, _ = model.loss_and_grads(X, y, train=False)
    assert loss_a == loss_b
    cnn = CNN((1, 4, 4), num_filters=2, hidden=3, num_classes=2, rng=0, dropout=0.5)
    with pytest.raises(ValueError, match="rng"):
        cnn.loss_and_grads(np.zeros((2, 16)), [0, 1])


# -- models learn ---------------------------------------------------------------------------

def test_cnn_learns_bars(bars):
    X, y = bars
    model = CNN(rng=0, num_filters=4, hidden=16, num_classes=3)
    first, last = gradient_descent(model, X, y, lr=0.5, num_steps=60)
    assert last < 0.1 * first
    assert model.score(X, y) > 0.95
    assert model.predict(X.reshape(-1, 1, 8, 8)).shape == (len(X),)


def test_rnn_regressor_learns_next_value_of_a_sine():
    t = np.arange(80) * 0.3
    series = np.sin(t)
    X = np.lib.stride_tricks.sliding_window_view(series[:-1], 6)[:, :, None]
    y = series[6:]
    model = RNNRegressor(1, 8, rng=0)
    first, last = gradient_descent(model, X, y, lr=0.1, num_steps=300)
    assert last < 0.01 * first
    assert model.score(X, y) > 0.99


def test_rnn_classifier_learns_token_task():
    rng = np.random.default_rng(14)
    X = rng.integers(0, 6, size=(80, 5))
    y = (X == 0).any(axis=1).astype(int)  # does token 0 occur anywhere?
    model = RNNClassifier(6, 8, 2, rng=0, embed_dim=4, dropout=0.1)
    first, last = gradient_descent(model, X, y, lr=0.5, num_steps=300, rng=np.random.default_rng(15))
    assert last < 0.1 * first
    assert model.score(X, y) > 0.95


@pytest.mark.parametrize("num_blocks", [2, 27])  # depth 6 and depth 56
def test_residual_mlp_learns_bars(bars, num_blocks):
    X, y = bars
    model = ResidualMLP(64, 16, num_blocks, 3, rng=0)
    first, last = gradient_descent(model, X, y, lr=0.03, num_steps=80)
    assert np.isfinite(first) and first < 3.0  # the scaled init keeps a deep net's logits tame
    assert last < 0.3 * first


def test_diverged_model_reports_nan_loss_instead_of_raising():
    model = ResidualMLP(3, 4, 2, 2, rng=0)
    model.params["W2"][:] = np.inf
    loss, grads = model.loss_and_grads(np.ones((2, 3)), [0, 1])
    assert not np.isfinite(loss)


# -- bad input ------------------------------------------------------------------------------

def test_conv2d_errors_name_argument_and_shape():
    X = np.zeros((2, 3, 5, 5))
    with pytest.raises(ValueError, match=r"W must have shape.*3 channels.*\(2, 3, 5, 5\).*\(4, 1, 3, 3\)"):
        conv2d_forward(X, np.zeros((4, 1, 3, 3)), np.zeros(4))
    with pytest.raises(ValueError, match=r"b must have shape \(4,\).*\(3,\)"):
        conv2d_forward(X, np.zeros((4, 3, 3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="X must have 4 dimension"):
        conv2d_forward(np.zeros((3, 5, 5)), np.zeros((4, 3, 3, 3)), np.zeros(4))
    with pytest.raises(ValueError, match="stride"):
        conv2d_forward(X, np.zeros((4, 3, 3, 3)), np.zeros(4), stride=0)
    with pytest.raises(ValueError, match="pad"):
        conv2d_forward(X, np.zeros((4, 3, 3, 3)), np.zeros(4), pad=-1)
    with pytest.raises(ValueError, match="NaN"):
        conv2d_forward(np.full((1, 3, 5, 5), np.nan), np.zeros((4, 3, 3, 3)), np.zeros(4))
    _, cache = conv2d_forward(X, np.zeros((4, 3, 3, 3)), np.zeros(4))
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 4, 3, 3\)"):
        conv2d_backward(np.zeros((2, 4, 5, 5)), cache)


def test_cnn_errors():
    model = CNN(rng=0)
    with pytest.raises(ValueError, match=r"X must have shape \(n, 1, 8, 8\) or \(n, 64\).*\(5, 3, 8, 8\)"):
        model.predict(np.zeros((5, 3, 8, 8)))  # wrong channel count
    with pytest.raises(ValueError, match="y must hold class labels in 0..9"):
        model.loss_and_grads(np.zeros((2, 64)), [0, 10])
    with pytest.raises(ValueError, match="in_shape"):
        CNN(in_shape=(8, 8), rng=0)
    with pytest.raises(ValueError, match="unknown activation"):
        CNN(rng=0, activation="swish")
    with pytest.raises(ValueError, match="dropout"):
        CNN(rng=0, dropout=1.0)
    with pytest.raises(TypeError, match="rng"):
        CNN(rng=None)


def test_rnn_errors_name_argument_and_shape():
    X, h0, Wx, Wh, b = rnn_args(3, 2, 2, 4, seed=0)
    with pytest.raises(ValueError, match=r"Wx must have shape \(d, H\) with d = 2.*\(3, 4\)"):
        rnn_forward(X, h0, np.zeros((3, 4)), Wh, b)
    with pytest.raises(ValueError, match=r"X must have 3 dimension.*\(3, 2\)"):
        rnn_forward(X[:, :, 0], h0, Wx, Wh, b)
    with pytest.raises(ValueError, match=r"h0 must have shape \(n, H\) = \(3, 4\).*\(2, 4\)"):
        rnn_forward(X, h0[:2], Wx, Wh, b)
    with pytest.raises(ValueError, match=r"Wh must have shape"):
        rnn_forward(X, h0, Wx, np.zeros((4, 3)), b)
    with pytest.raises(ValueError, match=r"dhs must have shape"):
        rnn_backward(np.zeros((3, 1, 4)), rnn_forward(X, h0, Wx, Wh, b)[1])
    with pytest.raises(ValueError, match=r"X must have shape \(n, T, 2\).*\(4, 5, 3\)"):
        RNNRegressor(2, 3, rng=0).predict(np.zeros((4, 5, 3)))
    with pytest.raises(ValueError, match=r"y must have shape \(4,\)"):
        RNNRegressor(2, 3, rng=0).loss_and_grads(np.zeros((4, 5, 2)), np.zeros((4, 1)))


def test_rnn_classifier_token_errors():
    model = RNNClassifier(5, 3, 2, rng=0, embed_dim=2)
    with pytest.raises(ValueError, match="token ids in 0..4.*7"):
        model.predict(np.array([[1, 7]]))
    with pytest.raises(TypeError, match="integer token ids"):
        model.predict(np.array([[1.0, 2.0]]))
    with pytest.raises(ValueError, match=r"X must be token ids of shape \(n, T\).*\(2, 3, 1\)"):
        model.predict(np.zeros((2, 3, 1), dtype=int))
    with pytest.raises(ValueError, match="num_classes"):
        RNNClassifier(5, 3, 1, rng=0)


def test_residual_errors():
    with pytest.raises(ValueError, match=r"W1 must have shape \(d, k\) with d = 3.*\(4, 2\)"):
        residual_block_forward(np.zeros((2, 3)), np.zeros((4, 2)), np.zeros(2), np.zeros((2, 3)), np.zeros(3))
    with pytest.raises(ValueError, match=r"W2 must have shape \(k, d\) = \(2, 3\)"):
        residual_block_forward(np.zeros((2, 3)), np.zeros((3, 2)), np.zeros(2), np.zeros((3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match=r"X must have 64 columns.*\(2, 63\)"):
        ResidualMLP(64, 8, 2, 10, rng=0).predict(np.zeros((2, 63)))
    with pytest.raises(ValueError, match="num_blocks"):
        ResidualMLP(64, 8, 0, 10, rng=0)


def test_copy_is_independent():
    for model in (CNN(rng=0), RNNRegressor(1, 3, rng=0), ResidualMLP(4, 3, 1, 2, rng=0),
                  RNNClassifier(5, 3, 2, rng=0, embed_dim=2)):
        twin = model.copy()
        for key in model.params:
            twin.params[key] += 1.0
            assert not np.allclose(twin.params[key], model.params[key])


# -- evaluate: fit's per-epoch record from one forward pass ----------------------------------------

def _evaluate_cases():
    rng = np.random.default_rng(5)
    images, labels = rng.normal(size=(40, 2 * 6 * 5)), rng.integers(0, 3, size=40)
    tokens = rng.integers(0, 7, size=(30, 6))
    return [
        (CNN((2, 6, 5), num_filters=3, hidden=5, num_classes=3, rng=1, l1=0.01, l2=0.02, dropout=0.5),
         images, labels),
        (CNN((2, 6, 5), num_filters=3, hidden=5, num_classes=3, rng=2), images.reshape(40, 2, 6, 5), labels),
        (ResidualMLP(60, 5, 2, 3, rng=0), images, labels),
        (RNNClassifier(7, 4, 3, rng=0, embed_dim=3, dropout=0.5), tokens, labels[:30]),
    ]


@pytest.mark.parametrize("case", range(4))
def test_evaluate_gives_the_loss_and_score_of_loss_and_grads_and_score_exactly(case):
    model, X, y = _evaluate_cases()[case]
    expected = (float(model.loss_and_grads(X, y, rng=None, train=False)[0]), model.score(X, y))
    assert model.evaluate(X, y) == expected
    with pytest.raises(ValueError, match="y"):
        model.evaluate(X, np.full(len(y), 99))


def test_evaluate_uses_a_subclass_own_loss():
    class Shifted(CNN):
        def loss_and_grads(self, X, y, *, rng=None, train=True):
            loss, grads = super().loss_and_grads(X, y, rng=rng, train=train)
            return loss + 1.0, grads

    model, X, y = _evaluate_cases()[1]
    shifted = Shifted((2, 6, 5), num_filters=3, hidden=5, num_classes=3, rng=2)
    assert shifted.evaluate(X, y)[0] == model.evaluate(X, y)[0] + 1.0
