"""Checks for the *variants* assignment: ``iterate_minibatches`` and ``train`` (logistic
regression by batch, stochastic and mini-batch gradient descent).

``iterate_minibatches`` is first checked for what CONVENTIONS.md asks of an epoch (every example
exactly once, rows of X and y kept together, batches of ``batch_size`` with a smaller last one,
a fresh order on every call, the same order for the same seed) and then against
:func:`gdlib.train.iterate_minibatches`, which draws the order with ``rng.permutation(n)``. To
see the order, column 0 of the test data holds each example's index and ``y`` its index + 1000.
"""

from __future__ import annotations

import numpy as np

from gdcheck._engine import Case, Failure, Outputs, Spec, as_array, is_pair, public_check, verify
from gdcheck.catalogue import EPOCH, LABELS, NEXT_EPOCH, SAME_SEED, SIZES, _logistic_gradient
from gdlib import optim
from gdlib.train import iterate_minibatches as _reference_minibatches

_LABEL_OFFSET = 1000


# -- iterate_minibatches ------------------------------------------------------------------------

def _epoch(batches, n: int, d: int, full: bool):
    """(example ids, label ids, batch sizes) of one epoch; a full batch is put in id order."""
    ids, labels, sizes = [], [], []
    try:
        iterator = iter(batches)
    except TypeError:
        raise Failure("iterate_minibatches must return (or yield) the batches (X_batch, y_batch), "
                      f"got {type(batches).__name__}") from None
    for batch in iterator:
        if len(sizes) > n:
            raise Failure(f"iterate_minibatches gave more than {n} batches for {n} examples")
        if not is_pair(batch):
            raise Failure(f"each batch must be a pair (X_batch, y_batch), got {type(batch).__name__}")
        X_b, y_b = as_array(batch[0], "X_batch"), as_array(batch[1], "y_batch")
        if X_b.ndim != 2 or X_b.shape[1] != d or y_b.shape != (len(X_b),):
            raise Failure(f"each batch must be X_batch of shape (b, {d}) and y_batch of shape (b,), "
                          f"got shapes {X_b.shape} and {y_b.shape}")
        ids.append(np.rint(X_b[:, 0]).astype(int))
        labels.append(np.rint(y_b).astype(int) - _LABEL_OFFSET)
        sizes.append(len(X_b))
    ids = np.concatenate(ids) if ids else np.zeros(0, int)
    labels = np.concatenate(labels) if labels else np.zeros(0, int)
    if full:
        order = np.argsort(ids, kind="stable")
        ids, labels = ids[order], labels[order]
    return ids, labels, np.array(sizes, dtype=int)


def _run_minibatches(impl, inputs):
    X, y, b, seed = inputs["X"], inputs["y"], inputs["batch_size"], inputs["seed"]
    n, d = X.shape
    full = b is None or b >= n
    rng = np.random.default_rng(seed)
    first, labels, sizes = _epoch(impl(X, y, b, rng), n, d, full)
    second = _epoch(impl(X, y, b, rng), n, d, full)[0]
    again = _epoch(impl(X, y, b, np.random.default_rng(seed)), n, d, full)[0]
    return Outputs({EPOCH: first, LABELS: labels, SIZES: sizes, NEXT_EPOCH: second, SAME_SEED: again})


