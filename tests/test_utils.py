"""Unit tests of the small helpers the notebooks import."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

from mlbd_utils.features import aggregate_weeks, inactive_users, pass_fail, remove_inactive_students, split_users
from mlbd_utils.metrics import compute_scores
from mlbd_utils.plots import plot_features, plot_time_series


def _weekly():
    rows = []
    for user in range(6):
        for week in range(6):
            zero = (user == 1 and week == 2) or (user == 2 and week == 5)  # user 2: only after week 5
            rows.append(dict(week=week, user=user, ch_total_clicks_weekend=0 if zero else 3,
                             ch_total_clicks_weekday=0 if zero else 10, x=float(week + user)))
    return pd.DataFrame(rows)


def test_inactive_users_only_counts_the_first_weeks():
    ts = _weekly()
    assert inactive_users(ts) == [1]
    assert inactive_users(ts, first_weeks=6) == [1, 2]
    df = pd.DataFrame({"user": range(6), "grade": [4, 3, 5, 6, 2, 4.5]})
    df2, ts2 = remove_inactive_students(df, ts)
    assert 1 not in set(df2.user) | set(ts2.user) and len(df2) == 5 and len(ts2) == 30


def test_pass_fail_threshold():
    assert pass_fail(pd.Series([3.75, 4.0, 5.5])).tolist() == [0, 1, 1]


def test_split_users_is_stratified_and_disjoint():
    labels = pd.Series([1] * 60 + [0] * 40, index=np.arange(100) * 3)
    train, test = split_users(labels, test_size=0.2, random_state=0)
    assert not set(train) & set(test) and len(test) == 20
    assert labels.loc[test].mean() == pytest.approx(0.6)
    with pytest.raises(ValueError, match="one row per user"):
        split_users(pd.Series([1, 0], index=[5, 5]))


def test_aggregate_weeks_excludes_week_n():
    ts = _weekly()
    agg = aggregate_weeks(ts, 5)
    assert agg.loc[0, "x"] == pytest.approx(np.mean(range(5)))  # weeks 0-4, not 0-5
    assert "week" not in agg.columns and list(agg.index) == list(range(6))


def test_compute_scores_balanced_accuracy_and_auc():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] + 0.3 * rng.normal(size=200) > 0.8).astype(int)  # imbalanced
    acc, auc = compute_scores(DummyClassifier(strategy="most_frequent"), X[:150], y[:150], X[150:], y[150:])
    assert acc == 0.5 and auc == 0.5  # balanced accuracy exposes the majority-class predictor
    acc, auc = compute_scores(LogisticRegression(), X[:150], y[:150], X[150:], y[150:], roundnum=2)
    assert auc > 0.9 and acc > 0.7 and round(auc, 2) == auc
    with pytest.raises(ValueError, match="X_test has 50 rows but y_test has 49"):
        compute_scores(LogisticRegression(), X[:150], y[:150], X[150:], y[151:])


def test_plots_draw_one_panel_per_column():
    df = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [2.0, 3, 1, 0], "g": ["M", "F", "M", "F"]})
    fig = plot_features(df, hue="g")
    assert sum(ax.get_visible() for ax in fig.axes) == 2
    with pytest.raises(KeyError, match="nope"):
        plot_features(df, columns=["nope"])
    ts = _weekly()
    fig = plot_time_series(ts, columns=["x"])
    assert fig.axes[0].get_xlabel() == "week"
