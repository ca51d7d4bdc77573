"""The classic mistakes of the local-minima, saddle-points, activations and regularization
assignments, registered in :data:`gdcheck.catalogue.MISTAKES` like the first four's.

Deterministic functions get the wrong code itself (``implementation``) where a student's wrong
answer gives exactly its numbers; random ones (simulated annealing, perturbed gradient descent,
random restarts, dropout) and mistakes that come in several spellings get a ``detect`` predicate
over the check's outputs and draws (see :mod:`gdcheck._statistics`). The names of those draws,
shared with the checks, are defined here.
"""

from __future__ import annotations

import numpy as np

from gdcheck._statistics import Z_LIMIT, draws_of, z_score
from gdcheck.catalogue import _detector, _register
from gdlib.nn import sigmoid as _sigmoid

# Keys of the draws the checks record (Sampled.draws).
TILTED_PLANE = "tilted plane"
GLOBAL_SEARCH = "global search"
RESTARTS = "restarts"
KICKS = "kicks"
DROPOUT = "dropout"

#: What classify_critical_point returns; the check's output holds the index into this tuple.
CRITICAL_KINDS = ("minimum", "maximum", "saddle", "degenerate")


def region(outputs, where: str) -> np.ndarray:
    """The values of an activation check's output ``... where z < 0`` (or ``z = 0``, ``z > 0``)."""
    found = [np.asarray(v, dtype=float) for k, v in outputs.items() if k.endswith(where)]
    return found[0] if found else np.zeros(0)


def region_inputs(outputs, where: str) -> np.ndarray:
    z = np.asarray(outputs.inputs["z"], dtype=float).ravel()
    return z[{"where z < 0": z < 0, "where z = 0": z == 0, "where z > 0": z > 0}[where]]


# -- local-minima: acceptance_probability, temperature, simulated_annealing, random_restarts -----

def _uphill_pairs(mine):
    delta, T = np.asarray(mine.inputs["delta"]), np.asarray(mine.inputs["T"])
    return delta[delta > 0], T[delta > 0], np.asarray(mine["P for delta > 0"], dtype=float)


@_detector("acceptance_probability", "ap-sign", "the exponent's sign flipped (exp(+delta / T))", """
    An uphill move (delta > 0) is accepted with probability exp(-delta / T) < 1, smaller the
    larger the climb and the lower the temperature. exp(+delta / T) is above 1 for every uphill
    move, so the chain would accept them all.""")
def _ap_sign(yours, references):
    return all(np.allclose(p, np.exp(d / T), rtol=1e-6)
               for d, T, p in (_uphill_pairs(mine) for mine in yours))


@_detector("acceptance_probability", "ap-always", "always accepting worse moves (P = 1 for delta > 0)", """
    Only downhill and level moves (delta <= 0) are always accepted; an uphill move is accepted
    with probability exp(-delta / T). (min(1, exp(+delta / T)), with the sign of the exponent
    flipped, also gives 1.) Without this the chain is a random walk that never settles.""")
def _ap_always(yours, references):
    return all(np.allclose(p, 1.0) for _, _, p in (_uphill_pairs(mine) for mine in yours))


@_register("temperature", "temp-off-by-one", "the temperature schedule off by one step", """
    The schedule starts at T0: T_t = T0 * cooling ** t for t = 0, 1, 2, ..., so temperature(0)
    is T0 itself.""")
def _temp_off_by_one(t, *, T0, cooling):
    return T0 * cooling ** (t + 1)


@_detector("temperature", "temp-linear", "a linear schedule instead of an exponential one", """
    The temperature is multiplied by cooling at every step, T_t = T0 * cooling ** t; it never
    reaches 0 and its decrease slows down. Subtracting a constant every step (T0 - cooling * t,
    T0 * (1 - cooling * t), ...) reaches 0, then goes negative.""")
def _temp_linear(yours, references):
    """Equal decrements, below 0 or clamped at 0 (then at least 3 positive values)."""
    def linear(T):
        scale = float(np.max(np.abs(T)))
        return len(T) >= 3 and bool(np.allclose(np.diff(T, 2), 0.0, atol=1e-9 * scale)
                                    and np.all(np.diff(T) < -1e-12 * scale))
    for mine in yours:
        T = np.asarray(mine["T_t"], dtype=float)
        if not np.all(np.isfinite(T)):
            return False
        clamped = int(np.argmax(T <= 0)) if np.any(T <= 0) else len(T)
        if not (linear(T) or (np.all(T[clamped:] == 0) and linear(T[:clamped]))):
            return False
    return True


