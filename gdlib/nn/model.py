r"""A multilayer perceptron with a hand-written backward pass.

:class:`MLP` chains :func:`~gdlib.nn.dense_forward`, an activation and (optionally)
inverted dropout for each hidden layer, and a final dense layer whose output goes to the loss:

.. math::

    Z_l = A_{l-1} W_l + b_l, \quad A_l = \mathrm{dropout}(f(Z_l)) \quad (l < L), \qquad
    \hat y = Z_L, \qquad A_0 = X,

    J(\theta) = \mathrm{loss}(Z_L, y) + \frac{\lambda_2}{2} \sum_l \lVert W_l \rVert_F^2
               + \lambda_1 \sum_l \lVert W_l \rVert_1 .

The backward pass runs the same chain in reverse:
:math:`\delta_L = \partial\,\mathrm{loss}/\partial Z_L`,
:math:`\partial J/\partial W_l = A_{l-1}^\top \delta_l + \lambda_2 W_l + \lambda_1 \mathrm{sign}(W_l)`,
:math:`\partial J/\partial b_l = \sum_i \delta_{l,i}`,
:math:`\delta_{l-1} = (\delta_l W_l^\top \odot M_{l-1}) \odot f'(Z_{l-1})`.

Any object with ``params``, ``loss_and_grads`` and ``predict`` trains with ``gdlib.train.fit``;
this is the one the chapters use. Introduced in the gradient-descent chapter (``ch-gradient-descent``),
where its gradients are checked against finite differences.
"""

from __future__ import annotations

import copy as _copy
import numbers
from typing import Sequence

import numpy as np

from gdlib._validate import (
    _show, check_array, check_fraction, check_positive_number, check_rng,
)
from gdlib.nn.activations import get_activation
from gdlib.nn.layers import (
    dense_backward, dense_forward, dropout_backward, dropout_forward, glorot_init, he_init,
    l1_penalty, l2_penalty,
)
from gdlib.nn.losses import (
    _binary_cross_entropy, _check_binary_labels, _check_class_labels, _mse,
    _softmax_cross_entropy, _softmax_cross_entropy_inplace,
)

LOSSES = ("softmax", "mse", "binary")
INITS = ("he", "glorot", "small")
SMALL_INIT_STD = 0.01  #: the standard deviation of ``init="small"``
_LOSS_CORES = {"softmax": _softmax_cross_entropy, "binary": _binary_cross_entropy, "mse": _mse}


def _flat_views(arrays: dict) -> dict[str, np.ndarray]:
    """Copies of ``arrays`` stored one after the other in one new flat vector :math:`\\theta`:
    ``{key: theta[a:b].reshape(shape)}``, views sharing its memory (separate copies if the
    arrays do not share one dtype)."""
    arrays = {key: np.asarray(a) for key, a in arrays.items()}
    if len({a.dtype for a in arrays.values()}) != 1:
        return {key: a.copy() for key, a in arrays.items()}
    theta = np.concatenate([np.ravel(a) for a in arrays.values()])
    views, start = {}, 0
    for key, a in arrays.items():
        views[key] = theta[start:start + np.size(a)].reshape(np.shape(a))
        start += np.size(a)
    return views


def _check_sizes(sizes) -> tuple[int, ...]:
    message = f"sizes must be a sequence of at least 2 integers >= 1, got sizes={_show(sizes)}"
    try:
        sizes = tuple(sizes)
    except TypeError:
        raise TypeError(message) from None
    if len(sizes) < 2 or any(
        isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in sizes
    ):
        raise ValueError(message)
    return tuple(int(s) for s in sizes)


