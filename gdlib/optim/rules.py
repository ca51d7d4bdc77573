r"""Update rules for gradient descent: sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw.

Every rule is a pair of pure functions on one array ``x`` of any shape, with its state explicit::

    state = <name>_init(x)
    x_new, state_new = <name>_step(x, g, state, *, lr, ...)

``g`` is the gradient at ``x`` (same shape). A step never mutates ``x``, ``g`` or ``state``; it
returns new arrays with the shape and dtype of ``x`` (float32 in, float32 out; integer ``x`` is
promoted to float64). Hyperparameters are keyword-only: ``lr`` (:math:`\eta`), ``beta``
(momentum), ``rho`` (RMSprop decay), ``beta1``, ``beta2``, ``eps``, ``weight_decay``
(AdamW's decoupled decay). Each rule equals the ``torch.optim`` optimizer named in its docstring
for the same hyperparameters (weight decay only where the rule has it). ``eps`` always sits
outside the square root.

:data:`RULES`, the rule registry, holds each rule with everything the course says about it
(defaults, colour and marker, test settings, its ``torch.optim`` twin): figures, explorers,
checks and tests read it, so a new rule is its functions and one :func:`_register` call. A
runner (landscape traces, ``fit``) accepts a rule name, a :class:`Rule`, or a student's own
``(init, step)`` pair through :func:`get_rule`. :class:`Optimizer` applies a rule to a dict of
parameter arrays in place, for a training loop.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np

from gdlib._validate import (
    _show, check_array, check_fraction, check_lr, check_positive_number, check_same_shape,
)
from gdlib.palette import COLORS


class SGDState(NamedTuple):
    """Plain gradient descent keeps no state."""


class MomentumState(NamedTuple):
    v: np.ndarray  #: velocity, the running sum of past gradients decayed by ``beta``


class NesterovState(NamedTuple):
    v: np.ndarray  #: velocity, as for momentum


class AdagradState(NamedTuple):
    G: np.ndarray  #: sum of squared gradients


class RMSpropState(NamedTuple):
    s: np.ndarray  #: exponential moving average of squared gradients


class AdamState(NamedTuple):
    m: np.ndarray  #: EMA of gradients (first moment)
    v: np.ndarray  #: EMA of squared gradients (second moment)
    t: int  #: number of steps taken so far; 0 before the first step


class AdamWState(NamedTuple):
    m: np.ndarray  #: EMA of gradients, as for Adam
    v: np.ndarray  #: EMA of squared gradients, as for Adam
    t: int  #: number of steps taken so far; 0 before the first step


def _check_step(x, g, state, state_type, lr, hyper: dict, fractions=(), nonnegative=()):
    """Validate one step's arguments (``hyper``: every hyperparameter but lr, by name); return
    ``x``, ``g`` (cast to x's dtype) and ``lr``."""
    lr = check_lr(lr)
    for name in fractions:
        check_fraction(hyper[name], name)
    for name in nonnegative:
        check_positive_number(hyper[name], name, allow_zero=True)
    x = check_array(x, "x")
    g = check_array(g, "g")
    check_same_shape(x, g, "x", "g")
    if not isinstance(state, state_type):
        init = state_type.__name__.removesuffix("State").lower() + "_init"
        raise TypeError(f"state must be a {state_type.__name__} as returned by {init}(x), "
                        f"got state={_show(state)}")
    for field_name, value in zip(state._fields, state):
        if field_name != "t":
            check_same_shape(x, value, "x", f"state.{field_name}")
        elif isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"state.t must be an integer >= 0, got state.t={value!r}")
    return x, g.astype(x.dtype, copy=False), lr


def _keyword_defaults(step: Callable) -> dict:
    try:
        params = inspect.signature(step).parameters.values()
    except (TypeError, ValueError):  # some builtins have no signature
        return {}
    return {p.name: p.default for p in params
            if p.kind is p.KEYWORD_ONLY and p.default is not p.empty}


