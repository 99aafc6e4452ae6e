"""Knowledge tracing on interaction logs (lectures 06-07): splits, BKT, learning curves, AFM and PFA.

An *interactions frame* has one row per first attempt at a problem, in the course schema of
``assistments.csv``: ``user_id``, ``order_id`` (increases with time), ``skill_name`` and ``correct``
(0/1). Every helper below reads these column names by default and lets you rename them.

* :func:`create_iterator` -- train/test splits (or folds) of the *students*: all the rows of a student
  fall on the same side, so the test set holds unseen students;
* :func:`split_by_student` -- the first of those splits as ``(train, test)`` frames;
* :class:`BKT` -- one pyBKT ``Model`` per skill (fit / predict_proba), and :func:`bkt_params`;
* :func:`opportunity` and :func:`add_attempt_features` -- the number of previous attempts of the student
  on the skill (``prev_attempts``, counted from 0) and how many of them were right or wrong
  (``before_correct_num``, ``before_wrong_num``): the inputs of AFM and PFA;
* :func:`learning_curve` and :func:`plot_learning_curve` -- observed and predicted error rate by
  opportunity, with 95 % intervals and the number of observations;
* :class:`AFM` and :class:`PFA` -- the Additive Factors Model and Performance Factors Analysis as
  binomial mixed models (``lme4::glmer`` through pymer4's ``Lmer``).

Nothing here imports pyBKT, pymer4 or rpy2 at import time: they are imported when a model is fitted
(importing rpy2 starts R).
"""
from __future__ import annotations

import time
import warnings
from typing import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator
from sklearn.model_selection import GroupKFold, GroupShuffleSplit

__all__ = ["LECTURE_SKILLS", "create_iterator", "split_by_student", "BKT", "bkt_params", "opportunity",
           "add_attempt_features", "learning_curve", "plot_learning_curve", "AFM", "PFA", "AFM_FORMULA",
           "PFA_FORMULA"]

#: the six skills of lectures 06-08
LECTURE_SKILLS = ["Circle Graph", "Venn Diagram", "Mode", "Division Fractions", "Finding Percents",
                  "Area Rectangle"]

#: AFM: student ability, skill easiness, and a learning rate per skill on the number of previous attempts
AFM_FORMULA = "correct ~ (1|user_id) + (1|skill_name) + (0 + prev_attempts|skill_name)"
#: PFA: student ability, skill easiness, and separate rates per skill for previous successes and failures
PFA_FORMULA = ("correct ~ (1|user_id) + (1|skill_name) + (0 + before_correct_num|skill_name) "
               "+ (0 + before_wrong_num|skill_name)")

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


