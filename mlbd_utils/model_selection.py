"""Model assessment and selection (lecture 05): nested cross-validation and bootstrap intervals.

* :func:`nested_cross_validate` -- tune hyperparameters with an inner cross-validation *inside* each
  training part of an outer cross-validation, and assess the tuned model on the outer test fold that
  neither the fit nor the tuning has seen. With ``groups`` (e.g. the student of each weekly row), a group
  is never split between training and test, in the outer nor in the inner loop.
* :func:`bootstrap_ci` -- percentile bootstrap confidence interval of a metric on a fixed test set
  (resampling its rows, or whole groups, with replacement).

Both follow scikit-learn's conventions: estimators are cloned, never fitted in place; ``random_state``
makes every split reproducible; results come back as a ``dict`` of arrays like ``cross_validate``.
"""
from __future__ import annotations

import warnings
from typing import Callable, NamedTuple

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import check_scoring, roc_auc_score
from sklearn.model_selection import (GridSearchCV, GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold,
                                     check_cv)

__all__ = ["make_cv", "nested_cross_validate", "BootstrapCI", "bootstrap_ci"]


def make_cv(cv, y=None, groups=None, classifier: bool = True, random_state: int | None = 0):
    """A cross-validation splitter from an int (number of folds) or an existing splitter.

    With an int: ``StratifiedGroupKFold`` when ``groups`` are given and the estimator is a classifier,
    ``GroupKFold`` for groups and a regressor, ``StratifiedKFold`` for a classifier, ``KFold`` otherwise;
    shuffled with ``random_state`` (except ``GroupKFold``, which is deterministic). A splitter passes through.
    """
    if not isinstance(cv, (int, np.integer)):
        return check_cv(cv, y, classifier=classifier)
    if groups is not None:
        if classifier:
            return StratifiedGroupKFold(n_splits=int(cv), shuffle=True, random_state=random_state)
        return GroupKFold(n_splits=int(cv))
    if classifier:
        return StratifiedKFold(n_splits=int(cv), shuffle=True, random_state=random_state)
    return KFold(n_splits=int(cv), shuffle=True, random_state=random_state)


def _take(a, idx):
    return a.iloc[idx] if hasattr(a, "iloc") else np.asarray(a)[idx]


def nested_cross_validate(estimator, param_grid, X, y, *, groups=None, scoring="roc_auc", outer_cv=5,
                          inner_cv=3, random_state: int | None = 0, n_jobs: int | None = 1,
                          return_estimator: bool = False) -> dict:
    """Nested cross-validation: hyperparameters tuned on the training part of each outer fold only.

    For each outer split, ``GridSearchCV(estimator, param_grid, cv=inner_cv, scoring=scoring)`` is fitted
    on the outer *training* rows (the inner folds are drawn from them), refitted there with the best
    parameters, and scored once on the outer *test* rows. The mean of these test scores estimates the
    performance of the whole procedure "tune, then train" on new data; the inner best scores do not,
    because they are the maximum over the candidates evaluated on the same folds.

    Parameters
    ----------
    estimator : scikit-learn estimator (cloned, never modified)
    param_grid : dict or list of dicts, as for ``GridSearchCV``
    X, y : features and target (pandas objects keep their index)
    groups : array-like, optional
        group of each row (e.g. the student); with groups, splits never separate a group.
    scoring : str or callable, one scikit-learn scorer, used to tune and to assess
    outer_cv, inner_cv : int or splitter (see :func:`make_cv`; an int is shuffled with ``random_state``)

    Returns
    -------
    dict with arrays over the outer folds: ``test_score`` (outer test score of the tuned model),
    ``inner_best_score`` (best mean inner-CV score), ``best_params`` (list of dicts), ``train_indices``
    and ``test_indices`` (positions), and ``estimator`` (the fitted searches) if ``return_estimator``.
    """
    classifier = is_classifier(estimator)
    outer = make_cv(outer_cv, y, groups, classifier, random_state)
    scorer = check_scoring(estimator, scoring=scoring)
    out = {"test_score": [], "inner_best_score": [], "best_params": [], "train_indices": [],
           "test_indices": []}
    searches = []
    split_args = {"groups": groups} if groups is not None else {}
    for train_idx, test_idx in outer.split(X, y, **split_args):
        if groups is not None:
            g = np.asarray(groups)
            if set(g[train_idx]) & set(g[test_idx]):
                raise ValueError("nested_cross_validate: the outer splitter puts a group on both sides; "
                                 "use a group-aware splitter")
        inner_groups = _take(groups, train_idx) if groups is not None else None
        inner = make_cv(inner_cv, _take(y, train_idx), inner_groups, classifier, random_state)
        search = GridSearchCV(clone(estimator), param_grid, scoring=scoring, cv=inner, n_jobs=n_jobs, refit=True)
        fit_args = {"groups": inner_groups} if inner_groups is not None else {}
        search.fit(_take(X, train_idx), _take(y, train_idx), **fit_args)
        out["test_score"].append(float(scorer(search.best_estimator_, _take(X, test_idx), _take(y, test_idx))))
        out["inner_best_score"].append(float(search.best_score_))
        out["best_params"].append(dict(search.best_params_))
        out["train_indices"].append(np.asarray(train_idx))
        out["test_indices"].append(np.asarray(test_idx))
        searches.append(search)
    out["test_score"] = np.array(out["test_score"])
    out["inner_best_score"] = np.array(out["inner_best_score"])
    if return_estimator:
        out["estimator"] = searches
    return out


