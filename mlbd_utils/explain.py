"""Explaining a pass/fail model of weekly MOOC behaviour (lecture 13): scaffolding around LIME.

The lab trains its own model and writes the parts worth grading itself (the reshape to a
``(learners, weeks, features)`` tensor, the ``predict_fn`` in LIME's format, the aggregation of local
weights into a global ranking). This module holds what every explanation workflow needs around them:

* :data:`FEATURE_DESCRIPTIONS` -- what each of the 25 weekly features measures (exactly the features of
  the course file ``explainability/mooc_features.csv``);
* :func:`explain_rows` -- LIME explanations of many rows as one long table (one row per learner and
  explained column), the input of a local-to-global aggregation;
* :func:`explain_with_seeds` -- the same learner explained with several sampling seeds (how stable is
  LIME?), and :func:`top_overlap` to compare the top features of two explanations;
* :func:`grouped_permutation_importance` -- a *global* importance: the drop of a score when a group
  of columns (e.g. the ten weekly columns of one feature) is permuted across learners;
* :func:`plot_lime` -- a bar plot of one explanation whose colours and title name the explained class
  (bars pushing towards that class in its colour, bars pushing away in the other class's colour).

LIME's explainer takes the probability function of a model, ``predict_fn(rows) -> (n, n_classes)``; the
functions here only call it. Nothing here imports TensorFlow or Keras, so ``import mlbd_utils.explain``
stays light; LIME and matplotlib are imported when a function needs them.
"""
from __future__ import annotations

from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .data.explainability import FEATURES

__all__ = ["FEATURE_DESCRIPTIONS", "CLASS_COLORS", "explain_rows", "explain_with_seeds", "top_overlap",
           "grouped_permutation_importance", "plot_lime"]

#: Description (with unit) of each of the 25 weekly features, in the file's column order.
FEATURE_DESCRIPTIONS: dict[str, str] = {name: f"{desc} [{unit}]" for name, unit, desc in FEATURES}

#: Colour of each class in :func:`plot_lime`.
CLASS_COLORS: dict[str, str] = {"pass": "tab:green", "fail": "tab:red"}


def _check_rows(rows) -> np.ndarray:
    arr = np.asarray(rows, dtype=float)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"rows must be a 2-D array (learners x columns), got shape {arr.shape}")
    return arr


def explain_rows(explainer, rows, predict_fn: Callable, ids: Sequence | None = None, *, label: int = 1,
                 num_features: int = 10, num_samples: int = 500) -> pd.DataFrame:
    """Explain each row with LIME and return the explanations as one long table.

    Parameters
    ----------
    explainer : lime.lime_tabular.LimeTabularExplainer
        A fitted explainer (its ``random_state`` makes the result reproducible: the rows are explained
        in order, each from the explainer's current random state).
    rows : array-like of shape (n, n_columns)
        Raw feature rows, in the format ``predict_fn`` and the explainer expect.
    predict_fn : callable
        ``predict_fn(X) -> (len(X), n_classes)`` class probabilities.
    ids : sequence, optional
        One identifier per row (default ``0..n-1``), written to the ``learner`` column.
    label : int, default 1
        The class whose probability is explained.
    num_features, num_samples : int
        Passed to ``explainer.explain_instance``.

    Returns
    -------
    DataFrame
        One row per (learner, explained column), in the order of LIME's ranking, with columns
        ``learner``, ``rank`` (1 = largest absolute weight), ``column`` (the explained column's name),
        ``condition`` (LIME's readable condition, e.g. ``"DelayLecture_InWeek3 > -498.5"``), ``weight``
        (its weight for ``label``), ``proba`` (the model's probability of ``label`` for the row) and
        ``score`` (the R^2 of the local surrogate).
    """
    from threadpoolctl import threadpool_limits

    X = _check_rows(rows)
    ids = list(range(len(X))) if ids is None else list(ids)
    if len(ids) != len(X):
        raise ValueError(f"ids has {len(ids)} entries for {len(X)} rows")
    names = list(explainer.feature_names)
    if X.shape[1] != len(names):
        raise ValueError(f"rows have {X.shape[1]} columns, the explainer knows {len(names)} features")
    records = []
    with threadpool_limits(1):  # LIME's ridge fits on 250 columns are slower with threads on a busy machine
        for learner, row in zip(ids, X):
            exp = explainer.explain_instance(row, predict_fn, labels=(label,), num_features=num_features,
                                             num_samples=num_samples)
            # as_list (readable conditions) and as_map (column positions) share LIME's order
            pairs = zip(exp.as_map()[label], exp.as_list(label=label))
            for rank, ((col, weight), (condition, _)) in enumerate(pairs, start=1):
                records.append(dict(learner=learner, rank=rank, column=names[col], condition=condition,
                                    weight=float(weight), proba=float(exp.predict_proba[label]),
                                    score=float(exp.score[label] if isinstance(exp.score, dict) else exp.score)))
    return pd.DataFrame.from_records(records, columns=["learner", "rank", "column", "condition", "weight",
                                                      "proba", "score"])