def _validated(state_type, *, fractions=(), nonnegative=()):
    """Wrap a rule's arithmetic, ``step(x, g, state, *, lr, ...)``, in the checks of its
    arguments: ``lr > 0``, the ``fractions`` in [0, 1), the ``nonnegative`` ones >= 0, finite
    ``x`` and ``g`` of one shape and a state of ``state_type`` shaped like ``x``.

    The wrapped function is the public step (same name, signature and docstring); the arithmetic
    alone stays reachable as ``step.__wrapped__`` for a loop that has checked its arguments
    once (``fit``): then ``g`` must have x's dtype and ``lr`` be a float.
    """
    def wrap(arithmetic: Callable) -> Callable:
        defaults = _keyword_defaults(arithmetic)

        @functools.wraps(arithmetic)
        def step(x, g, state, *, lr, **hyper):
            x, g, lr = _check_step(x, g, state, state_type, lr, {**defaults, **hyper},
                                   fractions, nonnegative)
            return arithmetic(x, g, state, lr=lr, **hyper)
        # tracebacks and profilers (gdcheck's delegation watcher) then name the public function
        step.__code__ = step.__code__.replace(co_name=arithmetic.__name__,
                                              co_qualname=arithmetic.__qualname__)
        return step
    return wrap


def _zeros(x) -> np.ndarray:
    return np.zeros_like(check_array(x, "x"))


def _divide(num: np.ndarray, denom: np.ndarray) -> np.ndarray:
    """``num / denom``, and 0 where ``denom`` is 0: with eps=0, a coordinate whose gradients
    have all been 0 (or underflow when squared) does not move, instead of becoming NaN."""
    return np.divide(num, denom, out=np.zeros_like(num), where=denom != 0)


def _out(value, x: np.ndarray) -> np.ndarray:
    """``value`` as an array of x's dtype (arithmetic on 0-d arrays returns numpy scalars)."""
    return np.asarray(value, dtype=x.dtype)


def sgd_init(x) -> SGDState:
    """State of plain gradient descent: empty."""
    check_array(x, "x")
    return SGDState()


@_validated(SGDState)
def sgd_step(x, g, state: SGDState, *, lr: float):
    r"""One step of plain gradient descent.

    .. math::

        \begin{aligned}
        &\textbf{input}: \eta \text{ (lr)},\ x_0 \\
        &\textbf{for}\ t = 1, 2, \dots: \\
        &\quad g_t = \nabla f(x_{t-1}) \\
        &\quad x_t = x_{t-1} - \eta\, g_t
        \end{aligned}

    Equals ``torch.optim.SGD(params, lr=lr)``. Introduced in the gradient-descent chapter
    (``ch-gradient-descent``).

    Parameters
    ----------
    x, g, state
        Current point, gradient there (same shape), and SGDState from :func:`sgd_init`.
    lr : float
        Learning rate :math:`\eta > 0`.

    Returns
    -------
    x_new, state_new : ndarray, SGDState
    """
    return _out(x - lr * g, x), SGDState()


def momentum_init(x) -> MomentumState:
    """Momentum state: zero velocity, shaped like ``x``."""
    return MomentumState(v=_zeros(x))


@_validated(MomentumState, fractions=("beta",))
def momentum_step(x, g, state: MomentumState, *, lr: float, beta: float = 0.9):
    r"""One step of gradient descent with (heavy-ball) momentum.

    .. math::

        \begin{aligned}
        &\textbf{input}: \eta \text{ (lr)},\ \beta \text{ (beta)},\ x_0,\ v_0 = 0 \\
        &\textbf{for}\ t = 1, 2, \dots: \\
        &\quad g_t = \nabla f(x_{t-1}) \\
        &\quad v_t = \beta\, v_{t-1} + g_t \\
        &\quad x_t = x_{t-1} - \eta\, v_t
        \end{aligned}

    Equals ``torch.optim.SGD(params, lr=lr, momentum=beta, dampening=0)``. With
    :math:`\beta = 0` it is plain gradient descent. Introduced in the chapter *Momentum and
    adaptive learning rates*.

    Parameters
    ----------
    x, g, state
        Current point, gradient there (same shape), and MomentumState from :func:`momentum_init`.
    lr : float
        Learning rate :math:`\eta > 0`.
    beta : float
        Momentum :math:`\beta \in [0, 1)`.

    Returns
    -------
    x_new, state_new : ndarray, MomentumState
    """
    v = _out(beta * state.v + g, x)
    return _out(x - lr * v, x), MomentumState(v=v)


