"""How :func:`gdlib.train.fit` applies an update rule (resolved, like everywhere, by
:func:`gdlib.optim.get_rule`): the checks of its arguments and the updater that moves the
model's parameters in place.

:func:`_check_update`, :func:`_check_params` and :func:`_check_grads` check a step's result,
the model's parameters and its gradients; :class:`_Updater` applies the rule, to all
parameters as one flat vector for an elementwise rule of the registry :data:`gdlib.optim.RULES`
(to the model's own buffer when its parameters are views into one, see
:func:`_flat_buffer`), else to each parameter array with its own state. All of it is private to
``fit``.
"""

from __future__ import annotations

import math

import numpy as np

from gdlib import optim
from gdlib._validate import _show, check_lr

__all__: list[str] = []


def _check_update(name: str, key: str | None, x: np.ndarray, out) -> None:
    """A step must return (x_new, state_new) with x_new shaped like x (checked on step 0).

    ``key`` names the parameter array ``x`` is, or is None when ``x`` is the flat vector of all
    parameters.
    """
    where = "the flat vector of all parameters" if key is None else f"params[{key!r}]"
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError(f"the step function of rule {name!r} must return a pair (x_new, state_new), "
                        f"got {_show(out)} for {where}")
    if np.shape(out[0]) != x.shape:
        raise ValueError(f"the step function of rule {name!r} returned x_new of shape "
                         f"{np.shape(out[0])} for {where} of shape {x.shape}")


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


def _flat_buffer(arrays: list) -> np.ndarray | None:
    """The one contiguous 1-D array that ``arrays`` tile, in order and without gaps, or None.

    Each array must be a C-contiguous view of the same base (``base[a:b].reshape(shape)``), the
    first starting at the base's first element and each next one where the previous ends, the
    last ending at the base's end. :class:`gdlib.nn.MLP` stores its parameters so.
    """
    base = arrays[0].base
    if not (isinstance(base, np.ndarray) and base.ndim == 1 and base.flags.c_contiguous
            and base.flags.writeable):
        return None
    address = base.__array_interface__["data"][0]
    for a in arrays:
        if (a.base is not base or a.dtype != base.dtype or not a.flags.c_contiguous
                or a.__array_interface__["data"][0] != address):
            return None
        address += a.nbytes
    return base if address == base.__array_interface__["data"][0] + base.nbytes else None


class _Updater:
    r"""Moves the model's parameters with one update rule: how every step of ``fit`` ends.

    A rule marked elementwise (``Rule.elementwise``: each coordinate of the new :math:`\theta`
    and state depends only on the same coordinate; the registry's rules are) runs **once per
    step on all parameters as one flat vector** :math:`\theta`, with one state; every other
    rule (a bare step function, or one that mixes coordinates) runs once per parameter array,
    with one state each. For an elementwise rule the two give the same numbers, bit for bit.

    The flat vector is the model's own memory when its parameters are views into one
    contiguous buffer, in key order (:class:`gdlib.nn.MLP`'s are): then
    ``theta[...] = theta_new`` updates every ``model.params[k]`` at once. Otherwise (a model
    with separate arrays, or arrays a callback replaced) :meth:`start_epoch` concatenates them
    into a private vector, and each update is copied back into each array. Either way the
    parameters change in place, so references to them stay valid.

    The first step after :meth:`start_epoch` calls the rule's public step, which checks its
    arguments; for a step of :mod:`gdlib.optim` the next ones call the same arithmetic without
    the checks (``step.__wrapped__``, see ``gdlib.optim.rules._validated``): fit has already checked
    what they would (finite gradients and parameters, a float ``lr > 0``, the
    hyperparameters and the state the previous step returned).

    ``__call__(grads, lr)`` adds each gradient's L2 norm to :attr:`norm_sums`, computes the new
    values, and only if all are finite writes them (and counts the step in :attr:`steps`); it
    returns None, or why it refused.
    """

    def __init__(self, rule: optim.Rule, params: dict, hyper: dict):
        self.name, self.params, self.hyper, self.step = rule.name, params, hyper, rule.step
        checked_steps = {r.step for r in optim.RULES.values()}  # whose __wrapped__ is known
        self.arithmetic = rule.step.__wrapped__ if rule.step in checked_steps else rule.step
        self.keys = list(params)
        self.norm_sums = np.zeros(len(self.keys))
        self.flat = rule.elementwise and len({p.dtype for p in params.values()}) == 1
        self.start_epoch()
        self.states = [rule.init(x) for x in self.blocks]

    def start_epoch(self) -> None:
        """Zero the norm sums; (re)read the model's arrays, which a callback may have replaced."""
        self.norm_sums[:] = 0.0
        self.steps = 0  # the updates made since
        self.checked = False
        arrays = [self.params[k] for k in self.keys]
        self.copy_back = None
        if not self.flat:
            self.blocks, self.names = arrays, self.keys
            return
        theta = _flat_buffer(arrays)
        if theta is None:  # separate arrays: a private vector, copied back after every step
            theta = np.concatenate([np.ravel(a) for a in arrays])
            starts = np.cumsum([0] + [a.size for a in arrays]).tolist()
            self.copy_back = [(a, slice(start, start + a.size)) for a, start in zip(arrays, starts)]
        self.blocks, self.names = [theta], [None]

    def __call__(self, grads: dict, lr: float) -> str | None:
        gs = []
        for i, key in enumerate(self.keys):
            g = grads[key]
            sq_norm = float(np.vdot(g, g))
            if not math.isfinite(sq_norm):
                return f"the gradient of {key} is not finite"
            self.norm_sums[i] += math.sqrt(sq_norm)
            gs.append(g)
        if self.flat:
            gs = [np.concatenate([np.ravel(g) for g in gs])]
        if self.checked:
            step, lr = self.arithmetic, (lr if type(lr) is float else check_lr(lr))
            gs = [g.astype(x.dtype, copy=False) for x, g in zip(self.blocks, gs)]
        else:
            step = self.step
        updates = []
        for x, g, state, name in zip(self.blocks, gs, self.states, self.names):
            out = step(x, g, state, lr=lr, **self.hyper)
            if not self.checked:
                _check_update(self.name, name, x, out)
            if not math.isfinite(float(np.sum(out[0]))):
                return f"the update made {name or 'a parameter'} non-finite"
            updates.append(out)
        self.checked = True
        self.steps += 1
        for i, (x, (x_new, state)) in enumerate(zip(self.blocks, updates)):
            x[...] = x_new
            self.states[i] = state
        if self.copy_back is not None:
            theta = self.blocks[0]
            for a, part in self.copy_back:
                a[...] = theta[part].reshape(a.shape)
        return None
