"""A vanilla recurrent layer with backpropagation through time, and two small RNN models.

Introduced in the chapter *Experiments lab*, which re-measures an article's claims about
recurrent networks on a price series (:class:`RNNRegressor`) and on a token-sequence
sentiment task (:class:`RNNClassifier`, "dropout vs test accuracy").

Sequences are stored batch first: ``X`` of shape ``(n, T, d)`` holds ``n`` sequences of ``T``
steps with ``d`` features each. The forward pass loops over the ``T`` time steps (each step
depends on the previous one) but never over examples.
"""

from __future__ import annotations

import numpy as np

from gdlib.nn._classifier import LogitClassifier, _dropout_rng
from gdlib._validate import (
    check_array,
    check_fraction,
    check_positive_int,
    check_positive_number,
    check_rng,
)

__all__ = [
    "rnn_forward",
    "rnn_backward",
    "clip_by_global_norm",
    "RNNRegressor",
    "RNNClassifier",
]


def _check_rnn_args(X, h0, Wx, Wh, b):
    X = check_array(X, "X", ndim=3)
    Wx = check_array(Wx, "Wx", ndim=2)
    n, T, d = X.shape
    if T < 1:
        raise ValueError(f"X must hold at least one time step, got X of shape {X.shape}")
    if Wx.shape[0] != d:
        raise ValueError(
            f"Wx must have shape (d, H) with d = {d} features as in X of shape (n, T, d) = "
            f"{X.shape}, got Wx of shape {Wx.shape}"
        )
    H = Wx.shape[1]
    h0 = check_array(h0, "h0", ndim=2)
    Wh = check_array(Wh, "Wh", ndim=2)
    b = check_array(b, "b", ndim=1)
    if h0.shape != (n, H):
        raise ValueError(f"h0 must have shape (n, H) = {(n, H)}, got h0 of shape {h0.shape}")
    if Wh.shape != (H, H):
        raise ValueError(f"Wh must have shape (H, H) = {(H, H)}, got Wh of shape {Wh.shape}")
    if b.shape != (H,):
        raise ValueError(f"b must have shape (H,) = {(H,)}, got b of shape {b.shape}")
    return X, h0, Wx, Wh, b


def rnn_forward(X, h0, Wx, Wh, b):
    r"""Forward pass of a vanilla (Elman) recurrent layer over whole sequences.

    .. math::

        h_t = \tanh(x_t W_x + h_{t-1} W_h + b), \qquad t = 1, \dots, T,

    row-wise for the ``n`` sequences of the batch, starting from :math:`h_0`.

    Parameters
    ----------
    X : ndarray, shape (n, T, d)
        ``n`` sequences of ``T`` steps with ``d`` features.
    h0 : ndarray, shape (n, H)
        Initial hidden states (usually zeros).
    Wx : ndarray, shape (d, H)
    Wh : ndarray, shape (H, H)
    b : ndarray, shape (H,)

    Returns
    -------
    hs : ndarray, shape (n, T, H)
        The hidden states :math:`h_1, \dots, h_T`.
    cache : tuple
        What :func:`rnn_backward` needs.
    """
    return _rnn_forward(*_check_rnn_args(X, h0, Wx, Wh, b))


def _rnn_forward(X, h0, Wx, Wh, b):
    """:func:`rnn_forward` on checked arrays (NaN propagates: a diverged model says so)."""
    T = X.shape[1]
    pre_input = X @ Wx + b            # all input contributions at once, (n, T, H)
    hs = np.empty_like(pre_input)
    h = h0
    for t in range(T):
        h = np.tanh(pre_input[:, t] + h @ Wh)
        hs[:, t] = h
    return hs, (X, h0, Wx, Wh, hs)


