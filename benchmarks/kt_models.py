"""Reference knowledge-tracing models of the benchmark (instructor material, not in the student package).

* :class:`BKT` -- one pyBKT ``Model`` per skill (fit / predict_proba);
* :class:`AFM` and :class:`PFA` -- the Additive Factors Model and Performance Factors Analysis as binomial
  mixed models (``lme4::glmer`` through pymer4's ``Lmer``); they compute their practice counts (previous
  attempts, successes and failures per student and skill, in ``order_id`` order) when missing;
* :class:`BestLR` -- the logistic knowledge-tracing model "Best-LR" of Gervet et al. (2020), scikit-learn;
* :class:`AttemptDKT` -- DKT (``mlbd_utils.dkt``) on sequences of *attempts*: all the skill rows of one
  attempt are read together and predicted together, before any of their answers is revealed.

Attempts. An interactions frame may hold an ``attempt_id`` column: the rows (one per skill) that belong to
one answer of the student to one problem share it (the corrected ASSISTments 2009 file repeats a
multi-skill problem once per skill, on consecutive rows with the same answer). :class:`BestLR` and
:class:`AttemptDKT` then compute every feature of an attempt from the student's *previous attempts* only.
Without that column every row is its own attempt, and :class:`AttemptDKT` is ``mlbd_utils.dkt.DKT``
(same sequences, same loss value and validation AUC, same seeds).

They compute what lectures 06-08 ask students to compute (per-skill BKT predictions, PFA, DKT evaluation),
so they are kept out of ``mlbd_utils`` (see ``tests/test_student_package.py``). Nothing here imports pyBKT,
pymer4, rpy2 or Keras at import time.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from mlbd_utils.knowledge_tracing import _SAFE_SKILL, _require, bkt_params

__all__ = ["BKT", "AFM", "PFA", "AFM_FORMULA", "PFA_FORMULA", "BestLR", "AttemptDKT", "attempt_layout"]

#: AFM: student ability, skill easiness, and a learning rate per skill on the number of previous attempts
AFM_FORMULA = "correct ~ (1|user_id) + (1|skill_name) + (0 + prev_attempts|skill_name)"
#: PFA: student ability, skill easiness, and separate rates per skill for previous successes and failures
PFA_FORMULA = ("correct ~ (1|user_id) + (1|skill_name) + (0 + before_correct_num|skill_name) "
               "+ (0 + before_wrong_num|skill_name)")


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
        """The model's columns (index reset). Missing practice counts are computed per student and skill in
        ``order_id`` order from the earlier attempts only (``prev_attempts``, ``before_correct_num``,
        ``before_wrong_num``, counted from 0)."""
        if not all(c in df.columns for c in self._terms):
            _require(df, ["user_id", "skill_name", "correct", "order_id"], type(self).__name__)
            frame = df.reset_index(drop=True)
            ordered = frame.sort_values("order_id", kind="stable")
            g = ordered.groupby(["user_id", "skill_name"], sort=False)["correct"]
            df = frame.assign(prev_attempts=g.cumcount().sort_index().to_numpy(dtype=np.int64),
                              before_correct_num=(g.cumsum() - ordered["correct"]).sort_index().to_numpy(dtype=np.int64))
            df["before_wrong_num"] = df["prev_attempts"] - df["before_correct_num"]
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
        """Fit the model on an interactions frame (practice counts computed when missing, see
        ``_frame``). Returns ``self``; the pymer4 model is ``model_``.

        On large data ``glmer`` sometimes stops with "PIRLS step-halvings failed to reduce deviance"
        (long practice sequences give large counts); the fit is then retried once with
        ``retry_control`` added to the ``glmerControl`` options (a looser PIRLS tolerance by default).
        ``control_`` records the options finally used, ``lme4_warnings_`` lme4's convergence messages.
        """
        from mlbd_utils.mixed_models import quiet_r

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
        from mlbd_utils.mixed_models import predict

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


# ----------------------------------------------------------------------------------------------------------
# Attempts
# ----------------------------------------------------------------------------------------------------------
@dataclass
class AttemptLayout:
    """The rows of an interactions frame grouped into attempts, in time order (see :func:`attempt_layout`).

    Attributes
    ----------
    order : int array (n_rows,)
        Row positions (``iloc``) sorted by student, attempt, then ``order_id``: the rows of one attempt are
        consecutive.
    attempt : int array (n_rows,)
        Attempt index (0 .. n_attempts - 1) of each row of ``order``.
    starts : int array (n_attempts,)
        Position in ``order`` of the first row of each attempt.
    user : array (n_attempts,)
        Student of each attempt.
    rank : int array (n_attempts,)
        0-based rank of each attempt among its student's attempts (the number of previous attempts).
    """

    order: np.ndarray
    attempt: np.ndarray
    starts: np.ndarray
    user: np.ndarray
    rank: np.ndarray

    @property
    def n_attempts(self) -> int:
        return len(self.starts)

    @property
    def first(self) -> np.ndarray:
        """True for the first attempt of each student."""
        return self.rank == 0


def attempt_layout(df: pd.DataFrame, attempt_col: str | None = "attempt_id") -> AttemptLayout:
    """Group the rows of ``df`` into attempts.

    The rows of one student sharing a value of ``attempt_col`` form one attempt; attempts are ordered by the
    smallest ``order_id`` of their rows. Without that column (or with ``attempt_col=None``) every row is its
    own attempt, in ``order_id`` order (ties keep the frame's order, as ``mlbd_utils.dkt``).
    """
    _require(df, ["user_id", "order_id"], "attempt_layout")
    n = len(df)
    user = df["user_id"].to_numpy()
    order_id = df["order_id"].to_numpy()
    if attempt_col and attempt_col in df.columns:
        if df[attempt_col].isna().any():
            raise ValueError(f"attempt_layout: column {attempt_col!r} has missing values")
        code = df.groupby(["user_id", attempt_col], sort=True).ngroup().to_numpy()
        first_order = pd.Series(order_id).groupby(code).transform("min").to_numpy()
    else:
        code, first_order = np.arange(n), order_id
    order = np.lexsort((order_id, code, first_order, user))
    u, c = user[order], code[order]
    new = np.r_[True, (u[1:] != u[:-1]) | (c[1:] != c[:-1])] if n else np.zeros(0, dtype=bool)
    attempt = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    att_user = u[starts]
    first = np.r_[True, att_user[1:] != att_user[:-1]] if len(starts) else np.zeros(0, dtype=bool)
    user_start = np.maximum.accumulate(np.where(first, np.arange(len(starts)), 0)) if len(starts) else starts
    return AttemptLayout(order.astype(np.int64), attempt.astype(np.int64), starts.astype(np.int64), att_user,
                         (np.arange(len(starts)) - user_start).astype(np.int64))


# ----------------------------------------------------------------------------------------------------------
# Best-LR (Gervet et al., 2020)
# ----------------------------------------------------------------------------------------------------------
def _prior_counts(keys: list, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For entries in time order: the number of earlier entries with the same keys (a list of arrays), and
    the sum of their ``values`` (the entry itself excluded)."""
    s = pd.Series(values, dtype=np.float64)
    g = s.groupby(keys, sort=False)
    return g.cumcount().to_numpy(dtype=np.float64), (g.cumsum() - s).to_numpy(dtype=np.float64)


class BestLR(BaseEstimator):
    """Logistic knowledge tracing "Best-LR" (Gervet, Koedinger, Schneider & Mitchell, 2020, "When is deep
    learning the best approach to knowledge tracing?", JEDM 12(3)).

    One sample per **attempt** (one answer of a student to a problem; see :func:`attempt_layout`), with the
    sparse features of the paper's best logistic model (their ``-i -s -ic -sc -tc -w -a``), all computed
    from the student's previous attempts only, with ``phi(x) = log(1 + x)``:

    * ``s``: the attempt's skills, multi-hot (one-hot for a single-skill attempt);
    * ``sc``: for each skill of the attempt, ``phi`` of the student's previous attempts with that skill and
      of the successful ones (placed in that skill's columns; 0 for the other skills);
    * ``tc``: ``phi`` of the student's previous attempts and successes overall;
    * ``i`` and ``ic`` (when the frame has an item column ``item_col`` and ``items=True``): the item,
      one-hot, and ``phi`` of the student's previous attempts and successes on that item.

    The paper's best model also counts attempts and successes in time windows (an hour, a day, a week, a
    month: ``-tw``). The course's ASSISTments files have no timestamps (the corrected 2009 release as read
    by ``mlbd_utils.data.assistments.from_real`` keeps ``user_id, order_id, skill_name, correct`` plus the
    problem id; no time), so the time windows are left out. Items or skills not seen in training get no
    one-hot column (their counts still apply). An attempt is correct when its rows are (the benchmark's
    attempts have one answer; with mixed answers it counts as correct only if all its rows are).

    ``predict_proba`` returns one probability per **row**: the attempt's, repeated on each of its rows.
    Without an ``attempt_col`` column every row is an attempt (the "skill rows" protocol).

    Parameters
    ----------
    C, max_iter : float, int
        of ``sklearn.linear_model.LogisticRegression(solver="lbfgs")`` (the paper's ``train_lr.py`` uses
        lbfgs, ``C=1`` and ``max_iter=1000``).
    items : bool
        use the item features when the frame has ``item_col``.
    item_col, attempt_col : str
        columns of the item (problem) id and of the attempt id.
    random_state : int
        passed to ``LogisticRegression`` (lbfgs is deterministic).
    """

    def __init__(self, C: float = 1.0, max_iter: int = 1000, items: bool = True, item_col: str = "item_id",
                 attempt_col: str = "attempt_id", random_state: int = 0):
        self.C = C
        self.max_iter = max_iter
        self.items = items
        self.item_col = item_col
        self.attempt_col = attempt_col
        self.random_state = random_state

    def _use_items(self, df: pd.DataFrame) -> bool:
        return bool(self.items and self.item_col and self.item_col in df.columns)

    def transform(self, df: pd.DataFrame):
        """``(X, y, layout)``: the sparse features of each attempt of ``df`` (CSR, one row per attempt in
        the order of ``layout``), the attempts' answers and the :class:`AttemptLayout`. Needs ``fit``'s
        vocabularies."""
        from scipy import sparse

        if not hasattr(self, "skills_"):
            raise ValueError("BestLR.transform: call fit first")
        _require(df, ["user_id", "order_id", "skill_name", "correct"], "BestLR")
        lay = attempt_layout(df, self.attempt_col)
        A, S = lay.n_attempts, len(self.skills_)
        skill = df["skill_name"].astype(str).to_numpy()[lay.order]
        correct = df["correct"].to_numpy(dtype=np.int64)[lay.order]
        y = np.minimum.reduceat(correct, lay.starts) if A else np.zeros(0, dtype=np.int64)
        rows, cols, vals = [], [], []

        def add(r, c, v):  # sparse entries (row, column, value), zeros left out
            v = np.asarray(v, dtype=np.float64)
            keep = v != 0
            rows.append(r[keep])
            cols.append(c[keep])
            vals.append(v[keep])

        # overall counts (tc)
        tot_a, tot_w = _prior_counts([lay.user], y)
        att = np.arange(A)
        add(att, np.full(A, 3 * S), np.log1p(tot_a))
        add(att, np.full(A, 3 * S + 1), np.log1p(tot_w))
        # skills (s) and skill counts (sc), once per (attempt, skill)
        pairs = pd.DataFrame({"a": lay.attempt, "s": skill}).drop_duplicates()
        pa, ps = pairs["a"].to_numpy(), pairs["s"].to_numpy()
        sk_a, sk_w = _prior_counts([lay.user[pa], ps], y[pa])
        sidx = self.skills_.get_indexer(ps)
        known = sidx >= 0
        add(pa[known], sidx[known], np.ones(known.sum()))
        add(pa[known], S + sidx[known], np.log1p(sk_a[known]))
        add(pa[known], 2 * S + sidx[known], np.log1p(sk_w[known]))
        width = 3 * S + 2
        if self._use_items(df):
            item = df[self.item_col].astype(str).to_numpy()[lay.order][lay.starts]
            it_a, it_w = _prior_counts([lay.user, item], y)
            add(att, np.full(A, width), np.log1p(it_a))
            add(att, np.full(A, width + 1), np.log1p(it_w))
            iidx = self.items_.get_indexer(item)
            seen = iidx >= 0
            add(att[seen], width + 2 + iidx[seen], np.ones(seen.sum()))
            width += 2 + len(self.items_)
        X = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                              shape=(A, width))
        return X, y, lay

    def fit(self, df: pd.DataFrame, y=None) -> "BestLR":
        """Fit on an interactions frame (``user_id, order_id, skill_name, correct``, optional attempt and
        item columns)."""
        from sklearn.linear_model import LogisticRegression

        _require(df, ["user_id", "order_id", "skill_name", "correct"], "BestLR")
        t0 = time.perf_counter()
        self.skills_ = pd.Index(sorted(pd.unique(df["skill_name"].astype(str))))
        self.items_ = (pd.Index(sorted(pd.unique(df[self.item_col].astype(str))))
                       if self._use_items(df) else pd.Index([]))
        X, y_att, _ = self.transform(df)
        self.model_ = LogisticRegression(C=self.C, solver="lbfgs", max_iter=self.max_iter,
                                         random_state=self.random_state)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # lbfgs ConvergenceWarning: reported as n_iter_
            self.model_.fit(X, y_att)
        self.n_iter_ = int(np.max(self.model_.n_iter_))
        self.n_attempts_, self.n_features_ = X.shape
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """P(correct) of each row of ``df`` (in the order of ``df``): its attempt's probability, computed
        from the student's previous attempts."""
        if not hasattr(self, "model_"):
            raise ValueError("BestLR.predict_proba: call fit first")
        X, _, lay = self.transform(df)
        out = np.empty(len(df), dtype=float)
        if len(df):
            out[lay.order] = self.model_.predict_proba(X)[:, 1][lay.attempt]
        return out


