"""Checks for the *optimizers* assignment: ``check_<rule>_init`` and ``check_<rule>_step`` for
every rule with a state in the registry :data:`gdlib.optim.RULES` (momentum, nesterov, adagrad,
rmsprop, adam, ...), against :mod:`gdlib.optim` and CONVENTIONS.md.

A step check runs the student's rule for ``num_steps`` steps on a fixed sequence of gradients,
feeding it back its own state, next to gdlib's rule, and compares ``x`` and every state field
after every step. Each seed gives two cases: the default hyperparameters in float64, and other
hyperparameters (each drawn from the rule's ``check_ranges`` in the registry; a larger ``eps``,
small gradients) in float32, where the dtype must be kept.
Momentum is also run with ``beta = 0``, where it must equal plain gradient descent.
"""

from __future__ import annotations

import inspect

import numpy as np

from gdcheck._engine import Case, Failure, Outputs, Spec, is_pair, public_check, verify
from gdlib import optim

#: The rules with a state, from the registry (plain gradient descent is the gradient-descent
#: assignment's); each gets check_<rule>_init and check_<rule>_step below.
RULE_NAMES = tuple(name for name, rule in optim.RULES.items()
                   if len(rule.init(np.zeros(1))) > 0)
_VARIANTS = ("default", "other", "beta0")
_STATE_TYPES = {name: type(optim.RULES[name].init(np.zeros(1))) for name in RULE_NAMES}


def _hyper_names(rule: str) -> tuple[str, ...]:
    return tuple(optim.RULES[rule].defaults)


def _state_signature(rule: str) -> str:
    fields = _STATE_TYPES[rule]._fields
    return f"{_STATE_TYPES[rule].__name__}({', '.join(f'{f}=...' for f in fields)})"


def _state_fields(state, rule: str, function: str) -> dict:
    """The fields of a state the student returned, by name (or by position for a plain tuple)."""
    fields = _STATE_TYPES[rule]._fields
    if hasattr(state, "_fields") and set(fields) <= set(state._fields):
        return {f: getattr(state, f) for f in fields}
    if isinstance(state, (tuple, list)) and len(state) == len(fields):
        return dict(zip(fields, state))
    raise Failure(f"{function} must return the state as {_state_signature(rule)}, "
                  f"got {type(state).__name__}")


def _copy(value):
    return np.array(value, copy=True) if isinstance(value, np.ndarray) else value


def _run_init(rule: str):
    def run(impl, inputs):
        fields = _state_fields(impl(inputs["x"]), rule, f"{rule}_init")
        return Outputs({f"state.{f}": _copy(v) for f, v in fields.items()})
    return run


def _run_steps(rule: str):
    def run(impl, inputs):
        x, state, out = inputs["x"], inputs["state"], Outputs()
        for k, g in enumerate(inputs["gradients"], start=1):
            result = impl(x, g, state, lr=inputs["lr"], **inputs["hyper"])
            if not is_pair(result):
                raise Failure(f"{rule}_step must return a pair (x_new, state_new), "
                              f"got {type(result).__name__}")
            x, state = result
            out[f"x after step {k}"] = _copy(x)
            for f, v in _state_fields(state, rule, f"{rule}_step").items():
                out[f"state.{f} after step {k}"] = _copy(v)
        return out
    return run


def _check_signature(fn, rule: str) -> None:
    """Keyword hyperparameters named as in CONVENTIONS.md, with gdlib's defaults."""
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return
    defaults = optim.RULES[rule].defaults
    wanted = f"def {rule}_step(x, g, state, *, lr, " + \
        ", ".join(f"{k}={v!r}" for k, v in defaults.items()) + ")"
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    for name in ("lr", *defaults):
        if name not in parameters and not takes_kwargs:
            raise Failure(f"{rule}_step must accept the keyword argument {name}: {wanted}")
    for name, value in defaults.items():
        if name in parameters and parameters[name].default != value:
            got = parameters[name].default
            shown = "no default" if got is inspect.Parameter.empty else f"{got!r}"
            raise Failure(f"{name} must default to {value!r} (CONVENTIONS.md and gdlib.optim), "
                          f"got {shown}: {wanted}")


def _step_cases(rule: str, seeds, shapes, num_steps: int) -> list[Case]:
    cases = []
    for i, seed in enumerate(seeds):
        shape = tuple(shapes[i % len(shapes)])
        for variant in ("default", "other"):
            cases.append(_step_case(rule, seed, shape, num_steps, variant))
    if rule == "momentum":
        cases.append(_step_case(rule, seeds[0] if seeds else 0, tuple(shapes[0]), num_steps, "beta0"))
    return cases


