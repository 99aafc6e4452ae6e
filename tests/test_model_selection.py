"""mlbd_utils.model_selection: nested cross-validation without leakage, and bootstrap intervals."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.tree import DecisionTreeClassifier
from sklearn.metrics import accuracy_score, mean_absolute_error, roc_auc_score
from sklearn.model_selection import (GridSearchCV, GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold,
                                     check_cv)

from mlbd_utils.model_selection import BootstrapCI, bootstrap_ci, make_cv, nested_cross_validate

# decision trees: fast to fit, so that the whole file runs in a few seconds
TREE = DecisionTreeClassifier(random_state=0)
GRID = {"max_depth": [1, 3, 6]}


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=240, n_features=6, n_informative=3, random_state=0)
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(6)]), pd.Series(y, name="passed")


class Recorder(ClassifierMixin, BaseEstimator):
    """A decision tree that records the row ids (column ``id``, not used as a feature) of every fit."""

    seen: list = []

    def __init__(self, max_depth=None):
        self.max_depth = max_depth

    def fit(self, X, y):
        Recorder.seen.append(set(X["id"]))
        self.model_ = DecisionTreeClassifier(max_depth=self.max_depth, random_state=0).fit(X.drop(columns="id"), y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X.drop(columns="id"))

    def predict(self, X):
        return self.model_.predict(X.drop(columns="id"))


# ---------------------------------------------------------------------------------------------------------
# make_cv
# ---------------------------------------------------------------------------------------------------------
def test_make_cv_picks_the_right_splitter():
    y, groups = np.array([0, 1] * 10), np.repeat(np.arange(5), 4)
    assert isinstance(make_cv(5, y), StratifiedKFold)
    assert isinstance(make_cv(5, y, groups), StratifiedGroupKFold)
    assert isinstance(make_cv(5, y, groups, classifier=False), GroupKFold)
    assert isinstance(make_cv(5, y, classifier=False), KFold)
    cv = KFold(3)
    assert make_cv(cv, y) is cv
    assert make_cv(4, y, random_state=7).random_state == 7 and make_cv(4, y).shuffle


# ---------------------------------------------------------------------------------------------------------
# nested cross-validation
# ---------------------------------------------------------------------------------------------------------
def test_nested_cv_partitions_the_students(data):
    X, y = data
    res = nested_cross_validate(TREE, GRID, X, y, outer_cv=5, inner_cv=3)
    assert len(res["test_score"]) == 5 and len(res["best_params"]) == 5
    tests = np.concatenate(res["test_indices"])
    assert sorted(tests) == list(range(len(X)))  # every row is tested exactly once
    for tr, te in zip(res["train_indices"], res["test_indices"]):
        assert not set(tr) & set(te) and len(tr) + len(te) == len(X)
    assert all(0.5 < s <= 1 for s in res["test_score"])
    assert all(p["max_depth"] in GRID["max_depth"] for p in res["best_params"])
    assert not hasattr(TREE, "tree_")  # the estimator passed in is cloned, never fitted


def test_nested_cv_equals_the_explicit_loop(data):
    X, y = data
    outer, inner = StratifiedKFold(4, shuffle=True, random_state=1), StratifiedKFold(3, shuffle=True, random_state=1)
    res = nested_cross_validate(TREE, GRID, X, y, outer_cv=outer, inner_cv=inner)
    scores, params = [], []
    for tr, te in outer.split(X, y):
        search = GridSearchCV(TREE, GRID, cv=inner, scoring="roc_auc").fit(X.iloc[tr], y.iloc[tr])
        scores.append(roc_auc_score(y.iloc[te], search.predict_proba(X.iloc[te])[:, 1]))
        params.append(search.best_params_)
    assert np.allclose(res["test_score"], scores) and res["best_params"] == params
    # reproducible
    again = nested_cross_validate(TREE, GRID, X, y, outer_cv=outer, inner_cv=inner)
    assert np.array_equal(again["test_score"], res["test_score"])


def test_nested_cv_never_fits_on_the_outer_test_fold(data):
    X, y = data
    Xid = X.assign(id=np.arange(len(X)))
    test_ids = np.arange(len(X))[::5]
    train_ids = np.setdiff1d(np.arange(len(X)), test_ids)
    Recorder.seen = []
    res = nested_cross_validate(Recorder(), GRID, Xid, y, outer_cv=[(train_ids, test_ids)], inner_cv=3,
                                return_estimator=True)
    # 3 candidates x 3 inner folds + the refit of the best one
    assert len(Recorder.seen) == 3 * 3 + 1
    assert all(not (ids & set(test_ids)) for ids in Recorder.seen), "an outer test row was used for tuning"
    assert Recorder.seen[-1] == set(train_ids)  # the refit uses the whole outer training part
    assert isinstance(res["estimator"][0], GridSearchCV)


def test_nested_cv_keeps_groups_together(data):
    X, y = data
    groups = np.repeat(np.arange(len(X) // 4), 4)  # a "student" = 4 consecutive rows
    Xid = X.assign(id=np.arange(len(X)))
    Recorder.seen = []
    res = nested_cross_validate(Recorder(), GRID, Xid, y, groups=groups, outer_cv=4, inner_cv=3)
    for tr, te in zip(res["train_indices"], res["test_indices"]):
        assert not set(groups[tr]) & set(groups[te])
    # every inner fit holds whole students only
    for ids in Recorder.seen:
        fitted = np.array(sorted(ids))
        assert all(np.isin(np.flatnonzero(groups == g), fitted).all() for g in np.unique(groups[fitted]))
    with pytest.raises(ValueError, match="group"), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "the groups parameter is ignored by KFold"
        nested_cross_validate(TREE, GRID, X, y, groups=groups, outer_cv=KFold(4, shuffle=True, random_state=0))


def test_nested_cv_regression_and_numpy_input():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = X @ np.array([1.0, -2.0, 0.0]) + rng.normal(0, 0.5, 120)
    res = nested_cross_validate(Ridge(), {"alpha": [0.1, 10.0]}, X, y, scoring="r2", outer_cv=3, inner_cv=3)
    assert len(res["test_score"]) == 3 and res["test_score"].mean() > 0.8


@pytest.mark.slow
def test_incorrect_grid_search_is_at_least_as_optimistic_on_noise():
    """On pure noise, the best mean CV score of a grid is above chance on average; nested CV is not."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 5)))
    gaps = []
    for seed in range(4):
        y = pd.Series(rng.integers(0, 2, 120))
        cv = StratifiedKFold(5, shuffle=True, random_state=seed)
        grid = {"max_depth": [1, 2, 3, 4, 6, 8], "min_samples_leaf": [1, 10]}
        best = GridSearchCV(TREE, grid, cv=cv, scoring="roc_auc").fit(X, y).best_score_
        nested = nested_cross_validate(TREE, grid, X, y, outer_cv=cv, inner_cv=3,
                                       random_state=seed)["test_score"].mean()
        gaps.append(best - nested)
    assert np.mean(gaps) > 0