def explain_with_seeds(explainer, row, predict_fn: Callable, seeds: Iterable[int], *, label: int = 1,
                       num_features: int = 10, num_samples: int = 500) -> pd.DataFrame:
    """Explain the same row once per sampling seed (LIME's perturbations are random).

    The random state of the explainer (and of its discretizer) is set to each seed in turn and restored
    afterwards; everything else (training statistics, kernel width) stays the same, so the differences
    between the explanations come from LIME's sampling alone.

    Returns
    -------
    DataFrame
        The long table of :func:`explain_rows` with a ``seed`` column instead of ``learner``.
    """
    from sklearn.utils import check_random_state

    discretizer = getattr(explainer, "discretizer", None)
    saved = explainer.random_state, getattr(discretizer, "random_state", None)
    frames = []
    try:
        for seed in seeds:
            state = check_random_state(int(seed))
            explainer.random_state = state  # draws the bins of the perturbed rows
            if discretizer is not None:
                discretizer.random_state = state  # draws the values inside the bins
            one = explain_rows(explainer, row, predict_fn, ids=[int(seed)], label=label,
                               num_features=num_features, num_samples=num_samples)
            frames.append(one.rename(columns={"learner": "seed"}))
    finally:
        explainer.random_state = saved[0]
        if discretizer is not None:
            discretizer.random_state = saved[1]
    if not frames:
        raise ValueError("seeds is empty")
    return pd.concat(frames, ignore_index=True)