def rnn_backward(dhs, cache):
    r"""Backpropagation through time for :func:`rnn_forward`.

    With :math:`\delta_t = \partial L/\partial h_t` collected from the output at step ``t``
    (``dhs[:, t]``) and from step :math:`t+1`, going backwards from :math:`t = T`:

    .. math::

        a_t &= \bigl(\texttt{dhs}_t + \delta^{\text{next}}_{t}\bigr) \odot (1 - h_t^2), \\
        \frac{\partial L}{\partial x_t} &= a_t W_x^\top, \qquad
        \delta^{\text{next}}_{t-1} = a_t W_h^\top, \\
        \frac{\partial L}{\partial W_x} &= \sum_t x_t^\top a_t, \quad
        \frac{\partial L}{\partial W_h} = \sum_t h_{t-1}^\top a_t, \quad
        \frac{\partial L}{\partial b} = \sum_t \mathbf 1^\top a_t,

    with :math:`\delta^{\text{next}}_T = 0`, and :math:`\partial L/\partial h_0 =
    \delta^{\text{next}}_0`. The repeated product with :math:`W_h^\top` is why gradients
    vanish or explode over long sequences (see :func:`clip_by_global_norm`).

    Parameters
    ----------
    dhs : ndarray, shape (n, T, H)
        Gradient of the loss with respect to every hidden state (zeros where the loss does not
        read a state, e.g. all but the last step for a sequence classifier).
    cache : tuple from :func:`rnn_forward`

    Returns
    -------
    dX, dh0, dWx, dWh, db
        Gradients with the shapes of ``X``, ``h0``, ``Wx``, ``Wh``, ``b``.
    """
    hs = cache[-1]
    dhs = check_array(dhs, "dhs", ndim=3)
    if dhs.shape != hs.shape:
        raise ValueError(f"dhs must have shape (n, T, H) = {hs.shape}, got dhs of shape {dhs.shape}")
    return _rnn_backward(dhs, cache)


def _rnn_backward(dhs, cache):
    """:func:`rnn_backward` on a checked ``dhs``."""
    X, h0, Wx, Wh, hs = cache
    T = X.shape[1]
    da = np.empty_like(hs)            # gradient at each step's pre-activation
    dh_next = np.zeros_like(h0)
    for t in range(T - 1, -1, -1):
        da[:, t] = (dhs[:, t] + dh_next) * (1.0 - hs[:, t] ** 2)
        dh_next = da[:, t] @ Wh.T
    h_prev = np.concatenate([h0[:, None, :], hs[:, :-1]], axis=1)
    H = Wh.shape[0]
    da_flat = da.reshape(-1, H)
    dX = da @ Wx.T
    dWx = X.reshape(-1, X.shape[2]).T @ da_flat
    dWh = h_prev.reshape(-1, H).T @ da_flat
    db = da_flat.sum(axis=0)
    return dX, dh_next, dWx, dWh, db


def clip_by_global_norm(grads: dict, max_norm: float):
    r"""Rescale a dict of gradients so that their joint Euclidean norm is at most ``max_norm``.

    .. math::

        \|g\| = \Bigl(\sum_{\text{name}} \sum_i g_{\text{name}, i}^2\Bigr)^{1/2}, \qquad
        g \leftarrow g \cdot \min\Bigl(1, \frac{\text{max\_norm}}{\|g\|}\Bigr),

    the rule of ``torch.nn.utils.clip_grad_norm_`` and ``optax.clip_by_global_norm``: the
    direction is kept, only the length is capped. The standard remedy for exploding gradients
    in recurrent networks.

    Returns
    -------
    clipped : dict
        New arrays (the input is not modified).
    norm : float
        The global norm *before* clipping.
    """
    max_norm = check_positive_number(max_norm, "max_norm")
    if not isinstance(grads, dict):
        raise TypeError(f"grads must be a dict of arrays, got grads of type {type(grads).__name__}")
    arrays = {name: check_array(g, f"grads[{name!r}]") for name, g in grads.items()}
    norm = float(np.sqrt(sum(float(np.sum(g * g)) for g in arrays.values())))
    scale = min(1.0, max_norm / norm) if norm > 0 else 1.0
    return {name: g * scale for name, g in arrays.items()}, norm


def _embedding_grad(tokens, dinputs, vocab_size: int) -> np.ndarray:
    r"""Gradient of an embedding table: :math:`dE_v = \sum_{(i,t):\, \text{token}_{it} = v}
    \partial L/\partial x_{it}` (a ``bincount`` per embedding column; faster than ``np.add.at``)."""
    flat_tokens = tokens.reshape(-1)
    flat_grads = dinputs.reshape(len(flat_tokens), -1)
    return np.stack(
        [np.bincount(flat_tokens, weights=flat_grads[:, j], minlength=vocab_size)
         for j in range(flat_grads.shape[1])],
        axis=1,
    )


