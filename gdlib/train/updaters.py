"""How :func:`gdlib.train.fit` applies an update rule (resolved, like everywhere, by
:func:`gdlib.optim.get_rule`): the checks of its arguments and the updaters that move the
model's parameters in place.

:func:`_check_update`, :func:`_check_params` and :func:`_check_grads` check a step's result,
the model's parameters and its gradients.
:class:`_PerArrayUpdater` applies a rule to each parameter array with its own state (the
general case), :class:`_FlatUpdater` applies an elementwise rule of the registry
:data:`gdlib.optim.RULES` once to all parameters concatenated into one vector (bit for bit the
same), and :func:`_make_updater`
chooses between them. All of it is private to ``fit``.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from gdlib import optim
from gdlib._validate import _show, check_lr

__all__: list[str] = []


def _check_update(name: str, key: str, x: np.ndarray, out) -> None:
    """A step must return (x_new, state_new) with x_new shaped like x (checked on step 0)."""
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError(f"the step function of rule {name!r} must return a pair (x_new, state_new), "
                        f"got {_show(out)} for params[{key!r}]")
    if np.shape(out[0]) != x.shape:
        raise ValueError(f"the step function of rule {name!r} returned x_new of shape "
                         f"{np.shape(out[0])} for params[{key!r}] of shape {x.shape}")


def _check_params(params) -> list[str]:
    """The model's parameters must be a non-empty dict of float arrays (updated in place)."""
    if not isinstance(params, dict) or not params:
        raise TypeError(f"model.params must be a non-empty dict of float arrays, got {_show(params)}")
    for key, value in params.items():
        if not (isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating)
                and value.flags.writeable):
            raise TypeError(f"model.params[{key!r}] must be a writeable float numpy array "
                            f"(fit updates it in place), got {_show(value)}")
    return list(params)


def _check_grads(params: dict, grads) -> None:
    """On the first step: the model's gradients match its parameters key by key, shape by shape."""
    if not isinstance(grads, dict):
        raise TypeError(f"model.loss_and_grads must return (loss, grads) with grads a dict, "
                        f"got grads={_show(grads)}")
    for key, value in params.items():
        if key not in grads:
            raise KeyError(f"grads has no entry for parameter {key!r}; params has keys "
                           f"{list(params)}, grads has {list(grads)}")
        if np.shape(grads[key]) != value.shape:
            raise ValueError(f"grads[{key!r}] must have the shape of params[{key!r}] "
                             f"{value.shape}, got shape {np.shape(grads[key])}")


class _PerArrayUpdater:
    """Applies a rule to each parameter array with its own state: the general case.

    ``__call__(grads, lr)`` adds each gradient's L2 norm to ``norm_sums``, computes every new
    value, and only if all are finite writes them into the model's arrays (in place); it
    returns None on success, or the reason it refused.
    """

    def __init__(self, name, init, step, params: dict, hyper: dict):
        self.name, self.step, self.params, self.hyper = name, step, params, hyper
        self.keys = list(params)
        self.states = [init(params[k]) for k in self.keys]
        self.norm_sums = np.zeros(len(self.keys))
        self.checked = False
        self.grads_out = None  # the step may keep g (in its state): fresh gradients every step

    def sync(self) -> None:
        """Nothing to do: the model's arrays are read at every step."""

    def __call__(self, grads: dict, lr: float) -> str | None:
        updates = []
        for i, key in enumerate(self.keys):
            g = grads[key]
            sq_norm = float(np.vdot(g, g))
            if not math.isfinite(sq_norm):
                return f"the gradient of {key} is not finite"
            self.norm_sums[i] += math.sqrt(sq_norm)
            x = self.params[key]
            out = self.step(x, g, self.states[i], lr=lr, **self.hyper)
            if not self.checked:
                _check_update(self.name, key, x, out)
            if not math.isfinite(float(np.sum(out[0]))):
                return f"the update made {key} non-finite"
            updates.append(out)
        self.checked = True
        for i, key in enumerate(self.keys):
            self.params[key][...] = updates[i][0]
            self.states[i] = updates[i][1]
        return None


