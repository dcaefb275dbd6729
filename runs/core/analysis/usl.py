"""Universal Scalability Law fit (Gunther, *Guerrilla Capacity Planning*, 2007).

    X(N) = λN / (1 + σ(N − 1) + κN(N − 1))

λ is the throughput of one user without contention, σ the contention (serialisation) term,
κ the coherency (crosstalk) term. With κ > 0 throughput peaks at N* = √((1 − σ)/κ) and then
goes retrograde. The fit is non-linear least squares on X itself with bounds σ, κ ≥ 0 and
λ > 0 (``scipy.optimize.curve_fit``, trust-region reflective), the method the R package
``usl`` calls ``nlxb``, so λ is estimated rather than taken from a measurement at N = 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import curve_fit

__all__ = ["UslFit", "fit_usl", "usl_curve", "usl_throughput"]

MIN_LOADS = 3  # three parameters
NEGLIGIBLE = 1e-6


@dataclass(frozen=True)
class UslFit:
    lambda_: float
    sigma: float
    kappa: float
    lambda_stderr: float
    sigma_stderr: float
    kappa_stderr: float
    r_squared: float
    residual_std_error: float
    peak_users: float | None  # None when κ = 0 or σ ≥ 1: no retrograde region
    peak_throughput: float | None
    asymptotic_throughput: float | None  # λ/σ, the Amdahl ceiling when κ = 0
    n_points: int


def usl_throughput(
    users: np.ndarray | Sequence[float] | float, lambda_: float, sigma: float, kappa: float
) -> np.ndarray:
    n = np.asarray(users, dtype=float)
    return lambda_ * n / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0))


def fit_usl(users: Sequence[float], throughput: Sequence[float]) -> UslFit:
    """Fit the USL to (load, throughput) points, e.g. one point per load step.

    Raises ``ValueError`` with fewer than three distinct loads or non-positive values.
    """
    n = np.asarray(users, dtype=float)
    x = np.asarray(throughput, dtype=float)
    if n.shape != x.shape or n.ndim != 1:
        raise ValueError("users and throughput must be 1-D sequences of the same length")
    if len(np.unique(n)) < MIN_LOADS:
        raise ValueError(f"need at least {MIN_LOADS} distinct loads to fit the USL")
    if np.any(n <= 0) or np.any(x <= 0) or not np.all(np.isfinite(x)):
        raise ValueError("loads and throughputs must be positive and finite")

    # Start from linear scaling at the best per-user rate seen and mild contention.
    lambda0 = float(np.max(x / n))
    params, cov = curve_fit(
        usl_throughput,
        n,
        x,
        p0=[lambda0, 0.01, 1e-4],
        bounds=([np.finfo(float).tiny, 0.0, 0.0], [np.inf, np.inf, np.inf]),
        method="trf",
        x_scale="jac",
        max_nfev=10_000,
    )
    lambda_, sigma, kappa = (float(p) for p in params)
    # The solver stops near, not on, a bound; a term that changes the denominator by less
    # than NEGLIGIBLE at the largest measured load is zero (else a 1e-12 κ "predicts" a peak
    # at a million users).
    n_max = float(n.max())
    if sigma * (n_max - 1.0) < NEGLIGIBLE:
        sigma = 0.0
    if kappa * n_max * (n_max - 1.0) < NEGLIGIBLE:
        kappa = 0.0
    residuals = x - usl_throughput(n, lambda_, sigma, kappa)
    ss_res = float(residuals @ residuals)
    ss_tot = float(((x - x.mean()) ** 2).sum())
    dof = len(n) - 3
    stderr = np.sqrt(np.diag(cov)) if dof > 0 else np.full(3, np.nan)

    peak_users = peak_throughput = None
    if kappa > 0.0 and sigma < 1.0:
        peak_users = math.sqrt((1.0 - sigma) / kappa)
        peak_throughput = float(usl_throughput(peak_users, lambda_, sigma, kappa))
    return UslFit(
        lambda_=lambda_,
        sigma=sigma,
        kappa=kappa,
        lambda_stderr=float(stderr[0]),
        sigma_stderr=float(stderr[1]),
        kappa_stderr=float(stderr[2]),
        r_squared=1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan"),
        residual_std_error=math.sqrt(ss_res / dof) if dof > 0 else float("nan"),
        peak_users=peak_users,
        peak_throughput=peak_throughput,
        asymptotic_throughput=lambda_ / sigma if kappa == 0.0 and sigma > 0.0 else None,
        n_points=len(n),
    )


def usl_curve(
    fit: UslFit, *, max_users: float | None = None, points: int = 200
) -> tuple[np.ndarray, np.ndarray]:
    """The fitted curve on an even grid from 1 user to ``max_users`` (for drawing).

    ``max_users`` defaults to twice the peak, or 100 when there is no peak.
    """
    if max_users is None:
        max_users = 2.0 * fit.peak_users if fit.peak_users else 100.0
    grid = np.linspace(1.0, max(max_users, 1.0), points)
    return grid, usl_throughput(grid, fit.lambda_, fit.sigma, fit.kappa)