def uphill_acceptance(draws: dict, scale: float = 1.0) -> tuple[float, int, float, float]:
    r"""(z, accepted, expected, sd) for the uphill proposals of a tilted-plane run: the number
    accepted against Metropolis' rule at the temperatures ``scale * T_t``,

    .. math::

        z = \frac{\sum_i A_i - \sum_i p_i}{\sqrt{\sum_i p_i (1 - p_i)}}, \qquad
        p_i = e^{-\Delta_i / (s\, T_{t_i})} .
    """
    uphill = draws["delta"] > 0
    p = np.exp(-draws["delta"][uphill] / (scale * draws["T"][uphill]))
    taken = int(draws["accepted"][uphill].sum())
    variance = float(np.sum(p * (1 - p)))
    return z_score(taken, float(p.sum()), variance), taken, float(p.sum()), float(np.sqrt(variance))


@_detector("simulated_annealing", "sa-always-accept", "every proposal accepted (uphill moves too)", """
    The chain moves to the proposal only when rng.random() < acceptance_probability(delta, T),
    and otherwise stays where it is (path[t + 1] = path[t]). If acceptance_probability passes its
    own test, check this test in simulated_annealing; if it does not, fix it first: an
    acceptance probability that is 1 for uphill moves gives the same symptom.""")
def _sa_always_accept(yours, references):
    runs = draws_of(yours, TILTED_PLANE)
    return bool(runs) and all(d["accepted"].all() and np.sum(d["delta"] > 0) > 20 for d in runs)


@_detector("simulated_annealing", "sa-temperature-ahead",
           "temperatures one step ahead (T0 * cooling**(t + 1) at step t)", """
    Step t = 0, 1, ..., num_steps - 1 judges its proposal at temperature(t, T0=T0,
    cooling=cooling), so the first proposal is judged at T0. Your chain accepts uphill moves
    exactly as often as the temperatures of one step later allow: check that temperature(0)
    returns T0, and that the loop counts t from 0.""")
def _sa_temperature_ahead(yours, references):
    runs = draws_of(yours, TILTED_PLANE)
    if not runs or not any(uphill_acceptance(d)[0] < -Z_LIMIT for d in runs):
        return False
    return all(abs(uphill_acceptance(d, scale=d["cooling"])[0]) < Z_LIMIT - 0.5 for d in runs)


@_detector("random_restarts", "rr-same-start", "every restart from the same start", """
    Draw a new start inside the loop, once per restart: start = rng.uniform(bounds[:, 0],
    bounds[:, 1]). A start drawn once before the loop, or a Generator created inside it with a
    fixed seed (np.random.default_rng(0)), repeats the same local search num_restarts times.""")
def _rr_same_start(yours, references):
    runs = [d for d in draws_of(yours, RESTARTS) if len(d["starts"]) > 1]
    return bool(runs) and all(np.all(d["starts"] == d["starts"][0]) for d in runs)


# -- saddle-points: classify_critical_point, perturbed_gradient_descent --------------------------

def _labels(mine):
    return [CRITICAL_KINDS[int(c)] for c in np.asarray(mine["classification"])]


def _hessians(mine):
    return [np.asarray(H, dtype=float) for H in mine.inputs["hessians"]]


def _eigenvalues(H):
    eig = np.linalg.eigvalsh((H + H.T) / 2)
    return eig, 1e-8 * max(1.0, float(np.max(np.abs(eig))))


@_detector("classify_critical_point", "cc-determinant",
           "classifying by the determinant alone (a maximum called a minimum or a saddle)", """
    det H is the product of the eigenvalues: det > 0 holds for a minimum, but also for a maximum
    in 2-D (two negative eigenvalues) and for a saddle with two negative eigenvalues in 3-D. Look
    at the signs of the eigenvalues themselves: np.linalg.eigvalsh(H).""")
def _cc_determinant(yours, references):
    differs = False
    for mine, ref in zip(yours, references):
        for H, label, expected in zip(_hessians(mine), _labels(mine), _labels(ref)):
            det = np.linalg.det(H)
            if abs(det) > 1e-6:
                rule = "minimum" if det > 0 else "saddle"
                if label != rule:
                    return False
                differs |= rule != expected
    return differs