def split_by_student(data: pd.DataFrame, train_size: float = 0.8, random_state: int = 0,
                     group: str = "user_id") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The first split of :func:`create_iterator` as ``(train, test)`` frames (copies, original index)."""
    train_idx, test_idx = next(create_iterator(data, 1, train_size, random_state, group=group))
    return data.iloc[train_idx].copy(), data.iloc[test_idx].copy()


# ----------------------------------------------------------------------------------------------------------
# Bayesian Knowledge Tracing (pyBKT)
# ----------------------------------------------------------------------------------------------------------
class BKT(BaseEstimator):
    """Bayesian Knowledge Tracing with one pyBKT ``Model`` per skill.

    Each skill gets its own ``pyBKT.models.Model(seed=seed, num_fits=num_fits, ...)`` fitted on the rows
    of that skill only, as in lecture 06. ``predict_proba`` returns, for each row, pyBKT's predicted
    probability that the answer is correct given the *previous* rows of the same student on the same
    skill. A skill that was not seen in training (or could not be fitted) gets the training mean of
    ``correct``.

    Parameters
    ----------
    seed : int
        seed of every pyBKT model (the EM algorithm starts from random parameters).
    num_fits : int
        number of EM restarts per skill (pyBKT keeps the best likelihood).
    forgets : bool
        also fit a forgetting probability (default: no forgetting, standard BKT).
    columns : dict, optional
        pyBKT's column mapping (``user_id``, ``order_id``, ``skill_name``, ``correct``).

    Attributes
    ----------
    models_ : dict
        skill name -> fitted pyBKT ``Model``.
    default_ : float
        training mean of ``correct`` (prediction for unknown skills).
    fit_seconds_ : float
        time spent in ``fit``.
    """

    def __init__(self, seed: int = 0, num_fits: int = 5, forgets: bool = False,
                 columns: Mapping[str, str] | None = None):
        self.seed = seed
        self.num_fits = num_fits
        self.forgets = forgets
        self.columns = columns

    def _cols(self) -> dict:
        cols = {"user_id": "user_id", "order_id": "order_id", "skill_name": "skill_name", "correct": "correct"}
        cols.update(self.columns or {})
        return cols

    def fit(self, df: pd.DataFrame, skills: Sequence[str] | None = None, progress=None) -> "BKT":
        """Fit one model per skill of ``df`` (or of ``skills``). ``progress`` wraps the skill loop (tqdm)."""
        from pyBKT.models import Model

        cols = self._cols()
        _require(df, cols.values(), "BKT.fit")
        t0 = time.perf_counter()
        skill_col = cols["skill_name"]
        skills = list(pd.unique(df[skill_col])) if skills is None else list(skills)
        self.models_, self.failed_ = {}, {}
        self.default_ = float(df[cols["correct"]].mean())
        groups = dict(tuple(df.groupby(skill_col, sort=False)))
        for skill in (progress(skills) if progress else skills):
            rows = groups.get(skill)
            if rows is None or rows.empty:
                continue
            model = Model(seed=self.seed, num_fits=self.num_fits)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    # pyBKT sorts the frame it gets in place and adds columns (give it a copy), and reads
                    # skill names as regular expressions (give it a name without special characters)
                    model.fit(data=rows.assign(**{skill_col: _SAFE_SKILL}), forgets=self.forgets,
                              defaults=dict(cols))  # pyBKT edits the dict it gets
            except Exception as exc:  # e.g. a skill with a single attempt
                self.failed_[skill] = f"{type(exc).__name__}: {exc}"
                continue
            self.models_[skill] = model
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """P(correct) for each row of ``df`` (in the order of ``df``), given the student's previous rows."""
        if not hasattr(self, "models_"):
            raise ValueError("BKT.predict_proba: call fit first")
        cols = self._cols()
        _require(df, cols.values(), "BKT.predict_proba")
        out = np.full(len(df), self.default_, dtype=float)
        frame = df.reset_index(drop=True)  # index = row positions, which pyBKT keeps in its output
        for skill, rows in frame.groupby(cols["skill_name"], sort=False):
            model = self.models_.get(skill)
            if model is None:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # uses the column mapping given to fit
                pred = model.predict(data=rows.assign(**{cols["skill_name"]: _SAFE_SKILL}))
            out[pred.index.to_numpy()] = pred["correct_predictions"].to_numpy(dtype=float)
        return out

    def params(self) -> pd.DataFrame:
        """The fitted parameters, one row per skill (see :func:`bkt_params`)."""
        return bkt_params(self.models_)


_SAFE_SKILL = "skill"  # the name pyBKT sees (it reads skill names as regular expressions)
_PYBKT_NAMES = {"prior": "prior", "learns": "learn", "guesses": "guess", "slips": "slip", "forgets": "forget"}


def bkt_params(models) -> pd.DataFrame:
    """Fitted BKT parameters as a table: one row per skill, columns ``prior``, ``learn``, ``guess``,
    ``slip``, ``forget``.

    ``models`` is a pyBKT ``Model`` (possibly fitted on several skills), a dict of them (skill -> model,
    as :class:`BKT` keeps them) or a fitted :class:`BKT`. pyBKT names the parameters ``prior``,
    ``learns``, ``guesses``, ``slips`` and ``forgets`` (with one value per class, ``default`` here).
    In a dict, a model of a single skill is listed under its key.
    """
    if isinstance(models, BKT):
        models = models.models_
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
# opportunities and AFM/PFA features
# ----------------------------------------------------------------------------------------------------------
def opportunity(df: pd.DataFrame, user: str = "user_id", skill: str = "skill_name",
                order: str | None = "order_id") -> pd.Series:
    """The opportunity of each row: how many earlier attempts the student made on the same skill.

    Counted from 0 (the first attempt of a student on a skill is opportunity 0), in the order of
    ``order`` (ties and ``order=None``: the order of the rows). Returns a Series aligned with ``df``.
    """
    _require(df, [user, skill] + ([order] if order else []), "opportunity")
    frame = df.reset_index(drop=True)
    if order:
        frame = frame.sort_values(order, kind="stable")
    opp = frame.groupby([user, skill], sort=False).cumcount().sort_index()
    return pd.Series(opp.to_numpy(), index=df.index, name="opportunity")


def add_attempt_features(df: pd.DataFrame, user: str = "user_id", skill: str = "skill_name",
                         order: str | None = "order_id", correct: str = "correct") -> pd.DataFrame:
    """A copy of ``df`` with the AFM/PFA features, computed per student and skill in time order.

    * ``prev_attempts``: number of previous attempts of the student on the skill (0 at the first one);
    * ``before_correct_num``: how many of them were correct;
    * ``before_wrong_num``: how many were wrong (``prev_attempts - before_correct_num``).

    The current row never counts in its own features (they only use the past). Rows keep their order
    and index.
    """
    _require(df, [user, skill, correct] + ([order] if order else []), "add_attempt_features")
    frame = df.reset_index(drop=True)
    if order:
        frame = frame.sort_values(order, kind="stable")
    g = frame.groupby([user, skill], sort=False)[correct]
    prev = g.cumcount()
    before_correct = g.cumsum() - frame[correct]
    out = df.copy()
    out["prev_attempts"] = prev.sort_index().to_numpy(dtype=np.int64)
    out["before_correct_num"] = before_correct.sort_index().to_numpy(dtype=np.int64)
    out["before_wrong_num"] = out["prev_attempts"] - out["before_correct_num"]
    return out