# ---------------------------------------------------------------------------------------------------------
# bootstrap
# ---------------------------------------------------------------------------------------------------------
def test_bootstrap_ci_basic():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 80)
    score = y + rng.normal(0, 0.8, 80)
    ci = bootstrap_ci(y, score, n_boot=200, random_state=0)
    assert isinstance(ci, BootstrapCI)
    estimate, low, high, dist = ci
    assert estimate == pytest.approx(roc_auc_score(y, score))
    assert low < estimate < high and 0 < high - low < 0.4
    assert len(dist) == 200 and np.quantile(dist, 0.025) == pytest.approx(low)
    assert bootstrap_ci(y, score, n_boot=200, random_state=0)[1:3] == (low, high)  # reproducible
    assert bootstrap_ci(y, score, n_boot=200, random_state=1)[1] != low
    narrow = bootstrap_ci(y, score, n_boot=200, level=0.5, random_state=0)
    assert low < narrow.low < narrow.high < high


def test_bootstrap_ci_reproduces_the_explicit_recipe():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 30)
    s = rng.random(30)
    ci = bootstrap_ci(y, s, n_boot=200, random_state=0)
    gen, values = np.random.default_rng(0), []
    for _ in range(200):
        idx = gen.integers(0, 30, size=30)
        if len(np.unique(y[idx])) == 2:
            values.append(roc_auc_score(y[idx], s[idx]))
    assert np.allclose(ci.distribution, values)


def test_bootstrap_ci_skips_samples_with_one_class():
    y = np.array([0] + [1] * 9)
    s = np.linspace(0, 1, 10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the undefined AUCs are skipped silently, without a warning
        ci = bootstrap_ci(y, s, n_boot=300, random_state=0)
    assert 100 < len(ci.distribution) < 300  # about (9/10)^10 = 35% of the samples have no 0
    assert np.isfinite(ci.distribution).all()


def test_bootstrap_ci_other_metrics_and_groups():
    y = np.arange(40) % 2
    pred = y.copy()
    ci = bootstrap_ci(y, pred, accuracy_score, n_boot=100)
    assert ci.low == ci.high == ci.estimate == 1.0
    groups = np.repeat(np.arange(10), 4)
    values = np.arange(40, dtype=float)
    ci = bootstrap_ci(values, values + np.repeat(np.arange(10), 4), mean_absolute_error, groups=groups, n_boot=200)
    assert ci.estimate == pytest.approx(4.5)
    assert 0 <= ci.low < 4.5 < ci.high <= 9


@pytest.mark.parametrize("kwargs, message", [({"level": 1.5}, "level"), ({"n_boot": 0}, "n_boot")])
def test_bootstrap_ci_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        bootstrap_ci([0, 1, 1], [0.1, 0.8, 0.6], **kwargs)
    with pytest.raises(ValueError, match="labels"):
        bootstrap_ci([0, 1, 1], [0.1, 0.8])