@_detector("classify_critical_point", "cc-trace",
           "classifying by the trace alone (a saddle called a minimum or a maximum)", """
    The trace is the sum of the eigenvalues: positive for a minimum, but also for a saddle whose
    positive curvatures outweigh its negative ones. A saddle has eigenvalues of both signs; use
    their signs, not their sum.""")
def _cc_trace(yours, references):
    differs = False
    for mine, ref in zip(yours, references):
        for H, label, expected in zip(_hessians(mine), _labels(mine), _labels(ref)):
            trace = np.trace(H)
            if abs(trace) > 1e-6:
                rule = "minimum" if trace > 0 else "maximum"
                if label != rule:
                    return False
                differs |= rule != expected
    return differs


@_detector("classify_critical_point", "cc-zero-as-minimum",
           "a degenerate point called a minimum or a maximum (an eigenvalue 0 not set apart)", """
    With an eigenvalue 0 (|lambda| <= tol) the second-order test cannot decide: along that
    direction the third- or fourth-order terms do (x^4 has a minimum, x^3 none, both have
    f'' = 0). Test strictly: "minimum" needs every eigenvalue > tol, "maximum" every one < -tol;
    otherwise, without eigenvalues of both signs, the answer is "degenerate".""")
def _cc_zero_as_minimum(yours, references):
    seen = False
    for mine, ref in zip(yours, references):
        for H, label, expected in zip(_hessians(mine), _labels(mine), _labels(ref)):
            eig, tol = _eigenvalues(H)
            if expected != "degenerate":
                if label != expected:
                    return False
            elif np.all(eig >= -tol) and np.any(eig > tol):
                seen = True
                if label != "minimum":
                    return False
    return seen


@_register("classify_critical_point", "cc-unscaled-tolerance",
           "a fixed tolerance (1e-8) instead of one scaled by the largest eigenvalue", """
    eigvalsh computes each eigenvalue up to a rounding error proportional to the largest one, so
    the tolerance must grow with the Hessian's scale: tau = 1e-8 * max(1, max |lambda_i|), and
    |lambda| <= tau counts as 0. With a fixed 1e-8, a Hessian with eigenvalues 1e9 and a few of
    order 1 is called a minimum, though beside 1e9 those are zeros (below tau = 10) and the point
    is degenerate.""")
def _cc_unscaled_tolerance(hessian):
    eig = np.linalg.eigvalsh(hessian)
    up, down = np.any(eig > 1e-8), np.any(eig < -1e-8)
    if up and down:
        return "saddle"
    if up and np.all(eig > 1e-8):
        return "minimum"
    if down and np.all(eig < -1e-8):
        return "maximum"
    return "degenerate"


def _kick_runs(yours):
    return draws_of(yours, KICKS)


@_detector("perturbed_gradient_descent", "pgd-always",
           "perturbing at every step (not only where the gradient is small)", """
    Perturb only when ||grad f(x_t)|| <= g_thresh, that is near a critical point, where gradient
    descent alone would stall. Where the gradient is large, the step is plain gradient descent:
    x_{t+1} = x_t - lr * grad f(x_t).""")
def _pgd_always(yours, references):
    runs = _kick_runs(yours)
    large = [d["kicked"][~d["small"]] for d in runs]
    return bool(runs) and sum(k.size for k in large) > 0 and \
        np.mean(np.concatenate(large)) > 0.5


@_detector("perturbed_gradient_descent", "pgd-never",
           "never perturbing (plain gradient descent)", """
    When ||grad f(x_t)|| <= g_thresh, first add a kick drawn uniformly from the ball of radius
    `radius`: x_t <- x_t + xi, then take the gradient step from there. Without the kick, gradient
    descent started on a saddle (or on its stable manifold) stays there forever.""")
def _pgd_never(yours, references):
    runs = _kick_runs(yours)
    small = [d["kicked"][d["small"]] for d in runs]
    return sum(k.size for k in small) > 0 and not np.any(np.concatenate(small))


@_detector("perturbed_gradient_descent", "pgd-stale-gradient",
           "the step after a kick taken with the gradient from before the kick", """
    After the kick x_t <- x_t + xi, evaluate the gradient again at the new x_t:
    x_{t+1} = (x_t + xi) - lr * grad f(x_t + xi). Reusing the gradient of the unperturbed point
    moves x_t + xi by the wrong amount.""")