def nesterov_init(x) -> NesterovState:
    """Nesterov state: zero velocity, shaped like ``x``."""
    return NesterovState(v=_zeros(x))


@_validated(NesterovState, fractions=("beta",))
def nesterov_step(x, g, state: NesterovState, *, lr: float, beta: float = 0.9):
    r"""One step of Nesterov momentum, in the form PyTorch uses.

    .. math::

        \begin{aligned}
        &\textbf{input}: \eta \text{ (lr)},\ \beta \text{ (beta)},\ x_0,\ v_0 = 0 \\
        &\textbf{for}\ t = 1, 2, \dots: \\
        &\quad g_t = \nabla f(x_{t-1}) \\
        &\quad v_t = \beta\, v_{t-1} + g_t \\
        &\quad x_t = x_{t-1} - \eta\, (g_t + \beta\, v_t)
        \end{aligned}

    The step :math:`g_t + \beta v_t` looks ahead: it is the velocity the next step would have if
    the gradient stayed :math:`g_t`. Equals ``torch.optim.SGD(params, lr=lr, momentum=beta,
    dampening=0, nesterov=True)``. Introduced in the chapter *Momentum and adaptive learning
    rates*.

    Parameters
    ----------
    x, g, state
        Current point, gradient there (same shape), and NesterovState from :func:`nesterov_init`.
    lr : float
        Learning rate :math:`\eta > 0`.
    beta : float
        Momentum :math:`\beta \in [0, 1)`.

    Returns
    -------
    x_new, state_new : ndarray, NesterovState
    """
    v = _out(beta * state.v + g, x)
    return _out(x - lr * (g + beta * v), x), NesterovState(v=v)


def adagrad_init(x) -> AdagradState:
    """AdaGrad state: zero sum of squared gradients, shaped like ``x``."""
    return AdagradState(G=_zeros(x))


@_validated(AdagradState, nonnegative=("eps",))
def adagrad_step(x, g, state: AdagradState, *, lr: float, eps: float = 1e-8):
    r"""One step of AdaGrad: a per-coordinate learning rate that only shrinks.

    .. math::

        \begin{aligned}
        &\textbf{input}: \eta \text{ (lr)},\ \epsilon \text{ (eps)},\ x_0,\ G_0 = 0 \\
        &\textbf{for}\ t = 1, 2, \dots: \\
        &\quad g_t = \nabla f(x_{t-1}) \\
        &\quad G_t = G_{t-1} + g_t^2 \\
        &\quad x_t = x_{t-1} - \eta\, \frac{g_t}{\sqrt{G_t} + \epsilon}
        \end{aligned}

    Equals ``torch.optim.Adagrad(params, lr=lr, eps=eps)`` (``lr_decay=0``,
    ``initial_accumulator_value=0``). Introduced in the chapter *Momentum and adaptive learning
    rates*.

    Parameters
    ----------
    x, g, state
        Current point, gradient there (same shape), and AdagradState from :func:`adagrad_init`.
    lr : float
        Learning rate :math:`\eta > 0`.
    eps : float
        :math:`\epsilon \ge 0`, added outside the square root to avoid dividing by zero.

    Returns
    -------
    x_new, state_new : ndarray, AdagradState
    """
    G = _out(state.G + g * g, x)
    return _out(x - lr * _divide(g, np.sqrt(G) + eps), x), AdagradState(G=G)


