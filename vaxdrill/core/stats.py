"""The two statistics every summary uses: a 95% Student-t interval and a linear quantile.

Both are written out once, here, so a simulation summary, a time-series band and a site's waiting
times agree to the last bit with each other and with numpy/scipy:

- :func:`t_interval`: the mean over replications and the half-width of its 95% confidence
  interval, ``t(0.975, n-1) * s / sqrt(n)``, along the first axis (one figure, or a whole row of
  figures at once);
- :func:`quantile`: numpy's default ("linear", Hyndman and Fan's method 7) quantile of an already
  sorted sample, without numpy's overhead for the thousands of small samples of a simulated day.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray


@functools.cache
def t975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (cached: one per ``n``)."""
    from scipy import stats  # imported on first use: simulation workers never need it

    return float(stats.t.ppf(0.975, df))


def t_interval(values: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mean and half-width of the 95% Student-t interval along the first axis (the replications).

    ``values`` is one figure per replication (shape ``(n,)``, giving 0-d arrays) or a row of
    figures per replication (shape ``(n, k)``, giving arrays of ``k``). The half-width is zero for a
    single replication, which has no spread to estimate; ``n`` must be at least one.
    """
    data = np.asarray(values, dtype=float)
    n = data.shape[0]
    mean = data.mean(axis=0)
    if n < 2:
        return mean, np.zeros_like(mean)
    half = t975(n - 1) * data.std(axis=0, ddof=1) / math.sqrt(n)
    return mean, np.asarray(half, dtype=float)


def quantile(ordered: Sequence[float] | NDArray[np.float64], q: float) -> float:
    """The ``q``-quantile (0 to 1) of a sorted sample, as ``numpy.quantile`` (method "linear").

    The position ``(n - 1) * q`` falls between two order statistics ``a <= b``; the answer
    interpolates between them exactly as numpy does (from ``b`` downwards past the midpoint), so
    both give the same float. An empty sample gives 0.0 (a site that vaccinated nobody waited
    nothing).
    """
    n = len(ordered)
    if n == 0:
        return 0.0
    pos = (n - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    a, b = float(ordered[lo]), float(ordered[hi])
    t = pos - lo
    diff = b - a
    if t >= 0.5:
        return b - diff * (1 - t)
    return a + diff * t