# ----------------------------------------------------------------------------------------------------------
# learning curves
# ----------------------------------------------------------------------------------------------------------
def _labels(predicted) -> dict[str, str]:
    if predicted is None:
        return {}
    if isinstance(predicted, str):
        return {"predicted": predicted}
    if isinstance(predicted, Mapping):
        return dict(predicted)
    return {c: c for c in predicted}


def learning_curve(df: pd.DataFrame, predicted: str | Sequence[str] | Mapping[str, str] | None = None,
                   correct: str = "correct", user: str = "user_id", skill: str = "skill_name",
                   order: str | None = "order_id", opportunity_col: str | None = None,
                   max_opportunity: int | None = None, level: float = 0.95) -> pd.DataFrame:
    """Observed (and predicted) error rate by opportunity, averaged over the students.

    Parameters
    ----------
    df : DataFrame
        interactions, possibly of several skills (opportunities are counted per student and skill).
    predicted : str, list of str or dict, optional
        column(s) of predicted P(correct); a dict maps a label to a column. Each gives a column
        ``<label>_error`` (mean of 1 - prediction); a single string gets the label ``predicted``.
    opportunity_col : str, optional
        a column that already holds the opportunity (e.g. ``prev_attempts``); by default it is computed
        with :func:`opportunity` (0 = first attempt).
    max_opportunity : int, optional
        keep opportunities ``0 .. max_opportunity`` only.
    level : float
        coverage of the interval of the observed error rate.

    Returns
    -------
    DataFrame indexed by ``opportunity`` (0, 1, ...) with columns
        ``n`` (number of observations, i.e. of students at that opportunity when ``df`` holds one skill),
        ``observed_error`` (share of wrong answers), ``lcb`` and ``ucb`` (Jeffreys interval of the error
        rate: the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of
        Beta(wrong + 1/2, right + 1/2)), then ``<label>_error`` for each predicted column.
    """
    labels = _labels(predicted)
    _require(df, [correct] + list(labels.values()), "learning_curve")
    if opportunity_col is not None:
        _require(df, [opportunity_col], "learning_curve")
        opp = df[opportunity_col].to_numpy()
    else:
        opp = opportunity(df, user, skill, order).to_numpy()
    frame = pd.DataFrame({"opportunity": opp, "wrong": 1 - df[correct].to_numpy(dtype=float)})
    for label, col in labels.items():
        frame[f"{label}_error"] = 1 - df[col].to_numpy(dtype=float)
    if max_opportunity is not None:
        frame = frame[frame["opportunity"] <= max_opportunity]
    g = frame.groupby("opportunity")
    out = pd.DataFrame({"n": g.size(), "observed_error": g["wrong"].mean()})
    n_wrong = g["wrong"].sum()
    a, b = n_wrong + 0.5, out["n"] - n_wrong + 0.5
    out["lcb"] = stats.beta.ppf((1 - level) / 2, a, b)
    out["ucb"] = stats.beta.ppf((1 + level) / 2, a, b)
    for label in labels:
        out[f"{label}_error"] = g[f"{label}_error"].mean()
    out["n"] = out["n"].astype(np.int64)
    return out