def rmsprop_init(x) -> RMSpropState:
    """RMSprop state: zero average of squared gradients, shaped like ``x``."""
    return RMSpropState(s=_zeros(x))


@_validated(RMSpropState, fractions=("rho",), nonnegative=("eps",))
def rmsprop_step(x, g, state: RMSpropState, *, lr: float, rho: float = 0.9, eps: float = 1e-8):
    r"""One step of RMSprop: AdaGrad with a decaying average instead of a sum.

    .. math::

        \begin{aligned}
        &\textbf{input}: \eta \text{ (lr)},\ \rho \text{ (rho)},\ \epsilon \text{ (eps)},\
            x_0,\ s_0 = 0 \\
        &\textbf{for}\ t = 1, 2, \dots: \\
        &\quad g_t = \nabla f(x_{t-1}) \\
        &\quad s_t = \rho\, s_{t-1} + (1 - \rho)\, g_t^2 \\
        &\quad x_t = x_{t-1} - \eta\, \frac{g_t}{\sqrt{s_t} + \epsilon}
        \end{aligned}

    Equals ``torch.optim.RMSprop(params, lr=lr, alpha=rho, eps=eps)`` (not centred, no
    momentum). Note PyTorch's default ``alpha`` is 0.99 while our default ``rho`` is 0.9, so pass
    it explicitly when comparing. Introduced in the chapter *Momentum and adaptive learning
    rates*.

    Parameters
    ----------
    x, g, state
        Current point, gradient there (same shape), and RMSpropState from :func:`rmsprop_init`.
    lr : float
        Learning rate :math:`\eta > 0`.
    rho : float
        Decay :math:`\rho \in [0, 1)` of the average of squared gradients.
    eps : float
        :math:`\epsilon \ge 0`, added outside the square root.

    Returns
    -------
    x_new, state_new : ndarray, RMSpropState
    """
    s = _out(rho * state.s + (1 - rho) * (g * g), x)
    return _out(x - lr * _divide(g, np.sqrt(s) + eps), x), RMSpropState(s=s)


def adam_init(x) -> AdamState:
    """Adam state: zero first and second moments, ``t = 0``."""
    return AdamState(m=_zeros(x), v=_zeros(x), t=0)


@_validated(AdamState, fractions=("beta1", "beta2"), nonnegative=("eps",))
def adam_step(x, g, state: AdamState, *, lr: float, beta1: float = 0.9, beta2: float = 0.999,
              eps: float = 1e-8):
    r"""One step of Adam: momentum on the gradient and on its square, with bias correction.

    .. math::

        \begin{aligned}
        &\textbf{input}: \eta \text{ (lr)},\ \beta_1, \beta_2 \text{ (beta1, beta2)},\
            \epsilon \text{ (eps)},\ x_0,\ m_0 = 0,\ v_0 = 0 \\
        &\textbf{for}\ t = 1, 2, \dots: \\
        &\quad g_t = \nabla f(x_{t-1}) \\
        &\quad m_t = \beta_1 m_{t-1} + (1 - \beta_1)\, g_t \\
        &\quad v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2 \\
        &\quad \hat m_t = m_t / (1 - \beta_1^t), \quad \hat v_t = v_t / (1 - \beta_2^t) \\
        &\quad x_t = x_{t-1} - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}
        \end{aligned}

    ``state.t`` counts the steps: it is incremented first, so the first step uses
    :math:`t = 1`, where :math:`\hat m_1 = g_1` and :math:`\hat v_1 = g_1^2` and every coordinate
    moves by about :math:`\eta`. Equals ``torch.optim.Adam(params, lr=lr, betas=(beta1, beta2),
    eps=eps)``. Introduced in the chapter *Momentum and adaptive learning rates*.

    Parameters
    ----------
    x, g, state
        Current point, gradient there (same shape), and AdamState from :func:`adam_init`.
    lr : float
        Learning rate :math:`\eta > 0`.
    beta1, beta2 : float
        Decays :math:`\beta_1, \beta_2 \in [0, 1)` of the two moment averages.
    eps : float
        :math:`\epsilon \ge 0`, added outside the square root.

    Returns
    -------
    x_new, state_new : ndarray, AdamState
    """
    t = int(state.t) + 1
    m = _out(beta1 * state.m + (1 - beta1) * g, x)
    v = _out(beta2 * state.v + (1 - beta2) * (g * g), x)
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return _out(x - lr * _divide(m_hat, np.sqrt(v_hat) + eps), x), AdamState(m=m, v=v, t=t)