# ----------------------------------------------------------------------------------------------------------
# DKT on attempts
# ----------------------------------------------------------------------------------------------------------
class _AttemptChunks:
    """Attempt-level DKT sequences, chunked (see :func:`attempt_sequences`). For chunk ``c``:
    ``inputs[c] = (step, input id)`` entries (several per step: multi-hot), ``targets[c] = (step, skill,
    correct, row)`` entries (one per known skill row of the step's attempt)."""

    def __init__(self, inputs, targets, lengths, users, n_skills):
        self.inputs, self.targets = inputs, targets
        self.lengths, self.users, self.n_skills = np.asarray(lengths, dtype=int), np.asarray(users), n_skills

    @property
    def n_features(self) -> int:
        return 2 * self.n_skills + 1

    def __len__(self) -> int:
        return len(self.lengths)

    def subset(self, idx) -> "_AttemptChunks":
        idx = np.asarray(idx, dtype=int)
        return _AttemptChunks([self.inputs[i] for i in idx], [self.targets[i] for i in idx], self.lengths[idx],
                              self.users[idx], self.n_skills)

    def pad(self, length: int, mask_value: float = -1.0):
        """``X`` (n, T, 2S+1): multi-hot inputs, ``mask_value`` on padded steps; ``Y`` (n, T, 2S): per skill,
        the number of correct (``[..., :S]``) and wrong (``[..., S:]``) target rows of each step."""
        n, T, S = len(self), int(length), self.n_skills
        X = np.zeros((n, T, 2 * S + 1), dtype=np.float32)
        Y = np.zeros((n, T, 2 * S), dtype=np.float32)
        if n == 0:
            return X, Y
        X[~(np.arange(T)[None, :] < self.lengths[:, None])] = mask_value
        ci = np.repeat(np.arange(n), [len(e[0]) for e in self.inputs])
        if len(ci):
            X[ci, np.concatenate([e[0] for e in self.inputs]), np.concatenate([e[1] for e in self.inputs])] = 1.0
        ci = np.repeat(np.arange(n), [len(e[0]) for e in self.targets])
        if len(ci):
            step = np.concatenate([e[0] for e in self.targets])
            skill = np.concatenate([e[1] for e in self.targets])
            label = np.concatenate([e[2] for e in self.targets])
            np.add.at(Y, (ci, step, skill + S * (1 - label)), 1.0)
        return X, Y