def plot_learning_curve(curve: pd.DataFrame, title: str | None = None, axes=None, max_count: int | None = None):
    """Draw a learning curve from :func:`learning_curve`: error rates (top) and observations (bottom).

    The observed error rate is drawn with its interval (shaded), each ``<label>_error`` column as a line.
    ``axes`` is an optional pair of matplotlib axes. Returns the figure.
    """
    import matplotlib.pyplot as plt

    _require(curve, ["n", "observed_error", "lcb", "ucb"], "plot_learning_curve")
    if axes is None:
        fig, axes = plt.subplots(2, 1, figsize=(7, 5), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    else:
        fig = axes[0].figure
    top, bottom = axes
    x = curve.index.to_numpy()
    top.fill_between(x, curve["lcb"], curve["ucb"], alpha=0.2, label="observed, 95% interval")
    top.plot(x, curve["observed_error"], "o-", ms=3, label="observed")
    for col in curve.columns:
        if col.endswith("_error") and col != "observed_error":
            top.plot(x, curve[col], "s--", ms=3, label=col[: -len("_error")])
    top.set(ylabel="error rate", ylim=(0, 1), title=title or "")
    top.set_xlim(-0.5, x.max() + 0.5 if len(x) else 1)
    top.legend(loc="upper right", fontsize=8)
    bottom.bar(x, curve["n"], color="grey")
    bottom.set(xlabel="opportunity (previous attempts on the skill)", ylabel="observations")
    if max_count is not None:
        bottom.set_ylim(0, max_count)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------------------
# AFM and PFA (pymer4 / lme4)
# ----------------------------------------------------------------------------------------------------------
class _LogisticKT(BaseEstimator):
    """A binomial mixed model on an interactions frame (base of :class:`AFM` and :class:`PFA`)."""

    _terms: tuple[str, ...] = ()

    def __init__(self, user_intercept: bool = True, control: str = "",
                 retry_control: str | None = "tolPwrss=1e-5"):
        self.user_intercept = user_intercept
        self.control = control
        self.retry_control = retry_control

    @property
    def formula(self) -> str:
        rhs = ["(1|skill_name)"] + [f"(0 + {t}|skill_name)" for t in self._terms]
        if self.user_intercept:
            rhs.insert(0, "(1|user_id)")
        return "correct ~ " + " + ".join(rhs)

    def _frame(self, df: pd.DataFrame) -> pd.DataFrame:
        if not all(c in df.columns for c in self._terms):
            df = add_attempt_features(df)
        cols = ["user_id", "skill_name", "correct", *self._terms]
        _require(df, cols, type(self).__name__)
        frame = df[cols].reset_index(drop=True).copy()
        frame["skill_name"] = frame["skill_name"].astype(str)
        return frame

    def _fit_lmer(self, frame: pd.DataFrame, control: str):
        from pymer4.models import Lmer

        model = Lmer(self.formula, data=frame, family="binomial")
        model.fit(summarize=False, verbose=False, no_warnings=True, control=control)
        return model

    def fit(self, df: pd.DataFrame) -> "_LogisticKT":
        """Fit the model on an interactions frame (features added with :func:`add_attempt_features`
        when missing). Returns ``self``; the pymer4 model is ``model_``.

        On large data ``glmer`` sometimes stops with "PIRLS step-halvings failed to reduce deviance"
        (long practice sequences give large counts); the fit is then retried once with
        ``retry_control`` added to the ``glmerControl`` options (a looser PIRLS tolerance by default).
        ``control_`` records the options finally used, ``lme4_warnings_`` lme4's convergence messages.
        """
        from .mixed_models import quiet_r

        frame = self._frame(df)
        t0 = time.perf_counter()
        with quiet_r():
            try:
                self.model_, self.control_ = self._fit_lmer(frame, self.control), self.control
            except Exception as exc:  # rpy2's RRuntimeError
                if not self.retry_control or "PIRLS" not in str(exc):
                    raise
                control = ", ".join(c for c in (self.control, self.retry_control) if c)
                self.model_, self.control_ = self._fit_lmer(frame, control), control
        self.lme4_warnings_ = [str(m) for w in self.model_.warnings
                               for m in ([w] if isinstance(w, str) else list(w))]
        self.fit_seconds_ = time.perf_counter() - t0
        self.n_train_ = len(frame)
        return self

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """P(correct) for each row of ``df`` (1-D array). Students or skills unseen in training get the
        population value of their random effects (0)."""
        from .mixed_models import predict

        if not hasattr(self, "model_"):
            raise ValueError(f"{type(self).__name__}.predict_proba: call fit first")
        return predict(self.model_, self._frame(df))

    def variance_components(self) -> pd.DataFrame:
        """Variance and standard deviation of each random effect (pymer4's ``ranef_var``)."""
        return self.model_.ranef_var.copy()


class AFM(_LogisticKT):
    """Additive Factors Model as a binomial mixed model (lme4 ``glmer`` through pymer4).

    ``logit P(correct) = b + u_student + s_skill + g_skill * prev_attempts``: a student ability
    (``(1|user_id)``, dropped with ``user_intercept=False``), a skill easiness and a per-skill learning
    rate on the number of previous attempts, all as random effects as in lecture 07 (there is no fixed
    slope: the per-skill slopes are shrunk towards 0). ``control`` is passed to ``glmerControl`` (e.g.
    ``"optimizer='bobyqa'"``); ``retry_control`` is added to it for a second try when the PIRLS step of
    ``glmer`` fails (see :meth:`fit`).
    """

    _terms = ("prev_attempts",)


class PFA(_LogisticKT):
    """Performance Factors Analysis as a binomial mixed model (lme4 ``glmer`` through pymer4).

    Like :class:`AFM`, but the previous attempts are split into successes (``before_correct_num``) and
    failures (``before_wrong_num``), each with its own per-skill rate.
    """

    _terms = ("before_correct_num", "before_wrong_num")