def adamw_init(x) -> AdamWState:
    """AdamW state: Adam's, zero first and second moments and ``t = 0``."""
    return AdamWState(m=_zeros(x), v=_zeros(x), t=0)


@_validated(AdamWState, fractions=("beta1", "beta2"), nonnegative=("eps", "weight_decay"))
def adamw_step(x, g, state: AdamWState, *, lr: float, beta1: float = 0.9, beta2: float = 0.999,
               eps: float = 1e-8, weight_decay: float = 0.01):
    r"""One step of AdamW: Adam with decoupled weight decay.

    .. math::

        \begin{aligned}
        &\textbf{input}: \eta \text{ (lr)},\ \beta_1, \beta_2 \text{ (beta1, beta2)},\
            \epsilon \text{ (eps)},\ \lambda \text{ (weight\_decay)},\ x_0,\ m_0 = 0,\
            v_0 = 0 \\
        &\textbf{for}\ t = 1, 2, \dots: \\
        &\quad g_t = \nabla f(x_{t-1}) \\
        &\quad m_t = \beta_1 m_{t-1} + (1 - \beta_1)\, g_t \\
        &\quad v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2 \\
        &\quad \hat m_t = m_t / (1 - \beta_1^t), \quad \hat v_t = v_t / (1 - \beta_2^t) \\
        &\quad x_t = (1 - \eta \lambda)\, x_{t-1} - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}
        \end{aligned}

    The weight decay :math:`\eta \lambda x_{t-1}` is *decoupled* from the gradient (Loshchilov
    and Hutter, 2019): it shrinks every coordinate by the same factor, where an L2 penalty
    :math:`\frac{\lambda}{2}\|x\|^2` added to the loss would put :math:`\lambda x` into
    :math:`g_t` and be divided, like the rest of the gradient, by :math:`\sqrt{\hat v_t}`. The
    step is Adam's (:func:`adam_step`, same state) taken from the decayed point; with
    :math:`\lambda = 0` it is Adam. Equals ``torch.optim.AdamW(params, lr=lr, betas=(beta1,
    beta2), eps=eps, weight_decay=weight_decay)``, whose default ``weight_decay`` is also 0.01.
    Introduced in the chapter *Momentum and adaptive learning rates*; compared with Adam plus an
    L2 penalty in the chapter on regularization.

    Parameters
    ----------
    x, g, state
        Current point, gradient there (same shape), and AdamWState from :func:`adamw_init`.
    lr : float
        Learning rate :math:`\eta > 0`.
    beta1, beta2 : float
        Decays :math:`\beta_1, \beta_2 \in [0, 1)` of the two moment averages.
    eps : float
        :math:`\epsilon \ge 0`, added outside the square root.
    weight_decay : float
        :math:`\lambda \ge 0`, the fraction of :math:`x` removed per unit of learning rate.

    Returns
    -------
    x_new, state_new : ndarray, AdamWState
    """
    decayed = _out((1 - lr * weight_decay) * x, x)
    x_new, (m, v, t) = adam_step.__wrapped__(decayed, g, AdamState(*state), lr=lr, beta1=beta1,
                                             beta2=beta2, eps=eps)
    return x_new, AdamWState(m=m, v=v, t=t)