def _validate_minibatches(out: Outputs) -> str | None:
    n, b = len(out.inputs["y"]), out.inputs["batch_size"]
    b = n if b is None else min(b, n)
    for key in (EPOCH, NEXT_EPOCH, SAME_SEED):
        ids = out[key]
        if len(ids) != n or not np.array_equal(np.sort(ids), np.arange(n)):
            repeated = len(ids) - len(np.unique(ids))
            missing = n - len(np.intersect1d(ids, np.arange(n)))
            return (f"{key}: an epoch must hold each of the {n} examples exactly once, got "
                    f"{len(ids)} examples ({repeated} repeated, {missing} missing)")
    if not np.array_equal(out[EPOCH], out[LABELS]):
        return ("the rows of X_batch and y_batch do not belong together: X_batch[i] and "
                "y_batch[i] must come from the same example")
    expected = [b] * (n // b) + ([n % b] if n % b else [])
    if out[SIZES].tolist() != expected:
        return f"{SIZES} are {out[SIZES].tolist()}, expected {expected}"
    # A fresh permutation repeats the last one with probability 1/n! (1 in 24 for n = 4), so a
    # repeat is called a mistake here only from n = 10 (2.8e-7); below, the comparison with the
    # reference's second epoch decides.
    if b < n and n >= 10 and np.array_equal(out[EPOCH], out[NEXT_EPOCH]):
        return "a second call with the same rng gave the same order: draw a fresh order on every call"
    if not np.array_equal(out[EPOCH], out[SAME_SEED]):
        return "the same seed gave different batches: take all randomness from rng"
    return None


def _minibatch_case(seed: int, n: int, d: int, batch_size) -> Case:
    def make():
        rng = np.random.default_rng([seed, n, d])
        X = rng.normal(size=(n, d))
        X[:, 0] = np.arange(n)
        return {"X": X, "y": np.arange(n) + _LABEL_OFFSET, "batch_size": batch_size,
                "seed": seed}

    return Case(f"X of shape ({n}, {d}), batch_size={batch_size}", make)


_MINIBATCHES = Spec(
    "iterate_minibatches", _reference_minibatches, _run_minibatches,
    forbidden=("gdlib.train",),
    validate=_validate_minibatches,
    hint=("Your epochs are valid but not in the reference's order: draw order = "
          "rng.permutation(n) once per call, then cut consecutive slices of X[order], y[order]."),
)


@public_check
def check_iterate_minibatches(iterate_minibatches, *, seeds=(0, 1), shapes=((10, 3), (7, 2))):
    """Check ``iterate_minibatches(X, y, batch_size, rng)``, the batches of one epoch.

    For every seed, with ``(n, d) = shapes[i % len(shapes)]``, tries ``batch_size`` None, n, 1
    and one that does not divide n; each is called twice with the same ``rng`` (two epochs) and
    once with a fresh ``rng`` of the same seed. ``X`` and ``y`` must not be modified.
    """
    cases = []
    for i, seed in enumerate(seeds):
        n, d = shapes[i % len(shapes)]
        b = next(k for k in range(max(2, n // 3), n) if n % k) if n > 3 else 2
        cases += [_minibatch_case(seed, n, d, size) for size in (None, n, 1, b) if size is None or size <= n]
    return verify(_MINIBATCHES, iterate_minibatches, cases)


# -- train --------------------------------------------------------------------------------------

def _reference_train(X, y, *, batch_size, lr, num_epochs, rng):
    w, b = np.zeros(X.shape[1]), np.zeros(1)
    sgd = optim.sgd_init(w)
    for _ in range(num_epochs):
        for X_b, y_b in _reference_minibatches(X, y, batch_size, rng):
            dw, db = _logistic_gradient(w, float(b[0]), X_b, y_b)
            w, _ = optim.sgd_step(w, dw, sgd, lr=lr)
            b, _ = optim.sgd_step(b, np.array([db]), sgd, lr=lr)
    return w, float(b[0])


def _run_train(impl, inputs):
    result = impl(inputs["X"], inputs["y"], batch_size=inputs["batch_size"], lr=inputs["lr"],
                  num_epochs=inputs["num_epochs"], rng=np.random.default_rng(inputs["seed"]))
    if not is_pair(result):
        raise Failure(f"train must return a pair (w, b), got {type(result).__name__}")
    return Outputs({"w": as_array(result[0], "w"), "b": as_array(result[1], "b")})


def _train_case(seed: int, n: int, d: int, batch_size) -> Case:
    num_epochs = 3

    def make():
        rng = np.random.default_rng([seed, n, d, 7])
        X = rng.normal(size=(n, d))
        y = (X @ rng.normal(size=d) + 0.5 * rng.normal(size=n) > 0).astype(float)
        return {"X": X, "y": y, "batch_size": batch_size, "lr": float(rng.uniform(0.2, 1.0)),
                "num_epochs": num_epochs, "seed": seed}

    return Case(f"X of shape ({n}, {d}), batch_size={batch_size}, {num_epochs} epochs", make)


# train may use gdlib's activations (a sigmoid is not the answer); the model and the losses are.
_TRAIN = Spec("train", _reference_train, _run_train,
              forbidden=("gdlib.train", "gdlib.optim", "gdlib.nn.model", "gdlib.nn.losses"),
              hint="Check the gradient of the mean loss over the batch, and one update per batch.",
              helpers=(("iterate_minibatches", _reference_minibatches),))


@public_check
def check_train(train, *, seeds=(0,), shapes=((23, 3), (17, 2))):
    """Check ``train(X, y, *, batch_size, lr, num_epochs, rng) -> (w, b)``: logistic regression
    from ``w = 0, b = 0``, one step per batch of ``iterate_minibatches`` with the mean gradient of
    the batch's binary cross-entropy.

    For every seed, with ``(n, d) = shapes[i % len(shapes)]``, tries ``batch_size`` None (batch
    gradient descent), n (the same), 1 (stochastic) and 5 (mini-batch). ``X`` and ``y`` must not
    be modified. While it runs, the name ``iterate_minibatches`` is gdlib's reference, so a bug
    in your ``iterate_minibatches`` is charged to that function's test only.
    """
    cases = []
    for i, seed in enumerate(seeds):
        n, d = shapes[i % len(shapes)]
        cases += [_train_case(seed, n, d, size) for size in (None, n, 1, min(5, n))]
    return verify(_TRAIN, train, cases)
