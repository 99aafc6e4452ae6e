"""Plotting helpers for exploring behavioural data (lecture 02 onwards)."""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns


def _grid(n: int, ncols: int = 3, height: float = 3.2):
    nrows = max(1, math.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(5 * ncols, height * nrows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


def plot_features(df: pd.DataFrame, hue: str | None = None, columns: list[str] | None = None,
                  ncols: int = 3):
    """One panel per column: a histogram with density for numeric columns, a count plot for the others.

    ``hue`` colours the panels by a (categorical) column. Returns the figure.
    """
    cols = [c for c in (columns or list(df.columns)) if c != hue]
    if not cols:
        raise ValueError("plot_features: no column to plot")
    missing = [c for c in cols + ([hue] if hue else []) if c not in df.columns]
    if missing:
        raise KeyError(f"plot_features: column(s) {missing} not in the data frame")
    fig, axes = _grid(len(cols), ncols)
    for ax, col in zip(axes, cols):
        if pd.api.types.is_numeric_dtype(df[col]) and not pd.api.types.is_bool_dtype(df[col]):
            sns.histplot(data=df, x=col, hue=hue, kde=True, ax=ax)
        else:
            sns.countplot(data=df.astype({col: str}), x=col, hue=hue, ax=ax)
        ax.set_title(f"Distribution of {col}")
    fig.tight_layout()
    return fig


def plot_time_series(df: pd.DataFrame, hue: str | None = None, columns: list[str] | None = None,
                     time: str = "week", ncols: int = 3):
    """One panel per numeric column: its mean over ``time`` with a +- 1 sd band, optionally by ``hue``."""
    if time not in df.columns:
        raise KeyError(f"plot_time_series: time column {time!r} not in the data frame")
    numeric = [c for c in df.select_dtypes("number").columns if c not in (time, "user", hue)]
    cols = columns or numeric
    fig, axes = _grid(len(cols), ncols)
    for ax, col in zip(axes, cols):
        sns.lineplot(data=df, x=time, y=col, hue=hue, errorbar="sd", ax=ax)
        ax.set_title(f"{col} over the {time}s")
    fig.tight_layout()
    return fig