@dataclass(frozen=True)
class Range:
    r"""The interval from which a check draws a hyperparameter's non-default values: uniformly,
    or uniformly in :math:`\log_{10}` when ``log`` (for a value that spans decades, like eps)."""

    low: float
    high: float
    log: bool = False

    def draw(self, rng: np.random.Generator) -> float:
        if self.log:
            return float(10 ** rng.uniform(np.log10(self.low), np.log10(self.high)))
        return float(rng.uniform(self.low, self.high))


@dataclass(frozen=True, eq=False)
class Rule:
    """An update rule and everything the course says about it, in one place.

    ``name``, ``init(x) -> state``, ``step(x, g, state, *, lr, ...)`` and ``defaults``, the
    default values of its hyperparameters other than ``lr``, are all a runner needs; a
    student's own ``(init, step)`` pair gets only these (see :func:`get_rule`). The rules of
    :data:`RULES` also carry what the figures, the explorers, the checks and the tests read:

    - ``color``, ``marker``: how every figure draws the rule (:data:`gdlib.plotting.RULE_COLORS`);
    - ``elementwise``: each coordinate of the new ``x`` and state depends only on the same
      coordinate of ``x``, ``g`` and state, so ``fit`` may run the rule once on all parameters
      concatenated into one vector, and it gives the same numbers as one state per array;
    - ``lr_grid``: the learning rates to try when tuning the rule on the digits network (the
      chapter *Momentum and adaptive learning rates*);
    - ``check_ranges``: for each hyperparameter other than ``lr``, the :class:`Range` of the
      non-default values the checks draw (every hyperparameter must have one, so that no check
      silently leaves one at 0);
    - ``test_hyper``, ``test_tolerance``: hyperparameters (``lr`` included) with which the rule
      converges on an ill-conditioned quadratic, and the distance to the minimiser it then
      reaches (a constant-lr RMSprop keeps hopping at the scale of ``lr``);
    - ``torch``: ``torch(params, lr=..., **hyper)`` builds the equivalent ``torch.optim``
      optimizer, against which the tests compare the rule step by step.
    """

    name: str
    init: Callable
    step: Callable
    defaults: dict
    color: str | None = None
    marker: str | None = None
    elementwise: bool = False
    lr_grid: tuple = ()
    check_ranges: dict = field(default_factory=dict)
    test_hyper: dict = field(default_factory=dict)
    test_tolerance: float | None = None
    torch: Callable | None = field(default=None, repr=False)


def _torch_optim():
    import torch  # only the tests and the chapters that compare with PyTorch need it
    return torch.optim


#: Ranges of the non-default hyperparameters the checks draw, shared by the rules that have them.
_DECAY, _EPS = Range(0.3, 0.95), Range(1e-3, 1e-1, log=True)

#: The registry: every rule of the course, by name, in the order the book introduces them.
RULES: dict[str, Rule] = {}


def _register(init: Callable, step: Callable, **about) -> None:
    name = step.__name__.removesuffix("_step")
    rule = Rule(name, init, step, _keyword_defaults(step), **about)
    if set(rule.check_ranges) != set(rule.defaults):
        raise ValueError(f"rule {name!r}: check_ranges must give a Range for each of its "
                         f"hyperparameters {sorted(rule.defaults)}, got {sorted(rule.check_ranges)}")
    RULES[name] = rule


