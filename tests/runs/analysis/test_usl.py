from __future__ import annotations

import math

import numpy as np
import pytest

from runs.core.analysis.usl import fit_usl, usl_curve, usl_throughput

# SPEC SDM91 benchmark, Sun SPARCcenter 2000 (16 CPUs), October 1994: simulated users and
# script executions per hour. Dataset ``specsdm91`` of the R package ``usl`` (Stefan Möding,
# github.com/smoeding/usl, data/specsdm91.rda, man/specsdm91.Rd), from Neil J. Gunther,
# "Guerrilla Capacity Planning", Springer 2007.
SPECSDM91_LOAD = [1, 18, 36, 72, 108, 144, 216]
SPECSDM91_THROUGHPUT = [64.9, 995.9, 1652.4, 1853.2, 1828.9, 1775.0, 1702.2]


def test_it_reproduces_the_published_specsdm91_fit():
    """Published non-linear fit of ``specsdm91`` by the R package ``usl``.

    Source: smoeding/usl, README.md and tests/usl-nlxb.Rout.save / tests/summary.Rout.save
    (``usl(throughput ~ load, specsdm91, method = "nlxb")``):

        alpha (σ)  0.0277285   std. error 0.0091217
        beta  (κ)  0.0001044   std. error 0.0000199
        gamma (λ) 89.9952330   std. error 14.2134894
        Residual standard error: 82.85 on 4 degrees of freedom
        Multiple R-squared: 0.9896

    and tests/peak-scalability.Rout.save: ``signif(peak.scalability(u), 2)`` = 97.
    """
    fit = fit_usl(SPECSDM91_LOAD, SPECSDM91_THROUGHPUT)
    assert fit.sigma == pytest.approx(0.0277285, rel=1e-3)
    assert fit.kappa == pytest.approx(0.0001044, rel=1e-3)
    assert fit.lambda_ == pytest.approx(89.9952330, rel=1e-4)
    assert fit.sigma_stderr == pytest.approx(0.0091217, rel=1e-3)
    assert fit.kappa_stderr == pytest.approx(0.0000199, rel=5e-3)
    assert fit.lambda_stderr == pytest.approx(14.2134894, rel=1e-3)
    assert fit.residual_std_error == pytest.approx(82.85, abs=0.01)
    assert fit.r_squared == pytest.approx(0.9896, abs=1e-4)
    assert round(fit.peak_users, -1) == 100 and fit.peak_users == pytest.approx(97, abs=0.5)
    assert fit.n_points == 7


def test_it_reproduces_the_published_specsdm91_fitted_values():
    """tests/fitted.Rout.save of smoeding/usl, printed with ``options(digits=3)``."""
    fit = fit_usl(SPECSDM91_LOAD, SPECSDM91_THROUGHPUT)
    fitted = usl_throughput(SPECSDM91_LOAD, fit.lambda_, fit.sigma, fit.kappa)
    assert np.round(fitted).tolist() == [90, 1078, 1541, 1850, 1879, 1822, 1646]


def test_peak_is_where_the_fitted_curve_is_highest():
    fit = fit_usl(SPECSDM91_LOAD, SPECSDM91_THROUGHPUT)
    grid, curve = usl_curve(fit, max_users=400, points=4000)
    assert grid[int(curve.argmax())] == pytest.approx(fit.peak_users, abs=0.2)
    assert curve.max() == pytest.approx(fit.peak_throughput, rel=1e-6)
    assert fit.peak_users == pytest.approx(math.sqrt((1 - fit.sigma) / fit.kappa))


def test_it_recovers_known_coefficients_from_noisy_measurements():
    rng = np.random.default_rng(3)
    users = np.array([1, 2, 4, 8, 16, 32, 48, 64, 96, 128])
    true = usl_throughput(users, 120.0, 0.05, 0.0004)
    fit = fit_usl(users, true * rng.normal(1.0, 0.01, users.size))
    assert fit.lambda_ == pytest.approx(120.0, rel=0.05)
    assert fit.sigma == pytest.approx(0.05, rel=0.25)
    assert fit.kappa == pytest.approx(0.0004, rel=0.25)
    assert fit.r_squared > 0.99


def test_linear_scaling_has_no_peak():
    users = [1, 2, 4, 8, 16]
    fit = fit_usl(users, [50.0 * n for n in users])
    assert fit.sigma == 0.0 and fit.kappa == 0.0
    assert fit.lambda_ == pytest.approx(50.0, rel=1e-6)
    assert fit.peak_users is None and fit.peak_throughput is None
    assert fit.asymptotic_throughput is None


def test_pure_contention_fits_amdahl_with_no_peak_and_a_ceiling():
    users = np.array([1, 2, 4, 8, 16, 32, 64])
    fit = fit_usl(users, usl_throughput(users, 10.0, 0.1, 0.0))
    assert fit.sigma == pytest.approx(0.1, rel=1e-4)
    assert fit.kappa == 0.0
    assert fit.peak_users is None
    assert fit.asymptotic_throughput == pytest.approx(100.0, rel=1e-6)


def test_coefficients_stay_within_bounds_for_super_linear_data():
    users = [1, 2, 4, 8]
    fit = fit_usl(users, [10.0, 25.0, 60.0, 140.0])  # faster than linear: σ would go negative
    assert fit.sigma >= 0.0 and fit.kappa >= 0.0 and fit.lambda_ > 0.0


@pytest.mark.parametrize(
    ("users", "throughput"),
    [([1, 2], [1.0, 2.0]), ([1, 1, 2, 2], [1.0, 1.1, 2.0, 2.1]), ([0, 1, 2], [0.0, 1.0, 2.0])],
)
def test_it_refuses_data_that_cannot_determine_three_parameters(users, throughput):
    with pytest.raises(ValueError):
        fit_usl(users, throughput)


def test_curve_defaults_to_twice_the_peak():
    fit = fit_usl(SPECSDM91_LOAD, SPECSDM91_THROUGHPUT)
    grid, curve = usl_curve(fit, points=50)
    assert grid[0] == 1.0 and grid[-1] == pytest.approx(2 * fit.peak_users)
    assert len(grid) == len(curve) == 50