def top_overlap(a: Iterable[str], b: Iterable[str]) -> float:
    """Jaccard overlap ``|A & B| / |A | B|`` of two sets of feature names (1 = same features)."""
    a, b = set(a), set(b)
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def grouped_permutation_importance(predict_fn: Callable, X, y, groups: Mapping[str, Sequence[int]], *,
                                   scoring: str | Callable = "roc_auc", n_repeats: int = 1,
                                   random_state: int | None = 0, label: int = 1) -> pd.DataFrame:
    """Permutation importance of *groups* of columns, permuted together across rows.

    Permuting the ten weekly columns of one feature together (the same row permutation for all of
    them) asks "how much worse does the model get without this feature?", whereas permuting each column
    alone underrates features whose information is spread over correlated weeks.

    Parameters
    ----------
    predict_fn : callable
        ``predict_fn(X) -> (n, n_classes)`` probabilities (the format LIME uses).
    X : array-like of shape (n, n_columns)
        Raw rows (e.g. the test learners), as ``predict_fn`` expects them.
    y : array-like of shape (n,)
        True labels (1 = the class ``label``).
    groups : mapping name -> column positions
        The groups of columns to permute together.
    scoring : "roc_auc", "accuracy" or callable, default "roc_auc"
        ``score(y, p)`` from the probability ``p`` of class ``label``; "accuracy" thresholds it at 0.5.
    n_repeats : int, default 1
        Permutations per group (averaged).
    random_state : int or None, default 0
        Seed of the permutations (one generator for all groups, used in the order of ``groups``).
    label : int, default 1
        Column of ``predict_fn``'s output that holds the probability of the positive class.

    Returns
    -------
    DataFrame
        Indexed by group name, sorted by decreasing ``importance`` (mean drop of the score), with
        ``std`` over the repeats and the ``baseline`` score.
    """
    from sklearn.metrics import accuracy_score, roc_auc_score

    if isinstance(scoring, str):
        scorers = {"roc_auc": roc_auc_score, "accuracy": lambda t, p: accuracy_score(t, p > 0.5)}
        if scoring not in scorers:
            raise ValueError(f"unknown scoring {scoring!r}; use one of {sorted(scorers)} or a callable")
        score = scorers[scoring]
    else:
        score = scoring
    X = _check_rows(X)
    y = np.asarray(y)
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels")
    if n_repeats < 1:
        raise ValueError("n_repeats must be at least 1")
    rng = np.random.default_rng(random_state)
    baseline = float(score(y, np.asarray(predict_fn(X))[:, label]))
    rows = []
    for name, cols in groups.items():
        cols = np.asarray(cols, dtype=int)
        if cols.size == 0 or cols.min() < 0 or cols.max() >= X.shape[1]:
            raise ValueError(f"group {name!r}: column positions must lie in 0..{X.shape[1] - 1}")
        drops = []
        for _ in range(n_repeats):
            Xp = X.copy()
            Xp[:, cols] = X[rng.permutation(len(X))][:, cols]
            drops.append(baseline - float(score(y, np.asarray(predict_fn(Xp))[:, label])))
        rows.append(dict(group=name, importance=float(np.mean(drops)), std=float(np.std(drops)),
                         baseline=baseline))
    out = pd.DataFrame(rows).set_index("group")
    return out.sort_values("importance", ascending=False)


def plot_lime(exp, label: int | None = None, *, class_names: Sequence[str] | None = None, ax=None,
              title: str | None = None, max_features: int | None = None):
    """Horizontal bars of one LIME explanation, coloured by the class each condition pushes towards.

    A positive weight pushes the prediction towards the explained class ``label``: its bar gets that
    class's colour (:data:`CLASS_COLORS`, red for "fail"); a negative weight pushes towards the other
    class (binary case: green for "pass"). The title names the explained class and the model's
    probability of it, so the colours cannot be misread. (The original course notebook explained
    "fail" but drew positive weights in green, the colour it described as "passing".)

    Parameters
    ----------
    exp : lime.explanation.Explanation
    label : int, optional
        The explained class (must be in ``exp.available_labels()``); default: the first explained one.
    class_names : sequence of str, optional
        Default: the explanation's own class names.
    ax : matplotlib Axes, optional
    title : str, optional
        Prefix of the title (e.g. ``"Learner 1234"``).
    max_features : int, optional
        Show at most this many conditions (the largest absolute weights).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    if label is None:
        label = exp.available_labels()[0]
    if label not in exp.available_labels():
        raise ValueError(f"label {label} was not explained; available: {exp.available_labels()}")
    names = list(class_names) if class_names is not None else list(exp.class_names)
    target = names[label]
    others = [n for i, n in enumerate(names) if i != label]
    other = others[0] if len(others) == 1 else "not " + target
    pro = CLASS_COLORS.get(target, "tab:red")
    con = CLASS_COLORS.get(other, "tab:blue")
    items = exp.as_list(label=label)[:max_features]
    items = items[::-1]  # largest at the top
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.35 * len(items) + 1.2))
    weights = [w for _, w in items]
    ax.barh(range(len(items)), weights, color=[pro if w > 0 else con for w in weights])
    ax.set_yticks(range(len(items)), [c for c, _ in items])
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel(f"LIME weight for P({target})")
    proba = float(exp.predict_proba[label])
    head = f"{title}: " if title else ""
    ax.set_title(f"{head}why the model says '{target}' (P({target}) = {proba:.2f})")
    ax.legend(handles=[Patch(color=pro, label=f"towards {target}"), Patch(color=con, label=f"towards {other}")],
              loc="lower right", fontsize="small")
    return ax
