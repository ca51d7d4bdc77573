r"""The book's figure style and plots (layer 3: uses :mod:`gdlib.optim` for the rules' colours).
See :mod:`gdlib.plotting.charts`.
"""

from gdlib.plotting.charts import (
    CYCLE, RULE_COLORS, RULE_MARKERS, CRITICAL_POINT_MARKERS, DIVERGED_MARKER, STYLE, use_style,
    style, rule_color, contour, trajectories, loss_curves, comparison_bars
)

__all__ = [
    "CYCLE", "RULE_COLORS", "RULE_MARKERS", "CRITICAL_POINT_MARKERS", "DIVERGED_MARKER", "STYLE",
    "use_style", "style", "rule_color", "contour", "trajectories", "loss_curves",
    "comparison_bars"
]