def attempt_sequences(df: pd.DataFrame, skills, max_len: int | None = None,
                      attempt_col: str | None = "attempt_id") -> _AttemptChunks:
    """One sequence of attempts per student, cut into chunks of at most ``max_len`` attempts.

    Step ``t`` of a student reads the **whole previous attempt** (multi-hot of ``2 * skill + correct`` of its
    rows; the start token ``2 * n_skills`` at the first attempt) and predicts every skill row of attempt
    ``t``: no answer of attempt ``t`` is an input of step ``t``. With one row per attempt this is exactly
    ``mlbd_utils.dkt.prepare_sequences`` (a chunk after the first also starts from the previous attempt).
    Skills outside ``skills`` are neither inputs nor targets.
    """
    _require(df, ["user_id", "order_id", "skill_name", "correct"], "attempt_sequences")
    skills = pd.Index([str(s) for s in skills])
    S = len(skills)
    lay = attempt_layout(df, attempt_col)
    A = lay.n_attempts
    if A == 0:
        return _AttemptChunks([], [], np.zeros(0, dtype=int), np.array([], dtype=df["user_id"].dtype), S)
    skill = skills.get_indexer(df["skill_name"].astype(str).to_numpy()[lay.order]).astype(np.int64)
    correct = df["correct"].to_numpy().astype(np.int64)[lay.order]
    first = lay.first
    cut = first | ((lay.rank % max_len) == 0) if max_len else first
    chunk = np.cumsum(cut) - 1
    chunk_start = np.flatnonzero(cut)
    step = np.arange(A) - chunk_start[chunk]
    n_chunks = len(chunk_start)
    lengths = np.bincount(chunk, minlength=n_chunks)
    att = lay.attempt
    known = skill >= 0
    # targets: every known skill row, at its own attempt's step
    t_chunk, t_step = chunk[att][known], step[att][known]
    t = (t_step, skill[known], correct[known], lay.order[known])
    # inputs: the rows of attempt a feed attempt a + 1 of the same student; start token at first attempts
    nxt = att + 1
    feeds = known & (nxt < A)
    feeds[feeds] = ~first[nxt[feeds]]
    firsts = np.flatnonzero(first)
    i_chunk = np.r_[chunk[nxt[feeds]], chunk[firsts]]
    i_step = np.r_[step[nxt[feeds]], step[firsts]]
    i_id = np.r_[2 * skill[feeds] + correct[feeds], np.full(len(firsts), 2 * S)]
    o = np.lexsort((i_step, i_chunk))
    i_chunk, i_step, i_id = i_chunk[o], i_step[o], i_id[o]
    ib = np.searchsorted(i_chunk, np.arange(1, n_chunks))
    tb = np.searchsorted(t_chunk, np.arange(1, n_chunks))  # targets are already in chunk order
    inputs = list(zip(np.split(i_step, ib), np.split(i_id, ib)))
    targets = list(zip(*[np.split(a, tb) for a in t]))
    return _AttemptChunks(inputs, targets, lengths, lay.user[chunk_start], S)


