r"""Update rules and learning-rate schedules (layer 1: needs only numpy).

- :mod:`gdlib.optim.rules`: the rules (sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw)
  as pure ``<name>_init`` / ``<name>_step`` pairs, their registry :data:`RULES`,
  :func:`get_rule` and :class:`Optimizer`;
- :mod:`gdlib.optim.schedules`: learning-rate schedules :math:`\eta_t`.
- :mod:`gdlib.optim.rates`: how fast the heavy ball converges on a quadratic, and its best
  setting (:func:`heavy_ball_rate`, :func:`heavy_ball_optimal`).
"""

from gdlib.optim.rules import (
    SGDState, MomentumState, NesterovState, AdagradState, RMSpropState, AdamState, AdamWState,
    sgd_init, sgd_step, momentum_init, momentum_step, nesterov_init, nesterov_step, adagrad_init,
    adagrad_step, rmsprop_init, rmsprop_step, adam_init, adam_step, adamw_init, adamw_step, Range,
    Rule, RULES, get_rule, check_hyper, Optimizer
)
from gdlib.optim.rates import heavy_ball_optimal, heavy_ball_rate
from gdlib.optim.schedules import (
    constant, step_decay, exponential_decay, inverse_sqrt, cosine, SCHEDULES, make_schedule
)

__all__ = [
    "heavy_ball_rate", "heavy_ball_optimal",
    "SGDState", "MomentumState", "NesterovState", "AdagradState", "RMSpropState", "AdamState",
    "AdamWState", "sgd_init", "sgd_step", "momentum_init", "momentum_step", "nesterov_init",
    "nesterov_step", "adagrad_init", "adagrad_step", "rmsprop_init", "rmsprop_step", "adam_init",
    "adam_step", "adamw_init", "adamw_step", "Range", "Rule", "RULES", "get_rule", "check_hyper",
    "Optimizer", "constant", "step_decay", "exponential_decay", "inverse_sqrt", "cosine",
    "SCHEDULES", "make_schedule"
]
