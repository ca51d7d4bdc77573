"""The classic mistakes of the speed assignment (the speed chapter, ``ch-speed``), registered in
:data:`gdcheck.catalogue.MISTAKES` like the others': ``clip_by_global_norm``,
``heavy_ball_rate`` and ``heavy_ball_optimal``.

Mistakes of ``clip_by_global_norm`` that come in several spellings (which norm the student
returns beside a per-array clip, say) get a ``detect`` predicate over the check's outputs; the
others get the wrong code itself (``implementation``).
"""

from __future__ import annotations

import numpy as np

from gdcheck.catalogue import _detector, _register

# -- clip_by_global_norm -------------------------------------------------------------------------


def clipped_arrays(outputs) -> dict:
    """name -> clipped array of a clip_by_global_norm check's outputs."""
    return {key[len("clipped["):-1]: np.asarray(value, dtype=float)
            for key, value in outputs.items() if key.startswith("clipped[")}


def _inputs(outputs):
    grads = {repr(k): np.asarray(g, dtype=float) for k, g in outputs.inputs["grads"].items()}
    return grads, float(outputs.inputs["max_norm"])


def _global_norm(grads) -> float:
    return float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))


def _close(a, b) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=2e-5, atol=1e-9))


def _all_clipped_like(yours, scale_of) -> bool:
    """Every case's clipped arrays equal ``g * scale_of(name, g, grads, max_norm)``; cases where
    that scale is not finite are skipped, and at least one case must be compared."""
    compared = 0
    for mine in yours:
        grads, max_norm = _inputs(mine)
        clipped = clipped_arrays(mine)
        if set(clipped) != set(grads):
            return False
        for name, g in grads.items():
            with np.errstate(all="ignore"):
                scale = scale_of(name, g, grads, max_norm)
            if not np.isfinite(scale):
                continue
            if not _close(clipped[name], g * scale):
                return False
            compared += 1
    return compared > 0


def _differs_from_reference(yours, references) -> bool:
    return any(not _close(a, b) for mine, ref in zip(yours, references)
               for a, b in zip(clipped_arrays(mine).values(), clipped_arrays(ref).values()))


@_detector("clip_by_global_norm", "clip-per-array",
           "clipping each array by its own norm (not by the global norm)", """
    The global norm is taken over all the arrays together, ||g|| = sqrt(sum over every array of
    its sum of squares), and every array is multiplied by the same factor min(1, max_norm / ||g||).
    Clipping each array to max_norm separately changes the direction of the whole gradient and
    lets it grow to sqrt(number of arrays) * max_norm.""")
def _clip_per_array(yours, references):
    def scale(name, g, grads, max_norm):
        norm = float(np.sqrt(np.sum(g * g)))
        return min(1.0, max_norm / norm) if norm > 0 else 1.0
    return _all_clipped_like(yours, scale) and _differs_from_reference(yours, references)


@_detector("clip_by_global_norm", "clip-always",
           "scaling every gradient to norm max_norm (the min(1, .) forgotten)", """
    Clipping only shortens: g <- g * min(1, max_norm / ||g||). Without the min(1, .), a gradient
    shorter than max_norm is stretched up to max_norm, which changes every step instead of the
    rare large ones (and divides by zero for a zero gradient).""")
def _clip_always(yours, references):
    def scale(name, g, grads, max_norm):
        norm = _global_norm(grads)
        return max_norm / norm if norm > 0 else np.inf  # a zero gradient: not compared
    short = any(0 < _global_norm(_inputs(mine)[0]) < _inputs(mine)[1] for mine in yours)
    return short and _all_clipped_like(yours, scale)


@_detector("clip_by_global_norm", "clip-in-place",
           "the gradients changed in place (g *= scale)", """
    clip_by_global_norm returns new arrays and leaves grads as it was: the caller may still need
    the unclipped gradients (to log their norm, say). Write clipped[name] = g * scale, which makes
    a new array, not g *= scale.""")
def _clip_in_place(yours, references):
    return any(any(name.startswith("grads") for name in mine.mutated) for mine in yours)


@_detector("clip_by_global_norm", "clip-norm-after",
           "returning the norm after clipping instead of before", """
    The norm to return is the global norm of the gradients you were given, before any clipping:
    it says how large the gradient really was (and so how often clipping acts). The norm of the
    clipped gradients is min(||g||, max_norm).""")