def _step_case(rule, seed, shape, num_steps, variant) -> Case:
    dtype = np.float32 if variant == "other" else np.float64
    names = _hyper_names(rule)

    def make():
        rng = np.random.default_rng([seed, _VARIANTS.index(variant), len(shape)])
        x = rng.normal(size=shape).astype(dtype)
        scale = 10 ** rng.uniform(-3, 0) if variant == "other" else 1.0
        gradients = [(scale * rng.normal(size=shape)).astype(dtype) for _ in range(num_steps)]
        gradients[0].flat[0] = 0.0  # a zero gradient entry: 0 / (sqrt(0) + eps) must give 0
        hyper, lr = {}, 0.1
        if variant == "other":
            lr = float(rng.uniform(0.01, 0.3))
            ranges = optim.RULES[rule].check_ranges  # one Range per hyperparameter, never 0 by omission
            hyper = {name: ranges[name].draw(rng) for name in names}
        elif variant == "beta0":
            hyper = {"beta": 0.0}
        return {"x": x, "gradients": gradients, "state": optim.RULES[rule].init(x), "lr": lr,
                "hyper": hyper}

    what = {"default": "default hyperparameters",
            "other": "other lr, " + ", ".join(names),
            "beta0": "beta=0, where momentum must equal plain gradient descent"}[variant]
    return Case(f"x of shape {shape}, {np.dtype(dtype).name}, {num_steps} steps, {what}", make)


def _init_cases(shapes) -> list[Case]:
    cases = []
    for shape in shapes:
        for dtype in (np.float64, np.float32):
            def make(shape=tuple(shape), dtype=dtype):
                return {"x": np.random.default_rng(len(shape)).normal(size=shape).astype(dtype)}
            cases.append(Case(f"x of shape {tuple(shape)}, {np.dtype(dtype).name}", make))
    return cases


def _make_checks(rule: str):
    reference_init, reference_step = optim.RULES[rule].init, optim.RULES[rule].step
    init_spec = Spec(f"{rule}_init", reference_init, _run_init(rule), forbidden=("gdlib.optim",))
    step_spec = Spec(f"{rule}_step", reference_step, _run_steps(rule), forbidden=("gdlib.optim",))

    @public_check
    def check_init(init, *, shapes=((3,), (2, 4))):
        return verify(init_spec, init, _init_cases(shapes))

    @public_check
    def check_step(step, *, seeds=(0, 1), shapes=((5,), (2, 3)), num_steps=4):
        if callable(step):
            _check_signature(step, rule)
        return verify(step_spec, step, _step_cases(rule, seeds, shapes, num_steps),
                      what=f" ({num_steps} steps each, x and every state field)")

    state = _state_signature(rule)
    check_init.__name__ = check_init.__qualname__ = f"check_{rule}_init"
    check_init.__doc__ = f"""Check ``{rule}_init(x) -> {state}`` against ``gdlib.optim.{rule}_init``.

    The state must hold zeros with the shape and dtype of ``x``{' and t = 0' if 't' in _STATE_TYPES[rule]._fields else ''};
    ``x`` must not be modified. ``shapes`` are the shapes of ``x`` tried (float64 and float32).
    Raises AssertionError with an explanation if the function is wrong.
    """
    check_step.__name__ = check_step.__qualname__ = f"check_{rule}_step"
    check_step.__doc__ = f"""Check ``{rule}_step(x, g, state, *, lr, ...)`` against ``gdlib.optim.{rule}_step``.

    Runs ``num_steps`` steps per case, one case per seed with the default hyperparameters
    (float64) and one with other hyperparameters (float32), on the shapes in ``shapes``, and
    compares ``x`` and every field of the returned {state} after each step. Also checks the
    signature (keyword-only hyperparameters with CONVENTIONS.md's defaults), that ``x``, ``g``
    and ``state`` are not modified and that the dtype is kept. Raises AssertionError naming the
    mistake (from :mod:`gdcheck.catalogue`) or the first output that differs.
    """
    return check_init, check_step


CHECKS = {rule: _make_checks(rule) for rule in RULE_NAMES}  #: rule -> (check_init, check_step)
globals().update({check.__name__: check for pair in CHECKS.values() for check in pair})
__all__ = sorted(check.__name__ for pair in CHECKS.values() for check in pair)
