r"""The experiments lab: the source article's result tables, re-measured (layer 3: uses
:mod:`gdlib.nn`, :mod:`gdlib.data` and :mod:`gdlib.train`).

- :mod:`gdlib.experiments.results`: :class:`LabResult`, :data:`SEEDS`, :func:`seed_mean_sd`, and
  :func:`welch_test` with its error rates;
- :mod:`gdlib.experiments.claims`: :data:`CLAIMS` and the verdict helpers;
- :mod:`gdlib.experiments.runs`: the runners of tables 1, 2, 3, 4, 6 and 7;
- :mod:`gdlib.experiments.timing`: :func:`fit_cpu_timed` and the timing tables 5 and 8.
"""

from gdlib.experiments.results import (
    SEEDS, LabResult, WelchTest, seed_mean_sd, seeds_for_power, student_t_sf, welch_power, welch_test
)
from gdlib.experiments.claims import (
    Claim, CLAIMS, ORDINAL, Comparison, compare_orderings, trend, fit_line, mean_sd,
    markdown_table
)
from gdlib.experiments.runs import (
    lr_vs_loss, input_sensitivity, gradient_per_feature, VARIANTS, variants, regularization,
    INIT_FOR, activation_accuracy, dropout_accuracy
)
from gdlib.experiments.timing import fit_cpu_timed, batch_size_time, depth_time

__all__ = [
    "SEEDS", "LabResult", "seed_mean_sd", "WelchTest", "welch_test", "welch_power", "seeds_for_power",
    "student_t_sf", "Claim", "CLAIMS", "ORDINAL", "Comparison",
    "compare_orderings", "trend", "fit_line", "mean_sd", "markdown_table", "lr_vs_loss",
    "input_sensitivity", "gradient_per_feature", "VARIANTS", "variants", "regularization",
    "INIT_FOR", "activation_accuracy", "dropout_accuracy", "fit_cpu_timed", "batch_size_time",
    "depth_time"
]
