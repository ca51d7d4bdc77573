r"""Two-dimensional loss landscapes, the paths of the update rules on them, and global search
(layer 3: uses :mod:`gdlib.optim` and :mod:`gdlib.train`).

- :mod:`gdlib.landscapes.types`: the records :class:`Landscape` and :class:`CriticalPoint`;
- :mod:`gdlib.landscapes.surfaces`: the landscapes (:func:`quadratic`, :func:`rosenbrock`,
  :func:`multi_minima`, :func:`saddle`, :func:`monkey_saddle`) and their critical points;
- :mod:`gdlib.landscapes.trajectories`: :func:`trace` and :func:`trace_many` run an update rule
  from one or many starts;
- :mod:`gdlib.landscapes.search`: simulated annealing, random restarts and perturbed gradient
  descent.

A run that blows up warns with :class:`gdlib.train.DivergenceWarning`.
"""

from gdlib.landscapes.types import KINDS, CriticalPoint, Landscape
from gdlib.landscapes.surfaces import (
    quadratic, rosenbrock, multi_minima, saddle, monkey_saddle, LANDSCAPES, get_landscape,
    classify_critical_point, find_critical_points
)
from gdlib.landscapes.trajectories import (
    MAX_ABS, VALUE_GROWTH, Trace, TraceBatch, trace, trace_many
)
from gdlib.landscapes.search import (
    SCHEDULES, temperature, acceptance_probability, AnnealingResult, simulated_annealing,
    RestartsResult, random_restarts, PerturbedResult, uniform_ball, perturbed_gradient_descent
)

__all__ = [
    "KINDS", "CriticalPoint", "Landscape", "quadratic", "rosenbrock", "multi_minima", "saddle",
    "monkey_saddle", "LANDSCAPES", "get_landscape", "classify_critical_point",
    "find_critical_points", "MAX_ABS", "VALUE_GROWTH", "Trace", "TraceBatch", "trace",
    "trace_many", "SCHEDULES", "temperature", "acceptance_probability", "AnnealingResult",
    "simulated_annealing", "RestartsResult", "random_restarts", "PerturbedResult", "uniform_ball",
    "perturbed_gradient_descent"
]