def _copy_model(model):
    import copy

    new = copy.copy(model)
    new.params = {key: value.copy() for key, value in model.params.items()}
    return new


class RNNRegressor:
    r"""A recurrent network that predicts one number from a sequence (e.g. the next price).

    .. math::

        h_t = \tanh(x_t W_x + h_{t-1} W_h + b), \quad h_0 = 0, \qquad
        \hat y = h_T W_{out} + b_{out}, \qquad
        J = \frac{1}{n}\sum_{i=1}^{n} (\hat y_i - y_i)^2 .

    Introduced in the chapter *Experiments lab* (the "RNN on a price series" table): each
    example is a window of the ``T`` previous values and the target is the value that follows.
    Same interface as :class:`gdlib.nn.MLP`, so it trains with ``gdlib.train.fit``.

    Parameters
    ----------
    input_dim : int
        Features per time step ``d`` (1 for a univariate series).
    hidden : int
        Hidden-state size ``H``.
    rng : numpy.random.Generator or int
        Source of the initial weights (Glorot uniform, suited to tanh; biases 0).

    Attributes
    ----------
    params : dict of str -> ndarray
        ``Wx`` (d, H), ``Wh`` (H, H), ``b`` (H,), ``W_out`` (H, 1), ``b_out`` (1,).

    Notes
    -----
    ``X`` has shape (n, T, d); for ``input_dim == 1`` the shape (n, T) is accepted as well.
    ``y`` has shape (n,). Any ``T >= 1`` works, and it may change from call to call.
    """

    def __init__(self, input_dim: int, hidden: int, *, rng):
        from gdlib.nn.layers import glorot_init

        self.input_dim = check_positive_int(input_dim, "input_dim")
        self.hidden = check_positive_int(hidden, "hidden")
        rng = check_rng(rng)
        d, H = self.input_dim, self.hidden
        self.params = {
            "Wx": glorot_init(d, H, rng),
            "Wh": glorot_init(H, H, rng),
            "b": np.zeros(H),
            "W_out": glorot_init(H, 1, rng),
            "b_out": np.zeros(1),
        }

    def __repr__(self) -> str:
        return f"RNNRegressor(input_dim={self.input_dim}, hidden={self.hidden})"

    def _sequences(self, X) -> np.ndarray:
        X = check_array(X, "X")
        d = self.input_dim
        if X.ndim == 2 and d == 1:
            X = X[:, :, None]
        if X.ndim != 3 or X.shape[2] != d or X.shape[1] < 1:
            also = " (or (n, T) since input_dim=1)" if d == 1 else ""
            raise ValueError(
                f"X must have shape (n, T, {d}) with T >= 1 for input_dim={d}{also}, "
                f"got X of shape {X.shape}"
            )
        return X

    def _forward(self, X):
        p = self.params
        hs, cache = _rnn_forward(X, np.zeros((len(X), self.hidden)), p["Wx"], p["Wh"], p["b"])
        h_last = hs[:, -1]
        return (h_last @ p["W_out"] + p["b_out"])[:, 0], (hs, h_last, cache)

    def loss_and_grads(self, X, y, *, rng=None, train: bool = True):
        """Mean squared error and its gradient for every parameter (BPTT through all steps).

        ``rng`` and ``train`` are accepted for the common model interface and unused (there
        is no dropout). Returns ``(loss, grads)`` with ``grads`` keyed like :attr:`params`.
        """
        from gdlib.nn.losses import _mse

        X = self._sequences(X)
        y = check_array(y, "y")
        if y.shape != (len(X),):
            raise ValueError(
                f"y must have shape ({len(X)},) (one target per sequence), got y of shape {y.shape}"
            )
        p = self.params
        with np.errstate(over="ignore", invalid="ignore"):
            pred, (hs, h_last, cache) = self._forward(X)
            loss, dpred = _mse(pred, y)
            grads = {"W_out": h_last.T @ dpred[:, None], "b_out": np.array([dpred.sum()])}
            dhs = np.zeros_like(hs)
            dhs[:, -1] = dpred[:, None] @ p["W_out"].T
            _, _, grads["Wx"], grads["Wh"], grads["b"] = _rnn_backward(dhs, cache)
        return loss, {key: grads[key] for key in p}

    def predict(self, X) -> np.ndarray:
        """Predicted values, shape (n,)."""
        return self._forward(self._sequences(X))[0]

    def score(self, X, y) -> float:
        r"""Coefficient of determination :math:`R^2 = 1 - \sum_i (y_i - \hat y_i)^2 /
        \sum_i (y_i - \bar y)^2` (1 is perfect, 0 is predicting the mean), as ``MLP.score``."""
        pred = self.predict(X)
        y = check_array(y, "y")
        if y.shape != pred.shape:
            raise ValueError(f"y must have shape {pred.shape}, got y of shape {y.shape}")
        ss_res = float(np.sum((y - pred) ** 2))
        ss_tot = float(np.sum((y - y.mean()) ** 2))
        if ss_tot == 0:
            return 1.0 if ss_res == 0 else 0.0
        return 1.0 - ss_res / ss_tot

    def layer_keys(self) -> dict[str, tuple[str, ...]]:
        """``{"recurrent": ("Wx", "Wh", "b"), "output": ("W_out", "b_out")}``."""
        return {"recurrent": ("Wx", "Wh", "b"), "output": ("W_out", "b_out")}

    def layer_names(self) -> list[str]:
        return list(self.layer_keys())

    def copy(self) -> "RNNRegressor":
        """A new model with the same settings and copied parameters."""
        return _copy_model(self)


