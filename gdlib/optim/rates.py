r"""How fast momentum converges on a quadratic: the heavy ball's rate and its best setting.

On :math:`f(x) = \tfrac12 x^\top A x`, the heavy ball of :mod:`gdlib.optim` (CONVENTIONS.md:
:math:`v \leftarrow \beta v + g`, :math:`x \leftarrow x - \eta v`) is the two-step recursion
:math:`x_{t+1} = x_t - \eta \nabla f(x_t) + \beta (x_t - x_{t-1})`. Along an eigenvector of
:math:`A` with eigenvalue (curvature) :math:`\lambda` the pair :math:`(x_{t+1}, x_t)` is
multiplied at every step by

.. math::

    T_\lambda = \begin{pmatrix} 1 + \beta - \eta\lambda & -\beta \\ 1 & 0 \end{pmatrix},

so the error along it shrinks by the spectral radius :math:`\rho(T_\lambda)` per step
(:func:`heavy_ball_rate`), and on the whole quadratic by the largest of them, reached at
:math:`\lambda = \mu` or :math:`\lambda = L`. :func:`heavy_ball_optimal` gives the setting that
minimises it (Polyak, 1964). The speed chapter (``ch-speed``) draws the map; its exercise asks
for both functions.
"""

from __future__ import annotations

import numpy as np

from gdlib._validate import _show, check_positive_number

__all__ = ["heavy_ball_rate", "heavy_ball_optimal"]


def _real_array(value, name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a real number or an array of them, got {name}={_show(value)}")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {name}={_show(value)}")
    return arr


def heavy_ball_rate(lr, beta, lam):
    r"""The error factor per step of the heavy ball along one curvature of a quadratic.

    The spectral radius (largest modulus of the eigenvalues) of

    .. math::

        T_\lambda = \begin{pmatrix} 1 + \beta - \eta\lambda & -\beta \\ 1 & 0 \end{pmatrix},
        \qquad
        \rho = \begin{cases}
            \sqrt\beta & \text{if } a^2 < 4\beta, \\
            \tfrac12 \bigl(|a| + \sqrt{a^2 - 4\beta}\bigr) & \text{otherwise,}
        \end{cases}
        \quad a = 1 + \beta - \eta\lambda,

    from the characteristic polynomial :math:`z^2 - a z + \beta` (complex roots have modulus
    :math:`\sqrt\beta`, their product). :math:`\rho < 1` exactly when
    :math:`0 < \eta\lambda < 2(1 + \beta)`; with :math:`\beta = 0` it is gradient descent's
    :math:`|1 - \eta\lambda|`.

    Parameters
    ----------
    lr : float or array_like
        The learning rate :math:`\eta > 0`.
    beta : float or array_like
        The momentum :math:`\beta \in [0, 1)`.
    lam : float or array_like
        The curvature :math:`\lambda` (an eigenvalue of the Hessian).

    Returns
    -------
    float or numpy.ndarray
        :math:`\rho(T_\lambda)`; an array of the broadcast shape when an argument is an array.

    Notes
    -----
    The speed chapter's section "Momentum: where it is stable, and how much faster"
    (``sec-momentum-region``) maps it over :math:`(\eta, \beta)`; the chapter's exercise asks for
    it (scalar arguments).
    """
    lr_a, beta_a, lam_a = (_real_array(v, n) for v, n in ((lr, "lr"), (beta, "beta"), (lam, "lam")))
    if np.any(lr_a <= 0):
        raise ValueError(f"lr must be > 0, got lr={_show(lr)}")
    if np.any((beta_a < 0) | (beta_a >= 1)):
        raise ValueError(f"beta must lie in [0, 1), got beta={_show(beta)}")
    a = 1.0 + beta_a - lr_a * lam_a
    disc = a * a - 4.0 * beta_a
    rate = np.where(disc < 0, np.sqrt(beta_a + 0.0 * a),
                    0.5 * (np.abs(a) + np.sqrt(np.maximum(disc, 0.0))))
    return float(rate) if rate.ndim == 0 else rate


def heavy_ball_optimal(mu, L):
    r"""The learning rate and momentum that make the heavy ball fastest on a quadratic whose
    curvatures lie in :math:`[\mu, L]`,

    .. math::

        \eta^\star = \frac{4}{(\sqrt L + \sqrt\mu)^2}, \qquad
        \beta^\star = \Bigl(\frac{\sqrt\kappa - 1}{\sqrt\kappa + 1}\Bigr)^2, \qquad
        \kappa = \frac{L}{\mu},

    where :func:`heavy_ball_rate` is :math:`\sqrt{\beta^\star} = (\sqrt\kappa - 1)/(\sqrt\kappa + 1)`
    at both ends, :math:`\lambda = \mu` and :math:`\lambda = L` (Polyak, 1964).

    Parameters
    ----------
    mu, L : float
        The smallest and largest curvature, :math:`0 < \mu \le L`.

    Returns
    -------
    (lr, beta) : tuple of float

    Notes
    -----
    The speed chapter (``ch-speed``) marks this setting on its map of the heavy ball's rate; its
    exercise asks for it.
    """
    mu = check_positive_number(mu, "mu")
    L = check_positive_number(L, "L")
    if mu > L:
        raise ValueError(f"mu must be <= L, got mu={mu!r} and L={L!r}")
    root_mu, root_L = np.sqrt(mu), np.sqrt(L)
    return float(4.0 / (root_L + root_mu) ** 2), float(((root_L - root_mu) / (root_L + root_mu)) ** 2)