def _pgd_stale_gradient(yours, references):
    runs = _kick_runs(yours)
    kicks, stale = [], []
    for d in runs:
        at = d["small"]
        kicks.append(np.linalg.norm(d["kicks"][at], axis=1) / d["radius"])
        stale.append(np.linalg.norm(d["stale_kicks"][at], axis=1) / d["radius"])
    if not runs or sum(k.size for k in kicks) == 0:
        return False
    kicks, stale = np.concatenate(kicks), np.concatenate(stale)
    return bool(np.any(kicks > 1 + 1e-9) and np.all(stale <= 1 + 1e-9) and np.all(stale > 0))


# -- activations ------------------------------------------------------------------------------

@_register("relu_grad", "relu-grad-at-zero", "the ReLU gradient taken as 1 at z = 0", """
    This course uses relu'(0) = 0 (like PyTorch): (z > 0), not (z >= 0). Any value in [0, 1]
    is a valid subgradient at the kink; the convention fixes one, so that a unit whose
    pre-activation is exactly 0 passes no gradient back.""")
def _relu_grad_at_zero(z):
    return (np.asarray(z, dtype=float) >= 0).astype(float)


@_detector("relu_grad", "relu-grad-negative", "a ReLU gradient that is not 0 for z < 0", """
    relu(z) = max(z, 0) is constant (0) for z < 0, so its derivative there is 0: return
    (z > 0) as floats. A slope for negative z belongs to leaky ReLU; sign(z) or 1 everywhere is
    the derivative of other functions.""")
def _relu_grad_negative(yours, references):
    negative = [region(mine, "where z < 0") for mine in yours]
    return any(v.size for v in negative) and all(np.all(v != 0) for v in negative if v.size)


@_detector("leaky_relu", "leaky-no-slope", "the leaky slope missing (max(z, 0) for z < 0)", """
    Leaky ReLU keeps a small slope alpha for z <= 0: leaky_relu(z) = z for z > 0 and alpha * z
    otherwise, e.g. np.where(z > 0, z, alpha * z).""")
def _leaky_no_slope(yours, references):
    negative = [region(mine, "where z < 0") for mine in yours]
    return any(v.size for v in negative) and all(np.all(v == 0) for v in negative)


@_detector("leaky_relu_grad", "leaky-grad-no-slope",
           "the leaky slope missing from the gradient (0 instead of alpha for z <= 0)", """
    The derivative of alpha * z is alpha: leaky_relu_grad(z) = 1 for z > 0 and alpha for
    z <= 0 (alpha at the kink too, by the course's convention), e.g.
    np.where(z > 0, 1.0, alpha).""")
def _leaky_grad_no_slope(yours, references):
    negative = [region(mine, "where z < 0") for mine in yours]
    return any(v.size for v in negative) and all(np.all(v == 0) for v in negative)


@_detector("sigmoid", "sigmoid-overflow", "a sigmoid that overflows for large z (exp(z) / (1 + exp(z)))", """
    np.exp(z) is inf for z above about 709, and inf / inf is NaN. Exponentiate only
    non-positive numbers: 1 / (1 + exp(-z)) for z >= 0 and exp(z) / (1 + exp(z)) for z < 0
    (np.where with e = np.exp(-np.abs(z))), or 0.5 * (1 + np.tanh(z / 2)).""")
def _sigmoid_overflow(yours, references):
    large = False
    for mine in yours:
        z, s = region_inputs(mine, "where z > 0"), region(mine, "where z > 0")
        if s.shape != z.shape:
            return False
        bad = ~np.isfinite(s)
        if np.any(bad & (z < 700)):
            return False
        large |= bool(np.any(bad))
    return large


@_register("sigmoid_grad", "sigmoid-grad-s",
           "sigmoid_grad returning sigma(z) instead of sigma(z) (1 - sigma(z))", """
    The derivative of the sigmoid is sigma'(z) = sigma(z) * (1 - sigma(z)), at most 1/4 (at
    z = 0): compute s = sigmoid(z) once, then return s * (1 - s).""")
def _sigmoid_grad_s(z):
    return _sigmoid(z)


