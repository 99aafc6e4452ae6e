"""Knowledge tracing on interaction logs (lectures 06-07): student splits, BKT parameters, learning curves.

An *interactions frame* has one row per first attempt at a problem, in the course schema of
``assistments.csv``: ``user_id``, ``order_id`` (increases with time), ``skill_name`` and ``correct``
(0/1). Every helper below reads these column names by default and lets you rename them.

* :func:`create_iterator` -- train/test splits (or folds) of the *students*: all the rows of a student
  fall on the same side, so the test set holds unseen students;
* :func:`bkt_params` -- the fitted parameters of pyBKT models as a table;
* :func:`plot_learning_curve` -- draws the observed and predicted error rate by opportunity, with 95 %
  intervals and the number of observations;
Computing a learning curve table and the practice counts, and fitting BKT per skill and PFA, are graded tasks
of lectures 06-07: the student package deliberately offers no function returning them
(``tests/test_student_package.py``). The benchmark's reference models (BKT, AFM and PFA estimators) live with
the benchmark, in ``benchmarks/kt_models.py``.

Nothing here imports pyBKT, pymer4 or rpy2 at import time: they are imported when a model is fitted
(importing rpy2 starts R).
"""
from __future__ import annotations

from typing import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.model_selection import GroupKFold, GroupShuffleSplit

__all__ = ["LECTURE_SKILLS", "create_iterator", "bkt_params", "plot_learning_curve"]

#: the six skills of lectures 06-08
LECTURE_SKILLS = ["Circle Graph", "Venn Diagram", "Mode", "Division Fractions", "Finding Percents",
                  "Area Rectangle"]

ATTEMPT_FEATURES = ("prev_attempts", "before_correct_num", "before_wrong_num")


