"""The classic mistakes, so that a failing check can say which one a student made.

Each :class:`Mistake` belongs to one exercise function and carries a ``title`` ("Adam without
bias correction"), an ``explanation`` with the fix, and either

- an ``implementation``: the wrong code itself, with the student's signature; the check runs it
  on the same inputs, and if its outputs equal the student's on every case, that is the
  diagnosis; or
- a ``detect`` predicate over the student's and the reference's outputs, for mistakes that show
  up as a property rather than as one exact output (an example drawn twice in an epoch).

Only genuinely different rules are listed, with one matter of convention: ``v = beta*v + lr*g``
with ``x - v`` takes the same path as our momentum for a constant ``lr``, but its state is ``lr``
times the velocity of CONVENTIONS.md (which keeps ``lr`` out of the state, as PyTorch does), so
the check rejects it and names it ("mo-lr-in-velocity"). The wrong variants are built from numpy
or from gdlib's public pieces; gdlib itself is the reference and is public.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from gdlib.nn import layers, losses, relu
from gdlib.optim import AdagradState, AdamState, MomentumState, NesterovState, RMSpropState
from gdlib.train import iterate_minibatches as _reference_minibatches


@dataclass(frozen=True)
class Mistake:
    """A known wrong way to write ``function``."""

    key: str
    function: str
    title: str
    explanation: str
    implementation: Callable | None = None
    detect: Callable | None = None


MISTAKES: dict[str, Mistake] = {}


def mistakes_for(function: str) -> list[Mistake]:
    """The catalogue's mistakes for ``function``, most specific first."""
    return [m for m in MISTAKES.values() if m.function == function]


def _register(function: str, key: str, title: str, explanation: str, *, detect=None):
    def add(implementation):
        MISTAKES[key] = Mistake(key, function, title, " ".join(explanation.split()),
                                implementation if detect is None else None, detect)
        return implementation
    return add


def _detector(function, key, title, explanation):
    """Register a property-style mistake: the decorated function is its ``detect``."""
    def add(detect):
        _register(function, key, title, explanation, detect=detect)(None)
        return detect
    return add


# -- gradient-descent: gradient_descent, numerical_gradient, two_layer_backward -----------------

@_register("gradient_descent", "gd-ascent", "gradient ascent (a plus sign in the update)", """
    A descent step goes against the gradient: x_{k+1} = x_k - lr * grad(x_k). With a plus sign
    the iterates climb the function.""")
def _gd_ascent(grad, x0, *, lr, num_steps):
    path = [np.array(x0, dtype=float)]
    for _ in range(num_steps):
        path.append(path[-1] + lr * grad(path[-1]))
    return np.array(path)


@_register("gradient_descent", "gd-no-start", "a path without the starting point", """
    path[0] must be (a copy of) x0, followed by the num_steps iterates: num_steps + 1 rows.""")
def _gd_no_start(grad, x0, *, lr, num_steps):
    x, path = np.array(x0, dtype=float), []
    for _ in range(num_steps):
        x = x - lr * grad(x)
        path.append(x)
    return np.array(path)


@_register("gradient_descent", "gd-aliasing", "every row of the path being the same array", """
    x -= lr * g changes the array that is already stored in the path, so every row ends up equal
    to the last iterate. Store a copy (path.append(x.copy())) or write x = x - lr * g, which makes
    a new array.""")
def _gd_aliasing(grad, x0, *, lr, num_steps):
    x = np.array(x0, dtype=float)
    path = [x]
    for _ in range(num_steps):
        x -= lr * grad(x)
        path.append(x)
    return np.array(path)


@_register("gradient_descent", "gd-stale-gradient",
           "the gradient computed once at x0 and reused at every step", """
    The gradient changes as x moves: evaluate it at the current iterate inside the loop,
    x_{k+1} = x_k - lr * grad(x_k). A gradient computed once before the loop moves x along a
    straight line, x0 - k * lr * grad(x0).""")
