"""Fairness auditing scaffolding (lecture 12): a summary of group metrics, a within-group bootstrap
splitter and a plot of gaps with their intervals.

What this module deliberately does **not** do is the audit itself: computing the per-group rates from
confusion matrices, the gaps between groups and their intervals is the lab's work (or fairlearn's
``MetricFrame``). :func:`group_metrics` is a rounded summary used for the synthetic data's ground truth
and for quick tables; :class:`GroupBootstrap` only produces resampled row positions.

Conventions: labels and predictions are binary with ``1`` = the positive class (in the course: pass,
i.e. grade >= 4); ``PPP`` is the rate of positive predictions (demographic parity), ``TPR``/``FPR`` the
true/false-positive rates (equalised odds), ``PPV``/``NPV`` the positive/negative predictive values
(predictive value parity).
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import pandas as pd

METRICS = ("prevalence", "PPP", "TPR", "FNR", "FPR", "PPV", "NPV", "accuracy")


def _binary(a, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if pd.isna(arr).any():
        raise ValueError(f"{name} contains missing values")
    values = set(np.unique(arr).tolist())
    if not values <= {0, 1}:
        raise ValueError(f"{name} must be binary (0/1 or False/True), got values {sorted(values)[:5]}")
    return arr.astype(int)


def group_metrics(y_true, y_pred) -> dict:
    """Rounded summary of binary predictions: counts-based rates for one group of students.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        Binary labels and predictions (1 = positive class, e.g. pass).

    Returns
    -------
    dict
        ``n`` (int) and ``prevalence``, ``PPP``, ``TPR``, ``FNR``, ``FPR``, ``PPV``, ``NPV``,
        ``accuracy``, each **rounded to 4 decimals** (the format of the datasets' ground-truth JSON) or
        ``None`` when its denominator is zero (e.g. ``TPR`` of a group without positive labels).

    Examples
    --------
    >>> group_metrics([1, 1, 0, 0], [1, 0, 0, 0])["TPR"]
    0.5
    """
    y, p = _binary(y_true, "y_true"), _binary(y_pred, "y_pred")
    if len(y) != len(p):
        raise ValueError(f"y_true has {len(y)} values but y_pred has {len(p)}")
    tp = int(((y == 1) & (p == 1)).sum())
    fn = int(((y == 1) & (p == 0)).sum())
    fp = int(((y == 0) & (p == 1)).sum())
    tn = int(((y == 0) & (p == 0)).sum())
    n = tp + fn + fp + tn

    def div(a, b):
        return round(a / b, 4) if b else None
    return dict(n=n, prevalence=div(tp + fn, n), PPP=div(tp + fp, n), TPR=div(tp, tp + fn),
                FNR=div(fn, tp + fn), FPR=div(fp, fp + tn), PPV=div(tp, tp + fp), NPV=div(tn, tn + fn),
                accuracy=div(tp + tn, n))


class GroupBootstrap:
    """Bootstrap resampling *within* groups: every draw keeps each group's size.

    An interval for a gap between groups (e.g. the TPR of men minus the TPR of women) should reflect
    the sampling noise of each group with its own size; resampling all students together would let
    the group sizes vary from draw to draw. Use it like a scikit-learn splitter::

        for idx in GroupBootstrap(n_boot=1000, random_state=0).split(df, groups=df["gender"]):
            sample = df.iloc[idx]
            ...

    Parameters
    ----------
    n_boot : int, default 1000
        Number of bootstrap draws.
    random_state : int, numpy Generator or None
        Seed of the draws (the same seed gives the same draws for the same groups).

    Notes
    -----
    Missing group values (NaN/None) form a group of their own; drop those rows first if they must not
    be resampled. Without ``groups``, all rows are resampled together (an ordinary bootstrap).
    """

    def __init__(self, n_boot: int = 1000, random_state=None):
        self.n_boot = n_boot
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return self.n_boot

    def split(self, X, y=None, groups=None) -> Iterator[np.ndarray]:
        """Yield ``n_boot`` arrays of row positions (for ``.iloc`` or numpy indexing) of length
        ``len(X)``, drawn with replacement within each group.

        Parameters
        ----------
        X : array-like or DataFrame with ``len(X)`` rows
        y : ignored (scikit-learn splitter signature)
        groups : array-like of shape (len(X),), optional
            Group of each row.
        """
        if not isinstance(self.n_boot, (int, np.integer)) or self.n_boot < 1:
            raise ValueError(f"GroupBootstrap: n_boot must be a positive integer, got {self.n_boot!r}")
        n = len(X)
        if n == 0:
            raise ValueError("GroupBootstrap: X has no rows")
        if groups is None:
            codes = np.zeros(n, dtype=int)
        else:
            if len(groups) != n:
                raise ValueError(f"GroupBootstrap: X has {n} rows but groups has {len(groups)}")
            codes, _ = pd.factorize(pd.Series(np.asarray(groups, dtype=object)), use_na_sentinel=False)
        members = [np.flatnonzero(codes == c) for c in np.unique(codes)]
        rng = np.random.default_rng(self.random_state)
        for _ in range(self.n_boot):
            yield np.concatenate([m[rng.integers(0, len(m), size=len(m))] for m in members])


def plot_gaps(gaps, low=None, high=None, ax=None, title: str | None = None, xlabel: str = "gap"):
    """Forest plot of gaps between groups with their intervals.

    Parameters
    ----------
    gaps : pandas Series
        One gap per metric (index: metric names).
    low, high : array-like aligned with ``gaps``, optional
        Lower and upper bounds of the intervals (drawn as horizontal bars).
    ax : matplotlib Axes, optional
    title, xlabel : str, optional

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib.pyplot as plt

    gaps = pd.Series(gaps, dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.45 * len(gaps) + 1.2))
    pos = np.arange(len(gaps))[::-1]
    if low is not None and high is not None:
        lo, hi = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
        if lo.shape != gaps.shape or hi.shape != gaps.shape:
            raise ValueError("plot_gaps: low and high must have one value per gap")
        if np.any(lo > gaps.to_numpy() + 1e-12) or np.any(hi < gaps.to_numpy() - 1e-12):
            raise ValueError("plot_gaps: every interval must contain its gap (low <= gap <= high)")
        ax.errorbar(gaps.to_numpy(), pos, xerr=[gaps.to_numpy() - lo, hi - gaps.to_numpy()], fmt="o",
                    capsize=4)
    else:
        ax.plot(gaps.to_numpy(), pos, "o")
    ax.axvline(0, color="k", lw=1, ls=":")
    ax.set_yticks(pos)
    ax.set_yticklabels([str(i) for i in gaps.index])
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    return ax