class _FlatUpdater(_PerArrayUpdater):
    """The same for a reference rule of :mod:`gdlib.optim`, applied once per step to all
    parameters concatenated into one vector.

    The reference rules act elementwise (Adam's step count is the same for every array), so
    this gives bit for bit the result of one state per array, with a quarter of the calls for
    a two-layer network. The first step after each :meth:`sync` goes through the rule's public
    (checked) step; the next ones through the same arithmetic without the checks
    (``step.__wrapped__``, see ``gdlib.optim.rules._validated``), since fit has checked everything they would (finite gradients,
    finite parameters, valid hyperparameters and state).

    A model that can write its gradients into given arrays gets :attr:`grads_out`, views of
    one flat gradient vector, which then needs no concatenation.
    """

    def __init__(self, name, init, step, params: dict, hyper: dict):
        self.name, self.step, self.params, self.hyper = name, step, params, hyper
        self.unchecked = getattr(step, "__wrapped__", step)
        self.keys = list(params)
        self.norm_sums = np.zeros(len(self.keys))
        bounds = np.cumsum([0] + [params[k].size for k in self.keys]).tolist()
        self.slices = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
        self.sync()
        self.state = init(self.theta)
        self.grad = np.empty(self.theta.shape)
        self.grads_out = None
        if self.theta.dtype == np.float64:  # the dtype of gdlib's gradients
            self.grads_out = {k: self.grad[part].reshape(params[k].shape)
                              for k, part in zip(self.keys, self.slices)}

    def sync(self) -> None:
        """Re-read the model's arrays into the flat vector (keeping the rule's state)."""
        for key in self.keys:
            if not self.params[key].flags.c_contiguous:  # reshape would copy, not view
                raise ValueError(f"model.params[{key!r}] was replaced by a non-contiguous array "
                                 "during fit; update parameters in place instead")
        self.flat_views = [self.params[k].reshape(-1) for k in self.keys]  # share memory
        self.theta = np.concatenate(self.flat_views)
        self.checked = False

    def __call__(self, grads: dict, lr: float) -> str | None:
        flat = []
        norm_sums = self.norm_sums
        written = grads is self.grads_out
        for i, key in enumerate(self.keys):
            g = grads[key]
            sq_norm = float(np.vdot(g, g))
            if not math.isfinite(sq_norm):
                return f"the gradient of {key} is not finite"
            norm_sums[i] += math.sqrt(sq_norm)
            if not written:
                flat.append(np.ravel(g))
        g = self.grad if written else np.concatenate(flat)
        if self.checked and g.shape == self.theta.shape:  # else the step explains
            lr = lr if type(lr) is float else check_lr(lr)
            theta, state = self.unchecked(self.theta, g.astype(self.theta.dtype, copy=False),
                                          self.state, lr=lr, **self.hyper)
        else:
            theta, state = self.step(self.theta, g, self.state, lr=lr, **self.hyper)
            self.checked = True
        if not math.isfinite(theta.sum()):
            return "the update made a parameter non-finite"
        self.theta, self.state = theta, state
        for view, part in zip(self.flat_views, self.slices):
            view[...] = theta[part]
        return None


def _make_updater(rule: optim.Rule, params: dict, hyper: dict) -> _PerArrayUpdater:
    """The flat updater for an elementwise rule of the registry on same-dtype contiguous float
    arrays, else one state per array."""
    dtypes = {p.dtype for p in params.values()}
    contiguous = all(p.flags.c_contiguous for p in params.values())
    updater = _FlatUpdater if rule.elementwise and contiguous and len(dtypes) == 1 else _PerArrayUpdater
    return updater(rule.name, rule.init, rule.step, params, hyper)