_register(
    sgd_init, sgd_step, color=COLORS["blue"], marker="o", elementwise=True,
    lr_grid=(0.1, 0.3, 1.0, 3.0), test_hyper=dict(lr=0.1), test_tolerance=1e-8,
    torch=lambda params, *, lr: _torch_optim().SGD(params, lr=lr),
)
_register(
    momentum_init, momentum_step, color=COLORS["orange"], marker="s", elementwise=True,
    lr_grid=(0.03, 0.1, 0.3, 1.0), check_ranges=dict(beta=_DECAY),
    test_hyper=dict(lr=0.05, beta=0.5), test_tolerance=1e-8,
    torch=lambda params, *, lr, beta: _torch_optim().SGD(params, lr=lr, momentum=beta,
                                                         dampening=0),
)
_register(
    nesterov_init, nesterov_step, color=COLORS["bluish_green"], marker="^", elementwise=True,
    lr_grid=(0.03, 0.1, 0.3, 1.0), check_ranges=dict(beta=_DECAY),
    test_hyper=dict(lr=0.05, beta=0.5), test_tolerance=1e-8,
    torch=lambda params, *, lr, beta: _torch_optim().SGD(params, lr=lr, momentum=beta,
                                                         dampening=0, nesterov=True),
)
_register(
    adagrad_init, adagrad_step, color=COLORS["reddish_purple"], marker="D", elementwise=True,
    lr_grid=(0.03, 0.1, 0.3, 1.0), check_ranges=dict(eps=_EPS),
    test_hyper=dict(lr=0.5), test_tolerance=1e-8,
    torch=lambda params, *, lr, eps: _torch_optim().Adagrad(params, lr=lr, eps=eps),
)
_register(
    rmsprop_init, rmsprop_step, color=COLORS["sky_blue"], marker="v", elementwise=True,
    lr_grid=(0.001, 0.003, 0.01, 0.03), check_ranges=dict(rho=Range(0.5, 0.99), eps=_EPS),
    test_hyper=dict(lr=0.01, rho=0.9), test_tolerance=3e-2,
    torch=lambda params, *, lr, rho, eps: _torch_optim().RMSprop(params, lr=lr, alpha=rho,
                                                                 eps=eps),
)
_register(
    adam_init, adam_step, color=COLORS["vermillion"], marker="P", elementwise=True,
    lr_grid=(0.003, 0.01, 0.03, 0.1),
    check_ranges=dict(beta1=Range(0.5, 0.95), beta2=Range(0.9, 0.999), eps=_EPS),
    test_hyper=dict(lr=0.05), test_tolerance=1e-6,
    torch=lambda params, *, lr, beta1, beta2, eps: _torch_optim().Adam(
        params, lr=lr, betas=(beta1, beta2), eps=eps),
)
_register(
    adamw_init, adamw_step, color=COLORS["black"], marker="p", elementwise=True,
    lr_grid=(0.003, 0.01, 0.03, 0.1),
    check_ranges=dict(beta1=Range(0.5, 0.95), beta2=Range(0.9, 0.999), eps=_EPS,
                      weight_decay=Range(0.01, 0.2)),
    # the decay pulls towards 0, so off the origin AdamW nears the minimiser slowly
    test_hyper=dict(lr=0.05), test_tolerance=3e-3,
    torch=lambda params, *, lr, beta1, beta2, eps, weight_decay: _torch_optim().AdamW(
        params, lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay),
)


def _no_state(x) -> None:
    """The state of a step function given without an initialiser: None."""
    return None


def get_rule(rule, init=None) -> Rule:
    """Resolve ``rule``: the one resolver of :func:`gdlib.train.fit`,
    :func:`gdlib.landscapes.trace` and :class:`Optimizer`.

    Parameters
    ----------
    rule : str, Rule, (init, step) pair or callable
        A name in :data:`RULES`, a :class:`Rule`, a student's own ``(init, step)`` pair, or a
        bare ``step`` function (whose state is then ``init(x)``, or None without ``init``).
    init : callable, optional
        ``init(x) -> state``, replacing the rule's own initialiser.

    Returns
    -------
    Rule
        The registry's own entry for a name or a :class:`Rule` with its initialiser; otherwise
        a Rule with the name, functions and keyword defaults of the step and none of the
        registry's settings (so not ``elementwise``).
    """
    if init is not None and not callable(init):
        raise TypeError(f"init must be callable as init(x) -> state, got init={_show(init)}")
    if isinstance(rule, Rule):
        resolved = rule
    elif isinstance(rule, str):
        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r}: rule must be one of {', '.join(RULES)}, "
                             f"a Rule, an (init, step) pair or a step function, got rule={rule!r}")
        resolved = RULES[rule]
    elif isinstance(rule, tuple) and len(rule) == 2 and all(callable(f) for f in rule):
        own_init, step = rule
        resolved = Rule(getattr(step, "__name__", "custom"), own_init, step,
                        _keyword_defaults(step))
    elif callable(rule):
        resolved = Rule(getattr(rule, "__name__", "custom"), _no_state, rule,
                        _keyword_defaults(rule))
    else:
        raise TypeError(f"rule must be one of {', '.join(RULES)}, a Rule, an (init, step) pair "
                        f"of callables or a step function, got rule={_show(rule)}")
    if init is not None and init is not resolved.init:
        resolved = Rule(resolved.name, init, resolved.step, resolved.defaults)
    return resolved