_KERAS_OBJECTS: dict = {}


def _keras_objects():
    """The attempt-level loss and validation AUC (Keras classes, built on first use)."""
    if _KERAS_OBJECTS:
        return _KERAS_OBJECTS["loss"], _KERAS_OBJECTS["auc"]
    import mlbd_utils.dkt  # noqa: F401  (sets TensorFlow's environment before Keras is imported)

    import keras
    from keras import ops

    def split(y_true, y_pred):
        S = y_pred.shape[-1]
        y_true = ops.cast(ops.convert_to_tensor(y_true), y_pred.dtype)
        return y_true[..., :S], y_true[..., S:]

    class AttemptBinaryCrossentropy(keras.losses.Loss):
        """Binary cross-entropy of each target skill row's predicted probability, averaged over the
        target rows of the batch (for one row per step: ``mlbd_utils.dkt.MaskedBinaryCrossentropy``)."""

        def __init__(self, name: str = "attempt_binary_crossentropy", **kwargs):
            super().__init__(name=name, **kwargs)

        def call(self, y_true, y_pred):
            right, wrong = split(y_true, y_pred)
            p = ops.clip(y_pred, 1e-7, 1.0 - 1e-7)
            return ops.reshape(ops.sum(-(right * ops.log(p) + wrong * ops.log(1.0 - p)), axis=-1), (-1,))

        def __call__(self, y_true, y_pred, sample_weight=None):
            right, wrong = split(y_true, y_pred)
            count = ops.reshape(ops.sum(right + wrong, axis=-1), (-1,))
            mask = ops.cast(ops.greater(count, 0.0), y_pred.dtype)
            if sample_weight is not None:
                mask = mask * ops.reshape(ops.cast(sample_weight, mask.dtype), (-1,))
            values = self.call(y_true, y_pred) * mask
            return ops.sum(values * mask) / ops.maximum(ops.sum(count * mask), 1.0)

    class AttemptAUC(keras.metrics.AUC):
        """ROC AUC of the attempts: mean predicted probability of the attempt's target skills against its
        answer, real steps only (for one row per step: ``mlbd_utils.dkt.MaskedAUC``)."""

        def __init__(self, name: str = "auc", num_thresholds: int = 200, **kwargs):
            super().__init__(name=name, num_thresholds=num_thresholds, **kwargs)

        def update_state(self, y_true, y_pred, sample_weight=None):
            right, wrong = split(y_true, y_pred)
            weight = right + wrong
            count = ops.sum(weight, axis=-1)
            p = ops.sum(weight * y_pred, axis=-1) / ops.maximum(count, 1.0)
            label = ops.cast(ops.greater(ops.sum(right, axis=-1), 0.0), y_pred.dtype)
            mask = ops.cast(ops.greater(count, 0.0), y_pred.dtype)
            if sample_weight is not None:
                mask = mask * ops.cast(sample_weight, mask.dtype)
            flat = lambda t: ops.reshape(t, (-1,))  # noqa: E731
            return super().update_state(flat(label), flat(p), sample_weight=flat(mask))

    _KERAS_OBJECTS.update(loss=AttemptBinaryCrossentropy, auc=AttemptAUC)
    return AttemptBinaryCrossentropy, AttemptAUC


