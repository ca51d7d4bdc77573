"""gdlib's forward and backward passes against PyTorch autograd, in float64.

The other tests check each hand-written backward pass against finite differences of its own
forward pass, which cannot catch a forward pass that computes the wrong function, and passes
only to about 1e-6. Here the reference is torch autograd, an independent implementation:
every loss, activation, layer, the MLP's objective with its penalties, and whole training
runs with ``gdlib.train.fit`` must agree with the same computation written in torch, value
and gradient, to about 1e-10 (round-off). The course conventions (CONVENTIONS.md) are
torch's too, so they are checked as well: relu'(0) = 0, leaky_relu'(0) = alpha,
sign(0) = 0 in the L1 subgradient, softmax and binary cross-entropy on logits averaged over
examples, the update rules of torch.optim. Inputs include extreme logits (+-800) and exact
ReLU kinks. The whole module skips where torch is not installed.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from gdlib.nn import (  # noqa: E402
    leaky_relu, leaky_relu_grad, relu, relu_grad, sigmoid, sigmoid_grad, tanh, tanh_grad,
)
from gdlib.nn import (  # noqa: E402
    avgpool2d_backward, avgpool2d_forward, conv2d_backward, conv2d_forward, maxpool2d_backward,
    maxpool2d_forward,
)
from gdlib.nn import dense_backward, dense_forward  # noqa: E402
from gdlib.nn import binary_cross_entropy, mse, softmax_cross_entropy  # noqa: E402
from gdlib.nn import MLP  # noqa: E402
from gdlib.nn import residual_block_backward, residual_block_forward  # noqa: E402
from gdlib.nn import rnn_backward, rnn_forward  # noqa: E402
from gdlib.train import fit, iterate_minibatches  # noqa: E402

F = torch.nn.functional
RTOL, ATOL = 1e-10, 1e-12


def assert_close(actual, expected, what=""):
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=what)


def as_tensor(a, requires_grad=False):
    """A float64 torch copy of ``a`` (a leaf tensor when ``requires_grad``)."""
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64,
                        requires_grad=requires_grad)


def torch_value_and_grads(fn, arrays, upstream=None):
    """``fn(*arrays)`` in torch, and the gradients of ``sum(fn(...) * upstream)`` (of the
    scalar ``fn(...)`` if ``upstream`` is None) with respect to every array."""
    tensors = [as_tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    (out if upstream is None else (out * as_tensor(upstream)).sum()).backward()
    return out.detach().numpy(), [t.grad.numpy() for t in tensors]


def assert_layer_matches_torch(forward, backward, torch_fn, arrays, *, seed=0, **kwargs):
    """gdlib's ``forward(*arrays)`` and ``backward(dout, cache)`` against torch autograd."""
    out, cache = forward(*arrays, **kwargs)
    upstream = np.random.default_rng(seed).normal(size=np.shape(out))
    grads = backward(upstream, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    expected_out, expected_grads = torch_value_and_grads(torch_fn, arrays, upstream)
    assert_close(out, expected_out, "forward")
    assert len(grads) == len(arrays)
    for i, (grad, expected) in enumerate(zip(grads, expected_grads)):
        assert_close(grad, expected, f"gradient of argument {i}")


# -- losses ----------------------------------------------------------------------------------

def test_softmax_cross_entropy_matches_torch_cross_entropy_even_at_800():
    rng = np.random.default_rng(0)
    logits = 3 * rng.normal(size=(6, 4))
    logits[0] = [800.0, -800.0, 0.0, 5.0]      # true class 1 sits 1600 below the max
    logits[1] = [-800.0, 800.0, 800.0, -800.0]  # a tie at the top
    y = np.array([1, 2, 0, 3, 3, 1])
    loss, dlogits = softmax_cross_entropy(logits, y)
    expected, (expected_grad,) = torch_value_and_grads(
        lambda z: F.cross_entropy(z, torch.as_tensor(y)), [logits])
    assert np.isfinite(loss) and loss > 1600 / 6
    assert_close(loss, expected)
    assert_close(dlogits, expected_grad)


def test_binary_cross_entropy_matches_torch_bce_with_logits_even_at_800():
    z = np.array([800.0, -800.0, 800.0, -800.0, 0.0, 1.5, -2.0, 30.0, -30.0])
    y = np.array([1, 0, 0, 1, 1, 0, 1, 0, 1])
    loss, dz = binary_cross_entropy(z, y)
    expected, (expected_grad,) = torch_value_and_grads(
        lambda t: F.binary_cross_entropy_with_logits(t, as_tensor(y)), [z])
    assert np.isfinite(loss)
    assert_close(loss, expected)
    assert_close(dz, expected_grad)


def test_mse_is_torch_mse_loss_for_one_output():
    rng = np.random.default_rng(1)
    pred, y = rng.normal(size=7), rng.normal(size=7)
    loss, dpred = mse(pred, y)
    expected, (expected_grad,) = torch_value_and_grads(lambda p: F.mse_loss(p, as_tensor(y)), [pred])
    assert_close(loss, expected)
    assert_close(dpred, expected_grad)


def test_mse_sums_over_outputs_and_averages_over_examples_unlike_torch_mse_loss():
    rng = np.random.default_rng(2)
    pred, y = rng.normal(size=(7, 3)), rng.normal(size=(7, 3))
    loss, dpred = mse(pred, y)
    expected, (expected_grad,) = torch_value_and_grads(
        lambda p: ((p - as_tensor(y)) ** 2).sum() / 7, [pred])
    assert_close(loss, expected)
    assert_close(dpred, expected_grad)
    assert_close(loss, 3 * F.mse_loss(as_tensor(pred), as_tensor(y)).item())  # k times torch's


# -- activations -----------------------------------------------------------------------------

ACTIVATIONS = {
    "sigmoid": (sigmoid, sigmoid_grad, torch.sigmoid),
    "tanh": (tanh, tanh_grad, torch.tanh),
    "relu": (relu, relu_grad, torch.relu),
    "leaky_relu": (functools.partial(leaky_relu, alpha=0.2),
                   functools.partial(leaky_relu_grad, alpha=0.2),
                   lambda t: F.leaky_relu(t, negative_slope=0.2)),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_and_its_gradient_match_torch_including_exact_zeros(name):
    f, fprime, torch_f = ACTIVATIONS[name]
    z = np.array([-800.0, -40.0, -3.0, -1e-3, -0.0, 0.0, 0.0, 1e-3, 0.5, 3.0, 40.0, 800.0])
    expected, (expected_grad,) = torch_value_and_grads(lambda t: torch_f(t).sum(), [z])
    assert_close(f(z), torch_f(as_tensor(z)).numpy())
    assert_close(fprime(z), expected_grad)


def test_relu_and_leaky_relu_gradients_at_zero_are_torchs():
    _, (relu_at_0,) = torch_value_and_grads(lambda t: torch.relu(t).sum(), [[0.0]])
    _, (leaky_at_0,) = torch_value_and_grads(lambda t: F.leaky_relu(t, 0.2).sum(), [[0.0]])
    assert relu_grad(0.0) == relu_at_0[0] == 0.0
    assert leaky_relu_grad(0.0, alpha=0.2) == leaky_at_0[0] == 0.2


# -- layers ----------------------------------------------------------------------------------

def test_dense_forward_and_backward_match_torch():
    rng = np.random.default_rng(3)
    arrays = [rng.normal(size=(5, 4)), rng.normal(size=(4, 3)), rng.normal(size=3)]
    assert_layer_matches_torch(dense_forward, dense_backward, lambda X, W, b: X @ W + b, arrays)


@pytest.mark.parametrize("kernel, stride, pad", [
    ((3, 3), 1, 0), ((3, 3), 1, 1), ((3, 3), 2, 1), ((3, 3), 2, 0), ((2, 3), 3, 2), ((1, 1), 1, 0),
])
def test_conv2d_forward_and_backward_match_torch_conv2d(kernel, stride, pad):
    # gdlib's W is (f, c, kh, kw), torch's (out_channels, in_channels, kh, kw): no translation.
    rng = np.random.default_rng(4)
    arrays = [rng.normal(size=(2, 3, 7, 6)), rng.normal(size=(4, 3) + kernel), rng.normal(size=4)]
    assert_layer_matches_torch(
        conv2d_forward, conv2d_backward,
        lambda X, W, b: F.conv2d(X, W, b, stride=stride, padding=pad),
        arrays, stride=stride, pad=pad)


@pytest.mark.parametrize("size, stride", [(2, 2), (3, 2), (2, 1), (3, 3)])
def test_maxpool2d_matches_torch_max_pool2d_without_ties(size, stride):
    X = np.random.default_rng(5).normal(size=(2, 3, 7, 6))  # continuous values: no ties
    assert_layer_matches_torch(
        maxpool2d_forward, maxpool2d_backward,
        lambda t: F.max_pool2d(t, kernel_size=size, stride=stride),
        [X], size=size, stride=stride)


@pytest.mark.parametrize("size, stride", [(2, 2), (3, 2), (2, 1), (3, 3)])
def test_avgpool2d_matches_torch_avg_pool2d(size, stride):
    X = np.random.default_rng(6).normal(size=(2, 3, 7, 6))
    assert_layer_matches_torch(
        avgpool2d_forward, avgpool2d_backward,
        lambda t: F.avg_pool2d(t, kernel_size=size, stride=stride),
        [X], size=size, stride=stride)


def torch_rnn(X, h0, Wx, Wh, b):
    """h_t = tanh(x_t Wx + h_{t-1} Wh + b), stacked to (n, T, H): gdlib's recurrence."""
    h, hs = h0, []
    for t in range(X.shape[1]):
        h = torch.tanh(X[:, t] @ Wx + h @ Wh + b)
        hs.append(h)
    return torch.stack(hs, dim=1)


def test_rnn_forward_and_backward_through_time_match_torch():
    rng = np.random.default_rng(7)
    n, T, d, H = 3, 6, 4, 5
    arrays = [rng.normal(size=(n, T, d)), rng.normal(size=(n, H)),
              0.5 * rng.normal(size=(d, H)), 0.5 * rng.normal(size=(H, H)), rng.normal(size=H)]
    assert_layer_matches_torch(rnn_forward, rnn_backward, torch_rnn, arrays)


def test_residual_block_matches_torch():
    rng = np.random.default_rng(8)
    arrays = [rng.normal(size=(5, 4)), rng.normal(size=(4, 6)), rng.normal(size=6),
              rng.normal(size=(6, 4)), rng.normal(size=4)]
    assert_layer_matches_torch(
        residual_block_forward, residual_block_backward,
        lambda X, W1, b1, W2, b2: X + torch.relu(X @ W1 + b1) @ W2 + b2, arrays)


# -- the MLP's objective ------------------------------------------------------------------

TORCH_ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
                     "leaky_relu": lambda t: F.leaky_relu(t, 0.01)}  # gdlib's default alpha


def torch_params(model):
    """Leaf tensors holding copies of the model's current parameters."""
    return {key: as_tensor(value, requires_grad=True) for key, value in model.params.items()}


def torch_objective(model, params, X, y):
    """The MLP's objective J (data loss + l2/2 ||W||^2 + l1 |W|, no dropout) written in torch."""
    f = TORCH_ACTIVATIONS[model.activation]
    A = as_tensor(X)
    for l in range(1, model.num_layers + 1):
        Z = A @ params[f"W{l}"] + params[f"b{l}"]
        A = f(Z)
    out = Z.reshape(-1) if model.sizes[-1] == 1 and model.loss != "softmax" else Z
    if model.loss == "softmax":
        loss = F.cross_entropy(out, torch.as_tensor(np.asarray(y, dtype=np.int64)))
    elif model.loss == "binary":
        loss = F.binary_cross_entropy_with_logits(out, as_tensor(y))
    else:
        loss = ((out - as_tensor(y)) ** 2).sum() / len(X)
    for key, W in params.items():
        if key.startswith("W"):
            loss = loss + model.l2 / 2 * (W ** 2).sum() + model.l1 * W.abs().sum()
    return loss


def targets(loss, k, n, rng):
    if loss == "softmax":
        return rng.integers(0, k, size=n)
    if loss == "binary":
        return rng.integers(0, 2, size=n)
    return rng.normal(size=n if k == 1 else (n, k))


@pytest.mark.parametrize("sizes, activation, loss, l1, l2", [
    ((4, 3), "relu", "softmax", 0.0, 0.0),
    ((4, 6, 3), "relu", "softmax", 0.01, 0.001),
    ((4, 6, 5, 3), "tanh", "softmax", 0.1, 0.0),
    ((4, 6, 5, 1), "relu", "binary", 0.0, 0.05),
    ((4, 7, 1), "sigmoid", "binary", 0.02, 0.02),
    ((4, 5, 1), "tanh", "mse", 0.01, 0.01),
    ((4, 6, 5, 4, 2), "relu", "mse", 0.0, 0.1),
    ((4, 6, 5, 3), "leaky_relu", "softmax", 0.01, 0.01),
])
def test_mlp_loss_and_grads_match_torch_autograd(sizes, activation, loss, l1, l2):
    rng = np.random.default_rng(9)
    model = MLP(sizes, activation, rng=10, loss=loss, l1=l1, l2=l2)
    for key, value in model.params.items():  # non-zero biases, except the first two of b1
        if key.startswith("b"):
            value[...] = 0.1 * rng.normal(size=value.shape)
    model.params["b1"][:2] = 0.0
    model.params["W1"][0, 0] = 0.0  # the L1 subgradient at 0: sign(0) = 0, as torch's abs
    X, y = rng.normal(size=(20, sizes[0])), targets(loss, sizes[-1], 20, rng)
    X[0] = 0.0  # with b1[:2] = 0: two pre-activations exactly at the ReLU kink
    value, grads = model.loss_and_grads(X, y, train=False)
    if len(sizes) > 2:
        assert np.sum(model.last_preactivations[0] == 0.0) >= 2
    params = torch_params(model)
    expected = torch_objective(model, params, X, y)
    expected.backward()
    assert_close(value, expected.item(), "loss")
    assert list(grads) == list(params)
    for key, p in params.items():
        assert_close(grads[key], p.grad.numpy(), key)


# -- training end to end ------------------------------------------------------------------

@pytest.mark.parametrize("rule, lr, make_optimizer, model_kwargs", [
    ("sgd", 0.1, lambda p: torch.optim.SGD(p, lr=0.1),
     dict(sizes=(5, 16, 8, 3), activation="relu", loss="softmax", l2=1e-3)),
    ("adam", 0.01, lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.9, 0.999), eps=1e-8),
     dict(sizes=(5, 16, 8, 1), activation="tanh", loss="binary", l1=1e-3)),
], ids=["sgd", "adam"])
def test_fit_matches_a_torch_optim_loop_over_the_same_batches(rule, lr, make_optimizer,
                                                              model_kwargs):
    rng = np.random.default_rng(11)
    n, seed = 100, 12  # 100 = 3 * 32 + 4: the last batch of each epoch is smaller
    X = rng.normal(size=(n, 5))
    y = targets(model_kwargs["loss"], model_kwargs["sizes"][-1], n, rng)
    model = MLP(rng=13, **model_kwargs)
    params = torch_params(model)
    optimizer = make_optimizer(list(params.values()))
    # fit(rng=seed) shuffles with default_rng(seed), one permutation per epoch; its
    # evaluations before and after each epoch draw nothing (no dropout).
    shuffle = np.random.default_rng(seed)
    torch_losses = []
    for _ in range(2):
        for X_batch, y_batch in iterate_minibatches(X, y, 32, shuffle):
            optimizer.zero_grad()
            loss = torch_objective(model, params, X_batch, y_batch)
            loss.backward()
            optimizer.step()
            torch_losses.append(loss.item())
    history = fit(model, X, y, rule=rule, lr=lr, num_epochs=2, batch_size=32, rng=seed)
    assert not history.diverged and history.steps == len(torch_losses) == 8
    assert_close(history.loss_per_step, torch_losses, "batch losses")
    for key, p in params.items():
        assert_close(model.params[key], p.detach().numpy(), key)