@_register("tanh_grad", "tanh-grad-linear", "tanh_grad returning 1 - tanh(z) instead of 1 - tanh(z)**2", """
    The derivative of tanh is 1 - tanh(z)**2: it is 1 at z = 0, symmetric in z, and tends to
    0 on both sides. 1 - tanh(z) tends to 2 for large negative z.""")
def _tanh_grad_linear(z):
    return 1.0 - np.tanh(np.asarray(z, dtype=float))


def _layer_weight_grads(model, X, y):
    grads = model.loss_and_grads(X, y)[1]
    return {name: (grads[w], grads[b]) for name, (w, b) in model.layer_keys().items()}


@_register("layer_gradient_norms", "norms-with-biases",
           "the norms taken over the weights and the biases together", """
    The norm of a layer's weight gradient uses grads["W<l>"] only; the bias gradient
    grads["b<l>"] is a different parameter (and usually much smaller).""")
def _norms_with_biases(model, X, y):
    return {name: float(np.sqrt(np.sum(dW**2) + np.sum(db**2)))
            for name, (dW, db) in _layer_weight_grads(model, X, y).items()}


@_register("layer_gradient_norms", "norms-squared", "squared norms (no square root)", """
    The L2 (Frobenius) norm is the square root of the sum of squares:
    np.sqrt(np.sum(dW**2)), or np.linalg.norm(dW).""")
def _norms_squared(model, X, y):
    return {name: float(np.sum(dW**2)) for name, (dW, _) in _layer_weight_grads(model, X, y).items()}


# -- regularization -----------------------------------------------------------------------------

@_register("l2_grad", "l2-factor-2", "the L2 gradient 2 * lam * W (the penalty lam * ||W||^2)", """
    This course's L2 penalty is (lam / 2) * ||W||^2, as in gdlib.nn.l2_penalty and the
    chapter: the 1/2 cancels the 2 of the derivative, so the gradient is lam * W (weight decay
    with the factor lr * lam).""")
def _l2_factor_2(W, lam):
    return 2 * lam * np.asarray(W, dtype=float)


@_register("l1_grad", "l1-sign-zero", "the L1 subgradient taken as lam (not 0) at W = 0", """
    CONVENTIONS.md fixes the subgradient of |w| at 0 to 0, np.sign's value: lam * np.sign(W).
    (Any value in [-lam, lam] is a valid subgradient there; 0 leaves a weight that is exactly 0
    where it is.) A test like W >= 0 sends zero weights the full lam.""")
def _l1_sign_zero(W, lam):
    return lam * np.where(np.asarray(W, dtype=float) >= 0, 1.0, -1.0)


def _dropout_runs(yours):
    return [d for d in draws_of(yours, DROPOUT) if d["p"] > 0 and d["mask"].size >= 1000]


@_detector("dropout_forward", "dropout-no-rescale", "dropout without rescaling (a mask of 0s and 1s)", """
    Inverted dropout scales the units it keeps by 1 / (1 - p), so that the expected output
    equals X and nothing changes at evaluation: mask = (rng.random(X.shape) >= p) / (1 - p),
    out = X * mask.""")
def _dropout_no_rescale(yours, references):
    runs = _dropout_runs(yours)
    return bool(runs) and all(np.all(np.isin(d["mask"], (0.0, 1.0))) for d in runs)


@_detector("dropout_forward", "dropout-keep-probability",
           "units dropped with probability 1 - p instead of p", """
    p is the probability of *dropping* a unit (as in gdlib and torch.nn.Dropout): keep a unit
    where rng.random(X.shape) >= p, which happens with probability 1 - p.""")
def _dropout_keep_probability(yours, references):
    runs = _dropout_runs(yours)
    return bool(runs) and all(
        abs(z_score(np.mean(d["mask"] == 0) * d["mask"].size, (1 - d["p"]) * d["mask"].size,
                    d["p"] * (1 - d["p"]) * d["mask"].size)) < Z_LIMIT for d in runs)


@_register("dropout_backward", "dropout-backward-no-mask", "the backward pass ignoring the mask", """
    out = X * mask, so dL/dX = dout * mask: a dropped unit passes no gradient back and a kept one
    passes it scaled by 1 / (1 - p), the same mask as in the forward pass.""")
def _dropout_backward_no_mask(dout, mask):
    return np.array(dout, dtype=float, copy=True)