def _gd_stale_gradient(grad, x0, *, lr, num_steps):
    x = np.array(x0, dtype=float)
    g, path = grad(x), [x]
    for _ in range(num_steps):
        path.append(path[-1] - lr * g)
    return np.array(path)


def _unit(x, i):
    e = np.zeros_like(x)
    e[i] = 1.0
    return e


@_register("numerical_gradient", "ng-forward", "a forward difference (f(x + h e_i) - f(x)) / h", """
    It is only first-order accurate (error O(h)). Use the centred difference
    (f(x + h e_i) - f(x - h e_i)) / (2 h), whose error is O(h^2).""")
def _ng_forward(f, x, h=1e-5):
    return np.array([(f(x + h * _unit(x, i)) - f(x)) / h for i in np.ndindex(x.shape)]).reshape(x.shape)


@_register("numerical_gradient", "ng-backward", "a backward difference (f(x) - f(x - h e_i)) / h", """
    Like the forward difference it is only first-order accurate (error O(h)). Use the centred
    difference (f(x + h e_i) - f(x - h e_i)) / (2 h), whose error is O(h^2).""")
def _ng_backward(f, x, h=1e-5):
    return np.array([(f(x) - f(x - h * _unit(x, i))) / h for i in np.ndindex(x.shape)]).reshape(x.shape)


@_register("numerical_gradient", "ng-missing-2", "the centred difference divided by h instead of 2h", """
    The points x + h e_i and x - h e_i are 2h apart: divide by 2 * h. Dividing by h doubles every
    entry.""")
def _ng_missing_2(f, x, h=1e-5):
    return np.array([(f(x + h * _unit(x, i)) - f(x - h * _unit(x, i))) / h
                     for i in np.ndindex(x.shape)]).reshape(x.shape)


@_register("numerical_gradient", "ng-all-at-once", "every coordinate perturbed at once", """
    f(x + h) shifts all entries together and gives the slope along (1, ..., 1), the same number
    in every entry. Perturb one coordinate at a time: x + h e_i, where e_i is 1 at index i and 0
    elsewhere.""")
def _ng_all_at_once(f, x, h=1e-5):
    return np.full(x.shape, (f(x + h) - f(x - h)) / (2 * h))


@_register("numerical_gradient", "ng-not-restored", "x not restored after it is perturbed", """
    If you perturb x in place, put the original entry back (x[i] = old) after evaluating
    f(x + h e_i) and f(x - h e_i); otherwise later entries are computed at the wrong point and
    the caller's x is changed. Or work on a copy of x.""")