def _clip_norm_after(yours, references):
    clipped_some = False
    for mine, ref in zip(yours, references):
        grads, max_norm = _inputs(mine)
        before = _global_norm(grads)
        if not _close(mine["norm"], min(before, max_norm)):
            return False
        clipped_some |= before > max_norm
    return clipped_some


@_register("clip_by_global_norm", "clip-sum-of-norms",
           "the global norm taken as the sum of the arrays' norms", """
    The global norm is the Euclidean norm of all the entries together,
    sqrt(sum over the arrays of np.sum(g**2)), as if the arrays were one long vector: square
    first, add everything, then take one square root. The sum of the arrays' own norms is
    larger, so the gradient is clipped too often and too much.""")
def _clip_sum_of_norms(grads, max_norm):
    total = sum(float(np.sqrt(np.sum(np.asarray(g, dtype=float) ** 2))) for g in grads.values())
    scale = min(1.0, max_norm / total) if total > 0 else 1.0
    return {name: g * scale for name, g in grads.items()}, total


# -- heavy_ball_rate ------------------------------------------------------------------------------

def _matrix(lr, beta, lam, *, off_diagonal):
    return np.array([[1.0 + beta - lr * lam, off_diagonal * beta], [1.0, 0.0]])


@_register("heavy_ball_rate", "hb-real-part",
           "the largest real part of the eigenvalues instead of the largest modulus", """
    The error is multiplied by the eigenvalues z of T at every step, and a complex z multiplies
    its length by |z|: the rate is max |z| (np.abs, not .real). When a^2 < 4 beta both
    eigenvalues are complex with modulus sqrt(beta), while their real part a / 2 can be small,
    or negative.""")
def _hb_real_part(lr, beta, lam):
    return float(np.max(np.linalg.eigvals(_matrix(lr, beta, lam, off_diagonal=-1.0)).real))


@_register("heavy_ball_rate", "hb-largest-not-modulus",
           "the largest eigenvalue instead of the eigenvalue of largest modulus", """
    With real eigenvalues z1 <= z2 the rate is max(|z1|, |z2|), not z2: when lr * lam > 1 + beta,
    a = 1 + beta - lr * lam is negative and the eigenvalue of largest modulus is the negative one,
    (a - sqrt(a^2 - 4 beta)) / 2; the iterate then flips sign at every step, and diverges when
    that eigenvalue is below -1. In closed form: (|a| + sqrt(a^2 - 4 beta)) / 2.""")
def _hb_largest_not_modulus(lr, beta, lam):
    a = 1.0 + beta - lr * lam
    disc = a * a - 4.0 * beta
    if disc < 0:
        return float(np.sqrt(beta))
    return float((a + np.sqrt(disc)) / 2)


@_register("heavy_ball_rate", "hb-beta-sign",
           "+beta instead of -beta in the iteration matrix", """
    x_{t+1} = x_t - lr * lam * x_t + beta * (x_t - x_{t-1}) = (1 + beta - lr * lam) x_t - beta x_{t-1}:
    the entry beside 1 + beta - lr * lam is -beta. With +beta the characteristic polynomial is
    z^2 - a z - beta, whose roots are never complex, and the rate is wrong for every beta > 0.""")
def _hb_beta_sign(lr, beta, lam):
    return float(np.max(np.abs(np.linalg.eigvals(_matrix(lr, beta, lam, off_diagonal=1.0)))))


# -- heavy_ball_optimal ---------------------------------------------------------------------------

@_register("heavy_ball_optimal", "hbo-beta-not-squared",
           "beta* taken as the rate (sqrt(kappa) - 1) / (sqrt(kappa) + 1), not its square", """
    The best momentum is beta* = ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))**2; the rate it gives,
    rho* = sqrt(beta*), is (sqrt(kappa) - 1) / (sqrt(kappa) + 1) without the square.""")
def _hbo_beta_not_squared(mu, L):
    root = np.sqrt(L / mu)
    return 4.0 / (np.sqrt(L) + np.sqrt(mu)) ** 2, float((root - 1) / (root + 1))


@_register("heavy_ball_optimal", "hbo-gd-lr",
           "gradient descent's best learning rate 2 / (L + mu) beside beta*", """
    2 / (L + mu) is the best learning rate of plain gradient descent (beta = 0). With momentum
    the best one is larger, lr* = 4 / (sqrt(L) + sqrt(mu))**2: momentum widens the stable range
    of learning rates to 2 (1 + beta) / L.""")
def _hbo_gd_lr(mu, L):
    root = np.sqrt(L / mu)
    return 2.0 / (L + mu), float(((root - 1) / (root + 1)) ** 2)
