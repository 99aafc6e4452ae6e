"""Cleaning and aggregating the flipped-classroom features (lectures 03-05)."""
from __future__ import annotations

import pandas as pd
from sklearn.model_selection import train_test_split


def inactive_users(ts: pd.DataFrame, first_weeks: int = 5, user: str = "user") -> list:
    """Users with a week without any click (weekday nor weekend) among the ``first_weeks`` weeks."""
    for col in ("week", "ch_total_clicks_weekend", "ch_total_clicks_weekday", user):
        if col not in ts.columns:
            raise KeyError(f"inactive_users: column {col!r} missing from the time series")
    early = ts[ts["week"] < first_weeks]
    zero = early[(early["ch_total_clicks_weekend"] == 0) & (early["ch_total_clicks_weekday"] == 0)]
    return sorted(zero[user].unique().tolist())


def remove_inactive_students(df: pd.DataFrame, ts: pd.DataFrame, first_weeks: int = 5):
    """Drop, from both the per-student frame ``df`` and the weekly ``ts``, the students with a week
    without any click in the first ``first_weeks`` weeks. Returns ``(df, ts)`` (copies)."""
    drop = inactive_users(ts, first_weeks)
    return df[~df["user"].isin(drop)].copy(), ts[~ts["user"].isin(drop)].copy()


def pass_fail(grade: pd.Series, threshold: float = 4.0) -> pd.Series:
    """Pass (1) / fail (0) label from a Swiss 1-6 grade: pass when grade >= ``threshold``."""
    return (grade >= threshold).astype(int)


def split_users(labels: pd.Series, test_size: float = 0.2, random_state: int = 0):
    """Stratified train/test split of *students*: ``labels`` is indexed by user id.

    Returns ``(train_users, test_users)`` as sorted indexes, so that every row of a student lands on the
    same side (no student appears in both sets).
    """
    if labels.index.has_duplicates:
        raise ValueError("split_users: labels must have one row per user (duplicated user ids)")
    train, test = train_test_split(labels.index.to_numpy(), test_size=test_size,
                                   random_state=random_state, stratify=labels.to_numpy())
    return pd.Index(sorted(train)), pd.Index(sorted(test))


def aggregate_weeks(ts: pd.DataFrame, weeks: int, how: str = "mean", user: str = "user") -> pd.DataFrame:
    """Aggregate the weekly features of the first ``weeks`` weeks (weeks ``0 .. weeks-1``) per user.

    Returns one row per user (index = user id, sorted), the ``week`` column dropped.
    """
    early = ts[ts["week"] < weeks]
    return early.drop(columns=["week"]).groupby(user).agg(how).sort_index()