def _ng_not_restored(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        x[i] += h
        f_plus = f(x)
        x[i] -= 2 * h
        grad[i] = (f_plus - f(x)) / (2 * h)
    return grad


def _two_layer(X, y, params, *, relu_grad, scale=1.0):
    """Forward and backward of the two-layer network from gdlib's layers, with a given relu'."""
    z1, cache1 = layers.dense_forward(X, params["W1"], params["b1"])
    a1 = relu(z1)
    scores, cache2 = layers.dense_forward(a1, params["W2"], params["b2"])
    loss, dscores = losses.softmax_cross_entropy(scores, y)
    da1, dW2, db2 = layers.dense_backward(dscores * scale, cache2)
    _, dW1, db1 = layers.dense_backward(da1 * relu_grad(z1, a1), cache1, input_grad=False)
    return loss * scale, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


@_register("two_layer_backward", "tl-relu-at-zero", "the ReLU gradient taken as 1 at z = 0", """
    This course uses relu'(0) = 0 (like PyTorch): mask with (z1 > 0), not (z1 >= 0). A unit whose
    pre-activation is exactly 0 passes no gradient back.""")
def _tl_relu_at_zero(X, y, params):
    return _two_layer(X, y, params, relu_grad=lambda z, a: (z >= 0).astype(float))


@_register("two_layer_backward", "tl-no-relu-mask",
           "the ReLU gradient left out (gradient flowing through units with z1 <= 0)", """
    Backpropagating through a1 = max(z1, 0) multiplies by relu'(z1): dz1 = da1 * (z1 > 0).
    Without the mask, inactive units receive gradient too.""")
def _tl_no_relu_mask(X, y, params):
    return _two_layer(X, y, params, relu_grad=lambda z, a: np.ones_like(z))


@_register("two_layer_backward", "tl-mask-by-activation",
           "the ReLU gradient replaced by the activation value (da1 * a1)", """
    relu'(z) is 1 where z > 0 and 0 elsewhere, not max(z, 0): dz1 = da1 * (z1 > 0).""")
def _tl_mask_by_activation(X, y, params):
    return _two_layer(X, y, params, relu_grad=lambda z, a: a)


@_register("two_layer_backward", "tl-sum-not-mean",
           "the loss and gradients summed over the examples instead of averaged", """
    The loss is the mean over the n examples, so dscores = (softmax - onehot) / n; without the
    1/n every gradient (and the loss) comes out n times too big.""")
def _tl_sum_not_mean(X, y, params):
    return _two_layer(X, y, params, relu_grad=lambda z, a: (z > 0).astype(float), scale=len(X))


@_register("two_layer_backward", "tl-grads-not-averaged",
           "the gradients summed over the examples while the loss is averaged", """
    Your loss is right, the mean over the n examples, so its gradients are means too: the 1/n
    goes into the backward pass as well, dscores = (softmax - onehot) / n, and every gradient
    computed from dscores carries it. Without it every gradient comes out n times too big.""")
def _tl_grads_not_averaged(X, y, params):
    loss, grads = _two_layer(X, y, params, relu_grad=lambda z, a: (z > 0).astype(float), scale=len(X))
    return loss / len(X), grads


@_detector("two_layer_backward", "tl-naive-softmax",
           "a softmax computed without subtracting the row maximum", """
    np.exp overflows for logits above about 709, and the loss and gradients become inf or NaN.
    Subtract each row's maximum from the scores before np.exp: the softmax does not change and
    every exponent is at most 0.""")
def _tl_naive_softmax(yours, references):
    """Not finite exactly on the cases with huge logits (b2 > 700), finite everywhere else."""
    def finite(outputs):
        return all(np.all(np.isfinite(np.asarray(v, dtype=float))) for v in outputs.values())
    large = [np.min(mine.inputs["params"]["b2"]) > 700 for mine in yours]
    return any(large) and all(finite(mine) != big for mine, big in zip(yours, large))


# -- variants: iterate_minibatches, train -------------------------------------------------------
# The check's outputs for iterate_minibatches (example ids decoded from X[:, 0] and from y).
EPOCH = "examples in epoch 1"
LABELS = "labels in epoch 1"
SIZES = "batch sizes in epoch 1"
NEXT_EPOCH = "examples in epoch 2"
SAME_SEED = "examples in epoch 1 again, same seed"


def _shuffled_cases(yours):
    """(outputs, n, batch_size) of the cases where a shuffle is expected (batch_size < n)."""
    for mine in yours:
        n, b = len(mine.inputs["y"]), mine.inputs["batch_size"]
        if b is not None and b < n:
            yield mine, n, b


def _has_duplicates(ids) -> bool:
    return len(np.unique(ids)) < len(ids)


@_detector("iterate_minibatches", "mb-in-place", "the data shuffled in place", """
    rng.shuffle(X) or X[:] = X[order] reorders the caller's arrays. Index into new arrays
    instead: X[order], y[order].""")
def _mb_in_place(yours, references):
    return any(name in ("X", "y") for mine in yours for name in mine.mutated)


@_detector("iterate_minibatches", "mb-with-replacement", "sampling with replacement", """
    rng.integers(0, n, size) or rng.choice(n, size) can draw an example twice and skip another.
    An epoch visits every example exactly once: order = rng.permutation(n), then consecutive
    slices of it.""")
def _mb_with_replacement(yours, references):
    return any(_has_duplicates(mine[key]) for mine in yours for key in (EPOCH, NEXT_EPOCH))


@_detector("iterate_minibatches", "mb-drops-last", "the last, smaller batch dropped", """
    When batch_size does not divide n, the last batch holds the n % batch_size leftover
    examples: loop over range(0, n, batch_size) and slice [start:start + batch_size].""")
def _mb_drops_last(yours, references):
    return any(n % b and len(mine[EPOCH]) == n - n % b and not _has_duplicates(mine[EPOCH])
               for mine, n, b in _shuffled_cases(yours))


@_detector("iterate_minibatches", "mb-unpaired", "X and y shuffled with different orders", """
    Shuffling X and y separately (two calls to rng.shuffle or rng.permutation) breaks the pairs
    (x_i, y_i). Draw one permutation and index both X and y with it.""")
def _mb_unpaired(yours, references):
    return any(np.array_equal(np.sort(mine[EPOCH]), np.sort(mine[LABELS]))
               and not np.array_equal(mine[EPOCH], mine[LABELS]) for mine in yours)


@_detector("iterate_minibatches", "mb-no-shuffle", "no shuffling (batches in the data's order)", """
    Draw a fresh order on every call: order = rng.permutation(n); X, y = X[order], y[order];
    then cut consecutive batches.""")
def _mb_no_shuffle(yours, references):
    return any(np.array_equal(mine[EPOCH], np.arange(n)) and np.array_equal(mine[NEXT_EPOCH], np.arange(n))
               for mine, n, _ in _shuffled_cases(yours))


@_detector("iterate_minibatches", "mb-global-rng", "randomness not taken from rng (np.random.* instead)", """
    Use the Generator you are given: rng.permutation(n). The global np.random functions ignore
    it, so the same seed does not give the same batches.""")
def _mb_global_rng(yours, references):
    return any(len(mine[EPOCH]) == len(mine[SAME_SEED]) and not np.array_equal(mine[EPOCH], mine[SAME_SEED])
               for mine, _, _ in _shuffled_cases(yours))


@_detector("iterate_minibatches", "mb-same-order",
           "the same order in every epoch (no reshuffle between epochs)", """
    Each call must draw a new permutation from the rng it is given. A Generator created inside
    the function (np.random.default_rng(0)), or an order computed once and reused, gives the same
    batches every epoch.""")
def _mb_same_order(yours, references):
    # only where the reference's two epochs differ: a correct order may repeat by chance (and a
    # full batch is compared in id order, the same in every epoch)
    return any(np.array_equal(mine[EPOCH], mine[NEXT_EPOCH])
               and not np.array_equal(ref[EPOCH], ref[NEXT_EPOCH])
               for mine, ref in zip(yours, references))


def _logistic_gradient(w, b, X, y):
    """Gradient of the mean binary cross-entropy of sigmoid(X w + b), from gdlib.nn.losses."""
    _, dz = losses.binary_cross_entropy(X @ w + b, y)
    return X.T @ dz, float(dz.sum())


@_register("train", "tr-summed-gradient", "the mini-batch gradient summed instead of averaged", """
    The gradient of a batch is the mean over its examples: dw = X_b.T @ (p - y_b) / len(y_b).
    The sum makes the step grow with the batch size.""")
def _tr_summed_gradient(X, y, *, batch_size, lr, num_epochs, rng):
    w = np.zeros(X.shape[1])
    b = 0.0
    for _ in range(num_epochs):
        for X_b, y_b in _reference_minibatches(X, y, batch_size, rng):
            dw, db = _logistic_gradient(w, b, X_b, y_b)
            w, b = w - lr * len(y_b) * dw, b - lr * len(y_b) * db
    return w, b


@_register("train", "tr-batches-once",
           "the batches drawn once and reused every epoch (no reshuffle between epochs)", """
    Call iterate_minibatches(X, y, batch_size, rng) inside the epoch loop, so that every epoch
    gets a fresh order.""")
def _tr_batches_once(X, y, *, batch_size, lr, num_epochs, rng):
    w = np.zeros(X.shape[1])
    b = 0.0
    batches = list(_reference_minibatches(X, y, batch_size, rng))
    for _ in range(num_epochs):
        for X_b, y_b in batches:
            dw, db = _logistic_gradient(w, b, X_b, y_b)
            w, b = w - lr * dw, b - lr * db
    return w, b


@_register("train", "tr-full-gradient", "the gradient computed on the whole data set at every step", """
    Inside the batch loop use the batch (X_b, y_b), not (X, y); otherwise every step is a
    full-batch step and batch_size only changes how many steps you take.""")
def _tr_full_gradient(X, y, *, batch_size, lr, num_epochs, rng):
    w = np.zeros(X.shape[1])
    b = 0.0
    for _ in range(num_epochs):
        for _batch in _reference_minibatches(X, y, batch_size, rng):
            dw, db = _logistic_gradient(w, b, X, y)
            w, b = w - lr * dw, b - lr * db
    return w, b


# -- learning-rate: stability_threshold and the schedules ---------------------------------------

@_register("stability_threshold", "st-one-over", "1 / lambda_max instead of 2 / lambda_max", """
    On f = 1/2 x^T A x a step multiplies the component along an eigenvector by 1 - lr * lambda;
    it stays bounded while |1 - lr * lambda| < 1, that is up to lr = 2 / lambda_max.
    (1 / lambda_max is the step that zeroes that component at once.)""")
def _st_one_over(A):
    return 1.0 / np.linalg.eigvalsh(A).max()


@_register("stability_threshold", "st-lambda-min", "the smallest eigenvalue used instead of the largest", """
    Every eigenvalue needs |1 - lr * lambda| < 1; the largest one is the binding constraint:
    lr < 2 / lambda_max.""")
def _st_lambda_min(A):
    return 2.0 / np.linalg.eigvalsh(A).min()


@_register("stability_threshold", "st-diagonal", "the diagonal of A used instead of its eigenvalues", """
    The diagonal entries are the curvatures along the coordinate axes only; for a rotated A the
    largest curvature lies in between. Use the eigenvalues: np.linalg.eigvalsh(A).max().""")
def _st_diagonal(A):
    return 2.0 / np.max(np.diag(A))


@_register("step_decay", "sd-off-by-one", "step decay off by one step (the first drop at t = every - 1)", """
    t counts from 0 and lr_t = lr0 * drop ** (t // every): the rate is lr0 for t = 0 .. every - 1
    and the first drop happens at t = every.""")
def _sd_off_by_one(t, *, lr0, drop, every):
    return lr0 * drop ** ((t + 1) // every)


@_register("step_decay", "sd-no-floor", "step decay without the floor (a smooth decay)", """
    Use integer division, t // every: the rate stays constant for `every` steps, then drops by
    the factor `drop`.""")
def _sd_no_floor(t, *, lr0, drop, every):
    return lr0 * drop ** (t / every)


@_detector("step_decay", "sd-round", "step decay with round(t / every) instead of the floor", """
    Rounding (round(t / every), np.round, int(t / every + 0.5)) drops the rate halfway through a
    period already. The exponent is the floor, t // every: the rate is lr0 for
    t = 0 .. every - 1 and the first drop happens at t = every.""")
def _sd_round(yours, references):
    """lr_t = lr0 * drop ** rounded(t / every) on every case, rounding half to even (round,
    np.round) or half up (int(q + 0.5))."""
    def matches(mine, rounded):
        hyper, t = mine.inputs["hyper"], np.arange(mine.inputs["num_steps"])
        expected = hyper["lr0"] * hyper["drop"] ** rounded(t / hyper["every"])
        return np.allclose(np.asarray(mine["lr_t"], dtype=float), expected, rtol=1e-6, atol=1e-9)
    return any(all(matches(mine, rounded) for mine in yours)
               for rounded in (np.round, lambda q: np.floor(q + 0.5)))


@_register("exponential_decay", "ed-off-by-one", "exponential decay off by one step", """
    The first rate is lr0 itself: lr_t = lr0 * gamma ** t with t = 0, 1, 2, ...""")
def _ed_off_by_one(t, *, lr0, gamma):
    return lr0 * gamma ** (t + 1)


@_register("cosine_schedule", "cs-off-by-one", "the cosine schedule off by one step", """
    The rate is lr0 at t = 0 and reaches lr_min exactly at t = total_steps: use
    cos(pi * min(t, total_steps) / total_steps) with t counted from 0.""")
def _cs_off_by_one(t, *, lr0, total_steps, lr_min):
    return lr_min + (lr0 - lr_min) * (1 + np.cos(np.pi * min(t + 1, total_steps) / total_steps)) / 2


@_register("cosine_schedule", "cs-no-clamp", "the cosine schedule not held at lr_min after total_steps", """
    For t > total_steps the rate stays at lr_min: use min(t, total_steps) inside the cosine.""")
def _cs_no_clamp(t, *, lr0, total_steps, lr_min):
    return lr_min + (lr0 - lr_min) * (1 + np.cos(np.pi * t / total_steps)) / 2


@_register("cosine_schedule", "cs-no-lr-min", "the cosine schedule ignoring lr_min", """
    The rate goes from lr0 down to lr_min, not to 0:
    lr_t = lr_min + (lr0 - lr_min) * (1 + cos(pi * min(t, T) / T)) / 2.""")
def _cs_no_lr_min(t, *, lr0, total_steps, lr_min):
    return lr0 * (1 + np.cos(np.pi * min(t, total_steps) / total_steps)) / 2


# -- optimizers ---------------------------------------------------------------------------------
_EPS_INSIDE = """CONVENTIONS.md (and PyTorch) put eps outside the square root: divide by
    np.sqrt({s}) + eps. Inside, np.sqrt({s} + eps) acts like a much larger eps
    (np.sqrt(1e-8) = 1e-4) and changes every step."""


@_register("momentum_step", "mo-velocity-sign", "momentum with the velocity's sign flipped", """
    The velocity accumulates gradients, v = beta * v + g, and the step is x - lr * v. (The
    textbook form v = beta * v - lr * g with x + v takes the same steps for a constant lr, but
    its v is -lr times the velocity of CONVENTIONS.md, so the check rejects it too; mixing the two
    sign conventions moves x uphill.)""")
def _mo_velocity_sign(x, g, prev, *, lr, beta=0.9):
    new_v = beta * prev.v - g
    return x - lr * new_v, MomentumState(new_v)


@_register("momentum_step", "mo-dampening", "momentum with dampening (v = beta * v + (1 - beta) * g)", """
    That average of the gradients is about (1 - beta) times smaller than this course's (and
    PyTorch's default) momentum: v = beta * v + g.""")
def _mo_dampening(x, g, prev, *, lr, beta=0.9):
    new_v = beta * prev.v + (1 - beta) * g
    return x - lr * new_v, MomentumState(new_v)


@_register("momentum_step", "mo-old-velocity", "x updated with the previous step's velocity", """
    Update the velocity first, then x with the new one: v = beta * v + g; x_new = x - lr * v.""")
def _mo_old_velocity(x, g, prev, *, lr, beta=0.9):
    return x - lr * prev.v, MomentumState(beta * prev.v + g)


@_register("momentum_step", "mo-lr-in-velocity",
           "the learning rate inside the velocity (v = beta * v + lr * g, x - v)", """
    For a constant lr this takes the same steps as the course's rule: your x is right, and the
    check rejects your state, not your steps. CONVENTIONS.md (like PyTorch) keeps lr out of the
    state, v = beta * v + g and x_new = x - lr * v, so your v is lr times the convention's, and
    a learning rate changed during a run acts differently: yours applies a new lr to the new
    gradients only, the convention to the whole accumulated velocity at once. Store
    v = beta * v + g and step x - lr * v.""")
def _mo_lr_in_velocity(x, g, prev, *, lr, beta=0.9):
    new_v = beta * prev.v + lr * g
    return x - new_v, MomentumState(new_v)


@_register("momentum_step", "mo-textbook-velocity",
           "the textbook velocity (v = beta * v - lr * g, x + v)", """
    This is the form of many textbooks and of Sutskever et al. (2013), and for a constant lr it
    takes the same steps as the course's rule: your x is right, and the check rejects your state.
    Its v is -lr times the velocity of CONVENTIONS.md (like PyTorch, the course keeps lr out of
    the state: v = beta * v + g, x_new = x - lr * v), so a learning rate changed during a run
    acts differently. Store v = beta * v + g and step x - lr * v.""")
def _mo_textbook_velocity(x, g, prev, *, lr, beta=0.9):
    new_v = beta * prev.v - lr * g
    return x + new_v, MomentumState(new_v)


@_register("nesterov_step", "ne-heavy-ball", "heavy-ball momentum instead of Nesterov's", """
    Nesterov's step looks ahead: x_new = x - lr * (g + beta * v) with the updated velocity
    v = beta * v + g, not x - lr * v. (The look-ahead with the previous velocity,
    x - lr * (g + beta * v_old), is this same heavy-ball step.)""")
def _ne_heavy_ball(x, g, prev, *, lr, beta=0.9):
    new_v = beta * prev.v + g
    return x - lr * new_v, NesterovState(new_v)


@_register("adagrad_step", "ag-eps-inside", "eps inside the square root", _EPS_INSIDE.format(s="G"))
def _ag_eps_inside(x, g, prev, *, lr, eps=1e-8):
    new_G = prev.G + g**2
    return x - lr * g / np.sqrt(new_G + eps), AdagradState(new_G)


@_register("adagrad_step", "ag-no-accumulation", "AdaGrad without accumulating (G = g**2 instead of G + g**2)", """
    AdaGrad's G is the running sum of all squared gradients, G_new = G + g * g, so the step of
    every coordinate only shrinks.""")
def _ag_no_accumulation(x, g, prev, *, lr, eps=1e-8):
    new_G = g**2
    return x - lr * g / (np.sqrt(new_G) + eps), AdagradState(new_G)


@_register("adagrad_step", "ag-no-sqrt", "AdaGrad without the square root (g / (G + eps))", """
    Divide by the square root of the accumulated squares: x_new = x - lr * g / (np.sqrt(G) + eps).
    np.sqrt(G) has the size of a gradient, so the first step is about lr in every coordinate;
    G + eps has the size of a squared gradient, and the step becomes about lr / g: huge for small
    gradients, tiny for large ones.""")
def _ag_no_sqrt(x, g, prev, *, lr, eps=1e-8):
    new_G = prev.G + g**2
    return x - lr * g / (new_G + eps), AdagradState(new_G)


@_register("rmsprop_step", "rp-sum", "RMSprop that sums the squared gradients (that is AdaGrad)", """
    RMSprop keeps a decaying average, s = rho * s + (1 - rho) * g**2, so old gradients are
    forgotten; a plain sum makes the steps shrink forever.""")
def _rp_sum(x, g, prev, *, lr, rho=0.9, eps=1e-8):
    new_s = prev.s + g**2
    return x - lr * g / (np.sqrt(new_s) + eps), RMSpropState(new_s)


@_register("rmsprop_step", "rp-eps-inside", "eps inside the square root", _EPS_INSIDE.format(s="s"))
def _rp_eps_inside(x, g, prev, *, lr, rho=0.9, eps=1e-8):
    new_s = rho * prev.s + (1 - rho) * g**2
    return x - lr * g / np.sqrt(new_s + eps), RMSpropState(new_s)


@_register("rmsprop_step", "rp-rho-swapped", "rho and 1 - rho swapped", """
    The old average keeps the weight rho: s = rho * s + (1 - rho) * g**2 (with rho = 0.9 a new
    squared gradient enters with weight 0.1).""")
def _rp_rho_swapped(x, g, prev, *, lr, rho=0.9, eps=1e-8):
    new_s = (1 - rho) * prev.s + rho * g**2
    return x - lr * g / (np.sqrt(new_s) + eps), RMSpropState(new_s)


@_register("rmsprop_step", "rp-no-sqrt", "RMSprop without the square root (g / (s + eps))", """
    s is the average of the squared gradients; RMSprop divides by its square root, the
    root-mean-square gradient: x_new = x - lr * g / (np.sqrt(s) + eps). Dividing by s + eps
    makes the step about lr / g in size instead of about lr: huge for small gradients, tiny for
    large ones.""")
def _rp_no_sqrt(x, g, prev, *, lr, rho=0.9, eps=1e-8):
    new_s = rho * prev.s + (1 - rho) * g**2
    return x - lr * g / (new_s + eps), RMSpropState(new_s)


@_register("adam_step", "ad-no-bias-correction", "Adam without bias correction", """
    m and v start at 0, so in the first steps they are biased towards 0. Divide by
    (1 - beta1**t) and (1 - beta2**t): m_hat = m / (1 - beta1**t), v_hat = v / (1 - beta2**t),
    x_new = x - lr * m_hat / (np.sqrt(v_hat) + eps).""")
def _ad_no_bias_correction(x, g, prev, *, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    new_m = beta1 * prev.m + (1 - beta1) * g
    new_v = beta2 * prev.v + (1 - beta2) * g**2
    return x - lr * new_m / (np.sqrt(new_v) + eps), AdamState(new_m, new_v, prev.t + 1)


@_register("adam_step", "ad-t-after-use", "Adam with t incremented after it is used", """
    Increment t first (t = prev.t + 1) and use the new t in the bias correction, so the first
    step has t = 1; with t = 0 the correction divides by 1 - beta1**0 = 0.""")
def _ad_t_after_use(x, g, prev, *, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    new_m = beta1 * prev.m + (1 - beta1) * g
    new_v = beta2 * prev.v + (1 - beta2) * g**2
    m_hat, v_hat = new_m / (1 - beta1**prev.t), new_v / (1 - beta2**prev.t)
    return x - lr * m_hat / (np.sqrt(v_hat) + eps), AdamState(new_m, new_v, prev.t + 1)


@_register("adam_step", "ad-eps-inside", "eps inside the square root", _EPS_INSIDE.format(s="v_hat"))
def _ad_eps_inside(x, g, prev, *, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    t = prev.t + 1
    new_m = beta1 * prev.m + (1 - beta1) * g
    new_v = beta2 * prev.v + (1 - beta2) * g**2
    m_hat, v_hat = new_m / (1 - beta1**t), new_v / (1 - beta2**t)
    return x - lr * m_hat / np.sqrt(v_hat + eps), AdamState(new_m, new_v, t)


@_register("adam_step", "ad-bias-m-only", "Adam with bias correction of m only (v left uncorrected)", """
    Both moments start at 0 and both need their correction: m_hat = m / (1 - beta1**t) and
    v_hat = v / (1 - beta2**t), then x_new = x - lr * m_hat / (np.sqrt(v_hat) + eps). With v
    uncorrected the first steps are about 1 / np.sqrt(1 - beta2**t) times too large (about 32
    times at t = 1 with beta2 = 0.999).""")
def _ad_bias_m_only(x, g, prev, *, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    t = prev.t + 1
    new_m = beta1 * prev.m + (1 - beta1) * g
    new_v = beta2 * prev.v + (1 - beta2) * g**2
    return x - lr * new_m / (1 - beta1**t) / (np.sqrt(new_v) + eps), AdamState(new_m, new_v, t)


@_register("adam_step", "ad-bias-v-only", "Adam with bias correction of v only (m left uncorrected)", """
    Both moments start at 0 and both need their correction: m_hat = m / (1 - beta1**t) and
    v_hat = v / (1 - beta2**t), then x_new = x - lr * m_hat / (np.sqrt(v_hat) + eps). With m
    uncorrected the first steps are about 1 - beta1**t times too small (0.1 at t = 1 with
    beta1 = 0.9).""")
def _ad_bias_v_only(x, g, prev, *, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    t = prev.t + 1
    new_m = beta1 * prev.m + (1 - beta1) * g
    new_v = beta2 * prev.v + (1 - beta2) * g**2
    return x - lr * new_m / (np.sqrt(new_v / (1 - beta2**t)) + eps), AdamState(new_m, new_v, t)