class AttemptDKT(BaseEstimator):
    """Deep Knowledge Tracing on sequences of attempts (leak-free on multi-skill attempts).

    ``mlbd_utils.dkt.DKT`` reads one row at a time: on a file that repeats a multi-skill attempt once per
    skill, the second row of an attempt is predicted after reading the first row's answer, which is the same
    answer. Here a step is an **attempt** (:func:`attempt_sequences`): the input is the multi-hot of the
    previous attempt's (skill, correct) pairs, the output a probability per skill, and every skill row of
    the attempt is predicted from the state after the previous attempt. The loss is the binary
    cross-entropy of each target skill row; the validation AUC (early stopping, as DKT) scores each
    attempt by the mean probability of its skills. ``predict_proba`` returns one probability per row (its
    skill's, from the state after the previous attempt); the benchmark averages them per attempt.

    Parameters are those of ``mlbd_utils.dkt.DKT`` (same defaults and seeding), plus ``attempt_col``.
    Without that column every row is an attempt and the model, its training and its predictions are those
    of ``mlbd_utils.dkt.DKT``.
    """

    def __init__(self, cell: str = "lstm", units: int = 64, max_len: int = 200, epochs: int = 10,
                 batch_size: int = 32, learning_rate: float = 3e-3, dropout: float = 0.0,
                 validation_split: float = 0.1, patience: int = 2, random_state: int = 0, verbose: int = 0,
                 attempt_col: str = "attempt_id"):
        self.cell = cell
        self.units = units
        self.max_len = max_len
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.dropout = dropout
        self.validation_split = validation_split
        self.patience = patience
        self.random_state = random_state
        self.verbose = verbose
        self.attempt_col = attempt_col

    def _dataset(self, seqs: _AttemptChunks, seed: int | None):
        from mlbd_utils.dkt import _batches

        import tensorflow as tf

        rng = None if seed is None else np.random.default_rng(seed)
        n_batches = len(_batches(seqs, self.batch_size, None))

        def gen():
            for g, T in _batches(seqs, self.batch_size, rng):
                yield seqs.subset(g).pad(T)

        S = seqs.n_skills
        spec = (tf.TensorSpec((None, None, 2 * S + 1), tf.float32), tf.TensorSpec((None, None, 2 * S), tf.float32))
        ds = tf.data.Dataset.from_generator(gen, output_signature=spec)
        return ds.apply(tf.data.experimental.assert_cardinality(n_batches)).prefetch(2)

    def fit(self, df: pd.DataFrame, y=None) -> "AttemptDKT":
        """Train on an interactions frame (``user_id, order_id, skill_name, correct``, optional attempt
        column)."""
        from mlbd_utils import dkt  # first: it sets TensorFlow's environment before importing Keras

        import keras

        dkt._check_frame(df)
        keras.utils.set_random_seed(self.random_state)
        self.skills_ = pd.Index(sorted(pd.unique(df["skill_name"].astype(str))))
        self.mean_correct_ = float(df["correct"].mean())
        seqs = attempt_sequences(df, self.skills_, self.max_len, self.attempt_col)
        rng = np.random.default_rng(self.random_state)
        users = np.unique(seqs.users)
        n_val = int(round(self.validation_split * len(users))) if self.validation_split else 0
        n_val = min(n_val, len(users) - 1)
        val_users = rng.choice(users, size=n_val, replace=False) if n_val else np.array([], dtype=users.dtype)
        is_val = np.isin(seqs.users, val_users)
        train, val = seqs.subset(np.flatnonzero(~is_val)), seqs.subset(np.flatnonzero(is_val))
        loss, auc = _keras_objects()
        self.model_ = dkt.build_dkt_model(len(self.skills_), self.cell, self.units, self.dropout, self.learning_rate)
        self.model_.compile(optimizer=keras.optimizers.Adam(self.learning_rate), loss=loss(), metrics=[auc()])
        callbacks, val_ds = [], None
        if len(val):
            val_ds = self._dataset(val, None)
            callbacks.append(keras.callbacks.EarlyStopping(monitor="val_auc", mode="max", patience=self.patience,
                                                           restore_best_weights=True))
        hist = self.model_.fit(self._dataset(train, self.random_state), validation_data=val_ds, epochs=self.epochs,
                               callbacks=callbacks, verbose=self.verbose, shuffle=False)
        self.history_ = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
        return self

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """P(correct) of each row of ``df`` (in its order), from the student's previous attempts only: the
        rows of one attempt are predicted from the same state, none of their answers is read. Rows of
        skills unseen in training get the training mean."""
        from mlbd_utils import dkt
        from mlbd_utils.dkt import _batches

        import tensorflow as tf

        if not hasattr(self, "model_"):
            raise RuntimeError("AttemptDKT: call fit before predict_proba")
        dkt._check_frame(df)
        seqs = attempt_sequences(df, self.skills_, self.max_len, self.attempt_col)
        out = np.full(len(df), self.mean_correct_, dtype=float)
        if getattr(self, "_predict_fn", None) is None or self._predict_fn[0] is not self.model_:
            spec = tf.TensorSpec((None, None, 2 * len(self.skills_) + 1), tf.float32)
            self._predict_fn = (self.model_, tf.function(lambda x: self.model_(x, training=False),
                                                         input_signature=[spec]))
        for g, T in _batches(seqs, max(self.batch_size, 128), None):
            sub = seqs.subset(g)
            X, _ = sub.pad(T)
            P = np.asarray(self._predict_fn[1](X))
            ci = np.repeat(np.arange(len(sub)), [len(e[0]) for e in sub.targets])
            if not len(ci):
                continue
            step, skill, _, rows = (np.concatenate([e[k] for e in sub.targets]) for k in range(4))
            out[rows] = P[ci, step, skill]
        return out