def check_hyper(rule: Rule, hyper: dict) -> None:
    """Raise a TypeError naming the rule if its step does not accept ``hyper`` (besides lr)."""
    try:
        inspect.signature(rule.step).bind(None, None, None, lr=1.0, **hyper)
    except ValueError:  # no signature to check against (some builtins)
        pass
    except TypeError as exc:
        given = ", ".join(f"{k}={v!r}" for k, v in hyper.items())
        raise TypeError(f"rule {rule.name!r} does not accept the hyperparameters {given}: "
                        f"{exc}") from None


class Optimizer:
    """Apply an update rule to a dict of parameter arrays, in place, keeping one state per key.

    Introduced in the chapter *Momentum and adaptive learning rates*, for training loops::

        opt = Optimizer("adam", lr=1e-3)
        for X_batch, y_batch in batches:
            loss, grads = model.loss_and_grads(X_batch, y_batch)
            opt.step(model.params, grads)

    Parameters
    ----------
    rule : str, Rule, (init, step) pair or step function
        See :func:`get_rule`.
    lr : float
        Learning rate; a settable attribute so that a schedule can change it between steps.
    **hyper
        The rule's other hyperparameters (``beta``, ``rho``, ``beta1``, ``beta2``, ``eps``);
        the rule's defaults are used for those not given.
    """

    def __init__(self, rule, *, lr: float, **hyper):
        self.rule = get_rule(rule)
        self.lr = lr
        check_hyper(self.rule, hyper)  # an unknown hyperparameter fails here, not at a step
        self.hyper = dict(hyper)
        self.num_steps = 0
        self.state: dict = {}

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value) -> None:
        self._lr = check_lr(value)

    def reset(self) -> None:
        """Forget every state (velocities, averages, Adam's step count)."""
        self.state = {}
        self.num_steps = 0

    def step(self, params: dict, grads: dict) -> None:
        """Update every ``params[k]`` in place with ``grads[k]``; ``params`` is left untouched
        if any key fails (all new values are computed before any is written)."""
        updates = {}
        for key, x in params.items():
            if key not in grads:
                raise KeyError(f"grads has no entry for parameter {key!r}; "
                               f"params has keys {list(params)}, grads has {list(grads)}")
            if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
                raise TypeError(f"params[{key!r}] must be a float ndarray to update in place, "
                                f"got {_show(x)}")
            g = np.asarray(grads[key])
            check_same_shape(x, g, f"params[{key!r}]", f"grads[{key!r}]")
            state = self.state[key] if key in self.state else self.rule.init(x)
            x_new, state_new = self.rule.step(x, g, state, lr=self.lr, **self.hyper)
            check_same_shape(x, x_new, f"params[{key!r}]", f"{self.rule.name}'s new value")
            updates[key] = (x_new, state_new)
        for key, (x_new, state_new) in updates.items():
            params[key][...] = x_new
            self.state[key] = state_new
        self.num_steps += 1

    def __repr__(self) -> str:
        hyper = "".join(f", {k}={v!r}" for k, v in self.hyper.items())
        return f"Optimizer({self.rule.name!r}, lr={self.lr!r}{hyper})"