class RNNClassifier(LogitClassifier):
    r"""A recurrent sequence classifier, with optional token embedding and dropout.

    .. math::

        x_t = E_{\text{token}_t} \ \text{(embedding rows, if ``embed_dim`` is given)}, \qquad
        h_t = \tanh(x_t W_x + h_{t-1} W_h + b), \quad h_0 = 0, \\
        Z = \mathrm{dropout}(h_T)\, W_{out} + b_{out}, \qquad
        J = \frac{1}{n}\sum_{i=1}^{n} -\log \mathrm{softmax}(Z_i)_{y_i}.

    Introduced in the chapter *Experiments lab* (the "dropout vs test accuracy" table on a
    token-sequence sentiment task). The gradient of an embedding row is the sum of the
    gradients at every position where its token occurs.

    Parameters
    ----------
    input_dim : int
        With ``embed_dim``: the vocabulary size ``V`` (token ids run over ``0 .. V-1``).
        Without: the features per time step ``d`` of real-valued sequences.
    hidden : int
        Hidden-state size ``H``.
    num_classes : int >= 2
    rng : numpy.random.Generator or int
        Source of the initial weights: embeddings normal with standard deviation 1 (as
        ``torch.nn.Embedding``), the rest Glorot uniform, biases 0.
    embed_dim : int, optional
        If given, ``X`` holds integer token ids, shape (n, T), looked up in ``E``.
    dropout : float in [0, 1), default 0.0
        Inverted dropout on the last hidden state :math:`h_T` during training.

    Attributes
    ----------
    params : dict of str -> ndarray
        ``E`` (V, embed_dim) if ``embed_dim`` is given; ``Wx`` (embed_dim or d, H), ``Wh`` (H, H),
        ``b`` (H,), ``W_out`` (H, num_classes), ``b_out`` (num_classes,).

    Notes
    -----
    The class is read from the *last* hidden state, so pad variable-length token sequences on
    the left (with a padding token), not the right.
    """

    def __init__(self, input_dim: int, hidden: int, num_classes: int, *, rng, embed_dim=None,
                 dropout: float = 0.0):
        from gdlib.nn.layers import glorot_init

        self.input_dim = check_positive_int(input_dim, "input_dim")
        self.hidden = check_positive_int(hidden, "hidden")
        self.num_classes = check_positive_int(num_classes, "num_classes")
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got num_classes={num_classes!r}")
        self.embed_dim = None if embed_dim is None else check_positive_int(embed_dim, "embed_dim")
        self.dropout = check_fraction(dropout, "dropout")
        rng = check_rng(rng)
        H, K = self.hidden, self.num_classes
        self.params = {}
        if self.embed_dim is not None:
            self.params["E"] = rng.normal(0.0, 1.0, size=(self.input_dim, self.embed_dim))
        step_dim = self.input_dim if self.embed_dim is None else self.embed_dim
        self.params.update({
            "Wx": glorot_init(step_dim, H, rng),
            "Wh": glorot_init(H, H, rng),
            "b": np.zeros(H),
            "W_out": glorot_init(H, K, rng),
            "b_out": np.zeros(K),
        })

    def __repr__(self) -> str:
        return (f"RNNClassifier(input_dim={self.input_dim}, hidden={self.hidden}, "
                f"num_classes={self.num_classes}, embed_dim={self.embed_dim}, dropout={self.dropout})")

    def _inputs(self, X):
        """The step inputs (n, T, d) and, for token input, the token ids (n, T)."""
        if self.embed_dim is None:
            X = check_array(X, "X")
            d = self.input_dim
            if X.ndim != 3 or X.shape[2] != d or X.shape[1] < 1:
                raise ValueError(
                    f"X must have shape (n, T, {d}) with T >= 1 for input_dim={d}, got X of shape {X.shape}"
                )
            return X, None
        tokens = np.asarray(X)
        if tokens.ndim != 2 or tokens.shape[1] < 1:
            raise ValueError(
                f"X must be token ids of shape (n, T) with T >= 1 (embed_dim={self.embed_dim}), "
                f"got X of shape {tokens.shape}"
            )
        if not np.issubdtype(tokens.dtype, np.integer):
            raise TypeError(f"X must hold integer token ids, got X of dtype {tokens.dtype}")
        bad = (tokens < 0) | (tokens >= self.input_dim)
        if np.any(bad):
            raise ValueError(
                f"X must hold token ids in 0..{self.input_dim - 1} (input_dim={self.input_dim}), "
                f"got X containing {int(tokens[bad][0])}"
            )
        return self.params["E"][tokens], tokens

    def _forward(self, inputs, rng):
        """Logits from checked step inputs (n, T, d); ``rng`` None: no dropout."""
        from gdlib.nn.layers import dropout_forward

        p = self.params
        hs, cache = _rnn_forward(inputs, np.zeros((len(inputs), self.hidden)), p["Wx"], p["Wh"], p["b"])
        h_dropped, mask = dropout_forward(hs[:, -1], self.dropout, rng, train=rng is not None)
        logits = h_dropped @ p["W_out"] + p["b_out"]
        return logits, (hs, cache, h_dropped, mask)

    def loss_and_grads(self, X, y, *, rng=None, train: bool = True):
        """Mean cross-entropy and its gradient for every parameter (BPTT through all steps).

        ``rng`` (Generator or int seed) draws the dropout mask; required when ``train`` and
        ``dropout > 0``. An int seed gives the same mask on every call (for gradient checks).
        Returns ``(loss, grads)`` with ``grads`` keyed like :attr:`params`.
        """
        from gdlib.nn.layers import dropout_backward
        from gdlib.nn.losses import _check_class_labels, _softmax_cross_entropy

        inputs, tokens = self._inputs(X)
        y = _check_class_labels(y, len(inputs), self.num_classes)
        rng = _dropout_rng(rng, self.dropout, train)
        p = self.params
        with np.errstate(over="ignore", invalid="ignore"):
            logits, (hs, cache, h_dropped, mask) = self._forward(inputs, rng)
            loss, dlogits = _softmax_cross_entropy(logits, y)
            grads = {"W_out": h_dropped.T @ dlogits, "b_out": dlogits.sum(axis=0)}
            dhs = np.zeros_like(hs)
            dhs[:, -1] = dropout_backward(dlogits @ p["W_out"].T, mask)
            dinputs, _, grads["Wx"], grads["Wh"], grads["b"] = _rnn_backward(dhs, cache)
            if tokens is not None:
                grads["E"] = _embedding_grad(tokens, dinputs, self.input_dim)
        return loss, {key: grads[key] for key in p}

    def forward(self, X) -> np.ndarray:
        """The logits (n, num_classes), without dropout."""
        return self._forward(self._inputs(X)[0], None)[0]

    def layer_keys(self) -> dict[str, tuple[str, ...]]:
        """Which parameters make up each layer (``"embedding"`` only with ``embed_dim``)."""
        keys = {"embedding": ("E",)} if self.embed_dim is not None else {}
        keys.update({"recurrent": ("Wx", "Wh", "b"), "output": ("W_out", "b_out")})
        return keys

    def copy(self) -> "RNNClassifier":
        """A new model with the same settings and copied parameters."""
        return _copy_model(self)