def _require(df: pd.DataFrame, cols, where: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise KeyError(f"{where}: column(s) {missing} missing; found {list(df.columns)[:12]}")


# ----------------------------------------------------------------------------------------------------------
# splits
# ----------------------------------------------------------------------------------------------------------
def create_iterator(data: pd.DataFrame, n_splits: int = 1, train_size: float = 0.8, random_state: int = 0,
                    kfold: bool = False, group: str = "user_id") -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Split the rows of ``data`` into training and test *positions*, grouped by student.

    The rows of a student (same value of ``group``) are never split between training and test, so the
    models are evaluated on students they have not seen.

    Parameters
    ----------
    data : DataFrame
        interactions, one row per attempt.
    n_splits : int
        number of splits: random splits (``GroupShuffleSplit``) by default, or folds with ``kfold=True``.
    train_size : float
        share of the *students* in the training set of a random split (0.8: 80 % / 20 %).
    random_state : int
        seed of the random splits (``GroupKFold`` is deterministic and ignores it).
    kfold : bool
        ``True``: ``GroupKFold(n_splits)`` folds (each student is in exactly one test fold).
    group : str
        the column that identifies a student.

    Returns
    -------
    iterator of ``(train_positions, test_positions)``
        integer positions for ``data.iloc``, as scikit-learn's ``split`` yields them.
    """
    _require(data, [group], "create_iterator")
    X = np.arange(len(data))
    groups = data[group].to_numpy()
    if kfold:
        if n_splits < 2:
            raise ValueError("create_iterator: kfold needs n_splits >= 2")
        return GroupKFold(n_splits=n_splits).split(X, groups=groups)
    return GroupShuffleSplit(n_splits=n_splits, train_size=train_size, test_size=1 - train_size,
                             random_state=random_state).split(X, groups=groups)


# ----------------------------------------------------------------------------------------------------------
# Bayesian Knowledge Tracing (pyBKT)
# ----------------------------------------------------------------------------------------------------------
_SAFE_SKILL = "skill"  # the name pyBKT sees (it reads skill names as regular expressions)
_PYBKT_NAMES = {"prior": "prior", "learns": "learn", "guesses": "guess", "slips": "slip", "forgets": "forget"}


def bkt_params(models) -> pd.DataFrame:
    """Fitted BKT parameters as a table: one row per skill, columns ``prior``, ``learn``, ``guess``,
    ``slip``, ``forget``.

    ``models`` is a pyBKT ``Model`` (possibly fitted on several skills), a dict of them (skill -> model),
    or an object keeping such a dict in ``models_``. pyBKT names the parameters ``prior``,
    ``learns``, ``guesses``, ``slips`` and ``forgets`` (with one value per class, ``default`` here).
    In a dict, a model of a single skill is listed under its key.
    """
    models = getattr(models, "models_", models)  # an estimator keeping its per-skill models
    if not isinstance(models, Mapping):
        models = {None: models}
    frames = []
    for key, model in models.items():
        p = model.params().reset_index()
        p = p[p["param"].isin(list(_PYBKT_NAMES))]
        table = p.pivot_table(index="skill", columns="param", values="value", aggfunc="first")
        if key is not None and len(table) == 1:
            table.index = [key]
        frames.append(table)
    table = pd.concat(frames).rename(columns=_PYBKT_NAMES)
    table.index.name = "skill_name"
    table.columns.name = None
    return table[[c for c in ("prior", "learn", "guess", "slip", "forget") if c in table.columns]].astype(float)


# ----------------------------------------------------------------------------------------------------------
# learning curves (drawn only: computing a learning curve is lecture 07's task 1)
# ----------------------------------------------------------------------------------------------------------
def _labels(predicted) -> dict[str, str]:
    if predicted is None:
        return {}
    if isinstance(predicted, str):
        return {"predicted": predicted}
    if isinstance(predicted, Mapping):
        return dict(predicted)
    return {c: c for c in predicted}


def plot_learning_curve(df: pd.DataFrame, predicted: str | Sequence[str] | Mapping[str, str] | None = None,
                        correct: str = "correct", user: str = "user_id", skill: str = "skill_name",
                        order: str | None = "order_id", opportunity_col: str | None = None,
                        max_opportunity: int | None = None, level: float = 0.95, title: str | None = None,
                        axes=None, max_count: int | None = None):
    """Draw the learning curve of an interactions frame: error rates (top) and observations (bottom).

    The opportunity of a row is the number of earlier attempts of the student on the same skill (0 for the
    first), in ``order`` order (``opportunity_col`` names a column that already holds it). At each
    opportunity the top panel shows the observed error rate with its Jeffreys interval (the
    ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of Beta(wrong + 1/2, right + 1/2), shaded) and,
    for each column of ``predicted`` (a name, a list of names, or a dict label -> column of predicted
    P(correct)), the mean predicted error rate; the bottom panel the number of observations.
    ``axes`` is an optional pair of matplotlib axes. Returns the figure (the table itself is not returned:
    computing a learning curve is a graded task of lecture 07).
    """
    import matplotlib.pyplot as plt

    labels = _labels(predicted)
    _require(df, [correct] + list(labels.values()), "plot_learning_curve")
    if opportunity_col is not None:
        _require(df, [opportunity_col], "plot_learning_curve")
        opp = df[opportunity_col].to_numpy()
    else:
        _require(df, [user, skill] + ([order] if order else []), "plot_learning_curve")
        frame = df.reset_index(drop=True)
        if order:
            frame = frame.sort_values(order, kind="stable")
        opp = frame.groupby([user, skill], sort=False).cumcount().sort_index().to_numpy()
    frame = pd.DataFrame({"opportunity": opp, "wrong": 1 - df[correct].to_numpy(dtype=float)})
    for label, col in labels.items():
        frame[label] = 1 - df[col].to_numpy(dtype=float)
    if max_opportunity is not None:
        frame = frame[frame["opportunity"] <= max_opportunity]
    g = frame.groupby("opportunity")
    n, rate, n_wrong = g.size(), g["wrong"].mean(), g["wrong"].sum()
    lcb = stats.beta.ppf((1 - level) / 2, n_wrong + 0.5, n - n_wrong + 0.5)
    ucb = stats.beta.ppf((1 + level) / 2, n_wrong + 0.5, n - n_wrong + 0.5)
    if axes is None:
        fig, axes = plt.subplots(2, 1, figsize=(7, 5), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    else:
        fig = axes[0].figure
    top, bottom = axes
    x = n.index.to_numpy()
    top.fill_between(x, lcb, ucb, alpha=0.2, label=f"observed, {level:.0%} interval")
    top.plot(x, rate.to_numpy(), "o-", ms=3, label="observed")
    for label in labels:
        top.plot(x, g[label].mean().to_numpy(), "s--", ms=3, label=label)
    top.set(ylabel="error rate", ylim=(0, 1), title=title or "")
    top.set_xlim(-0.5, x.max() + 0.5 if len(x) else 1)
    top.legend(loc="upper right", fontsize=8)
    bottom.bar(x, n.to_numpy(), color="grey")
    bottom.set(xlabel="opportunity (previous attempts on the skill)", ylabel="observations")
    if max_count is not None:
        bottom.set_ylim(0, max_count)
    fig.tight_layout()
    return fig
