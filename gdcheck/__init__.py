"""gdcheck: the checks behind the course's exercises, with messages that teach.

Every ``check_<function>(your_function, *, seeds=..., ...)`` runs your function beside gdlib's
reference on several seeded inputs, checks the properties the exercise asks for (inputs left
untouched, shapes and dtypes kept, ...), and prints one line if all is well. Otherwise it raises
an AssertionError that says what is wrong: a known mistake by name ("This looks like Adam
without bias correction") with its fix, or which output differs, where and by how much.

The exercise notebooks call these checks in their test cells; you can call them yourself while
you work. Your function must do the work itself: one that calls the gdlib reference it is
compared with fails. Numpy warnings raised while your code runs are recorded, never printed.
"""

from gdcheck.gradient_descent import (
    check_gradient_descent, check_numerical_gradient, check_two_layer_backward,
)
from gdcheck.learning_rate import (
    check_cosine_schedule, check_exponential_decay, check_stability_threshold, check_step_decay,
)
from gdcheck.optimizers import *  # noqa: F403  check_<rule>_init, check_<rule>_step for each rule of gdlib.optim.RULES
from gdcheck.variants import check_iterate_minibatches, check_train

__all__ = sorted(name for name in dir() if name.startswith("check_"))

# The local-minima, saddle-points, activations and regularization assignments; their mistakes
# are registered in gdcheck.catalogue.MISTAKES by gdcheck.catalogue_more (the speed
# assignment's by gdcheck.catalogue_speed).
from gdcheck.activations import (
    check_layer_gradient_norms, check_leaky_relu, check_leaky_relu_grad, check_relu,
    check_relu_grad, check_sigmoid, check_sigmoid_grad, check_tanh, check_tanh_grad,
)
from gdcheck.local_minima import (
    check_acceptance_probability, check_random_restarts, check_simulated_annealing,
    check_temperature,
)
from gdcheck.regularization import (
    check_dropout_backward, check_dropout_forward, check_l1_grad, check_l2_grad,
)
from gdcheck.saddle_points import check_classify_critical_point, check_perturbed_gradient_descent
from gdcheck.speed import (
    check_clip_by_global_norm, check_heavy_ball_optimal, check_heavy_ball_rate,
)

__all__ = sorted(name for name in dir() if name.startswith("check_"))