class BootstrapCI(NamedTuple):
    """Result of :func:`bootstrap_ci`: the metric on the full test set, the interval, and the resampled
    values (``distribution``); unpacks as ``estimate, low, high, distribution``."""

    estimate: float
    low: float
    high: float
    distribution: np.ndarray


def bootstrap_ci(y_true, y_score, metric: Callable = roc_auc_score, *, n_boot: int = 1000, level: float = 0.95,
                 groups=None, random_state: int | None = 0) -> BootstrapCI:
    """Percentile bootstrap confidence interval of ``metric(y_true, y_score)`` on a fixed test set.

    Each replicate draws ``len(y_true)`` rows with replacement (or, with ``groups``, as many groups as
    there are, with replacement, keeping all the rows of a drawn group) and recomputes the metric; the
    interval is given by the ``(1-level)/2`` and ``(1+level)/2`` quantiles of the replicates. Replicates on
    which the metric is undefined (e.g. an AUC on a sample with one class) are dropped, so
    ``len(distribution)`` can be below ``n_boot``.

    The interval describes the uncertainty due to the *test sample* only: the model stays fixed.
    """
    if not 0 < level < 1:
        raise ValueError(f"bootstrap_ci: level must be in (0, 1), got {level}")
    if n_boot < 1:
        raise ValueError("bootstrap_ci: n_boot must be >= 1")
    y_true, y_score = np.asarray(y_true), np.asarray(y_score)
    if len(y_true) != len(y_score):
        raise ValueError(f"bootstrap_ci: {len(y_true)} labels but {len(y_score)} scores")
    rng = np.random.default_rng(random_state)
    estimate = float(metric(y_true, y_score))
    if groups is None:
        units = [np.array([i]) for i in range(len(y_true))]
    else:
        groups = np.asarray(groups)
        units = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    values = []
    with warnings.catch_warnings():
        # scikit-learn >= 1.6 warns and returns NaN for an AUC on one class (older versions raise)
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        for _ in range(n_boot):
            draw = rng.integers(0, len(units), size=len(units))
            idx = np.concatenate([units[i] for i in draw]) if groups is not None else draw
            try:
                v = float(metric(y_true[idx], y_score[idx]))
            except ValueError:
                continue
            if np.isfinite(v):
                values.append(v)
    values = np.array(values)
    if len(values) == 0:
        raise ValueError("bootstrap_ci: the metric is undefined on every bootstrap sample")
    alpha = (1 - level) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return BootstrapCI(estimate, float(low), float(high), values)