class MLP:
    r"""A fully connected network trained by gradient descent.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths from input to output, e.g. ``(64, 128, 10)``: 64 inputs, one hidden layer
        of 128 units, 10 outputs. Two sizes mean no hidden layer: softmax, linear or logistic
        regression.
    activation : str or (callable, callable), default "relu"
        Hidden-layer activation, a name in :data:`gdlib.nn.ACTIVATIONS` or a pair
        ``(f, fprime)`` of functions of the pre-activation (a student's own, for instance).
    rng : numpy.random.Generator or int
        Source of the initial weights (keyword-only, required: there is no global seed).
    init : {"he", "glorot", "small"} or float, default "he"
        Weight initialisation: :func:`~gdlib.nn.he_init`, :func:`~gdlib.nn.glorot_init`,
        ``"small"`` (normal with standard deviation 0.01, the scale that makes gradients vanish
        in deep sigmoid networks), or a float giving that standard deviation. Biases start at 0.
    loss : {"softmax", "mse", "binary"}, default "softmax"
        ``"softmax"``: softmax cross-entropy on ``sizes[-1] >= 2`` logits, integer labels.
        ``"binary"``: sigmoid cross-entropy on one logit (``sizes[-1] == 1``), labels 0/1.
        ``"mse"``: mean squared error on linear outputs.
    dropout : float in [0, 1), default 0.0
        Probability of dropping each hidden unit during training (inverted dropout; never
        applied to the inputs or the output).
    l1, l2 : float >= 0, default 0.0
        Strengths of the L1 and L2 penalties on the weight matrices (not the biases).

    Attributes
    ----------
    params : dict of str -> ndarray of float64
        ``W1`` (sizes[0], sizes[1]), ``b1`` (sizes[1],), ``W2``, ``b2``, ... Updated in place by
        an optimizer. They are views into one flat vector :math:`\theta` that holds them one
        after the other (``W1`` row by row, then ``b1``, ``W2``, ...), which is all
        :func:`gdlib.train.fit` needs to apply an elementwise rule once per step to all of
        :math:`\theta` (writing ``theta[...] = theta_new`` updates every array). Assigning a new
        array to ``params[k]`` still works: fit then copies the arrays into a vector of its own.
    num_layers : int
        Number of weight layers, ``len(sizes) - 1``.
    last_preactivations : list of ndarray
        The hidden layers' pre-activations :math:`Z_1, \dots, Z_{L-1}` (inputs to the activation)
        from the latest :meth:`forward`, :meth:`loss_and_grads` or :meth:`evaluate`; empty
        before the first call and for a network without hidden layer. ``np.mean(Z == 0)``
        counts ReLU kinks hit exactly. After :func:`gdlib.train.fit`, those of its last pass
        (the evaluation of the validation set, if any, else of the training set).
    last_activations : list of ndarray
        The hidden activations :math:`f(Z_l)` (before dropout) from the same call.

    Notes
    -----
    The output of :meth:`forward` has shape (n,) when ``sizes[-1] == 1`` and the loss is
    ``"binary"`` or ``"mse"``, and (n, k) otherwise; targets ``y`` match it (labels (n,) for
    ``"softmax"``).
    """

    def __init__(self, sizes: Sequence[int], activation="relu", *, rng, init="he",
                 loss: str = "softmax", dropout: float = 0.0, l1: float = 0.0, l2: float = 0.0):
        self.sizes = _check_sizes(sizes)
        if isinstance(activation, tuple) and len(activation) == 2 and all(map(callable, activation)):
            self._f, self._fprime = activation
        else:
            self._f, self._fprime = get_activation(activation)
        self.activation = activation
        if loss not in LOSSES:
            raise ValueError(f"unknown loss={loss!r}; valid losses are {', '.join(map(repr, LOSSES))}")
        if loss == "softmax" and self.sizes[-1] < 2:
            raise ValueError(
                "loss='softmax' needs at least 2 outputs (one per class), "
                f"got sizes[-1]={self.sizes[-1]}; use loss='binary' for one logit"
            )
        if loss == "binary" and self.sizes[-1] != 1:
            raise ValueError(
                f"loss='binary' needs exactly 1 output (a logit), got sizes[-1]={self.sizes[-1]}"
            )
        self.loss = loss
        self.dropout = check_fraction(dropout, "dropout")
        self.l1 = check_positive_number(l1, "l1", allow_zero=True)
        self.l2 = check_positive_number(l2, "l2", allow_zero=True)
        self.init = init
        self.num_layers = len(self.sizes) - 1
        self.params = self._initial_params(init, check_rng(rng))
        self.last_preactivations: list[np.ndarray] = []
        self.last_activations: list[np.ndarray] = []

    def _initial_params(self, init, rng: np.random.Generator) -> dict[str, np.ndarray]:
        if isinstance(init, str):
            if init not in INITS:
                valid = ", ".join(map(repr, INITS))
                raise ValueError(f"unknown init={init!r}; valid: {valid} or a float std")
            draw = {
                "he": he_init,
                "glorot": glorot_init,
                "small": lambda i, o, r: r.normal(0.0, SMALL_INIT_STD, size=(i, o)),
            }[init]
        else:
            std = check_positive_number(init, "init")
            draw = lambda i, o, r: r.normal(0.0, std, size=(i, o))  # noqa: E731
        params = {}
        for l, (fan_in, fan_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:]), start=1):
            params[f"W{l}"] = np.asarray(draw(fan_in, fan_out, rng), dtype=np.float64)
            params[f"b{l}"] = np.zeros(fan_out)
        return _flat_views(params)

    def __repr__(self) -> str:
        return (f"MLP(sizes={self.sizes}, activation={self.activation!r}, init={self.init!r}, "
                f"loss={self.loss!r}, dropout={self.dropout}, l1={self.l1}, l2={self.l2})")

    # -- forward and backward ------------------------------------------------------------

    def _check_X(self, X) -> np.ndarray:
        if (type(X) is np.ndarray and X.dtype == np.float64 and X.ndim == 2
                and X.shape[1] == self.sizes[0] and np.isfinite(X).all()):
            return X  # what fit's batches are: accepted without the general checks below
        X = check_array(X, "X", ndim=2)
        if X.shape[1] != self.sizes[0]:
            raise ValueError(
                f"X must have {self.sizes[0]} columns (sizes[0]={self.sizes[0]}), "
                f"got X of shape {X.shape}"
            )
        return X.astype(np.float64, copy=False)

    def _dropout_rng(self, rng, train: bool):
        """The Generator for the dropout masks, or None when no mask is drawn."""
        if not (train and self.dropout > 0):
            return None
        if rng is None:
            raise ValueError(
                f"rng must be a numpy.random.Generator or an int seed when dropout={self.dropout} "
                "and train=True (the dropout masks are random), got rng=None"
            )
        return check_rng(rng)

    def _forward(self, X: np.ndarray, rng):
        """Run the layers; return the output Z_L (n, k) and what the backward pass needs."""
        params, L = self.params, self.num_layers
        preacts, acts, caches, masks = [], [], [], []
        A = X
        for l in range(1, L + 1):
            Z, cache = dense_forward(A, params[f"W{l}"], params[f"b{l}"])
            caches.append(cache)
            if l == L:
                break
            A = self._f(Z)
            preacts.append(Z)
            acts.append(A)
            mask = None
            if rng is not None:
                A, mask = dropout_forward(A, self.dropout, rng)
            masks.append(mask)
        self.last_preactivations = preacts
        self.last_activations = acts
        return Z, (preacts, caches, masks)

    def _output(self, Z: np.ndarray) -> np.ndarray:
        return Z.reshape(-1) if self.sizes[-1] == 1 and self.loss != "softmax" else Z

    def forward(self, X, *, train: bool = False, rng=None) -> np.ndarray:
        """The network's output: logits (``"softmax"``, ``"binary"``) or predictions (``"mse"``).

        Parameters
        ----------
        X : array_like, shape (n, sizes[0])
        train : bool, default False
            Apply dropout (needs ``rng`` when ``dropout > 0``).
        rng : numpy.random.Generator or int, optional
            Source of the dropout masks.

        Returns
        -------
        ndarray of float64, shape (n,) or (n, sizes[-1]) (see the class notes)
        """
        X = self._check_X(X)
        rng = self._dropout_rng(rng, train)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            Z, _ = self._forward(X, rng)
        return self._output(Z)

    def _check_y(self, y, n: int) -> np.ndarray:
        """Check the targets against the loss and the number of examples; return them ready."""
        if self.loss == "softmax":
            return _check_class_labels(y, n, self.sizes[-1])
        y_arr = np.asarray(y)
        expected = (n,) if self.sizes[-1] == 1 else (n, self.sizes[-1])
        if self.sizes[-1] == 1 and y_arr.shape == (n, 1):
            y_arr = y_arr.reshape(n)
        if y_arr.shape != expected:
            raise ValueError(
                f"y must have shape {expected} to match X and the network's output "
                f"(loss={self.loss!r}), got y of shape {y_arr.shape}"
            )
        if self.loss == "binary":
            if not (np.issubdtype(y_arr.dtype, np.number) or y_arr.dtype == bool):
                raise TypeError(f"y must hold labels 0 or 1, got y of dtype {y_arr.dtype}")
            return _check_binary_labels(y_arr)
        return check_array(y_arr, "y").astype(np.float64, copy=False)

    def loss_and_grads(self, X, y, *, rng=None, train: bool = True):
        r"""The objective :math:`J` (data loss plus penalties) and its gradient for every parameter.

        Parameters
        ----------
        X : array_like, shape (n, sizes[0])
        y : array_like
            Integer labels (n,) for ``"softmax"``, 0/1 labels (n,) for ``"binary"``, targets
            shaped like the output for ``"mse"``.
        rng : numpy.random.Generator or int, optional
            Source of the dropout masks; required when ``train`` and ``dropout > 0``. An int
            seed gives the same masks on every call (what a gradient check needs).
        train : bool, default True
            Apply dropout.

        Returns
        -------
        loss : float
            Mean data loss over the n examples plus the L1 and L2 penalties. If the parameters
            have diverged (an infinite or NaN output), the loss is ``inf`` or ``nan`` and no
            warning is raised, so a training loop can stop and report the divergence.
        grads : dict of str -> ndarray
            Same keys and shapes as :attr:`params`.
        """
        X = self._check_X(X)
        y = self._check_y(y, X.shape[0])
        rng = self._dropout_rng(rng, train)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            Z, (preacts, caches, masks) = self._forward(X, rng)
            if self.loss == "softmax":  # Z is needed no more: it becomes the gradient
                loss, dZ = _softmax_cross_entropy_inplace(Z, y)
            else:
                loss, dZ = _LOSS_CORES[self.loss](self._output(Z), y)
                dZ = dZ.reshape(Z.shape)
            grads = {}
            for l in range(self.num_layers, 0, -1):
                dA, grads[f"W{l}"], grads[f"b{l}"] = dense_backward(dZ, caches[l - 1], input_grad=l > 1)
                if l > 1:
                    dZ = dropout_backward(dA, masks[l - 2])
                    dZ *= self._fprime(preacts[l - 2])  # dZ is a fresh array: safe in place
            loss = self._add_penalties(loss, grads)
        return loss, {key: grads[key] for key in self.params}

    def _add_penalties(self, loss: float, grads: dict | None) -> float:
        """``loss`` plus the L2 and L1 penalties; their gradients are added to ``grads`` if given."""
        for lam, penalty in ((self.l2, l2_penalty), (self.l1, l1_penalty)):
            if lam > 0:
                value, penalty_grads = penalty(self.params, lam)
                loss += value
                if grads is not None:
                    for key, g in penalty_grads.items():
                        grads[key] += g
        return loss

    # -- evaluation ----------------------------------------------------------------------

    def evaluate(self, X, y) -> tuple[float, float]:
        r"""The objective without dropout and the score, from one forward pass.

        Returns ``(loss_and_grads(X, y, train=False)[0], score(X, y))`` (the same numbers and
        the same errors) without a backward pass and without running the network twice; this is
        what :func:`gdlib.train.fit` records after every epoch.

        Returns
        -------
        loss : float
            :math:`J` on ``(X, y)``: mean data loss plus the penalties, no dropout.
        score : float
            Accuracy, or :math:`R^2` for ``"mse"`` (see :meth:`score`).
        """
        if not self._own_public_methods():  # a subclass's own loss or score must be used
            return float(self.loss_and_grads(X, y, rng=None, train=False)[0]), self.score(X, y)
        X = self._check_X(X)
        y_ready = self._check_y(y, X.shape[0])
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            Z, _ = self._forward(X, None)
            return self._loss_and_score(Z, y_ready, y)

    def _loss_and_score(self, Z: np.ndarray, y_ready: np.ndarray, y) -> tuple[float, float]:
        """(loss, score) from the output layer ``Z``, which may be overwritten; ``y_ready`` as
        :meth:`_check_y` returns it, ``y`` as given to :meth:`score`."""
        out = self._output(Z)
        score = self._score_predictions(self._prediction(out), y)
        if self.loss == "softmax":
            loss = _softmax_cross_entropy_inplace(out, y_ready)[0]
        else:
            loss = _LOSS_CORES[self.loss](out, y_ready)[0]
        return self._add_penalties(loss, None), score

    def _prediction(self, out: np.ndarray) -> np.ndarray:
        if self.loss == "softmax":
            return out.argmax(axis=1)
        if self.loss == "binary":
            return (out > 0).astype(np.intp)
        return out

    def predict(self, X) -> np.ndarray:
        """Class labels (int) for ``"softmax"`` and ``"binary"``, predicted values for ``"mse"``.

        A logit of exactly 0 (probability 1/2) is predicted as class 0.
        """
        return self._prediction(self.forward(X))

    def score(self, X, y) -> float:
        r"""Accuracy for classification; the coefficient of determination :math:`R^2` for ``"mse"``.

        .. math::

            R^2 = 1 - \frac{\sum_i (y_i - \hat y_i)^2}{\sum_i (y_i - \bar y)^2},

        1 for a perfect fit, 0 for predicting the mean, negative when worse (as
        ``sklearn.metrics.r2_score``; several outputs are averaged uniformly, and an output whose
        targets are constant scores 1 if predicted exactly, else 0).
        """
        return self._score_predictions(self.predict(X), y)

    def _score_predictions(self, pred: np.ndarray, y) -> float:
        """:meth:`score` given the predictions."""
        y_arr = np.asarray(y)
        if self.loss != "mse":
            if y_arr.shape != pred.shape:
                raise ValueError(f"y must have shape {pred.shape}, got y of shape {y_arr.shape}")
            return float(np.mean(pred == y_arr))
        if pred.ndim == 1 and y_arr.shape == (pred.shape[0], 1):
            y_arr = y_arr.reshape(-1)
        y_arr = check_array(y_arr, "y")
        if y_arr.shape != pred.shape:
            raise ValueError(f"y must have shape {pred.shape}, got y of shape {y_arr.shape}")
        ss_res = np.sum((y_arr - pred) ** 2, axis=0)
        ss_tot = np.sum((y_arr - y_arr.mean(axis=0)) ** 2, axis=0)
        safe = ss_tot > 0
        r2 = np.where(safe, 1.0 - ss_res / np.where(safe, ss_tot, 1.0), np.where(ss_res == 0, 1.0, 0.0))
        return float(np.mean(r2))

    _PUBLIC_METHODS = ("forward", "loss_and_grads", "predict", "score", "evaluate")

    def _own_public_methods(self) -> bool:
        """Whether no subclass or instance attribute replaces a public method, so that
        :meth:`evaluate` computes what ``loss_and_grads`` and ``score`` would."""
        cls = type(self)
        return not any(name in vars(self) or getattr(cls, name) is not getattr(MLP, name)
                       for name in self._PUBLIC_METHODS)

    # -- bookkeeping ---------------------------------------------------------------------

    def copy(self) -> MLP:
        """A new MLP with the same settings and a deep copy of :attr:`params` (no shared arrays)."""
        new = _copy.copy(self)
        new.params = _flat_views(self.params)
        new.last_preactivations = []
        new.last_activations = []
        return new

    def layer_names(self) -> list[str]:
        """``["layer 1", ..., "layer L"]``; layer l holds ``W<l>`` and ``b<l>`` (see :meth:`layer_keys`)."""
        return [f"layer {l}" for l in range(1, self.num_layers + 1)]

    def layer_keys(self) -> dict[str, tuple[str, str]]:
        """``{"layer 1": ("W1", "b1"), ...}``: which parameters make up each layer."""
        return {f"layer {l}": (f"W{l}", f"b{l}") for l in range(1, self.num_layers + 1)}
