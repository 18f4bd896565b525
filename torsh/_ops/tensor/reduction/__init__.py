"""Reductions: ``reductions`` (sum, mean, max/min, var/std, norm, nansum, ...) and ``statistics`` (cov,
corrcoef, histogramdd, gradient, trapezoid, ...)."""
